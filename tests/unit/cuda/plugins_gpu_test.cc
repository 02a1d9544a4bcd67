// Plugins in CUDA engines (KilnPlugin.cuda): the example CustomSwish plugin and
// the built-in EfficientNMS_TRT / ROIAlign_TRT, each model built twice through
// the public API (CPU engine, CUDA engine) and run on the same inputs; the CUDA
// engine's outputs must equal the CPU's (selections and classes exactly, values
// to a few ulps). Every test starts with KILN_REQUIRE_GPU().
#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "kiln/kiln.h"
#include "unit/api/api_test_util.h"
#include "unit/cuda/gpu_test_util.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

//! A host buffer per tensor: inputs filled by the test, outputs by the run.
using Buffers = std::map<std::string, std::vector<uint8_t>>;

template <typename T>
std::vector<uint8_t> bytesOf(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
template <typename T>
std::vector<T> valuesOf(const std::vector<uint8_t>& b) {
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

class PluginsGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    getPluginRegistry()->setLogger(&logger_);
    ASSERT_TRUE(initLibKilnPlugins(&logger_, ""));
  }
  void TearDown() override {
    if (lib_) getPluginRegistry()->deregisterLibrary(lib_);
    getPluginRegistry()->setLogger(nullptr);
  }

  std::unique_ptr<IHostMemory> build(const OnnxModelBuilder& model, bool gpu) {
    std::unique_ptr<IBuilder> builder(createInferBuilder(logger_));
    std::unique_ptr<INetworkDefinition> network(builder->createNetworkV2(0));
    std::unique_ptr<onnx::IParser> parser(onnx::createParser(*network, logger_));
    std::string bytes = model.bytes();
    if (!parser->parse(bytes.data(), bytes.size())) return nullptr;
    std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
    if (gpu) config->setDefaultDeviceType(DeviceType::kGPU);
    return std::unique_ptr<IHostMemory>(builder->buildSerializedNetwork(*network, *config));
  }

  //! Builds and runs `model` on the CPU or the GPU; `io` holds every input and
  //! output (outputs sized by the caller). False (reason in logger_) on failure.
  bool run(const OnnxModelBuilder& model, bool gpu, Buffers& io, bool nullStream = false) {
    std::unique_ptr<IHostMemory> plan = build(model, gpu);
    if (!plan) return false;
    std::unique_ptr<IRuntime> runtime(createInferRuntime(logger_));
    std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
    if (!engine) return false;
    std::unique_ptr<IExecutionContext> context(engine->createExecutionContext());
    if (!context) return false;
    if (!gpu) {
      for (auto& [name, b] : io)
        if (!context->setTensorAddress(name.c_str(), b.data())) return false;
      return context->enqueueV3(nullptr);
    }
    std::map<std::string, std::shared_ptr<void>> device;
    for (auto& [name, b] : io) {
      device[name] = cuda::backend().allocate(std::max<std::size_t>(b.size(), 1));
      if (engine->getTensorIOMode(name.c_str()) == TensorIOMode::kINPUT) {
        EXPECT_EQ(cudaMemcpy(device[name].get(), b.data(), b.size(), cudaMemcpyHostToDevice), cudaSuccess);
      } else {
        cudaMemset(device[name].get(), 0xff, b.size());  // poison: every element must be written
      }
      if (!context->setTensorAddress(name.c_str(), device[name].get())) return false;
    }
    cudaStream_t stream = nullptr;
    if (!nullStream) {
      EXPECT_EQ(cudaStreamCreate(&stream), cudaSuccess);
    }
    bool ok = context->enqueueV3(stream);
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    if (stream) cudaStreamDestroy(stream);
    for (auto& [name, b] : io) {
      if (engine->getTensorIOMode(name.c_str()) == TensorIOMode::kOUTPUT) {
        EXPECT_EQ(cudaMemcpy(b.data(), device[name].get(), b.size(), cudaMemcpyDeviceToHost), cudaSuccess);
      }
    }
    return ok;
  }

  //! Runs on both and expects the same outputs (floats within `tol`, relative).
  void expectSame(const OnnxModelBuilder& model, const Buffers& inputs, const Buffers& outputs, float tol = 1e-6f) {
    Buffers cpu = inputs, gpu = inputs;
    for (auto& [name, b] : outputs) cpu[name] = gpu[name] = b;
    ASSERT_TRUE(run(model, false, cpu)) << logger_.all();
    if (cpuOnly_) return;  // the host half of a comparison (HostHalf tests, no GPU needed)
    ASSERT_TRUE(run(model, true, gpu)) << logger_.all();
    for (auto& [name, b] : outputs) {
      std::vector<float> c = valuesOf<float>(cpu[name]), g = valuesOf<float>(gpu[name]);
      for (std::size_t i = 0; i < c.size(); ++i) {
        if (std::memcmp(&c[i], &g[i], sizeof(float)) == 0) continue;  // equal bits (ints too)
        float diff = std::abs(c[i] - g[i]);
        ASSERT_LE(diff, tol * std::max(1.0f, std::abs(c[i]))) << name << "[" << i << "]: CPU " << c[i] << " GPU " << g[i];
      }
    }
  }

  RecordingLogger logger_;
  PluginLibraryHandle lib_ = nullptr;
  bool cpuOnly_ = false;
};

std::vector<float> randomFloats(std::size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// ---------------------------------------------------------------------------
// CustomSwish (examples/plugins): its CUDA kernel between two CUDA layers.

OnnxModelBuilder swishModel(const std::vector<DimSpec>& dims) {
  OnnxModelBuilder m(17);
  m.input("x", TP::FLOAT, dims);
  m.node("Relu", {"x"}, {"r"}, "relu");
  auto* n = m.node("CustomSwish", {"x"}, {"s"}, "swish");
  n->set_domain("kiln.examples");
  setAttr(n, "beta", 1.5f);
  m.node("Add", {"s", "r"}, {"y"}, "add");
  m.output("y");
  return m;
}

TEST_F(PluginsGpu, CustomSwishCudaKernelMatchesTheCpuPlugin) {
  KILN_REQUIRE_GPU();
  lib_ = getPluginRegistry()->loadLibrary(KILN_EXAMPLE_PLUGIN_LIB);
  ASSERT_NE(lib_, nullptr) << logger_.all();
  const std::size_t n = 2 * 3 * 37 * 41;  // odd sizes, more than one block
  std::vector<float> x = randomFloats(n, -8, 8, 1);
  expectSame(swishModel({2, 3, 37, 41}), {{"x", bytesOf(x)}}, {{"y", std::vector<uint8_t>(n * 4)}}, 1e-5f);
  // And against the formula itself, on the legacy default stream (enqueueV3(nullptr)).
  Buffers io{{"x", bytesOf(x)}, {"y", std::vector<uint8_t>(n * 4)}};
  ASSERT_TRUE(run(swishModel({2, 3, 37, 41}), true, io, /*nullStream=*/true)) << logger_.all();
  std::vector<float> y = valuesOf<float>(io["y"]);
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_NEAR(y[i], x[i] / (1 + std::exp(-1.5f * x[i])) + std::max(x[i], 0.0f), 1e-5f * (1 + std::abs(y[i]))) << i;
}

// ---------------------------------------------------------------------------
// EfficientNMS_TRT

struct NmsCase {
  int64_t batches = 3, boxes = 37, classes = 5;
  bool perClassBoxes = false;
  int64_t boxCoding = 0, classAgnostic = 0, backgroundClass = -1, scoreActivation = 0, maxOutput = 20;
  float scoreThreshold = 0.3f, iouThreshold = 0.45f;
  int64_t anchorBatches = 0;  // 0: no anchors input; 1 or `batches`
  float scoreStep = 0.0f;     // > 0: scores rounded to multiples of it (ties)
};

class NmsGpu : public PluginsGpu {
 public:
  void check(const NmsCase& c, uint32_t seed) {
    OnnxModelBuilder m(13);
    std::vector<DimSpec> boxDims{c.batches, c.boxes, 4};
    if (c.perClassBoxes) boxDims = {c.batches, c.boxes, c.classes, 4};
    m.input("boxes", TP::FLOAT, boxDims);
    m.input("scores", TP::FLOAT, {c.batches, c.boxes, c.classes});
    std::vector<std::string> ins{"boxes", "scores"};
    if (c.anchorBatches) {
      m.input("anchors", TP::FLOAT, {c.anchorBatches, c.boxes, 4});
      ins.push_back("anchors");
    }
    auto* n = m.node("EfficientNMS_TRT", ins, {"num_detections", "detection_boxes", "detection_scores", "detection_classes"},
                     "nms");
    setAttr(n, "score_threshold", c.scoreThreshold);
    setAttr(n, "iou_threshold", c.iouThreshold);
    setAttr(n, "max_output_boxes", c.maxOutput);
    setAttr(n, "background_class", c.backgroundClass);
    setAttr(n, "score_activation", c.scoreActivation);
    setAttr(n, "class_agnostic", c.classAgnostic);
    setAttr(n, "box_coding", c.boxCoding);
    m.output("num_detections", TP::INT32).output("detection_boxes").output("detection_scores");
    m.output("detection_classes", TP::INT32);

    // Boxes clustered in a 40x40 image so that many overlap; corners in either order.
    const std::size_t nBoxes = static_cast<std::size_t>(c.batches * c.boxes * (c.perClassBoxes ? c.classes : 1));
    std::vector<float> boxes(nBoxes * 4);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> pos(0, 40), size(2, 14), unit(-0.5f, 0.5f);
    for (std::size_t i = 0; i < nBoxes; ++i) {
      float* b = boxes.data() + i * 4;
      if (c.anchorBatches) {  // deltas
        b[0] = unit(rng), b[1] = unit(rng), b[2] = unit(rng), b[3] = unit(rng);
      } else if (c.boxCoding == 1) {
        b[0] = pos(rng), b[1] = pos(rng), b[2] = size(rng), b[3] = size(rng);
      } else {
        float x = pos(rng), y = pos(rng), w = size(rng), h = size(rng);
        bool flip = i % 7 == 3;
        b[0] = flip ? x + w : x, b[1] = y, b[2] = flip ? x : x + w, b[3] = y + h;
      }
    }
    std::vector<float> scores = randomFloats(static_cast<std::size_t>(c.batches * c.boxes * c.classes),
                                             c.scoreActivation ? -4.0f : 0.0f, c.scoreActivation ? 4.0f : 1.0f, seed + 1);
    if (c.scoreStep > 0)
      for (float& s : scores) s = std::round(s / c.scoreStep) * c.scoreStep;
    Buffers in{{"boxes", bytesOf(boxes)}, {"scores", bytesOf(scores)}};
    if (c.anchorBatches) {
      std::vector<float> anchors(static_cast<std::size_t>(c.anchorBatches * c.boxes * 4));
      for (std::size_t i = 0; i < anchors.size() / 4; ++i) {
        float* a = anchors.data() + i * 4;
        float x = pos(rng), y = pos(rng), w = size(rng), h = size(rng);
        if (c.boxCoding == 1) a[0] = x, a[1] = y, a[2] = w, a[3] = h;
        else a[0] = x, a[1] = y, a[2] = x + w, a[3] = y + h;
      }
      in["anchors"] = bytesOf(anchors);
    }
    const std::size_t k = static_cast<std::size_t>(c.batches * c.maxOutput);
    Buffers out{{"num_detections", std::vector<uint8_t>(static_cast<std::size_t>(c.batches) * 4)},
                {"detection_boxes", std::vector<uint8_t>(k * 16)},
                {"detection_scores", std::vector<uint8_t>(k * 4)},
                {"detection_classes", std::vector<uint8_t>(k * 4)}};
    // Anchors decode with exp (center-size): expf on the GPU may differ from the CPU's by an ulp.
    expectSame(m, in, out, c.anchorBatches && c.boxCoding == 1 ? 1e-5f : 1e-6f);
  }
};

TEST_F(NmsGpu, MatchesTheCpuPerClass) {
  KILN_REQUIRE_GPU();
  check(NmsCase{}, 10);
}
TEST_F(NmsGpu, MatchesTheCpuWithTiedScores) {
  KILN_REQUIRE_GPU();
  NmsCase c;
  c.scoreStep = 0.125f;  // many equal scores: ties go to the lower box index on both
  check(c, 11);
  c.classAgnostic = 1;
  check(c, 12);
}
TEST_F(NmsGpu, MatchesTheCpuWhenNoBoxSurvives) {
  KILN_REQUIRE_GPU();
  NmsCase c;
  c.scoreThreshold = 1.5f;  // above every score: zero detections, zero rows
  check(c, 13);
}
TEST_F(NmsGpu, MatchesTheCpuClassAgnosticCenterSizeAndBackground) {
  KILN_REQUIRE_GPU();
  NmsCase c;
  c.classAgnostic = 1, c.boxCoding = 1, c.backgroundClass = 0;
  check(c, 14);
}
TEST_F(NmsGpu, MatchesTheCpuWithPerClassBoxesAndScoreActivation) {
  KILN_REQUIRE_GPU();
  NmsCase c;
  c.perClassBoxes = true, c.scoreActivation = 1, c.scoreThreshold = 0.6f;
  check(c, 15);
}
TEST_F(NmsGpu, MatchesTheCpuWithAnchors) {
  KILN_REQUIRE_GPU();
  NmsCase c;
  c.anchorBatches = 1;  // shared anchors, corner deltas
  check(c, 16);
  c.anchorBatches = c.batches, c.boxCoding = 1;  // per-image anchors, center-size deltas
  check(c, 17);
}
TEST_F(NmsGpu, MatchesTheCpuWhenMoreBoxesSurviveThanAreKept) {
  KILN_REQUIRE_GPU();
  NmsCase c;
  c.batches = 2, c.boxes = 300, c.classes = 3, c.maxOutput = 7, c.scoreThreshold = 0.05f, c.iouThreshold = 0.7f;
  check(c, 18);
}

// ---------------------------------------------------------------------------
// ROIAlign_TRT

struct RoiCase {
  int64_t mode = 1, ctm = 1, samplingRatio = 0, outH = 3, outW = 4;
  float spatialScale = 0.5f;
};

class RoiGpu : public PluginsGpu {
 public:
  OnnxModelBuilder model(const RoiCase& c, int64_t rois) {
    OnnxModelBuilder m(13);
    m.input("x", TP::FLOAT, {2, 3, 7, 9});
    m.input("rois", TP::FLOAT, {rois, 4});
    m.input("batch", TP::INT32, {rois});
    auto* n = m.node("ROIAlign_TRT", {"x", "rois", "batch"}, {"y"}, "roi");
    setAttr(n, "mode", c.mode);
    setAttr(n, "coordinate_transformation_mode", c.ctm);
    setAttr(n, "sampling_ratio", c.samplingRatio);
    setAttr(n, "output_height", c.outH);
    setAttr(n, "output_width", c.outW);
    setAttr(n, "spatial_scale", c.spatialScale);
    m.output("y");
    return m;
  }
  void check(const RoiCase& c) {
    // ROIs in the input's coordinates (spatial_scale 0.5 maps them onto 7x9): inside, crossing the
    // left/top and right/bottom edges, entirely outside, degenerate (zero size), reversed.
    std::vector<float> rois = {0,  0,  6,  6,  -4, -3, 5,   8,  10, 6,  30, 20, 2,  2,  2,  2, 40, 40, 50, 50, -10, -10, -2,
                               -1, 3,  1,  17, 13, 12, 10, 4,   2,  1,  1,  1.5f, 17, 0,  0,  18, 14, 5,   7,   6,   9};
    const int64_t r = static_cast<int64_t>(rois.size() / 4);
    std::vector<int32_t> batch(static_cast<std::size_t>(r));
    for (int64_t i = 0; i < r; ++i) batch[i] = static_cast<int32_t>(i % 2);
    std::vector<float> x = randomFloats(2 * 3 * 7 * 9, -3, 3, 21);
    expectSame(model(c, r), {{"x", bytesOf(x)}, {"rois", bytesOf(rois)}, {"batch", bytesOf(batch)}},
               {{"y", std::vector<uint8_t>(static_cast<std::size_t>(r * 3 * c.outH * c.outW) * 4)}}, 1e-6f);
  }
};

TEST_F(RoiGpu, AverageAdaptiveSamplingMatchesTheCpu) {
  KILN_REQUIRE_GPU();
  check(RoiCase{});
}
TEST_F(RoiGpu, MaxModeFixedSamplingOutputHalfPixelMatchesTheCpu) {
  KILN_REQUIRE_GPU();
  RoiCase c;
  c.mode = 0, c.ctm = 0, c.samplingRatio = 2, c.outH = 2, c.outW = 5, c.spatialScale = 1.0f;
  check(c);
}
TEST_F(RoiGpu, AnOutOfRangeBatchIndexIsAnError) {
  KILN_REQUIRE_GPU();
  std::vector<float> rois = {0, 0, 4, 4};
  std::vector<int32_t> batch = {2};  // X has 2 images
  Buffers io{{"x", bytesOf(randomFloats(2 * 3 * 7 * 9, 0, 1, 3))}, {"rois", bytesOf(rois)}, {"batch", bytesOf(batch)},
             {"y", std::vector<uint8_t>(3 * 3 * 4 * 4)}};
  EXPECT_FALSE(run(model(RoiCase{}, 1), true, io));
  EXPECT_TRUE(logger_.saw("ROIAlign_TRT")) << logger_.all();
}

// The CPU half of every comparison runs everywhere, so the models and buffers
// of the GPU tests are known to parse, build and run before a GPU sees them.
TEST_F(NmsGpu, HostHalfRuns) {
  cpuOnly_ = true;
  NmsCase c;
  check(c, 10);
  c.classAgnostic = 1, c.boxCoding = 1, c.backgroundClass = 0, c.scoreStep = 0.125f;
  check(c, 14);
  c = NmsCase{};
  c.perClassBoxes = true, c.scoreActivation = 1, c.anchorBatches = 3, c.boxCoding = 1;
  check(c, 17);
}
TEST_F(RoiGpu, HostHalfRuns) {
  cpuOnly_ = true;
  check(RoiCase{});
}
TEST_F(PluginsGpu, CustomSwishHostHalfRuns) {
  lib_ = getPluginRegistry()->loadLibrary(KILN_EXAMPLE_PLUGIN_LIB);
  ASSERT_NE(lib_, nullptr) << logger_.all();
  cpuOnly_ = true;
  std::vector<float> x = randomFloats(2 * 3 * 5 * 7, -8, 8, 1);
  expectSame(swishModel({2, 3, 5, 7}), {{"x", bytesOf(x)}}, {{"y", std::vector<uint8_t>(x.size() * 4)}});
}

}  // namespace
}  // namespace kiln::test
