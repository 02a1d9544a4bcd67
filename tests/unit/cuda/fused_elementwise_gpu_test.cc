// KilnFusedElementwise.nvrtc on the GPU (every test starts with
// KILN_REQUIRE_GPU()): every unary and binary step (plain and swapped), side
// operands broadcast as scalar, per-channel [C,1,1] and row, FP32/FP16/BF16,
// sizes 1, 7 and 1000003, the 16-byte kernel (aligned, flat) and the
// element-wise one (broadcasts, pointers off 16 bytes), against the CPU kernel KilnFusedElementwise.ref (on
// inputs first rounded to the reduced type; tolerances as precision_gpu_test.cc:
// FP16 4e-3, BF16 1.6e-2 relative to the element, plus a small absolute term);
// the arch check; and a three-op chain built through the public API into one
// CUDA layer: serialized, deserialized, run, captured in a CUDA graph, against
// the CPU engine.
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "backends/cuda/ops/fused_codegen.h"
#include "unit/api/api_test_util.h"
#include "unit/cuda/fused_test_util.h"
#include "unit/cuda/gpu_test_util.h"

namespace kiln::test {
namespace {

constexpr const char* kTactic = "KilnFusedElementwise.nvrtc";
using cuda::fused::Step;
using fused_chain::kBinaryOps;
using fused_chain::kUnaryOps;

Step withParams(Step s) {
  if (s.op == "LeakyRelu") s.alpha = 0.1f;
  if (s.op == "HardSigmoid") s.alpha = 0.25f, s.beta = 0.4f;
  if (s.op == "Clip") s.alpha = -0.5f, s.beta = 0.75f;
  return s;
}

OpSpec fusedSpec(const std::vector<Step>& steps, const std::vector<ir::Tensor>& inputs) {
  OpSpec spec;
  spec.op = "KilnFusedElementwise";
  spec.name = "chain/fused";
  spec.attrs = fused_chain::chainAttributes(steps);
  for (const ir::Tensor& t : inputs) spec.inputs.push_back(dyn(t));
  return spec;
}

std::string describe(const std::vector<Step>& steps, const std::vector<ir::Tensor>& inputs, DType t) {
  std::ostringstream o;
  o << dataTypeName(t) << " steps";
  for (const Step& s : steps) o << " " << s.op << (s.operand >= 0 ? strCat("(", s.operand, ")") : std::string())
                                << (s.swapped ? "'" : "");
  o << " inputs";
  for (const ir::Tensor& x : inputs) o << " " << ir::toString(x.dims());
  return o.str();
}

//! |got - want| <= atol + rtol * |want|, NaN where the reference is NaN.
::testing::AssertionResult close(const ir::Tensor& gotT, const ir::Tensor& wantT, float atol, float rtol) {
  if (gotT.dims() != wantT.dims()) return ::testing::AssertionFailure() << "shapes differ";
  std::vector<float> g = gotT.toFloat(), w = wantT.toFloat();
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i]) && std::isnan(g[i])) continue;
    if (std::isinf(w[i]) && g[i] == w[i]) continue;
    if (!(std::fabs(g[i] - w[i]) <= atol + rtol * std::fabs(w[i])))
      return ::testing::AssertionFailure() << "element " << i << " of " << g.size() << ": GPU " << g[i] << ", CPU "
                                           << w[i];
  }
  return ::testing::AssertionSuccess();
}

//! The chain on the GPU in `t` against the CPU kernel in FP32 on the same (rounded) inputs.
//! `slack` widens the FP32 tolerance for long chains, where CPU/GPU transcendental
//! differences of an ulp or two compound over dozens of steps.
void expectChainMatches(const std::vector<Step>& steps, std::vector<ir::Tensor> inputs, DType t,
                        std::size_t offset = 0, float slack = 1.f, bool requireFinite = false) {
  for (ir::Tensor& x : inputs) x = x.castTo(t).castTo(DType::kFLOAT);  // the values both sides read
  std::vector<ir::Tensor> want = runTactic(fusedSpec(steps, inputs), "KilnFusedElementwise.ref");
  if (requireFinite) {  // a chain meant to test values, not NaN propagation
    for (float v : want[0].toFloat()) ASSERT_TRUE(std::isfinite(v)) << describe(steps, inputs, t);
  }
  std::vector<ir::Tensor> typed;
  for (const ir::Tensor& x : inputs) typed.push_back(x.castTo(t));
  std::vector<ir::Tensor> got = runOnGpu(fusedSpec(steps, typed), kTactic, offset);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].dtype(), t);
  const float rtol = t == DType::kHALF ? 4e-3f : t == DType::kBF16 ? 1.6e-2f : 2e-5f * slack;
  const float atol = t == DType::kFLOAT ? 1e-5f * slack : rtol * 0.25f;
  EXPECT_TRUE(close(got[0], want[0], atol, rtol)) << describe(steps, inputs, t);
}

const DType kTypes[] = {DType::kFLOAT, DType::kHALF, DType::kBF16};

TEST(CudaFusedElementwise, EveryUnaryStep) {
  KILN_REQUIRE_GPU();
  for (DType t : kTypes)
    for (const char* op : kUnaryOps)
      for (const std::vector<int64_t>& dims : {std::vector<int64_t>{1}, {7}, {3, 5, 17}}) {
        // Values in [-3, 3): both signs, Log/Sqrt NaN below zero on both sides.
        ir::Tensor x = randomTensor(dims, 11, -3.f, 3.f);
        expectChainMatches({withParams(Step{op})}, {x}, t);
        // After an Add, so the step reads the accumulator, not an input.
        expectChainMatches({Step{"Add", 1}, withParams(Step{op})}, {x, randomTensor(dims, 12)}, t);
        // Pointers off 16 bytes: the element-wise kernel instead of the 16-byte one.
        expectChainMatches({withParams(Step{op}), Step{"Mul", 1}}, {x, randomTensor(dims, 13)}, t, dataTypeSize(t));
      }
}

TEST(CudaFusedElementwise, EveryBinaryStepAndBroadcast) {
  KILN_REQUIRE_GPU();
  const std::vector<int64_t> out = {2, 3, 5, 7};
  // side operand shapes: same, scalar, per channel [C,1,1], row [W], and one wider than it is
  const std::vector<std::vector<int64_t>> sides = {out, {}, {3, 1, 1}, {7}, {2, 1, 5, 1}};
  for (DType t : kTypes)
    for (const char* op : kBinaryOps)
      for (bool swapped : {false, true})
        for (const auto& side : sides) {
          // Pow: a positive base (a negative one with a fractional exponent is NaN on both sides, too weak a test).
          bool pow = std::string(op) == "Pow";
          ir::Tensor x = randomTensor(out, 21, pow ? 0.1f : -2.f, 2.f);
          ir::Tensor s = randomTensor(side, 22, pow ? 0.1f : -2.f, 2.f);
          if (std::string(op) == "Div") s = randomTensor(side, 22, 0.5f, 2.f);
          expectChainMatches({Step{"Relu"}, Step{op, 1, swapped}}, {x, s}, t);
        }
}

TEST(CudaFusedElementwise, PowBySquareAndNaNInMaxMin) {
  KILN_REQUIRE_GPU();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  ir::Tensor x = floats({6}, {-2.f, -0.5f, 0.f, nan, 1.5f, 3.f});
  ir::Tensor two = floats({}, {2.f});
  ir::Tensor one = floats({6}, {1.f, nan, 0.f, 2.f, nan, -1.f});
  expectChainMatches({Step{"Neg"}, Step{"Pow", 1}}, {x, two}, DType::kFLOAT);  // (-x)^2 of negatives: x * x
  for (const char* op : {"Max", "Min"})
    for (bool swapped : {false, true})
      expectChainMatches({Step{"Abs"}, Step{op, 1, swapped}}, {x, one}, DType::kFLOAT);
  // Clip and HardSigmoid as std::min/max: NaN handling as the CPU's, each alone, then chained.
  expectChainMatches({withParams(Step{"Clip"}), Step{"Abs"}}, {x}, DType::kFLOAT);
  expectChainMatches({withParams(Step{"HardSigmoid"}), Step{"Abs"}}, {x}, DType::kFLOAT);
  expectChainMatches({withParams(Step{"Clip"}), withParams(Step{"HardSigmoid"})}, {x}, DType::kFLOAT);
}

TEST(CudaFusedElementwise, LongChainsOddSizesAndManyInputs) {
  KILN_REQUIRE_GPU();
  // Every step once, the values kept finite and moderate: Log, Sqrt and
  // Reciprocal read |acc| + input 1 (>= 0.5), and every step is scaled by input 1 ([0.5, 1)).
  std::vector<Step> all;
  for (const char* op : kUnaryOps) {
    std::string name = op;
    if (name == "Log" || name == "Sqrt" || name == "Reciprocal") {
      all.push_back(Step{"Abs"});
      all.push_back(Step{"Add", 1});
    }
    all.push_back(withParams(Step{op}));
    all.push_back(Step{"Mul", 1});
  }
  for (const char* op : kBinaryOps) {
    if (std::string(op) == "Pow" || std::string(op) == "Div") continue;
    all.push_back(Step{op, 2, false});
    all.push_back(Step{op, 3, true});
  }
  all.push_back(Step{"Add", 0});  // an input read twice (x * Sigmoid(x) style)
  for (DType t : kTypes) {
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1000003}})
      expectChainMatches(all, {randomTensor({n}, 31), randomTensor({n}, 32, 0.5f, 1.f), randomTensor({}, 33),
                               randomTensor({n}, 34)}, t, 0, /*slack=*/5.f, /*requireFinite=*/true);
    // 16 inputs (the most a chain takes), mixed broadcasts, rank 4, odd sizes, and pointers off 16 bytes.
    std::vector<ir::Tensor> ins = {randomTensor({3, 5, 7, 9}, 40)};
    std::vector<Step> adds;
    for (int k = 1; k < 16; ++k) {
      std::vector<int64_t> d = k % 3 == 0 ? std::vector<int64_t>{5, 1, 1} : k % 3 == 1 ? std::vector<int64_t>{9}
                                                                                        : std::vector<int64_t>{3, 5, 7, 9};
      ins.push_back(randomTensor(d, 40 + k));
      adds.push_back(Step{k % 2 ? "Add" : "Sub", k, k % 4 == 0});
    }
    expectChainMatches(adds, ins, t, /*offset=*/dataTypeSize(t));
  }
}

//! A node prepared (compiled) for this GPU's arch, as the builder leaves it in the plan.
TEST(CudaFusedElementwise, PreparedCubinRunsAndAnotherArchIsRefused) {
  KILN_REQUIRE_GPU();
  const backends::DeviceTactic* t = cuda::backend().findTactic(kTactic);
  ASSERT_TRUE(t && t->prepare);
  BuiltGraph b = buildGraph(fusedSpec({Step{"Add", 1}, Step{"Tanh"}}, {randomTensor({4, 4}, 1), randomTensor({4}, 2)}));
  t->prepare(*b.node, cuda::backend().host().target);
  EXPECT_NO_THROW(t->create(*b.node));
  b.node->attrs["kiln_cubin_arch"] = std::string("sm_10");
  try {
    t->create(*b.node);
    FAIL() << "a cubin for another arch was accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("chain/fused"), std::string::npos) << m;
    EXPECT_NE(m.find("sm_10"), std::string::npos) << m;
    EXPECT_NE(m.find("rebuild"), std::string::npos) << m;
  }
}

// --- A three-op chain through the public API -------------------------------

struct ChainNet {
  // y = Sigmoid(x * scale[C,1,1] + z): three layers, one fused CUDA layer.
  static constexpr int B = 2, C = 3, H = 5, W = 7;
  std::vector<float> scale = wave(C, 0.8f, 0.3f);
  void define(INetworkDefinition& net) const {
    ITensor* x = net.addInput("x", DataType::kFLOAT, Dims4(B, C, H, W));
    ITensor* z = net.addInput("z", DataType::kFLOAT, Dims4(B, C, H, W));
    auto* s = net.addConstant(Dims3(C, 1, 1), Weights{DataType::kFLOAT, scale.data(), C});
    auto* m = net.addElementWise(*x, *s->getOutput(0), ElementWiseOperation::kPROD);
    auto* a = net.addElementWise(*m->getOutput(0), *z, ElementWiseOperation::kSUM);
    auto* y = net.addActivation(*a->getOutput(0), ActivationType::kSIGMOID);
    y->getOutput(0)->setName("y");
    net.markOutput(*y->getOutput(0));
  }
};

struct Built {
  std::unique_ptr<IRuntime> runtime;
  std::unique_ptr<ICudaEngine> engine;
};

Built build(DeviceType device, bool fp16, RecordingLogger& logger, bool roundTrip) {
  Built out;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
  ChainNet().define(*net);
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  config->setDefaultDeviceType(device);
  if (fp16) config->setFlag(BuilderFlag::kFP16);
  std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  if (!plan) return out;
  out.runtime.reset(createInferRuntime(logger));
  out.engine.reset(out.runtime->deserializeCudaEngine(plan->data(), plan->size()));
  if (roundTrip && out.engine) {  // serialize the engine again and load that
    std::unique_ptr<IHostMemory> again(out.engine->serialize());
    if (!again) return Built{};
    out.engine.reset(out.runtime->deserializeCudaEngine(again->data(), again->size()));
  }
  return out;
}

constexpr std::size_t kElems = ChainNet::B * ChainNet::C * ChainNet::H * ChainNet::W;

TEST(CudaFusedElementwise, ThreeOpChainIsOneCudaLayerAndMatchesTheCpuEngine) {
  KILN_REQUIRE_GPU();
  RecordingLogger logger;
  Built cpu = build(DeviceType::kCPU, false, logger, false);
  ASSERT_TRUE(cpu.engine) << logger.all();
  std::vector<float> x = wave(kElems, 2.f, 0.1f), z = wave(kElems, 1.f, 0.7f);
  // CPU engine: host buffers through executeV2's bindings (x, z, y in IO order).
  std::vector<float> want(kElems, 0.f);
  {
    std::unique_ptr<IExecutionContext> ctx(cpu.engine->createExecutionContext());
    ASSERT_TRUE(ctx);
    std::vector<void*> bindings(3);
    for (int i = 0; i < cpu.engine->getNbIOTensors(); ++i) {
      std::string name = cpu.engine->getIOTensorName(i);
      bindings[i] = name == "x" ? static_cast<void*>(x.data()) : name == "z" ? static_cast<void*>(z.data()) : want.data();
    }
    ASSERT_TRUE(ctx->executeV2(bindings.data())) << logger.all();
  }
  for (bool fp16 : {false, true}) {
    SCOPED_TRACE(fp16 ? "FP16" : "FP32");
    Built gpu = build(DeviceType::kGPU, fp16, logger, /*roundTrip=*/true);
    ASSERT_TRUE(gpu.engine) << logger.all();
    int fusedLayers = 0;
    for (int i = 0; i < gpu.engine->getNbLayers(); ++i) {
      std::string info = gpu.engine->getLayerInformation(i);
      if (info.find("KilnFusedElementwise") != std::string::npos) {
        ++fusedLayers;
        EXPECT_NE(info.find(kTactic), std::string::npos) << info;
      } else {
        EXPECT_NE(info.find("Cast"), std::string::npos) << "a layer other than the chain and IO casts: " << info;
      }
    }
    EXPECT_EQ(fusedLayers, 1);
    EXPECT_EQ(gpu.engine->getNbLayers(), fp16 ? 4 : 1);  // FP16: Cast x, Cast z, the chain, Cast y

    void *dx = nullptr, *dz = nullptr, *dy = nullptr;
    ASSERT_EQ(cudaMalloc(&dx, kElems * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dz, kElems * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dy, kElems * 4), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dx, x.data(), kElems * 4, cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dz, z.data(), kElems * 4, cudaMemcpyHostToDevice), cudaSuccess);
    std::unique_ptr<IExecutionContext> ctx(gpu.engine->createExecutionContext());
    ASSERT_TRUE(ctx);
    ASSERT_TRUE(ctx->setTensorAddress("x", dx) && ctx->setTensorAddress("z", dz) && ctx->setTensorAddress("y", dy));
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    const float tol = fp16 ? 1e-2f : 1e-5f;
    auto check = [&](const char* what) {
      std::vector<float> got(kElems, -1.f);
      ASSERT_EQ(cudaMemcpy(got.data(), dy, kElems * 4, cudaMemcpyDeviceToHost), cudaSuccess);
      for (std::size_t i = 0; i < kElems; ++i)
        ASSERT_NEAR(got[i], want[i], tol * (1.f + std::fabs(want[i]))) << what << " element " << i;
    };
    ASSERT_EQ(cudaMemset(dy, 0xff, kElems * 4), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    ASSERT_TRUE(ctx->enqueueV3(stream)) << logger.all();
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    check("enqueueV3");

    // Captured into a CUDA graph and replayed.
    ASSERT_EQ(cudaMemset(dy, 0xff, kElems * 4), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    bool enqueued = ctx->enqueueV3(stream);
    cudaGraph_t graph = nullptr;
    cudaError_t ended = cudaStreamEndCapture(stream, &graph);
    ASSERT_TRUE(enqueued) << logger.all();
    ASSERT_EQ(ended, cudaSuccess) << cudaGetErrorString(ended);
    cudaGraphExec_t exec = nullptr;
    ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    check("CUDA graph replay");
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
    cudaFree(dx);
    cudaFree(dz);
    cudaFree(dy);
  }
}

}  // namespace
}  // namespace kiln::test
