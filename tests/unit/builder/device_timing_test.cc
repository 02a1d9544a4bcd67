// Timed device tactic choice (builder/device_tactic_selector.h), checked on
// the CPU with a stand-in DeviceBackend whose "timer" reports the time each
// fake kernel declares: the fastest tactic and variant win over priority, the
// winner's variant attributes land on the plan's node, the timing cache
// answers a second build without timing, a candidate that fails to run is
// passed over, and without timing the priority order stands.
#include <gtest/gtest.h>

#include "backends/backend.h"
#include "builder/build_plan.h"
#include "core/error.h"
#include "ir/op_schema.h"
#include "plan/plan.h"
#include "unit/builder/fake_device_backend.h"

namespace kiln::builder {
namespace {

double g_lastMs = 0;  // what the last fake kernel "took"
int g_enqueues = 0;

class FakeKernel final : public backends::DeviceKernel {
 public:
  explicit FakeKernel(double ms) : ms_(ms) {}
  void enqueue(const backends::DeviceLaunch&, const backends::TensorView*, const backends::TensorView*) const override {
    if (ms_ < 0) fail("the fake kernel cannot run at these shapes");
    g_lastMs = ms_;
    ++g_enqueues;
  }

 private:
  double ms_;
};

//! Relu: "Relu.first" (priority 10, 4 ms), "Relu.tuned" (priority 0, variants
//! of 3, 1 and 2 ms), "Relu.broken" (priority 5, fails when run).
class TimedBackend final : public test::FakeDeviceBackend {
 public:
  TimedBackend() {
    auto any = [](const ir::Node&) { return true; };
    tactics_.push_back({"Relu.first", "Relu", 10, any,
                        [](const ir::Node&) -> std::unique_ptr<backends::DeviceKernel> {
                          return std::make_unique<FakeKernel>(4.0);
                        }});
    tactics_.push_back({"Relu.broken", "Relu", 5, any,
                        [](const ir::Node&) -> std::unique_ptr<backends::DeviceKernel> {
                          return std::make_unique<FakeKernel>(-1.0);
                        }});
    backends::DeviceTactic tuned{"Relu.tuned", "Relu", 0, any,
                                 [](const ir::Node& n) -> std::unique_ptr<backends::DeviceKernel> {
                                   return std::make_unique<FakeKernel>(n.f("kiln_fake_ms", 5.0f));
                                 }};
    tuned.variants = [](const ir::Node&, void* libraries) {
      EXPECT_NE(libraries, nullptr) << "variants are asked with the build's libraries";
      std::vector<backends::TacticVariant> v(3);
      v[0]["kiln_fake_ms"] = 3.0f;
      v[1]["kiln_fake_ms"] = 1.0f;
      v[2]["kiln_fake_ms"] = 2.0f;
      return v;
    };
    tactics_.push_back(tuned);
  }
  std::shared_ptr<void> createLibraries() const override { return std::make_shared<int>(0); }
  double timeEnqueue(const std::function<void(void*)>& enqueue, int) const override {
    enqueue(nullptr);
    return g_lastMs;
  }
};

std::unique_ptr<ir::Graph> reluChain(int n) {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* cur = g->addValue("x", DType::kFLOAT, {2, 3});
  g->inputs.push_back(cur);
  for (int i = 0; i < n; ++i) {
    ir::Value* next = g->addValue(strCat("v", i));
    ir::inferNode(*g->addNode("Relu", strCat("Relu", i), {cur}, {next}));
    cur = next;
  }
  g->outputs.push_back(cur);
  return g;
}

plan::PlanContents read(const std::vector<uint8_t>& bytes, std::shared_ptr<std::vector<uint8_t>>& keep) {
  keep = std::make_shared<std::vector<uint8_t>>(bytes);
  return plan::readPlan(keep->data(), keep->size(), keep);
}

TEST(DeviceTiming, FastestVariantWinsAndTravelsInThePlan) {
  TimedBackend fake;
  TimingCache cache;
  BuildOptions o;
  o.device = "cuda";
  o.deviceBackend = &fake;
  o.timingCache = &cache;
  BuildStats stats;
  std::shared_ptr<std::vector<uint8_t>> keep;
  plan::PlanContents p = read(buildPlan(*reluChain(2), o, &stats), keep);
  ASSERT_EQ(p.graph->nodes().size(), 2u);
  for (const auto& n : p.graph->nodes()) {
    EXPECT_EQ(n->tactic, "Relu.tuned") << n->describe();
    EXPECT_FLOAT_EQ(n->f("kiln_fake_ms", 0), 1.0f) << n->describe() << ": the 1 ms variant's attribute";
  }
  EXPECT_EQ(stats.timedLayers, 1) << "the second Relu has the same signature: the cache answers it";
  EXPECT_EQ(stats.cachedLayers, 1);
  EXPECT_EQ(cache.size(), 1u);

  // A second build with the warm cache times nothing.
  g_enqueues = 0;
  plan::PlanContents again = read(buildPlan(*reluChain(2), o, &stats), keep);
  EXPECT_EQ(g_enqueues, 0);
  EXPECT_EQ(stats.timedLayers, 0);
  EXPECT_EQ(stats.cachedLayers, 2);
  EXPECT_FLOAT_EQ(again.graph->nodes()[0]->f("kiln_fake_ms", 0), 1.0f);
}

TEST(DeviceTiming, WithoutTimingThePriorityOrderStands) {
  TimedBackend fake;
  BuildOptions o;
  o.device = "cuda";
  o.deviceBackend = &fake;
  o.timingIterations = 0;
  std::shared_ptr<std::vector<uint8_t>> keep;
  plan::PlanContents p = read(buildPlan(*reluChain(1), o), keep);
  EXPECT_EQ(p.graph->nodes()[0]->tactic, "Relu.first");
  EXPECT_FALSE(p.graph->nodes()[0]->has("kiln_fake_ms"));
}

TEST(DeviceTiming, TimingCacheKeyIncludesTheArch) {
  TimedBackend fake;
  TimingCache cache;
  BuildOptions o;
  o.device = "cuda";
  o.deviceBackend = &fake;
  o.timingCache = &cache;
  buildPlan(*reluChain(1), o);
  std::string text = cache.serialize();
  EXPECT_NE(text.find("sm_42"), std::string::npos) << text;
  EXPECT_NE(text.find("Relu.tuned#1"), std::string::npos) << "the winner is recorded with its variant: " << text;
}

}  // namespace
}  // namespace kiln::builder
