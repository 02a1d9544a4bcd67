// Builder selection for a device backend, checked on the CPU with a stand-in
// DeviceBackend: each node gets the highest-priority device tactic that
// supports it, a node none supports fails the build naming it, the plan is
// bound to the backend's target, and a missing GPU stops the build first.
#include <gtest/gtest.h>

#include "backends/backend.h"
#include "builder/build_plan.h"
#include "core/error.h"
#include "ir/op_schema.h"
#include "plan/plan.h"
#include "unit/builder/fake_device_backend.h"

namespace kiln::builder {
namespace {

class NoKernel final : public backends::DeviceKernel {
 public:
  void enqueue(const backends::DeviceLaunch&, const backends::TensorView*, const backends::TensorView*) const override {}
  std::size_t workspaceBytes() const override { return 4096; }
};

//! Relu has two tactics (the better one declines inputs of over 16 elements); Sigmoid none.
class FakeBackend final : public test::FakeDeviceBackend {
 public:
  explicit FakeBackend(bool gpu) : FakeDeviceBackend(gpu) {
    auto make = [](const ir::Node&) -> std::unique_ptr<backends::DeviceKernel> { return std::make_unique<NoKernel>(); };
    tactics_.push_back({"Relu.small", "Relu", 10,
                        [](const ir::Node& n) { return ir::numElements(ir::staticDims(n.inputs[0]->shape)) <= 16; },
                        make});
    tactics_.push_back({"Relu.any", "Relu", 0, [](const ir::Node&) { return true; }, make});
  }
};

std::unique_ptr<ir::Graph> chain(const std::vector<std::string>& ops, int64_t elems) {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* cur = g->addValue("x", DType::kFLOAT, {elems});
  g->inputs.push_back(cur);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    ir::Value* next = g->addValue(strCat("v", i));  // (not "v" + to_string: a GCC 12 -Wrestrict false positive)
    ir::inferNode(*g->addNode(ops[i], strCat(ops[i], i), {cur}, {next}));
    cur = next;
  }
  g->outputs.push_back(cur);
  return g;
}

plan::PlanContents read(const std::vector<uint8_t>& bytes, std::shared_ptr<std::vector<uint8_t>>& keep) {
  keep = std::make_shared<std::vector<uint8_t>>(bytes);
  return plan::readPlan(keep->data(), keep->size(), keep);
}

TEST(DeviceBuild, ChoosesDeviceTacticsAndBindsThePlan) {
  FakeBackend fake(true);
  BuildOptions o;
  o.device = "cuda";
  o.deviceBackend = &fake;
  std::shared_ptr<std::vector<uint8_t>> keep;
  plan::PlanContents small = read(buildPlan(*chain({"Relu", "Relu"}, 8), o), keep);
  EXPECT_EQ(small.meta.device, "cuda");
  EXPECT_EQ(small.meta.isa, "sm_42");
  EXPECT_EQ(small.meta.deviceName, "Fake GPU");
  EXPECT_EQ(small.meta.cudaRuntimeVersion, 13000);
  EXPECT_EQ(small.meta.cudnnVersion, 92600);
  EXPECT_EQ(small.meta.cublasLtVersion, 130100);
  EXPECT_EQ(small.workspaceBytes, 4096);
  ASSERT_EQ(small.graph->nodes().size(), 2u);
  for (const auto& n : small.graph->nodes()) EXPECT_EQ(n->tactic, "Relu.small");
  plan::PlanContents big = read(buildPlan(*chain({"Relu"}, 100), o), keep);
  EXPECT_EQ(big.graph->nodes()[0]->tactic, "Relu.any");  // the priority tactic declines 100 elements
}

TEST(DeviceBuild, NodeWithoutADeviceTacticFailsNamingIt) {
  FakeBackend fake(true);
  BuildOptions o;
  o.device = "cuda";
  o.deviceBackend = &fake;
  try {
    buildPlan(*chain({"Relu", "Sigmoid"}, 8), o);
    FAIL() << "built a plan with a node no tactic supports";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Sigmoid1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no cuda kernel supports it"), std::string::npos) << e.what();
  }
}

TEST(DeviceBuild, NoGpuStopsTheBuild) {
  FakeBackend fake(false);
  BuildOptions o;
  o.device = "cuda";
  o.deviceBackend = &fake;
  try {
    buildPlan(*chain({"Relu"}, 8), o);
    FAIL() << "built without a GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a GPU (tactics are chosen on it): the fake has no GPU"),
              std::string::npos)
        << e.what();
  }
  o.device = "tpu";
  EXPECT_THROW(buildPlan(*chain({"Relu"}, 8), o), Error);
}

}  // namespace
}  // namespace kiln::builder
