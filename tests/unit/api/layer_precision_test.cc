// ILayer's precision constraints (setPrecision / setOutputType and their
// getters and resets) as TensorRT has them, and that a CPU build with them set
// (and the constraint flags on) still builds FP32 and runs: the CPU backend
// ignores them (the device precision pass honors them; see
// tests/unit/builder/device_precision_test.cc).
#include <gtest/gtest.h>

#include "backends/backend.h"
#include "unit/api/api_test_util.h"

namespace kiln::test {
namespace {

TEST(LayerPrecision, SetGetReset) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
  ITensor* in = net->addInput("x", DataType::kFLOAT, Dims2(2, 3));
  ILayer* relu = net->addActivation(*in, ActivationType::kRELU);
  ASSERT_NE(relu, nullptr);
  EXPECT_FALSE(relu->precisionIsSet());
  EXPECT_EQ(relu->getPrecision(), DataType::kFLOAT);
  relu->setPrecision(DataType::kHALF);
  EXPECT_TRUE(relu->precisionIsSet());
  EXPECT_EQ(relu->getPrecision(), DataType::kHALF);
  relu->resetPrecision();
  EXPECT_FALSE(relu->precisionIsSet());

  EXPECT_FALSE(relu->outputTypeIsSet(0));
  EXPECT_EQ(relu->getOutputType(0), DataType::kFLOAT);  // unset: the output's own type
  relu->setOutputType(0, DataType::kBF16);
  EXPECT_TRUE(relu->outputTypeIsSet(0));
  EXPECT_EQ(relu->getOutputType(0), DataType::kBF16);
  EXPECT_FALSE(relu->outputTypeIsSet(1)) << "no output 1";
  relu->setOutputType(1, DataType::kHALF);  // out of range: ignored
  EXPECT_FALSE(relu->outputTypeIsSet(1));
  EXPECT_FALSE(relu->outputTypeIsSet(-1));
  relu->resetOutputType(0);
  EXPECT_FALSE(relu->outputTypeIsSet(0));
}

// The CPU has no FP16 kernel for Relu (only Conv / MatMul / Gemm): an obeyed FP16 constraint fails the build naming
// the layer (TensorRT's kOBEY semantics); a preferred one builds FP32 with a warning.
TEST(LayerPrecision, CpuBuildObeysOrPrefersConstraints) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
  ITensor* in = net->addInput("x", DataType::kFLOAT, Dims2(2, 3));
  ILayer* relu = net->addActivation(*in, ActivationType::kRELU);
  relu->setName("relu");
  relu->setPrecision(DataType::kHALF);
  relu->setOutputType(0, DataType::kHALF);
  net->markOutput(*relu->getOutput(0));
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  config->setFlag(BuilderFlag::kOBEY_PRECISION_CONSTRAINTS);
  EXPECT_EQ(builder->buildSerializedNetwork(*net, *config), nullptr);
  EXPECT_TRUE(logger.saw("\"relu\": precision constraint not met")) << logger.all();

  logger.clear();
  config->clearFlag(BuilderFlag::kOBEY_PRECISION_CONSTRAINTS);
  config->setFlag(BuilderFlag::kPREFER_PRECISION_CONSTRAINTS);
  std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  ASSERT_TRUE(plan) << logger.all();
  EXPECT_TRUE(logger.saw("relu")) << "the unmet preference is warned about: " << logger.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  ASSERT_TRUE(engine) << logger.all();
  EXPECT_EQ(engine->getTensorDataType(relu->getOutput(0)->getName()), DataType::kFLOAT);
  std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());
  std::vector<float> x = {-1, 2, -3, 4, 0.5f, -0.5f}, y(6, 7.f);
  void* bindings[] = {x.data(), y.data()};
  ASSERT_TRUE(ctx->executeV2(bindings)) << logger.all();
  EXPECT_EQ(y, (std::vector<float>{0, 2, 0, 4, 0.5f, 0}));
}

TEST(LayerPrecision, FastFp16MeansAGpuIsHere) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  EXPECT_EQ(builder->platformHasFastFp16(), backends::cudaHost().available) << backends::cudaHost().unavailable;
  EXPECT_FALSE(builder->platformHasFastInt8());
}

}  // namespace
}  // namespace kiln::test
