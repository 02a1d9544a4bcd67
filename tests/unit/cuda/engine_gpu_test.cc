// End to end on the GPU, through the public API only (include/kiln): the
// models in tests/models are built for the GPU (setDefaultDeviceType(kGPU))
// and for the CPU, run with device buffers (enqueueV3 on a stream, and
// executeV2), and every output is compared with the CPU engine's. Also: two
// contexts on two streams, a CUDA graph captured from enqueueV3 and replayed,
// user-managed device memory, the per-layer profiler (CUDA events), and the
// errors for a host pointer and a missing address. Each test starts with
// KILN_REQUIRE_GPU() and skips, with the reason, where no GPU is present.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "unit/api/api_test_util.h"
#include "unit/cuda/gpu_test_util.h"

namespace kiln::test {
namespace {

// The relative and absolute tolerances of a GPU output against the CPU's (FP32 on both: TF32 is cleared).
constexpr double kRtol = 1e-4, kAtol = 1e-5;

std::string modelPath(const std::string& name) {
  const char* src = std::getenv("KILN_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/models/" + name;
}

struct BuiltEngine {
  std::unique_ptr<IRuntime> runtime;  // declared first: released after the engine
  std::unique_ptr<ICudaEngine> engine;
};

BuiltEngine buildEngine(const std::string& model, DeviceType device, RecordingLogger& logger) {
  BuiltEngine out;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
  std::unique_ptr<onnx::IParser> parser(onnx::createParser(*net, logger));
  if (!parser->parseFromFile(modelPath(model).c_str(), 0)) return out;
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  config->setDefaultDeviceType(device);
  config->clearFlag(BuilderFlag::kTF32);  // FP32 products on both sides, so the tolerances above hold
  std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  if (!plan) return out;
  out.runtime.reset(createInferRuntime(logger));
  out.engine.reset(out.runtime->deserializeCudaEngine(plan->data(), plan->size()));
  return out;
}

//! One IO tensor's host bytes, in IO-tensor order.
struct HostTensor {
  std::string name;
  bool isInput = false;
  DataType type = DataType::kFLOAT;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
  std::size_t count() const { return bytes.size() / static_cast<std::size_t>(dataTypeSize(type)); }
};

//! Every IO tensor of a static-shape engine; inputs filled from `seed`: floats
//! as a wave, input_ids in [0, 100) (the transformer's vocabulary), masks 0/1,
//! other integers 0.
std::vector<HostTensor> makeTensors(const ICudaEngine& engine, float seed) {
  std::vector<HostTensor> out;
  for (int i = 0; i < engine.getNbIOTensors(); ++i) {
    HostTensor t;
    t.name = engine.getIOTensorName(i);
    t.isInput = engine.getTensorIOMode(t.name.c_str()) == TensorIOMode::kINPUT;
    t.type = engine.getTensorDataType(t.name.c_str());
    Dims d = engine.getTensorShape(t.name.c_str());
    std::size_t n = 1;
    for (int k = 0; k < d.nbDims; ++k) {
      EXPECT_GE(d.d[k], 0) << t.name << " has a dynamic shape; these models are static";
      t.dims.push_back(d.d[k]);
      n *= static_cast<std::size_t>(std::max<int64_t>(d.d[k], 0));
    }
    t.bytes.assign(n * static_cast<std::size_t>(dataTypeSize(t.type)), 0);
    if (t.isInput && t.type == DataType::kFLOAT) {
      std::vector<float> v = wave(n, 1.f, seed);
      std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    } else if (t.isInput && t.type == DataType::kINT64) {
      auto* p = reinterpret_cast<int64_t*>(t.bytes.data());
      const int64_t row = t.dims.empty() ? 1 : t.dims.back();
      for (int64_t k = 0; k < static_cast<int64_t>(n); ++k) {
        if (t.name == "attention_mask") p[k] = (k >= row && k % row >= row - 3) ? 0 : 1;  // row 1 ends in padding
        else p[k] = (k * 37 + 11 + static_cast<int64_t>(seed * 13)) % 100;
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

//! Runs the CPU engine with host buffers (executeV2); fills the outputs of `tensors`.
void runOnCpu(ICudaEngine& engine, std::vector<HostTensor>& tensors, RecordingLogger& logger) {
  std::unique_ptr<IExecutionContext> ctx(engine.createExecutionContext());
  ASSERT_TRUE(ctx) << logger.all();
  std::vector<void*> bindings;
  for (HostTensor& t : tensors) bindings.push_back(t.bytes.data());
  ASSERT_TRUE(ctx->executeV2(bindings.data())) << logger.all();
}

//! Device memory for every IO tensor of `tensors` (cudaMalloc), freed with it.
struct DeviceBuffers {
  std::vector<void*> ptrs;
  explicit DeviceBuffers(const std::vector<HostTensor>& tensors) {
    for (const HostTensor& t : tensors) {
      void* p = nullptr;
      EXPECT_EQ(cudaMalloc(&p, std::max<std::size_t>(t.bytes.size(), 1)), cudaSuccess) << t.name;
      ptrs.push_back(p);
    }
  }
  ~DeviceBuffers() {
    for (void* p : ptrs) cudaFree(p);
  }
  DeviceBuffers(const DeviceBuffers&) = delete;
  DeviceBuffers& operator=(const DeviceBuffers&) = delete;

  //! Inputs to the device; outputs poisoned with NaN bytes (every element must be written).
  void upload(const std::vector<HostTensor>& tensors) {
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const HostTensor& t = tensors[i];
      if (t.isInput) {
        EXPECT_EQ(cudaMemcpy(ptrs[i], t.bytes.data(), t.bytes.size(), cudaMemcpyHostToDevice), cudaSuccess) << t.name;
      } else {
        EXPECT_EQ(cudaMemset(ptrs[i], 0xff, t.bytes.size()), cudaSuccess) << t.name;
      }
    }
    // cudaMemset, and cudaMemcpy from pageable memory, may return before the device is done, and the
    // tests' streams are non-blocking (not ordered after the legacy stream): wait here.
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  //! The outputs, copied back into a copy of `tensors`.
  std::vector<HostTensor> download(std::vector<HostTensor> tensors) const {
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      HostTensor& t = tensors[i];
      if (t.isInput) continue;
      std::fill(t.bytes.begin(), t.bytes.end(), 0);
      EXPECT_EQ(cudaMemcpy(t.bytes.data(), ptrs[i], t.bytes.size(), cudaMemcpyDeviceToHost), cudaSuccess) << t.name;
    }
    return tensors;
  }
  void bind(IExecutionContext& ctx, const std::vector<HostTensor>& tensors) const {
    for (std::size_t i = 0; i < tensors.size(); ++i)
      EXPECT_TRUE(ctx.setTensorAddress(tensors[i].name.c_str(), ptrs[i])) << tensors[i].name;
  }
};

//! Every output of `got` against `want`: |got - want| <= atol + rtol * |want|
//! for floats, equality otherwise; the message says which tensor and element differ.
void expectSameOutputs(const std::vector<HostTensor>& got, const std::vector<HostTensor>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const HostTensor &g = got[i], &w = want[i];
    if (g.isInput) continue;
    ASSERT_EQ(g.bytes.size(), w.bytes.size()) << what << ": " << g.name;
    if (g.type != DataType::kFLOAT) {
      EXPECT_EQ(g.bytes, w.bytes) << what << ": output \"" << g.name << "\" (" << dataTypeName(g.type) << ") differs";
      continue;
    }
    const auto* a = reinterpret_cast<const float*>(g.bytes.data());
    const auto* b = reinterpret_cast<const float*>(w.bytes.data());
    std::size_t bad = 0, first = 0;
    double worst = 0;
    for (std::size_t k = 0; k < g.count(); ++k) {
      const double diff = std::fabs(static_cast<double>(a[k]) - b[k]);
      const bool ok = std::isfinite(a[k]) && diff <= kAtol + kRtol * std::fabs(static_cast<double>(b[k]));
      if (!ok && bad++ == 0) first = k;
      if (std::isfinite(diff)) worst = std::max(worst, diff);
    }
    EXPECT_EQ(bad, 0u) << what << ": output \"" << g.name << "\": " << bad << " of " << g.count()
                       << " elements differ from the CPU engine beyond rel " << kRtol << " / abs " << kAtol
                       << "; first at " << first << ": GPU " << a[first] << ", CPU " << b[first]
                       << "; largest finite difference " << worst;
  }
}

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { EXPECT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess); }
  ~Stream() {
    if (s) cudaStreamDestroy(s);
  }
};

class GpuEngine : public ::testing::TestWithParam<const char*> {
 protected:
  //! The GPU and CPU engines of the model, and the CPU's outputs for inputs of `seed` 0.
  void SetUp() override {
    const ::kiln::backends::HostDevice& host = ::kiln::cuda::backend().host();
    if (!host.available) GTEST_SKIP() << "no GPU: " << host.unavailable;
    gpu_ = buildEngine(GetParam(), DeviceType::kGPU, logger_);
    ASSERT_TRUE(gpu_.engine) << "GPU build of " << GetParam() << " failed:\n" << logger_.all();
    cpu_ = buildEngine(GetParam(), DeviceType::kCPU, logger_);
    ASSERT_TRUE(cpu_.engine) << "CPU build of " << GetParam() << " failed:\n" << logger_.all();
    want_ = expected(0.f);
  }
  std::vector<HostTensor> expected(float seed) {
    std::vector<HostTensor> t = makeTensors(*cpu_.engine, seed);
    runOnCpu(*cpu_.engine, t, logger_);
    return t;
  }
  std::unique_ptr<IExecutionContext> context(ExecutionContextAllocationStrategy s = ExecutionContextAllocationStrategy::kSTATIC) {
    std::unique_ptr<IExecutionContext> ctx(gpu_.engine->createExecutionContext(s));
    EXPECT_TRUE(ctx) << logger_.all();
    return ctx;
  }

  RecordingLogger logger_;
  BuiltEngine gpu_, cpu_;
  std::vector<HostTensor> want_;
};

TEST_P(GpuEngine, EnqueueV3AndExecuteV2MatchTheCpu) {
  KILN_REQUIRE_GPU();
  EXPECT_EQ(gpu_.engine->getDeviceType(), DeviceType::kGPU);
  std::vector<HostTensor> in = makeTensors(*gpu_.engine, 0.f);
  for (const HostTensor& t : in) EXPECT_EQ(gpu_.engine->getTensorLocation(t.name.c_str()), TensorLocation::kDEVICE);
  DeviceBuffers buf(in);
  auto ctx = context();
  ASSERT_TRUE(ctx);
  buf.upload(in);
  buf.bind(*ctx, in);
  Stream stream;
  ASSERT_TRUE(ctx->enqueueV3(stream.s)) << logger_.all();
  ASSERT_EQ(cudaStreamSynchronize(stream.s), cudaSuccess);
  expectSameOutputs(buf.download(in), want_, "enqueueV3");

  // Again on the same context (its state must not carry over), then executeV2 with device bindings.
  buf.upload(in);
  ASSERT_TRUE(ctx->enqueueV3(stream.s)) << logger_.all();
  ASSERT_EQ(cudaStreamSynchronize(stream.s), cudaSuccess);
  expectSameOutputs(buf.download(in), want_, "second enqueueV3");
  buf.upload(in);
  ASSERT_TRUE(ctx->executeV2(buf.ptrs.data())) << logger_.all();
  expectSameOutputs(buf.download(in), want_, "executeV2");  // executeV2 returns once the outputs are written
}

TEST_P(GpuEngine, TwoContextsOnTwoStreams) {
  KILN_REQUIRE_GPU();
  // Different inputs per context, so that a context reading the other's buffers shows.
  std::vector<HostTensor> inA = makeTensors(*gpu_.engine, 0.f), inB = makeTensors(*gpu_.engine, 1.f);
  std::vector<HostTensor> wantB = expected(1.f);
  DeviceBuffers bufA(inA), bufB(inB);
  auto a = context(), b = context();
  ASSERT_TRUE(a && b);
  bufA.upload(inA);
  bufB.upload(inB);
  bufA.bind(*a, inA);
  bufB.bind(*b, inB);
  Stream sa, sb;
  for (int round = 0; round < 3; ++round) {  // interleaved, nothing waited for in between
    ASSERT_TRUE(a->enqueueV3(sa.s)) << logger_.all();
    ASSERT_TRUE(b->enqueueV3(sb.s)) << logger_.all();
  }
  ASSERT_EQ(cudaStreamSynchronize(sa.s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(sb.s), cudaSuccess);
  expectSameOutputs(bufA.download(inA), want_, "context A on stream A");
  expectSameOutputs(bufB.download(inB), wantB, "context B on stream B");
}

TEST_P(GpuEngine, CudaGraphOfEnqueueV3Replays) {
  KILN_REQUIRE_GPU();
  std::vector<HostTensor> in = makeTensors(*gpu_.engine, 0.f);
  DeviceBuffers buf(in);
  auto ctx = context();
  ASSERT_TRUE(ctx);
  buf.upload(in);
  buf.bind(*ctx, in);
  Stream stream;
  ASSERT_TRUE(ctx->enqueueV3(stream.s)) << logger_.all();  // first run outside the capture (lazy initialization)
  ASSERT_EQ(cudaStreamSynchronize(stream.s), cudaSuccess);

  ASSERT_EQ(cudaStreamBeginCapture(stream.s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  bool enqueued = ctx->enqueueV3(stream.s);
  cudaGraph_t graph = nullptr;
  cudaError_t ended = cudaStreamEndCapture(stream.s, &graph);
  ASSERT_TRUE(enqueued) << "enqueueV3 failed while the stream was capturing:\n" << logger_.all();
  ASSERT_EQ(ended, cudaSuccess) << "capture of enqueueV3 failed: " << cudaGetErrorString(ended)
                                << " (an operation in enqueueV3 is not allowed during stream capture)";
  ASSERT_NE(graph, nullptr);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  std::size_t nodes = 0;
  EXPECT_EQ(cudaGraphGetNodes(graph, nullptr, &nodes), cudaSuccess);
  EXPECT_GT(nodes, 0u) << "the captured graph is empty: enqueueV3 enqueued nothing on the stream";

  // The replay reads the buffers as they are at launch: new inputs give their own outputs.
  std::vector<HostTensor> in2 = makeTensors(*gpu_.engine, 2.f);
  std::vector<HostTensor> want2 = expected(2.f);
  buf.upload(in2);
  for (int replay = 0; replay < 2; ++replay) ASSERT_EQ(cudaGraphLaunch(exec, stream.s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream.s), cudaSuccess);
  expectSameOutputs(buf.download(in2), want2, "CUDA graph replay");
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

TEST_P(GpuEngine, UserManagedDeviceMemory) {
  KILN_REQUIRE_GPU();
  std::vector<HostTensor> in = makeTensors(*gpu_.engine, 0.f);
  DeviceBuffers buf(in);
  auto ctx = context(ExecutionContextAllocationStrategy::kUSER_MANAGED);
  ASSERT_TRUE(ctx);
  buf.upload(in);
  buf.bind(*ctx, in);
  Stream stream;
  logger_.clear();
  EXPECT_FALSE(ctx->enqueueV3(stream.s));
  EXPECT_TRUE(logger_.saw("setDeviceMemory")) << logger_.all();
  void* memory = nullptr;
  ASSERT_EQ(cudaMalloc(&memory, std::max<std::size_t>(gpu_.engine->getDeviceMemorySize(), 1)), cudaSuccess);
  ctx->setDeviceMemory(memory);
  EXPECT_TRUE(ctx->enqueueV3(stream.s)) << logger_.all();
  EXPECT_EQ(cudaStreamSynchronize(stream.s), cudaSuccess);
  expectSameOutputs(buf.download(in), want_, "kUSER_MANAGED context");
  ctx.reset();
  cudaFree(memory);
}

class CountingProfiler final : public IProfiler {
 public:
  void reportLayerTime(const char* name, float ms) noexcept override {
    names.push_back(name ? name : "");
    times.push_back(ms);
  }
  std::vector<std::string> names;
  std::vector<float> times;
};

TEST_P(GpuEngine, ProfilerReportsEveryLayerOnce) {
  KILN_REQUIRE_GPU();
  std::vector<HostTensor> in = makeTensors(*gpu_.engine, 0.f);
  DeviceBuffers buf(in);
  auto ctx = context();
  ASSERT_TRUE(ctx);
  buf.upload(in);
  buf.bind(*ctx, in);
  CountingProfiler profiler;
  ctx->setProfiler(&profiler);
  Stream stream;
  ASSERT_TRUE(ctx->enqueueV3(stream.s)) << logger_.all();
  ASSERT_EQ(cudaStreamSynchronize(stream.s), cudaSuccess);
  EXPECT_EQ(static_cast<int>(profiler.names.size()), gpu_.engine->getNbLayers());
  for (std::size_t i = 0; i < profiler.times.size(); ++i)
    EXPECT_TRUE(profiler.times[i] >= 0.f && std::isfinite(profiler.times[i])) << profiler.names[i] << ": " << profiler.times[i];
  expectSameOutputs(buf.download(in), want_, "enqueueV3 with a profiler");

  // Timing waits for the GPU, which a capturing stream cannot do: a clear error, not a broken capture.
  ASSERT_EQ(cudaStreamBeginCapture(stream.s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  logger_.clear();
  EXPECT_FALSE(ctx->enqueueV3(stream.s));
  cudaGraph_t graph = nullptr;
  cudaStreamEndCapture(stream.s, &graph);
  if (graph) cudaGraphDestroy(graph);
  cudaGetLastError();
  EXPECT_TRUE(logger_.saw("profiler")) << logger_.all();
}

TEST_P(GpuEngine, HostPointerAndMissingAddressAreClearErrors) {
  KILN_REQUIRE_GPU();
  std::vector<HostTensor> in = makeTensors(*gpu_.engine, 0.f);
  DeviceBuffers buf(in);
  auto ctx = context();
  ASSERT_TRUE(ctx);
  const std::string input = in.front().name;
  std::vector<uint8_t> host(in.front().bytes.size() + 64);
  logger_.clear();
  EXPECT_FALSE(ctx->setTensorAddress(input.c_str(), host.data()));
  EXPECT_TRUE(logger_.saw("\"" + input + "\"") && logger_.saw("host memory")) << logger_.all();

  // Every address but the last output's: enqueueV3 names the one missing.
  for (std::size_t i = 0; i + 1 < in.size(); ++i) ASSERT_TRUE(ctx->setTensorAddress(in[i].name.c_str(), buf.ptrs[i]));
  Stream stream;
  logger_.clear();
  EXPECT_FALSE(ctx->enqueueV3(stream.s));
  EXPECT_TRUE(logger_.saw("no address set for output tensor \"" + in.back().name + "\"")) << logger_.all();

  // executeV2 checks its bindings the same way.
  std::vector<void*> bindings = buf.ptrs;
  bindings.front() = host.data();
  logger_.clear();
  EXPECT_FALSE(ctx->executeV2(bindings.data()));
  EXPECT_TRUE(logger_.saw("host memory")) << logger_.all();
}

INSTANTIATE_TEST_SUITE_P(Models, GpuEngine, ::testing::Values("small_cnn.onnx", "small_transformer.onnx"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n.substr(0, n.find('.'));
                         });

}  // namespace
}  // namespace kiln::test
