#include <gtest/gtest.h>

#include "ir/control_flow.h"
#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::opList;

//! A branch with one capture input `a` (shape [2,3]): Relu(a) * k or Neg(a) + k, k a branch constant.
std::shared_ptr<ir::Graph> branch(bool relu, float k) {
  auto g = std::make_shared<ir::Graph>();
  g->name = relu ? "then" : "else";
  ir::Value* a = g->addValue("a", DType::kFLOAT, {2, 3});
  ir::Value* kc = g->addConstant("k", ir::Tensor::fromFloat({k}, {}));
  ir::Value* t = g->addValue("t");
  ir::Value* out = g->addValue("out");
  g->addNode(relu ? "Relu" : "Neg", "first", {a}, {t});
  g->addNode(relu ? "Mul" : "Add", "second", {t, kc}, {out});
  g->inputs = {a};
  g->outputs = {out};
  return g;
}

//! x -> Sigmoid -> s; If(cond) over s; the If's result feeds Tanh (or is the output itself).
struct IfNet {
  Net n;
  ir::Value* x;
  ir::Value* cond;
  ir::Value* result;
  IfNet(ir::Value* condition, bool ifIsOutput, Net&& net) : n(std::move(net)) {
    x = n.input("x", {2, 3});
    cond = condition;
    ir::Value* s = n.node("Sigmoid", {x}, {}, "s");
    std::map<std::string, ir::Attribute> attrs{{"then_branch", branch(true, 2.f)},
                                               {"else_branch", branch(false, 0.5f)},
                                               {ir::control_flow::kCapturesAttr, int64_t{1}}};
    ir::Value* r = n.node("If", {cond, s}, attrs, "if");
    result = ifIsOutput ? r : n.node("Tanh", {r}, {}, "after");
    n.output(result);
  }
};

ir::Value* boolConst(Net& n, const std::string& name, bool v) {
  return n.constant(name, ir::Tensor::fromInt64({v}, {}).castTo(DType::kBOOL));
}

TEST(InlineConstantIf, TakesTheBranchAConstantConditionNames) {
  for (bool c : {true, false}) {
    for (bool ifIsOutput : {false, true}) {
      Net net;
      ir::Value* cond = boolConst(net, "cond", c);
      IfNet f(cond, ifIsOutput, std::move(net));
      ir::Graph& g = *f.n.g;
      ir::Tensor x = testing::randomTensor({2, 3}, 3);
      auto before = testing::evalGraph(g, {{"x", x}});
      PassContext ctx = testing::cpuContext();
      ASSERT_TRUE(inlineConstantIf(g, ctx));
      g.topoSort();
      ir::inferGraph(g);
      std::vector<std::string> want = c ? std::vector<std::string>{"Sigmoid", "Relu", "Mul"}
                                        : std::vector<std::string>{"Sigmoid", "Neg", "Add"};
      want.push_back(ifIsOutput ? "Identity" : "Tanh");  // an output keeps its name through an Identity
      EXPECT_EQ(opList(g), want);
      ASSERT_EQ(g.outputs.size(), 1u);
      EXPECT_EQ(g.outputs[0]->name, ifIsOutput ? "if" : "after");
      auto after = testing::evalGraph(g, {{"x", x}});
      const ir::Tensor& a = after.begin()->second;
      const ir::Tensor& b = before.begin()->second;
      for (int64_t i = 0; i < a.numel(); ++i) EXPECT_FLOAT_EQ(a.as<float>()[i], b.as<float>()[i]);
      EXPECT_NE(ctx.log.at(0).find(c ? "then branch" : "else branch"), std::string::npos);
    }
  }
}

TEST(InlineConstantIf, LeavesARuntimeConditionAlone) {
  Net net;
  ir::Value* cond = net.input("cond", {}, DType::kBOOL);
  IfNet f(cond, false, std::move(net));
  PassContext ctx = testing::cpuContext();
  EXPECT_FALSE(inlineConstantIf(*f.n.g, ctx));
  EXPECT_EQ(opList(*f.n.g), (std::vector<std::string>{"Sigmoid", "If", "Tanh"}));
}

TEST(InlineConstantIf, DeadCodeEliminationKeepsProducersOfCapturedValues) {
  // Sigmoid's only reader is the If's capture input: it must stay.
  Net net;
  ir::Value* cond = net.input("cond", {}, DType::kBOOL);
  IfNet f(cond, false, std::move(net));
  PassContext ctx;
  EXPECT_FALSE(eliminateDeadCode(*f.n.g, ctx));
  EXPECT_EQ(opList(*f.n.g), (std::vector<std::string>{"Sigmoid", "If", "Tanh"}));
}

}  // namespace
}  // namespace kiln::passes
