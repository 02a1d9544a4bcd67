// Outputs whose shape depends on the data (NonZero, NonMaxSuppression,
// Compress): the engine reports -1 for those dims until a run, sizes them per
// run through IOutputAllocator, and re-resolves the shapes downstream of them.
#include <gtest/gtest.h>

#include <cstring>

#include "unit/api/api_test_util.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

//! Owns each output's memory, as a user's allocator would; records the calls.
class VectorAllocator : public IOutputAllocator {
 public:
  void* reallocateOutputAsync(const char*, void*, uint64_t size, uint64_t alignment, void*) noexcept override {
    requested.push_back(size);
    if (size > bytes.size()) bytes.resize(size);
    return bytes.data();
  }
  void notifyShape(const char*, const Dims& dims) noexcept override { shapes.push_back(dims); }
  template <typename T>
  std::vector<T> values() const {
    int64_t n = 1;
    for (int i = 0; i < shapes.back().nbDims; ++i) n *= shapes.back().d[i];
    std::vector<T> out(static_cast<std::size_t>(n));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
  }
  std::vector<uint8_t> bytes;
  std::vector<uint64_t> requested;
  std::vector<Dims> shapes;
};

std::vector<int64_t> dimsOf(const Dims& d) { return std::vector<int64_t>(d.d, d.d + d.nbDims); }

struct Engine {
  RecordingLogger logger;
  std::unique_ptr<IRuntime> runtime;
  std::unique_ptr<ICudaEngine> engine;
  explicit Engine(const OnnxModelBuilder& model) {
    std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
    std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
    std::unique_ptr<onnx::IParser> parser(onnx::createParser(*net, logger));
    std::string bytes = model.bytes();
    EXPECT_TRUE(parser->parse(bytes.data(), bytes.size())) << logger.all();
    std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
    std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
    EXPECT_TRUE(plan) << logger.all();
    if (!plan) return;
    runtime.reset(createInferRuntime(logger));
    engine.reset(runtime->deserializeCudaEngine(plan->data(), plan->size()));
    EXPECT_TRUE(engine) << logger.all();
  }
};

//! x [2, 3] -> NonZero -> "idx" [2, n]; Transpose -> "coords" [n, 2]; Shape -> "count" [2].
OnnxModelBuilder nonZeroModel() {
  OnnxModelBuilder m(13);
  m.input("x", TP::FLOAT, {2, 3});
  m.node("NonZero", {"x"}, {"idx"}, "nz");
  m.node("Transpose", {"idx"}, {"coords"}, "t");
  m.node("Shape", {"idx"}, {"count"}, "shape");
  m.output("idx", TP::INT64).output("coords", TP::INT64).output("count", TP::INT64);
  return m;
}

TEST(DataDependentShapes, NonZeroSizedPerRunAndDownstreamFollows) {
  Engine e(nonZeroModel());
  ASSERT_TRUE(e.engine);
  EXPECT_EQ(dimsOf(e.engine->getTensorShape("idx")), (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(dimsOf(e.engine->getTensorShape("coords")), (std::vector<int64_t>{-1, 2}));
  std::unique_ptr<IExecutionContext> ctx(e.engine->createExecutionContext());
  EXPECT_EQ(dimsOf(ctx->getTensorShape("idx")), (std::vector<int64_t>{2, -1}));
  VectorAllocator idx, coords;
  int64_t count[2] = {0, 0};
  float x[6] = {0, 1.5f, 0, -2, 0, -0.0f};  // nonzero at (0,1) and (1,0); -0.0 is zero
  ASSERT_TRUE(ctx->setTensorAddress("x", x));
  ASSERT_TRUE(ctx->setTensorAddress("count", count));
  // Without an allocator the run stops and says what to do.
  ASSERT_TRUE(ctx->setOutputAllocator("coords", &coords));
  EXPECT_FALSE(ctx->enqueueV3(nullptr));
  EXPECT_TRUE(e.logger.saw("\"idx\" has a data-dependent shape")) << e.logger.all();
  ASSERT_TRUE(ctx->setOutputAllocator("idx", &idx));
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << e.logger.all();
  EXPECT_EQ(idx.requested.back(), 2u * 6u * sizeof(int64_t));  // the bound: every element nonzero
  EXPECT_EQ(dimsOf(idx.shapes.back()), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(idx.values<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(dimsOf(coords.shapes.back()), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(coords.values<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(dimsOf(ctx->getTensorShape("coords")), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(count[0], 2);  // Shape of a data-dependent value: its actual dims
  EXPECT_EQ(count[1], 2);

  // Other data, same context: more nonzeros, then none.
  float y[6] = {1, 2, 0, 4, 5, 6};
  ASSERT_TRUE(ctx->setTensorAddress("x", y));
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << e.logger.all();
  EXPECT_EQ(dimsOf(idx.shapes.back()), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(idx.values<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1, 1, 0, 1, 0, 1, 2}));
  EXPECT_EQ(coords.values<int64_t>(), (std::vector<int64_t>{0, 0, 0, 1, 1, 0, 1, 1, 1, 2}));
  EXPECT_EQ(count[1], 5);
  float z[6] = {};
  ASSERT_TRUE(ctx->setTensorAddress("x", z));
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << e.logger.all();
  EXPECT_EQ(dimsOf(idx.shapes.back()), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(dimsOf(coords.shapes.back()), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(count[1], 0);
}

TEST(DataDependentShapes, NonZeroOfAConstantFoldsToItsActualShape) {
  OnnxModelBuilder m(13);
  m.input("x", TP::INT64, {2});
  m.initializerInt64("c", {2, 2}, {1, 0, 0, 3});
  m.node("NonZero", {"c"}, {"nz"}, "nz");
  m.node("Add", {"nz", "x"}, {"y"}, "add");
  m.output("y", TP::INT64);
  Engine e(m);
  ASSERT_TRUE(e.engine);
  EXPECT_EQ(dimsOf(e.engine->getTensorShape("y")), (std::vector<int64_t>{2, 2}));
  std::unique_ptr<IExecutionContext> ctx(e.engine->createExecutionContext());
  int64_t x[2] = {10, 20}, y[4] = {};
  void* bindings[2] = {x, y};
  ASSERT_TRUE(ctx->executeV2(bindings)) << e.logger.all();
  EXPECT_EQ(std::vector<int64_t>(y, y + 4), (std::vector<int64_t>{10, 21, 10, 21}));
}

TEST(DataDependentShapes, NonMaxSuppressionSelectsByIouAndScore) {
  // ONNX's suppress_by_IOU example: boxes [y1, x1, y2, x2], one class.
  OnnxModelBuilder m(11);
  m.input("boxes", TP::FLOAT, {1, 6, 4});
  m.input("scores", TP::FLOAT, {1, 1, 6});
  m.initializerInt64("max_out", {1}, {3});
  m.initializer("iou", {1}, {0.5f});
  m.initializer("score", {1}, {0.0f});
  m.node("NonMaxSuppression", {"boxes", "scores", "max_out", "iou", "score"}, {"selected"}, "nms");
  m.output("selected", TP::INT64);
  Engine e(m);
  ASSERT_TRUE(e.engine);
  EXPECT_EQ(dimsOf(e.engine->getTensorShape("selected")), (std::vector<int64_t>{-1, 3}));
  std::unique_ptr<IExecutionContext> ctx(e.engine->createExecutionContext());
  float boxes[24] = {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, -0.1f, 1, 0.9f, 0, 10, 1, 11, 0, 10.1f, 1, 11.1f, 0, 100, 1, 101};
  float scores[6] = {0.9f, 0.75f, 0.6f, 0.95f, 0.5f, 0.3f};
  VectorAllocator out;
  ASSERT_TRUE(ctx->setTensorAddress("boxes", boxes));
  ASSERT_TRUE(ctx->setTensorAddress("scores", scores));
  ASSERT_TRUE(ctx->setOutputAllocator("selected", &out));
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << e.logger.all();
  EXPECT_EQ(out.requested.back(), 3u * 3u * sizeof(int64_t));  // bound: 1 batch x 1 class x 3
  EXPECT_EQ(dimsOf(out.shapes.back()), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(out.values<int64_t>(), (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 5}));
  // Only boxes 3 and 4 pass the score threshold, and 3 suppresses 4 (IoU 0.82).
  scores[0] = scores[1] = scores[2] = scores[5] = -1.0f;
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << e.logger.all();
  EXPECT_EQ(dimsOf(out.shapes.back()), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(out.values<int64_t>(), (std::vector<int64_t>{0, 0, 3}));
  // With box 4 moved away, both stay.
  boxes[17] = 20, boxes[19] = 21;
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << e.logger.all();
  EXPECT_EQ(out.values<int64_t>(), (std::vector<int64_t>{0, 0, 3, 0, 0, 4}));
}

TEST(DataDependentShapes, CompressAlongAnAxis) {
  OnnxModelBuilder m(11);
  m.input("x", TP::FLOAT, {2, 3});
  m.input("keep", TP::BOOL, {3});
  auto* n = m.node("Compress", {"x", "keep"}, {"y"}, "compress");
  setAttr(n, "axis", int64_t{1});
  m.output("y", TP::FLOAT);
  Engine e(m);
  ASSERT_TRUE(e.engine);
  EXPECT_EQ(dimsOf(e.engine->getTensorShape("y")), (std::vector<int64_t>{2, -1}));
  std::unique_ptr<IExecutionContext> ctx(e.engine->createExecutionContext());
  float x[6] = {1, 2, 3, 4, 5, 6};
  bool keep[3] = {true, false, true};
  VectorAllocator out;
  ASSERT_TRUE(ctx->setTensorAddress("x", x));
  ASSERT_TRUE(ctx->setTensorAddress("keep", keep));
  ASSERT_TRUE(ctx->setOutputAllocator("y", &out));
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << e.logger.all();
  EXPECT_EQ(dimsOf(out.shapes.back()), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(out.values<float>(), (std::vector<float>{1, 3, 4, 6}));
}

TEST(DataDependentShapes, RoiAlignSamplesBilinearly) {
  // One 4x4 image with x[i][j] = 4i + j; one ROI [x1, y1, x2, y2] = [0, 0, 3, 3],
  // one output cell, one sample at the ROI's centre.
  for (auto [mode, expected] : {std::pair<const char*, float>{"output_half_pixel", 7.5f}, {"half_pixel", 5.0f}}) {
    OnnxModelBuilder m(16);
    m.input("x", TP::FLOAT, {1, 1, 4, 4});
    m.initializer("rois", {1, 4}, {0, 0, 3, 3});
    m.initializerInt64("batch", {1}, {0});
    auto* n = m.node("RoiAlign", {"x", "rois", "batch"}, {"y"}, "roi");
    setAttr(n, "sampling_ratio", int64_t{1});
    setAttr(n, "coordinate_transformation_mode", mode);
    m.output("y", TP::FLOAT);
    Engine e(m);
    ASSERT_TRUE(e.engine);
    std::unique_ptr<IExecutionContext> ctx(e.engine->createExecutionContext());
    float x[16], y = 0;
    for (int i = 0; i < 16; ++i) x[i] = static_cast<float>(i);
    void* bindings[2] = {x, &y};
    ASSERT_TRUE(ctx->executeV2(bindings)) << e.logger.all();
    EXPECT_FLOAT_EQ(y, expected) << mode;
  }
}

}  // namespace
}  // namespace kiln::test
