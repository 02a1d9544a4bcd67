// The seed's flow on the committed ONNX models: parse, build, run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "unit/api/api_test_util.h"

namespace kiln::test {
namespace {

std::string modelPath(const char* name) {
  const char* src = std::getenv("KILN_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/models/" + name;
}

class OnnxFlow : public ::testing::TestWithParam<const char*> {};

TEST_P(OnnxFlow, ParsesBuildsAndRuns) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(1u));
  std::unique_ptr<onnx::IParser> parser(onnx::createParser(*net, logger));
  ASSERT_TRUE(parser->parseFromFile(modelPath(GetParam()).c_str(), static_cast<int>(ILogger::Severity::kWARNING)))
      << (parser->getNbErrors() ? parser->getError(0)->desc() : "") << logger.all();
  EXPECT_EQ(parser->getNbErrors(), 0);
  EXPECT_GT(net->getNbLayers(), 5);
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  config->setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, 1u << 30);
  std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  ASSERT_TRUE(plan) << logger.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  ASSERT_TRUE(engine) << logger.all();
  // Fusion made the engine smaller than the ONNX graph.
  EXPECT_LT(engine->getNbLayers(), net->getNbLayers());
  std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());
  std::vector<std::vector<char>> buffers;
  for (int i = 0; i < engine->getNbIOTensors(); ++i) {
    const char* name = engine->getIOTensorName(i);
    Dims d = engine->getTensorShape(name);
    int64_t n = 1;
    for (int k = 0; k < d.nbDims; ++k) n *= d.d[k];
    buffers.emplace_back(static_cast<std::size_t>(n * dataTypeSize(engine->getTensorDataType(name))), 0);
    ASSERT_TRUE(ctx->setTensorAddress(name, buffers.back().data()));
  }
  EXPECT_TRUE(ctx->enqueueV3(nullptr)) << logger.all();
}

INSTANTIATE_TEST_SUITE_P(Models, OnnxFlow, ::testing::Values("small_cnn.onnx", "small_transformer.onnx"));

}  // namespace
}  // namespace kiln::test
