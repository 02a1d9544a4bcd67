// Bad input through the public API: each case is a clear logged error and a
// null/false result, never a crash; a context stays usable after an error.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "unit/api/api_test_util.h"

namespace kiln::test {
namespace {

std::unique_ptr<INetworkDefinition> network(IBuilder& b) { return std::unique_ptr<INetworkDefinition>(b.createNetworkV2(0)); }

TEST(ApiErrors, NetworkWithoutOutputsDoesNotBuild) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  auto net = network(*builder);
  ITensor* in = net->addInput("x", DataType::kFLOAT, Dims2(2, 3));
  net->addActivation(*in, ActivationType::kRELU);
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  EXPECT_EQ(builder->buildSerializedNetwork(*net, *config), nullptr);
  EXPECT_TRUE(logger.saw("no outputs")) << logger.all();
}

TEST(ApiErrors, DynamicInputNeedsAProfile) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  auto net = network(*builder);
  Dims4 dims(1, 3, 8, -1);
  ITensor* in = net->addInput("image", DataType::kFLOAT, dims);
  net->markOutput(*net->addActivation(*in, ActivationType::kRELU)->getOutput(0));
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  EXPECT_EQ(builder->buildSerializedNetwork(*net, *config), nullptr);
  EXPECT_TRUE(logger.saw("\"image\"")) << logger.all();

  // With a profile it builds, for that shape.
  IOptimizationProfile* profile = builder->createOptimizationProfile();
  for (auto sel : {OptProfileSelector::kMIN, OptProfileSelector::kOPT, OptProfileSelector::kMAX})
    ASSERT_TRUE(profile->setDimensions("image", sel, Dims4(1, 3, 8, 5)));
  ASSERT_EQ(config->addOptimizationProfile(profile), 0);
  std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  ASSERT_TRUE(plan) << logger.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->getTensorShape("image").d[3], 5);
}

TEST(ApiErrors, ProfileOutsideNetworkDims) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  auto net = network(*builder);
  ITensor* in = net->addInput("x", DataType::kFLOAT, Dims2(4, -1));
  net->markOutput(*net->addActivation(*in, ActivationType::kSIGMOID)->getOutput(0));
  IOptimizationProfile* profile = builder->createOptimizationProfile();
  for (auto sel : {OptProfileSelector::kMIN, OptProfileSelector::kOPT, OptProfileSelector::kMAX})
    profile->setDimensions("x", sel, Dims2(3, 7));  // first dim is fixed at 4
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  config->addOptimizationProfile(profile);
  EXPECT_EQ(builder->buildSerializedNetwork(*net, *config), nullptr);
  EXPECT_TRUE(logger.saw("fixes it at 4")) << logger.all();
}

TEST(ApiErrors, LayerApiRejectsBadWeights) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  auto net = network(*builder);
  ITensor* in = net->addInput("x", DataType::kFLOAT, Dims4(1, 2, 5, 5));
  std::vector<float> w(7);
  EXPECT_EQ(net->addConvolutionNd(*in, 4, DimsHW(3, 3), Weights{DataType::kFLOAT, w.data(), 7}, Weights{}), nullptr);
  EXPECT_TRUE(logger.saw("addConvolutionNd")) << logger.all();
  EXPECT_EQ(net->addInput("x", DataType::kFLOAT, Dims2(1, 1)), nullptr);  // duplicate name
  EXPECT_TRUE(logger.saw("already exists"));
}

TEST(ApiErrors, CorruptPlansGiveNullEngines) {
  RecordingLogger logger;
  SmallNet def;
  auto plan = buildPlan(logger, def);
  ASSERT_TRUE(plan) << logger.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::vector<uint8_t> bytes(static_cast<uint8_t*>(plan->data()), static_cast<uint8_t*>(plan->data()) + plan->size());

  EXPECT_EQ(runtime->deserializeCudaEngine(nullptr, 0), nullptr);
  EXPECT_EQ(runtime->deserializeCudaEngine(bytes.data(), 0), nullptr);
  EXPECT_EQ(runtime->deserializeCudaEngine(bytes.data(), bytes.size() / 2), nullptr);  // truncated
  for (std::size_t pos : {std::size_t{0}, std::size_t{9}, bytes.size() / 3, bytes.size() - 1}) {
    auto flipped = bytes;
    flipped[pos] ^= 0x10;
    logger.clear();
    EXPECT_EQ(runtime->deserializeCudaEngine(flipped.data(), flipped.size()), nullptr) << "flip at " << pos;
    ASSERT_FALSE(logger.messages.empty());
    EXPECT_EQ(logger.messages.back().find('\n'), std::string::npos) << "one-line reason";
  }
  std::vector<uint8_t> garbage(4096);
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(i * 131 + 7);
  EXPECT_EQ(runtime->deserializeCudaEngine(garbage.data(), garbage.size()), nullptr);
}

TEST(ApiErrors, ContextRejectsBadShapesAndNamesThenStillRuns) {
  RecordingLogger logger;
  SmallNet def;
  auto plan = buildPlan(logger, def);
  ASSERT_TRUE(plan) << logger.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  ASSERT_TRUE(engine);
  std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());

  EXPECT_FALSE(ctx->setTensorAddress("no_such_tensor", nullptr));
  EXPECT_TRUE(logger.saw("no_such_tensor"));
  EXPECT_FALSE(ctx->setInputShape("input", Dims3(2, 3, 6)));
  EXPECT_TRUE(logger.saw("rank 3"));
  EXPECT_FALSE(ctx->setInputShape("input", Dims4(2, 3, -6, 6)));
  EXPECT_TRUE(logger.saw("negative"));
  EXPECT_FALSE(ctx->setInputShape("input", Dims4(2, 3, 7, 6)));
  EXPECT_TRUE(logger.saw("differs from the engine"));
  EXPECT_TRUE(ctx->setInputShape("input", Dims4(2, 3, 6, 6)));

  std::vector<float> x = wave(2 * 3 * 6 * 6, 1.f), out(10);
  ASSERT_TRUE(ctx->setTensorAddress("input", x.data()));
  logger.clear();
  EXPECT_FALSE(ctx->enqueueV3(nullptr));  // the output has no address
  EXPECT_TRUE(logger.saw("probs")) << logger.all();
  ASSERT_TRUE(ctx->setTensorAddress("probs", out.data()));
  EXPECT_TRUE(ctx->enqueueV3(nullptr));
  auto want = def.reference(x);
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(out[i], want[i], 1e-5f);
}

TEST(ApiErrors, ParserReportsMissingFileAndGarbage) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  auto net = network(*builder);
  std::unique_ptr<onnx::IParser> parser(onnx::createParser(*net, logger));
  EXPECT_FALSE(parser->parseFromFile("/nonexistent/model.onnx", 0));
  ASSERT_GE(parser->getNbErrors(), 1);
  EXPECT_NE(std::string(parser->getError(0)->desc()).find("/nonexistent/model.onnx"), std::string::npos);
  parser->clearErrors();
  const char junk[] = "this is not a protobuf \x01\x02\x03";
  EXPECT_FALSE(parser->parse(junk, sizeof(junk)));
  EXPECT_GE(parser->getNbErrors(), 1);
}

}  // namespace
}  // namespace kiln::test
