#include <gtest/gtest.h>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::cpuContext;
using testing::Net;
using testing::opList;
using testing::randomTensor;

TEST(Pipeline, ResNetBlockBecomesOneConv) {
  // x -> Conv -> BatchNormalization -> Add(x) -> Relu, with an Identity and a
  // dead branch on the way.
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {2, 4, 6, 6});
    ir::Value* xi = n.node("Identity", {x});
    ir::Value* y = n.node("Conv", {xi, n.constant("w", randomTensor({4, 4, 3, 3}, 1))},
                          {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
    ir::Value* bn = n.node("BatchNormalization",
                           {y, n.constant("g", randomTensor({4}, 2, 0.5f, 1.5f)), n.constant("b", randomTensor({4}, 3)),
                            n.constant("m", randomTensor({4}, 4)), n.constant("v", randomTensor({4}, 5, 0.5f, 2.f))});
    n.node("Sigmoid", {bn});  // dead
    n.output(n.node("Relu", {n.node("Add", {bn, x})}, {}, "y"));
    return std::move(n.g);
  };
  PassContext ctx = cpuContext();
  auto g = testing::checkSameOutputs(
      build, [&](ir::Graph& g) { runPipeline(g, ctx); }, {{"x", randomTensor({2, 4, 6, 6}, 6)}}, 2e-4f);
  ASSERT_EQ(opList(*g), std::vector<std::string>{"Conv"});
  const ir::Node& conv = *g->nodes()[0];
  ASSERT_EQ(conv.inputs.size(), 4u);
  EXPECT_EQ(conv.inputs[0]->name, "x");
  EXPECT_EQ(conv.inputs[3]->name, "x");
  EXPECT_EQ(conv.s("kiln_act", ""), "Relu");
  EXPECT_EQ(conv.outputs[0]->name, "y");
  EXPECT_FALSE(ctx.log.empty());
}

TEST(Pipeline, ShapeArithmeticFoldsAway) {
  // y = relu(x.view(x.size(0), -1) @ W + b) as PyTorch exports it.
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {3, 2, 4});
    ir::Value* d0 = n.node("Gather", {n.node("Shape", {x}), n.constant("zero", ir::Tensor::fromInt64({0}, {}))});
    ir::Value* target =
        n.node("Concat", {n.node("Unsqueeze", {d0, n.ints("axes", {0})}), n.ints("m1", {-1})}, {{"axis", int64_t{0}}});
    ir::Value* flat = n.node("Reshape", {x, target});
    ir::Value* mm = n.node("MatMul", {flat, n.constant("w", randomTensor({8, 5}, 7))});
    ir::Value* biased = n.node("Add", {mm, n.constant("b", randomTensor({5}, 8))});
    n.output(n.node("Relu", {biased}, {}, "y"));
    return std::move(n.g);
  };
  PassContext ctx = cpuContext();
  auto g =
      testing::checkSameOutputs(build, [&](ir::Graph& g) { runPipeline(g, ctx); }, {{"x", randomTensor({3, 2, 4}, 9)}});
  EXPECT_EQ(opList(*g), (std::vector<std::string>{"Reshape", "MatMul"}));
  EXPECT_EQ(g->nodes()[1]->s("kiln_act", ""), "Relu");
}

}  // namespace
}  // namespace kiln::passes
