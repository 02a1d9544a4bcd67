// BuilderFlag::kBF16 on the CPU, end to end: the committed ONNX models built
// with BF16 run within 2e-2 of the FP32 engine's output range (the BF16
// bound of tests/unit/ops_nn/onednn_bf16_test.cc), use the BF16 tactics,
// and survive a plan round trip bit for bit. Skipped where the CPU has no
// native BF16 (there the flag builds FP32 with a warning: tested too).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "unit/api/api_test_util.h"

namespace kiln::test {
namespace {

std::string modelPath(const char* name) {
  const char* src = std::getenv("KILN_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/models/" + name;
}

struct Built {
  std::unique_ptr<IHostMemory> plan;
  std::unique_ptr<ICudaEngine> engine;
};

// Parses `model` and builds it, BF16 when `bf16`. Optimization level 0 (no
// timing): each layer takes its highest-priority tactic, the BF16 one where
// the flag allows it, so the test sees BF16 kernels whatever timing says.
// `dynamic`: the model's two [batch, seq] inputs get a profile 1x4 .. 2x8 .. 4x16.
Built build(const char* model, bool bf16, RecordingLogger& logger, IRuntime& runtime, bool dynamic = false) {
  Built b;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(1u));
  std::unique_ptr<onnx::IParser> parser(onnx::createParser(*net, logger));
  if (!parser->parseFromFile(modelPath(model).c_str(), static_cast<int>(ILogger::Severity::kWARNING))) return b;
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  config->setBuilderOptimizationLevel(0);
  if (bf16) config->setFlag(BuilderFlag::kBF16);
  if (dynamic) {
    IOptimizationProfile* profile = builder->createOptimizationProfile();
    for (int i = 0; i < net->getNbInputs(); ++i) {
      const char* name = net->getInput(i)->getName();
      profile->setDimensions(name, OptProfileSelector::kMIN, Dims2(1, 4));
      profile->setDimensions(name, OptProfileSelector::kOPT, Dims2(2, 8));
      profile->setDimensions(name, OptProfileSelector::kMAX, Dims2(4, 16));
    }
    config->addOptimizationProfile(profile);
  }
  b.plan.reset(builder->buildSerializedNetwork(*net, *config));
  if (b.plan) b.engine.reset(runtime.deserializeCudaEngine(b.plan->data(), b.plan->size()));
  return b;
}

using Outputs = std::vector<std::vector<float>>;

// Runs `engine` on reproducible inputs (floats in [-1, 1), int64 ids in [0, 10), masks of ones); float outputs.
// `inputShape`: the shape of every input of a dynamic engine.
Outputs run(ICudaEngine& engine, const Dims* inputShape = nullptr) {
  std::unique_ptr<IExecutionContext> ctx(engine.createExecutionContext());
  for (int i = 0; inputShape && i < engine.getNbIOTensors(); ++i) {
    if (engine.getTensorIOMode(engine.getIOTensorName(i)) == TensorIOMode::kINPUT) {
      EXPECT_TRUE(ctx->setInputShape(engine.getIOTensorName(i), *inputShape));
    }
  }
  std::vector<std::vector<char>> buffers;
  std::vector<int> outputs;
  std::mt19937 rng(7);
  for (int i = 0; i < engine.getNbIOTensors(); ++i) {
    const char* name = engine.getIOTensorName(i);
    const Dims d = ctx->getTensorShape(name);
    int64_t n = 1;
    for (int k = 0; k < d.nbDims; ++k) n *= d.d[k];
    const DataType t = engine.getTensorDataType(name);
    buffers.emplace_back(static_cast<std::size_t>(n * dataTypeSize(t)), 0);
    char* p = buffers.back().data();
    if (engine.getTensorIOMode(name) == TensorIOMode::kINPUT) {
      for (int64_t k = 0; k < n; ++k) {
        if (t == DataType::kFLOAT) reinterpret_cast<float*>(p)[k] = std::uniform_real_distribution<float>(-1, 1)(rng);
        if (t == DataType::kINT64)
          reinterpret_cast<int64_t*>(p)[k] = std::strstr(name, "mask") ? 1 : static_cast<int64_t>(rng() % 10);
      }
    } else if (t == DataType::kFLOAT) {
      outputs.push_back(i);
    }
    EXPECT_TRUE(ctx->setTensorAddress(name, p));
  }
  std::vector<void*> bindings;
  for (auto& b : buffers) bindings.push_back(b.data());
  EXPECT_TRUE(ctx->executeV2(bindings.data()));
  Outputs out;
  for (int i : outputs) {
    const float* f = reinterpret_cast<const float*>(buffers[i].data());
    out.emplace_back(f, f + buffers[i].size() / sizeof(float));
  }
  return out;
}

int bf16Layers(const ICudaEngine& engine) {
  int n = 0;
  for (int i = 0; i < engine.getNbLayers(); ++i) n += std::string(engine.getLayerInformation(i)).find("_bf16") != std::string::npos;
  return n;
}

// Every output of `got` within 2e-2 of `want`'s range, and not bit-identical to it.
void expectWithinRange(const Outputs& want, const Outputs& got) {
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t o = 0; o < want.size(); ++o) {
    ASSERT_EQ(want[o].size(), got[o].size());
    float lo = want[o][0], hi = want[o][0], worst = 0, diff = 0;
    for (float v : want[o]) lo = std::min(lo, v), hi = std::max(hi, v);
    for (std::size_t k = 0; k < want[o].size(); ++k) {
      const float e = std::fabs(got[o][k] - want[o][k]);
      worst = std::isnan(e) ? INFINITY : std::max(worst, e);
      diff += e;
    }
    EXPECT_LE(worst, 2e-2f * (hi - lo)) << "output " << o << ": range " << hi - lo;
    ::testing::Test::RecordProperty("output" + std::to_string(o) + "_err_of_range", std::to_string(worst / (hi - lo)));
    EXPECT_GT(diff, 0.f) << "output " << o << " is bit-identical to FP32: BF16 did not run";
  }
}

class BF16Engine : public ::testing::TestWithParam<const char*> {};

TEST_P(BF16Engine, WithinTwoPercentOfTheFP32OutputRange) {
  RecordingLogger logger;
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  Built fp32 = build(GetParam(), false, logger, *runtime);
  ASSERT_TRUE(fp32.engine) << logger.all();
  EXPECT_EQ(bf16Layers(*fp32.engine), 0) << "no BF16 tactic without the flag";
  Built bf16 = build(GetParam(), true, logger, *runtime);
  ASSERT_TRUE(bf16.engine) << logger.all();
  if (logger.saw("BF16 not supported natively")) {
    EXPECT_EQ(bf16Layers(*bf16.engine), 0);
    GTEST_SKIP() << "no native BF16 here: the flag built FP32 with a warning";
  }
  EXPECT_GT(bf16Layers(*bf16.engine), 0);
  RecordProperty("bf16_layers", bf16Layers(*bf16.engine));
  const Outputs want = run(*fp32.engine), got = run(*bf16.engine);
  expectWithinRange(want, got);

  // Plan round trip: the engine serializes to the same bytes, which load and compute the same bits.
  std::unique_ptr<IHostMemory> again(bf16.engine->serialize());
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), bf16.plan->size());
  EXPECT_EQ(std::memcmp(again->data(), bf16.plan->data(), again->size()), 0);
  std::unique_ptr<ICudaEngine> reloaded(runtime->deserializeCudaEngine(again->data(), again->size()));
  ASSERT_TRUE(reloaded) << logger.all();
  EXPECT_EQ(bf16Layers(*reloaded), bf16Layers(*bf16.engine));
  EXPECT_EQ(run(*reloaded), got);
}

INSTANTIATE_TEST_SUITE_P(Models, BF16Engine, ::testing::Values("small_cnn.onnx", "small_transformer.onnx"));

// Dynamic batch and sequence: the BF16 matmuls are prepacked for a symbolic A and run at shapes
// other than the ones they were timed and made at.
TEST(BF16EngineDynamic, WithinTwoPercentAtEveryShapeOfTheProfile) {
  RecordingLogger logger;
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  const char* model = "dynamic/small_transformer_dynamic.onnx";
  Built fp32 = build(model, false, logger, *runtime, true), bf16 = build(model, true, logger, *runtime, true);
  ASSERT_TRUE(fp32.engine && bf16.engine) << logger.all();
  if (logger.saw("BF16 not supported natively")) GTEST_SKIP() << "no native BF16 here";
  EXPECT_GT(bf16Layers(*bf16.engine), 0);
  for (Dims shape : {Dims2(1, 4), Dims2(3, 13), Dims2(4, 16)}) {
    SCOPED_TRACE(::testing::Message() << shape.d[0] << "x" << shape.d[1]);
    expectWithinRange(run(*fp32.engine, &shape), run(*bf16.engine, &shape));
  }
}

}  // namespace
}  // namespace kiln::test
