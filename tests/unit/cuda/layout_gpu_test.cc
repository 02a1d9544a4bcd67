// Channels-last on the GPU (GPU only; each test starts with KILN_REQUIRE_GPU):
// Conv.cudnn with kiln_layout NHWC (weights KRSC) against the CPU's NCHW
// Conv.ref, in FP32/FP16/BF16, unfused and with the fused cuDNN epilogue;
// the NHWC pools against the NCHW .ref pools; Transpose.tiled against
// Transpose.ref. The NHWC inputs are the NCHW ones transposed on the host and
// the NHWC output is transposed back before the comparison. Tolerances as in
// precision_gpu_test.cc: relative to the element and to the output's scale,
// FP32 1e-4 (5e-3 with TF32), FP16 4e-3, BF16 1.6e-2.
#include <cmath>
#include <cstdlib>

#include "backends/cuda/ops/layout.h"
#include "ir/ops/spatial.h"
#include "unit/api/api_test_util.h"
#include "unit/cuda/gpu_test_util.h"

namespace kiln::test {
namespace {

using Dims = std::vector<int64_t>;

float rtolFor(DType t, bool tf32) {
  return t == DType::kHALF ? 4e-3f : t == DType::kBF16 ? 1.6e-2f : tf32 ? 5e-3f : 1e-4f;
}

//! |got - want| <= rtol * (|want| + max|want|) everywhere (NaN fails).
::testing::AssertionResult close(const ir::Tensor& got, const ir::Tensor& want, float rtol) {
  float scale = 0.f;
  for (float v : want.toFloat()) scale = std::max(scale, std::fabs(v));
  return near(got.castTo(DType::kFLOAT), want, rtol * scale, rtol);
}

ir::Tensor permuted(const ir::Tensor& t, const Dims& perm) {
  OpSpec s;
  s.op = "Transpose";
  s.attrs["perm"] = perm;
  s.inputs = {dyn(t)};
  return runTactic(s, "Transpose.ref")[0];
}
ir::Tensor toNhwc(const ir::Tensor& t) { return permuted(t, ir::channelsLastPerm(t.dims().size())); }
ir::Tensor toNchw(const ir::Tensor& t) { return permuted(t, ir::channelsFirstPerm(t.dims().size())); }

//! `spec` (NCHW, FP32 inputs rounded to `type` already) in its NHWC form, inputs converted to `type`.
OpSpec nhwcForm(const OpSpec& spec, DType type) {
  OpSpec out = spec;
  out.attrs[ir::kLayoutAttr] = std::string("NHWC");
  for (OpInput& in : out.inputs) {
    if (in.absent) continue;
    if (in.value.dims().size() == 4) in.value = toNhwc(in.value);  // x, KCRS -> KRSC, residual
    in.value = in.value.castTo(type);
  }
  return out;
}

OpSpec rounded(const OpSpec& spec, DType type) {
  OpSpec out = spec;
  for (OpInput& in : out.inputs)
    if (!in.absent) in.value = in.value.castTo(type).castTo(DType::kFLOAT);
  return out;
}

//! The NHWC CUDA tactic against the NCHW CPU reference; `extra` attributes (a variant) on the GPU node only.
void expectNhwcMatches(const OpSpec& spec, const std::string& tactic, DType type, const std::string& what,
                       const std::map<std::string, ir::Attribute>& extra = {}) {
  const OpSpec ref = rounded(spec, type);
  OpSpec gpu = nhwcForm(ref, type);
  for (const auto& [k, v] : extra) gpu.attrs[k] = v;
  std::vector<ir::Tensor> want, got;
  try {
    want = runTactic(ref, spec.op + ".ref");
    got = runOnGpu(gpu, tactic);
  } catch (const Error& e) {
    ADD_FAILURE() << what << ": " << e.what();
    return;
  }
  ASSERT_EQ(got.size(), 1u) << what;
  EXPECT_EQ(got[0].dtype(), type) << what;
  EXPECT_TRUE(close(toNchw(got[0].castTo(DType::kFLOAT)), want[0], rtolFor(type, spec.attrs.count("kiln_tf32") != 0)))
      << what;
}

const std::vector<ConvCase>& convCases() {
  static const std::vector<ConvCase> cases = {
      {{1, 3, 8, 8}, {5, 3, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, false, "Relu", "odd channels, pad 1, bias+relu"},
      {{2, 3, 9, 7}, {5, 3, 3, 3}, {0, 0, 0, 0}, {2, 2}, {1, 1}, 1, false, false, "", "stride 2, batch 2, no bias"},
      {{1, 4, 11, 11}, {6, 2, 3, 3}, {2, 2, 2, 2}, {1, 1}, {2, 2}, 2, true, true, "Sigmoid", "groups 2, dilation 2, sigmoid, residual"},
      {{2, 8, 5, 5}, {8, 1, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 8, true, true, "Relu", "depthwise 8, residual, relu"},
      {{2, 64, 14, 14}, {32, 64, 1, 1}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 1, true, false, "Relu", "1x1 64->32 (tensor cores, vector epilogue)"},
      {{3, 3, 23, 23}, {16, 3, 7, 7}, {3, 3, 3, 3}, {2, 2}, {1, 1}, 1, true, false, "Relu", "7x7/2 stem, 3->16, batch 3"},
      {{2, 16, 10, 10}, {16, 16, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, true, "Relu", "3x3 16->16, residual + bias + relu"},
      {{2, 16, 9, 9}, {24, 16, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, false, "", "3x3 16->24 bias, no activation"},
  };
  return cases;
}

TEST(CudaLayout, NhwcConvMatchesTheNchwReference) {
  KILN_REQUIRE_GPU();
  for (DType t : {DType::kFLOAT, DType::kHALF, DType::kBF16})
    for (const ConvCase& c : convCases()) {
      OpSpec s = convSpec(c);
      expectNhwcMatches(s, "Conv.cudnn", t, std::string("NHWC Conv ") + c.name + " in " + dataTypeName(t));
      if (t == DType::kFLOAT) {
        s.attrs["kiln_tf32"] = int64_t{1};
        expectNhwcMatches(s, "Conv.cudnn", t, std::string("NHWC Conv (TF32) ") + c.name);
      }
    }
}

// The fused variant (cudnnConvolutionBiasActivationForward in FP16/BF16 NHWC). Where cuDNN
// declines a configuration the builder passes that variant over; where it runs, it must be right.
TEST(CudaLayout, NhwcConvFusedEpilogueVariant) {
  KILN_REQUIRE_GPU();
  int ran = 0;
  for (DType t : {DType::kHALF, DType::kBF16})
    for (const ConvCase& c : convCases()) {
      if (!c.bias || (c.act != "Relu" && !c.act.empty())) continue;
      std::map<std::string, ir::Attribute> variant = {{"kiln_cudnn_fused", int64_t{1}},
                                                      {"kiln_cudnn_algo", int64_t{1}}};  // IMPLICIT_PRECOMP_GEMM
      const std::string what = std::string("fused NHWC Conv ") + c.name + " in " + dataTypeName(t);
      const OpSpec ref = rounded(convSpec(c), t);
      OpSpec gpu = nhwcForm(ref, t);
      for (const auto& [k, v] : variant) gpu.attrs[k] = v;
      std::vector<ir::Tensor> got;
      try {
        got = runOnGpu(gpu, "Conv.cudnn");
      } catch (const Error& e) {
        std::cout << what << ": cuDNN declines (" << e.what() << ")\n";
        continue;
      }
      ++ran;
      const std::vector<ir::Tensor> want = runTactic(ref, "Conv.ref");
      EXPECT_TRUE(close(toNchw(got[0].castTo(DType::kFLOAT)), want[0], rtolFor(t, false))) << what;
    }
  std::cout << ran << " fused configurations ran\n";
}

// Conv.cuda_direct (conv_direct.cu): the stem kernel, a 3x3 window over 3 channels, k <= 16, NHWC.
// The table's stem-shaped cases and ones for its edges: k = 16 (16-byte word stores) and k < 16
// (element stores), stride 2, asymmetric pads, dilation, a residual, SiLU as the YOLO stem has.
TEST(CudaLayout, DirectStemConvMatchesTheNchwReference) {
  KILN_REQUIRE_GPU();
  std::vector<ConvCase> cases;
  for (const ConvCase& c : convCases())
    if (c.group == 1 && c.x[1] == 3 && c.w[2] == 3 && c.w[3] == 3 && c.w[0] <= 16) cases.push_back(c);
  cases.push_back({{2, 3, 17, 19}, {16, 3, 3, 3}, {1, 1, 1, 1}, {2, 2}, {1, 1}, 1, true, false, "Silu", "stem 3->16 3x3/2, SiLU"});
  cases.push_back({{1, 3, 9, 10}, {16, 3, 3, 3}, {0, 1, 1, 0}, {1, 1}, {2, 1}, 1, true, true, "Relu", "3->16, asymmetric pads, dilation (2, 1), residual"});
  cases.push_back({{3, 3, 12, 9}, {12, 3, 3, 3}, {2, 2, 2, 2}, {1, 2}, {1, 1}, 1, false, true, "Sigmoid", "3->12, no bias, residual, stride (1, 2)"});
  ASSERT_GE(cases.size(), 5u);
  for (DType t : {DType::kFLOAT, DType::kHALF, DType::kBF16})
    for (const ConvCase& c : cases)
      expectNhwcMatches(convSpec(c), "Conv.cuda_direct", t, std::string("direct NHWC Conv ") + c.name + " in " + dataTypeName(t));
}

// Which layers the stem tactic takes: channels-last, group 1, a 3x3 window over 3 channels, at
// most 16 outputs, constant weights (no GPU needed).
TEST(CudaLayout, DirectStemConvTakesOnlyStemLayers) {
  const backends::DeviceTactic* t = cuda::backend().findTactic("Conv.cuda_direct");
  ASSERT_NE(t, nullptr);
  auto takes = [&](const ConvCase& c, const char* layout, bool constantWeights = true) {
    OpSpec s = convSpec(c);
    if (*layout) {
      s.attrs[ir::kLayoutAttr] = std::string(layout);
      for (OpInput& in : s.inputs)
        if (!in.absent && in.value.dims().size() == 4) in.value = toNhwc(in.value);
    }
    if (!constantWeights) s.inputs[1] = dyn(s.inputs[1].value);
    return t->supports(*buildGraph(s).node);
  };
  const ConvCase stem{{1, 3, 8, 8}, {16, 3, 3, 3}, {1, 1, 1, 1}, {2, 2}, {1, 1}, 1, true, false, "Relu"};
  const ConvCase wideK{{1, 3, 8, 8}, {24, 3, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, false, "Relu"};
  const ConvCase sevenBySeven{{1, 3, 16, 16}, {16, 3, 7, 7}, {3, 3, 3, 3}, {2, 2}, {1, 1}, 1, true, false, ""};
  const ConvCase fourChannels{{1, 4, 8, 8}, {16, 4, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, false, ""};
  EXPECT_TRUE(takes(stem, "NHWC"));
  EXPECT_FALSE(takes(stem, ""));  // NCHW
  EXPECT_FALSE(takes(stem, "NHWC", false));
  EXPECT_FALSE(takes(wideK, "NHWC"));
  EXPECT_FALSE(takes(sevenBySeven, "NHWC"));
  EXPECT_FALSE(takes(fourChannels, "NHWC"));
}

TEST(CudaLayout, NhwcPoolsMatchTheNchwReference) {
  KILN_REQUIRE_GPU();
  for (DType t : {DType::kFLOAT, DType::kHALF, DType::kBF16}) {
    // 5 channels: one per thread; 16 and 24: 16-byte vectors of channels (4 FP32 or 8 FP16/BF16).
    for (int64_t c : {5, 16, 24}) {
      OpSpec mp;
      mp.op = "MaxPool";
      mp.attrs["kernel_shape"] = Dims{3, 3};
      mp.attrs["strides"] = Dims{2, 2};
      mp.attrs["pads"] = Dims{1, 1, 1, 1};
      mp.inputs = {dyn(randomTensor({2, c, 13, 11}, 5))};
      expectNhwcMatches(mp, "MaxPool.cuda", t,
                        std::string("NHWC MaxPool 3x3/2, ") + std::to_string(c) + " channels, in " + dataTypeName(t));
      OpSpec avg;
      avg.op = "AveragePool";
      avg.attrs["kernel_shape"] = Dims{3, 3};
      avg.attrs["pads"] = Dims{0, 1, 1, 0};
      avg.inputs = {dyn(randomTensor({3, c, 6, 7}, 8))};
      expectNhwcMatches(avg, "AveragePool.cuda", t,
                        std::string("NHWC AveragePool, ") + std::to_string(c) + " channels, in " + dataTypeName(t));
    }
    OpSpec ap;
    ap.op = "AveragePool";
    ap.attrs["kernel_shape"] = Dims{2, 3};
    ap.attrs["pads"] = Dims{1, 0, 1, 2};
    ap.attrs["count_include_pad"] = int64_t{1};
    ap.attrs["ceil_mode"] = int64_t{1};
    ap.inputs = {dyn(randomTensor({3, 7, 9, 8}, 6))};
    expectNhwcMatches(ap, "AveragePool.cuda", t, std::string("NHWC AveragePool in ") + dataTypeName(t));
    // A 5x5 stride-1 pool (SPPF's) over more outputs than one wave of threads.
    OpSpec sppf;
    sppf.op = "MaxPool";
    sppf.attrs["kernel_shape"] = Dims{5, 5};
    sppf.attrs["pads"] = Dims{2, 2, 2, 2};
    sppf.inputs = {dyn(randomTensor({2, 64, 128, 132}, 10))};
    expectNhwcMatches(sppf, "MaxPool.cuda", t, std::string("NHWC MaxPool 5x5/1, 2.2M outputs, in ") + dataTypeName(t));
    OpSpec gap;
    gap.op = "GlobalAveragePool";
    gap.inputs = {dyn(randomTensor({2, 37, 7, 5}, 7))};
    expectNhwcMatches(gap, "GlobalAveragePool.cuda", t, std::string("NHWC GlobalAveragePool in ") + dataTypeName(t));
  }
}

TEST(CudaLayout, TiledTransposeMatchesTheReference) {
  KILN_REQUIRE_GPU();
  struct Case {
    Dims dims, perm;
  };
  const std::vector<Case> cases = {
      {{2, 3, 33, 65}, {0, 2, 3, 1}},  // NCHW -> NHWC, partial tiles
      {{2, 33, 65, 3}, {0, 3, 1, 2}},  // NHWC -> NCHW
      {{1, 64, 32, 32}, {0, 2, 3, 1}},  // whole tiles
      {{37, 70}, {1, 0}},
      {{5, 31, 1}, {0, 2, 1}},
  };
  for (const Case& c : cases)
    for (DType t : {DType::kFLOAT, DType::kHALF, DType::kINT64, DType::kUINT8}) {
      OpSpec s;
      s.op = "Transpose";
      s.attrs["perm"] = c.perm;
      s.inputs = {dyn(randomTensor(c.dims, 9, -100.f, 100.f).castTo(t))};
      const std::vector<ir::Tensor> want = runTactic(s, "Transpose.ref"), got = runOnGpu(s, "Transpose.tiled");
      EXPECT_TRUE(near(got[0], want[0], 0.f, 0.f)) << "Transpose.tiled " << ir::toString(c.dims) << " perm "
                                                   << ir::toString(c.perm) << " " << dataTypeName(t);
    }
}

//! small_cnn built for the GPU (in FP16, or FP32) under KILN_CUDA_LAYOUT=`layout` (empty: unset):
//! its layers' information lines, or nothing when the build failed.
std::vector<std::string> smallCnnLayers(const char* layout, RecordingLogger& logger, bool fp16 = true) {
  if (*layout) setenv("KILN_CUDA_LAYOUT", layout, 1);
  else unsetenv("KILN_CUDA_LAYOUT");
  const char* src = std::getenv("KILN_SOURCE_DIR");
  const std::string path = std::string(src ? src : ".") + "/tests/models/small_cnn.onnx";
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
  std::unique_ptr<onnx::IParser> parser(onnx::createParser(*net, logger));
  std::vector<std::string> layers;
  if (!parser->parseFromFile(path.c_str(), 0)) return layers;
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  config->setDefaultDeviceType(DeviceType::kGPU);
  if (fp16) config->setFlag(BuilderFlag::kFP16);
  config->setBuilderOptimizationLevel(0);  // no timing: the layouts are what is looked at
  std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  unsetenv("KILN_CUDA_LAYOUT");
  if (!plan) return layers;
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  if (!engine) return layers;
  for (int32_t i = 0; i < engine->getNbLayers(); ++i) layers.push_back(engine->getLayerInformation(i));
  return layers;
}

int countLines(const std::vector<std::string>& layers, const std::string& needle) {
  int n = 0;
  for (const std::string& l : layers) n += l.find(needle) != std::string::npos;
  return n;
}

TEST(CudaLayout, KilnCudaLayoutPicksTheLayouts) {
  KILN_REQUIRE_GPU();
  RecordingLogger logger;
  const auto nhwc = smallCnnLayers("", logger);
  ASSERT_FALSE(nhwc.empty()) << logger.all() << " (set KILN_SOURCE_DIR to the source tree)";
  // After the input, its FP16 cast and the Transpose are one KilnReformat; before Flatten, a Transpose.
  EXPECT_EQ(countLines(nhwc, "tactic=KilnReformat.cuda"), 1);
  EXPECT_EQ(countLines(nhwc, "tactic=Transpose.tiled"), 1);
  const auto nchw = smallCnnLayers("nchw", logger);
  ASSERT_FALSE(nchw.empty()) << logger.all();
  EXPECT_EQ(countLines(nchw, "[Transpose]"), 0);
  EXPECT_EQ(countLines(nchw, "[Conv]"), countLines(nhwc, "[Conv]"));
  // FP32 convs stay NCHW unless nhwc_fp32 (where cuDNN has an NHWC FP32 algorithm for them).
  EXPECT_EQ(countLines(smallCnnLayers("", logger, false), "[Transpose]"), 0) << logger.all();
  EXPECT_GT(countLines(smallCnnLayers("nhwc_fp32", logger, false), "tactic=Transpose.tiled"), 0) << logger.all();
  logger.clear();
  EXPECT_TRUE(smallCnnLayers("NHCW", logger).empty());
  EXPECT_TRUE(logger.saw("KILN_CUDA_LAYOUT is 'NHCW'")) << logger.all();
}

// A batch that varies (profile 1..4, opt 2): the NHWC layers are re-inferred at each
// setInputShape and the FP16 CUDA engine matches the CPU FP32 engine at batch 3 and 1.
struct DynamicCnn {
  std::vector<float> w1 = wave(16 * 8 * 9, 0.2f), b1 = wave(16, 0.1f, 1.f), w2 = wave(16 * 16, 0.3f, 2.f);
  std::unique_ptr<IHostMemory> build(RecordingLogger& logger, bool gpu) const {
    std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
    std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
    ITensor* in = net->addInput("input", DataType::kFLOAT, Dims4(-1, 8, 12, 12));
    auto* c1 = net->addConvolutionNd(*in, 16, DimsHW(3, 3), Weights{DataType::kFLOAT, w1.data(), (int64_t)w1.size()},
                                     Weights{DataType::kFLOAT, b1.data(), 16});
    c1->setPaddingNd(DimsHW(1, 1));
    auto* r1 = net->addActivation(*c1->getOutput(0), ActivationType::kRELU);
    auto* pool = net->addPoolingNd(*r1->getOutput(0), PoolingType::kMAX, DimsHW(2, 2));
    pool->setStrideNd(DimsHW(2, 2));
    auto* c2 = net->addConvolutionNd(*pool->getOutput(0), 16, DimsHW(1, 1),
                                     Weights{DataType::kFLOAT, w2.data(), (int64_t)w2.size()}, Weights{});
    auto* add = net->addElementWise(*c2->getOutput(0), *pool->getOutput(0), ElementWiseOperation::kSUM);
    auto* out = net->addActivation(*add->getOutput(0), ActivationType::kRELU);
    out->getOutput(0)->setName("y");
    net->markOutput(*out->getOutput(0));
    std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
    IOptimizationProfile* profile = builder->createOptimizationProfile();
    profile->setDimensions("input", OptProfileSelector::kMIN, Dims4(1, 8, 12, 12));
    profile->setDimensions("input", OptProfileSelector::kOPT, Dims4(2, 8, 12, 12));
    profile->setDimensions("input", OptProfileSelector::kMAX, Dims4(4, 8, 12, 12));
    config->addOptimizationProfile(profile);
    if (gpu) {
      config->setDefaultDeviceType(DeviceType::kGPU);
      config->setFlag(BuilderFlag::kFP16);
    }
    return std::unique_ptr<IHostMemory>(builder->buildSerializedNetwork(*net, *config));
  }
};

//! Runs `plan` at batch `batch` on `x`; "y" back on the host (empty on failure, `error` says why).
std::vector<float> runAt(const IHostMemory& plan, int batch, const std::vector<float>& x, RecordingLogger& logger,
                         std::string* error) {
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan.data(), plan.size()));
  if (!engine) return *error = "deserialize: " + logger.all(), std::vector<float>{};
  std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());
  if (!ctx || !ctx->setInputShape("input", Dims4(batch, 8, 12, 12)))
    return *error = "context / setInputShape: " + logger.all(), std::vector<float>{};
  std::vector<float> y(static_cast<std::size_t>(batch) * 16 * 6 * 6);
  const bool gpu = engine->getDeviceType() == DeviceType::kGPU;
  std::shared_ptr<void> dx, dy;
  void* xa = const_cast<float*>(x.data());
  void* ya = y.data();
  if (gpu) {
    dx = cuda::backend().allocate(x.size() * 4), dy = cuda::backend().allocate(y.size() * 4);
    cudaMemcpy(dx.get(), x.data(), x.size() * 4, cudaMemcpyHostToDevice);
    xa = dx.get(), ya = dy.get();
  }
  if (!ctx->setTensorAddress("input", xa) || !ctx->setTensorAddress("y", ya))
    return *error = "setTensorAddress: " + logger.all(), std::vector<float>{};
  cudaStream_t stream = nullptr;
  if (gpu) cudaStreamCreate(&stream);
  const bool ok = ctx->enqueueV3(stream);
  if (gpu) {
    cudaStreamSynchronize(stream);
    cudaStreamDestroy(stream);
    cudaMemcpy(y.data(), dy.get(), y.size() * 4, cudaMemcpyDeviceToHost);
  }
  if (!ok) return *error = "enqueueV3: " + logger.all(), std::vector<float>{};
  return y;
}

TEST(CudaLayout, DynamicBatchNhwcEngineMatchesTheCpu) {
  KILN_REQUIRE_GPU();
  RecordingLogger logger;
  DynamicCnn net;
  auto cpu = net.build(logger, false), gpu = net.build(logger, true);
  ASSERT_TRUE(cpu && gpu) << logger.all();
  for (int batch : {3, 1, 4}) {
    const std::vector<float> x = wave(static_cast<std::size_t>(batch) * 8 * 12 * 12, 1.f, 0.3f * batch);
    std::string error;
    const std::vector<float> want = runAt(*cpu, batch, x, logger, &error);
    ASSERT_TRUE(error.empty()) << "CPU batch " << batch << ": " << error;
    const std::vector<float> got = runAt(*gpu, batch, x, logger, &error);
    ASSERT_TRUE(error.empty()) << "CUDA batch " << batch << ": " << error;
    const int64_t n = static_cast<int64_t>(want.size());
    EXPECT_TRUE(close(ir::Tensor::fromFloat(got, {n}), ir::Tensor::fromFloat(want, {n}), 1e-2f)) << "batch " << batch;
  }
}

}  // namespace
}  // namespace kiln::test
