// Shape-tensor inputs: an int64 input whose values decide an output's shape
// (Expand's shape), its value range given by IOptimizationProfile::setShapeValues
// and its values read from host memory at run time, as TensorRT 10 does.
#include <gtest/gtest.h>

#include "unit/api/api_test_util.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

std::vector<int64_t> dimsOf(const Dims& d) { return std::vector<int64_t>(d.d, d.d + d.nbDims); }

//! x [1, 3] -> Expand(x, shape) -> y [shape[0], shape[1]].
std::string expandModel(int32_t shapeType = TP::INT64) {
  OnnxModelBuilder m(13);
  m.input("x", TP::FLOAT, {1, 3});
  m.input("shape", shapeType, {2});
  m.node("Expand", {"x", "shape"}, {"y"}, "expand");
  m.output("y");
  return m.bytes();
}

struct Built {
  RecordingLogger logger;
  std::unique_ptr<IRuntime> runtime;
  std::unique_ptr<ICudaEngine> engine;
  //! Builds with `setValues` filling the profile; engine stays null when the build fails.
  template <typename Fn>
  Built(const std::string& model, Fn setValues) {
    std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
    std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
    std::unique_ptr<onnx::IParser> parser(onnx::createParser(*net, logger));
    EXPECT_TRUE(parser->parse(model.data(), model.size())) << logger.all();
    std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
    IOptimizationProfile* p = builder->createOptimizationProfile();
    setValues(*p);
    EXPECT_GE(config->addOptimizationProfile(p), 0);
    std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
    if (!plan) return;
    runtime.reset(createInferRuntime(logger));
    engine.reset(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  }
};

void setRange(IOptimizationProfile& p) {
  int64_t lo[2] = {1, 3}, opt[2] = {2, 3}, hi[2] = {4, 3};
  ASSERT_TRUE(p.setShapeValuesV2("shape", OptProfileSelector::kMIN, lo, 2));
  ASSERT_TRUE(p.setShapeValuesV2("shape", OptProfileSelector::kOPT, opt, 2));
  ASSERT_TRUE(p.setShapeValuesV2("shape", OptProfileSelector::kMAX, hi, 2));
}

TEST(ShapeTensors, ProfileKeepsTheValuesInBothWidths) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  IOptimizationProfile* p = builder->createOptimizationProfile();
  int32_t v[2] = {2, 3};
  EXPECT_EQ(p->getNbShapeValues("shape"), -1);
  ASSERT_TRUE(p->setShapeValues("shape", OptProfileSelector::kOPT, v, 2));
  EXPECT_EQ(p->getNbShapeValues("shape"), 2);
  EXPECT_EQ(p->getShapeValues("shape", OptProfileSelector::kOPT)[1], 3);
  EXPECT_EQ(p->getShapeValuesV2("shape", OptProfileSelector::kOPT)[0], 2);
  EXPECT_EQ(p->getShapeValues("shape", OptProfileSelector::kMAX), nullptr);
  EXPECT_TRUE(p->isValid());
  int32_t smaller[2] = {1, 3};
  ASSERT_TRUE(p->setShapeValues("shape", OptProfileSelector::kMAX, smaller, 2));
  EXPECT_FALSE(p->isValid());  // max below opt
}

TEST(ShapeTensors, ValuesFromHostMemoryDecideTheShapePerRun) {
  Built b(expandModel(), setRange);
  ASSERT_TRUE(b.engine) << b.logger.all();
  EXPECT_TRUE(b.engine->isShapeInferenceIO("shape"));
  EXPECT_FALSE(b.engine->isShapeInferenceIO("x"));
  EXPECT_FALSE(b.engine->isShapeInferenceIO("y"));
  const int64_t* hi = b.engine->getProfileTensorValuesV2("shape", 0, OptProfileSelector::kMAX);
  ASSERT_NE(hi, nullptr);
  EXPECT_EQ(std::vector<int64_t>(hi, hi + 2), (std::vector<int64_t>{4, 3}));
  const int32_t* lo = b.engine->getProfileTensorValues("shape", 0, OptProfileSelector::kMIN);
  ASSERT_NE(lo, nullptr);
  EXPECT_EQ(std::vector<int32_t>(lo, lo + 2), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(b.engine->getProfileTensorValuesV2("x", 0, OptProfileSelector::kMAX), nullptr);

  std::unique_ptr<IExecutionContext> ctx(b.engine->createExecutionContext());
  float x[3] = {1, 2, 3}, y[12] = {};
  int64_t shape[2] = {3, 3};
  ASSERT_TRUE(ctx->setTensorAddress("x", x));
  ASSERT_TRUE(ctx->setTensorAddress("y", y));
  EXPECT_FALSE(ctx->enqueueV3(nullptr));  // the shape tensor's values are missing
  EXPECT_TRUE(b.logger.saw("\"shape\"")) << b.logger.all();
  ASSERT_TRUE(ctx->setInputTensorAddress("shape", shape));
  EXPECT_EQ(ctx->inferShapes(0, nullptr), 0);
  EXPECT_EQ(dimsOf(ctx->getTensorShape("y")), (std::vector<int64_t>{3, 3}));
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << b.logger.all();
  EXPECT_EQ(std::vector<float>(y, y + 9), (std::vector<float>{1, 2, 3, 1, 2, 3, 1, 2, 3}));

  // New values in the same memory: the next run takes them.
  shape[0] = 1;
  std::fill(y, y + 12, 0.f);
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << b.logger.all();
  EXPECT_EQ(dimsOf(ctx->getTensorShape("y")), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{1, 2, 3, 0}));

  // Outside the profile: a clear error, and the context runs again once the values are valid.
  shape[0] = 5;
  b.logger.clear();
  EXPECT_FALSE(ctx->enqueueV3(nullptr));
  EXPECT_TRUE(b.logger.saw("shape-tensor input \"shape\": values [5,3] are outside optimization profile 0"))
      << b.logger.all();
  EXPECT_EQ(ctx->inferShapes(0, nullptr), -1);
  shape[0] = 4;
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << b.logger.all();
  EXPECT_EQ(dimsOf(ctx->getTensorShape("y")), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(y[11], 3.f);
}

TEST(ShapeTensors, Int32ShapeTensorAndBadProfilesAreBuildErrors) {
  // An int32 shape input works the same.
  Built ok(expandModel(TP::INT32), [](IOptimizationProfile& p) {
    int32_t lo[2] = {1, 3}, hi[2] = {2, 3};
    p.setShapeValues("shape", OptProfileSelector::kMIN, lo, 2);
    p.setShapeValues("shape", OptProfileSelector::kMAX, hi, 2);
  });
  ASSERT_TRUE(ok.engine) << ok.logger.all();
  std::unique_ptr<IExecutionContext> ctx(ok.engine->createExecutionContext());
  float x[3] = {4, 5, 6}, y[6] = {};
  int32_t shape[2] = {2, 3};
  ctx->setTensorAddress("x", x);
  ctx->setTensorAddress("y", y);
  ctx->setInputTensorAddress("shape", shape);
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << ok.logger.all();
  EXPECT_EQ(std::vector<float>(y, y + 6), (std::vector<float>{4, 5, 6, 4, 5, 6}));

  // Values for a float input, and the wrong number of values.
  Built wrongType(expandModel(), [](IOptimizationProfile& p) {
    int64_t v[3] = {1, 3, 1};
    int64_t dims[2] = {2, 3};
    p.setShapeValuesV2("x", OptProfileSelector::kOPT, v, 3);
    p.setShapeValuesV2("shape", OptProfileSelector::kOPT, dims, 2);
  });
  EXPECT_FALSE(wrongType.engine);
  EXPECT_TRUE(wrongType.logger.saw("gives shape values for \"x\", which is float32")) << wrongType.logger.all();
  Built wrongCount(expandModel(), [](IOptimizationProfile& p) {
    int64_t v[3] = {1, 3, 1};
    p.setShapeValuesV2("shape", OptProfileSelector::kOPT, v, 3);
  });
  EXPECT_FALSE(wrongCount.engine);
  EXPECT_TRUE(wrongCount.logger.saw("gives 3 values, the input has 2")) << wrongCount.logger.all();
}

}  // namespace
}  // namespace kiln::test
