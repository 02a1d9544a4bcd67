// IBuilderConfig::setBuilderOptimizationLevel: level 0 times no tactic (the
// conformance runner builds ~1,400 small engines with it), other levels do.
#include <gtest/gtest.h>

#include <regex>

#include "unit/api/api_test_util.h"

namespace kiln::test {
namespace {

//! Keeps the builder's summary line ("built N layers (T timed, ...").
class SummaryLogger : public ILogger {
 public:
  void log(Severity, const char* msg) noexcept override {
    std::string m = msg;
    if (m.find("layers (") != std::string::npos) summary = m;
  }
  //! T of the summary line, -1 when there was none.
  int timed() const {
    std::smatch m;
    return std::regex_search(summary, m, std::regex("\\(([0-9]+) timed")) ? std::stoi(m[1]) : -1;
  }
  std::string summary;
};

std::vector<float> buildAndRun(int level, SummaryLogger& logger, const SmallNet& def, const std::vector<float>& x) {
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
  def.define(*net);
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  if (level >= 0) config->setBuilderOptimizationLevel(level);
  std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  if (!plan) return {};
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());
  std::vector<float> out(10, -1.f);
  void* bindings[] = {const_cast<float*>(x.data()), out.data()};
  if (!ctx->executeV2(bindings)) return {};
  return out;
}

TEST(OptimizationLevel, DefaultIsThreeAndLevelsAreClamped) {
  SummaryLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  EXPECT_EQ(config->getBuilderOptimizationLevel(), 3);
  config->setBuilderOptimizationLevel(0);
  EXPECT_EQ(config->getBuilderOptimizationLevel(), 0);
  config->setBuilderOptimizationLevel(-4);
  EXPECT_EQ(config->getBuilderOptimizationLevel(), 0);
  config->setBuilderOptimizationLevel(9);
  EXPECT_EQ(config->getBuilderOptimizationLevel(), 5);
}

TEST(OptimizationLevel, LevelZeroTimesNothingAndComputesTheSame) {
  SmallNet def;
  auto x = wave(2 * 3 * 6 * 6, 1.f, 0.5f);
  auto want = def.reference(x);

  SummaryLogger timedLog, untimedLog;
  auto timed = buildAndRun(-1, timedLog, def, x);
  auto untimed = buildAndRun(0, untimedLog, def, x);
  ASSERT_EQ(timed.size(), 10u) << timedLog.summary;
  ASSERT_EQ(untimed.size(), 10u) << untimedLog.summary;
  // The conv and the matmul have several CPU tactics: the default level times them.
  EXPECT_GT(timedLog.timed(), 0) << timedLog.summary;
  EXPECT_EQ(untimedLog.timed(), 0) << untimedLog.summary;
  for (int i = 0; i < 10; ++i) {
    EXPECT_NEAR(untimed[i], want[i], 1e-5f) << i;
    EXPECT_NEAR(timed[i], want[i], 1e-5f) << i;
  }
}

}  // namespace
}  // namespace kiln::test
