// buildPlan turns the attention fusion on where the target has a
// KilnAttention kernel: always on the CPU; on a device only when its backend
// offers a KilnAttention tactic (so it stays off until a device kernel lands).
#include <gtest/gtest.h>

#include "builder/build_plan.h"
#include "ir/op_schema.h"
#include "plan/plan.h"
#include "unit/builder/fake_device_backend.h"

namespace kiln::builder {
namespace {

class NoKernel final : public backends::DeviceKernel {
 public:
  void enqueue(const backends::DeviceLaunch&, const backends::TensorView*, const backends::TensorView*) const override {}
};

//! Takes MatMul, Softmax and Transpose; KilnAttention only when asked.
class AttentionBackend final : public test::FakeDeviceBackend {
 public:
  explicit AttentionBackend(bool attention) {
    auto make = [](const ir::Node&) -> std::unique_ptr<backends::DeviceKernel> { return std::make_unique<NoKernel>(); };
    auto any = [](const ir::Node&) { return true; };
    for (const char* op : {"MatMul", "Softmax", "Transpose"}) tactics_.push_back({strCat(op, ".fake"), op, 0, any, make});
    if (attention) tactics_.push_back({"KilnAttention.fake", "KilnAttention", 0, any, make});
  }
};

//! softmax(Q K^T) V with K^T a Transpose: the pattern in its simplest form.
std::unique_ptr<ir::Graph> attentionGraph() {
  auto g = std::make_unique<ir::Graph>();
  auto input = [&](const char* name) {
    ir::Value* v = g->addValue(name, DType::kFLOAT, ir::shapeOf({1, 2, 5, 8}));
    g->inputs.push_back(v);
    return v;
  };
  ir::Value *q = input("q"), *k = input("k"), *v = input("v");
  auto node = [&](const char* op, std::vector<ir::Value*> ins) {
    ir::Value* out = g->addValue(strCat(op, "_out", g->nodes().size()));
    ir::Node* n = g->addNode(op, strCat(op, g->nodes().size()), std::move(ins), {out});
    if (std::string(op) == "Transpose") n->attrs["perm"] = std::vector<int64_t>{0, 1, 3, 2};
    if (std::string(op) == "Softmax") n->attrs["axis"] = int64_t{-1};
    ir::inferNode(*n);
    return out;
  };
  ir::Value* p = node("Softmax", {node("MatMul", {q, node("Transpose", {k})})});
  g->outputs.push_back(node("MatMul", {p, v}));
  return g;
}

std::vector<std::string> planOps(const std::vector<uint8_t>& bytes) {
  auto keep = std::make_shared<std::vector<uint8_t>>(bytes);
  plan::PlanContents c = plan::readPlan(keep->data(), keep->size(), keep);
  std::vector<std::string> ops;
  for (const auto& n : c.graph->nodes()) ops.push_back(n->op + ":" + n->tactic);
  return ops;
}

TEST(AttentionFusionBuild, OnForTheCpu) {
  BuildOptions o;
  // Untimed: the highest-priority tactic (.fused). Timed, this tiny shape lets .ref win now
  // and then on a loaded machine (ctest -j2 saw it), and the test is about the fusion.
  o.timingIterations = 0;
  EXPECT_EQ(planOps(buildPlan(*attentionGraph(), o)), std::vector<std::string>{"KilnAttention:KilnAttention.fused"});
}

TEST(AttentionFusionBuild, OnADeviceOnlyWithAKilnAttentionTactic) {
  for (bool attention : {false, true}) {
    AttentionBackend fake(attention);
    BuildOptions o;
    o.device = "cuda";
    o.deviceBackend = &fake;
    const std::vector<std::string> want =
        attention ? std::vector<std::string>{"KilnAttention:KilnAttention.fake"}
                  : std::vector<std::string>{"Transpose:Transpose.fake", "MatMul:MatMul.fake", "Softmax:Softmax.fake",
                                             "MatMul:MatMul.fake"};
    EXPECT_EQ(planOps(buildPlan(*attentionGraph(), o)), want) << attention;
  }
}

}  // namespace
}  // namespace kiln::builder
