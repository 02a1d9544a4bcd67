// setDefaultDeviceType(kGPU) selects the CUDA backend. Building needs a GPU
// (tactics are chosen on it), so without one the build fails with the reason;
// kDLA is refused by name. With a GPU the build test is skipped here (the CUDA
// tests in tests/unit/cuda cover that machine).
#include <gtest/gtest.h>

#include "backends/backend.h"
#include "unit/api/api_test_util.h"

namespace kiln::test {
namespace {

std::unique_ptr<IHostMemory> buildRelu(IBuilder& builder, DeviceType device) {
  std::unique_ptr<INetworkDefinition> net(builder.createNetworkV2(0));
  ITensor* in = net->addInput("x", DataType::kFLOAT, Dims2(2, 3));
  net->markOutput(*net->addActivation(*in, ActivationType::kRELU)->getOutput(0));
  std::unique_ptr<IBuilderConfig> config(builder.createBuilderConfig());
  config->setDefaultDeviceType(device);
  EXPECT_EQ(config->getDefaultDeviceType(), device);
  return std::unique_ptr<IHostMemory>(builder.buildSerializedNetwork(*net, *config));
}

TEST(GpuDevice, BuildWithoutAGpuFailsWithTheReason) {
  backends::HostDevice host = backends::cudaHost();
  if (host.available) GTEST_SKIP() << "this machine has a GPU (" << host.target.arch << ")";
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  EXPECT_EQ(buildRelu(*builder, DeviceType::kGPU), nullptr);
  EXPECT_TRUE(logger.saw("building a CUDA engine needs a GPU")) << logger.all();
  EXPECT_TRUE(logger.saw(host.unavailable)) << logger.all();
}

TEST(GpuDevice, DlaIsRefused) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  EXPECT_EQ(buildRelu(*builder, DeviceType::kDLA), nullptr);
  EXPECT_TRUE(logger.saw("DeviceType::kDLA is not supported")) << logger.all();
}

TEST(GpuDevice, CpuEngineReportsCpuAndHostTensors) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  auto plan = buildRelu(*builder, DeviceType::kCPU);
  ASSERT_TRUE(plan) << logger.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  ASSERT_TRUE(engine) << logger.all();
  EXPECT_EQ(engine->getDeviceType(), DeviceType::kCPU);
  EXPECT_EQ(engine->getTensorLocation("x"), TensorLocation::kHOST);
}

}  // namespace
}  // namespace kiln::test
