#include <gtest/gtest.h>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::opList;
using testing::randomTensor;

//! BatchNormalization of `x` with `c` channels and random statistics.
ir::Value* addBn(Net& n, ir::Value* x, int64_t c, uint32_t seed, const std::string& name = "bn") {
  ir::Value* gamma = n.constant(name + "_g", randomTensor({c}, seed, 0.5f, 1.5f));
  ir::Value* beta = n.constant(name + "_b", randomTensor({c}, seed + 1));
  ir::Value* mean = n.constant(name + "_m", randomTensor({c}, seed + 2));
  ir::Value* var = n.constant(name + "_v", randomTensor({c}, seed + 3, 0.1f, 2.f));
  return n.node("BatchNormalization", {x, gamma, beta, mean, var}, {{"epsilon", 1e-3f}}, name);
}

bool run(ir::Graph& g) {
  PassContext ctx;
  return foldBatchNorm(g, ctx);
}

TEST(FoldBatchNorm, FoldsIntoConvWithoutBias) {
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {2, 3, 7, 7});
    ir::Value* w = n.constant("w", randomTensor({5, 3, 3, 3}, 10));
    ir::Value* y = n.node("Conv", {x, w}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}, "conv");
    n.output(addBn(n, y, 5, 20, "out"));
    return std::move(n.g);
  };
  auto g = testing::checkSameOutputs(build, [](ir::Graph& g) { EXPECT_TRUE(run(g)); },
                                     {{"x", randomTensor({2, 3, 7, 7}, 1)}});
  ASSERT_EQ(opList(*g), std::vector<std::string>{"Conv"});
  const ir::Node& conv = *g->nodes()[0];
  ASSERT_EQ(conv.inputs.size(), 3u);
  EXPECT_TRUE(conv.inputs[2]->isConstant());
  EXPECT_EQ(conv.outputs[0]->name, "out");  // the graph output keeps its name
  EXPECT_TRUE(g->findValue("w")->constant->toFloat() == randomTensor({5, 3, 3, 3}, 10).toFloat());  // not mutated
}

TEST(FoldBatchNorm, FoldsIntoGroupedConvWithBias) {
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {1, 4, 6, 5});
    ir::Value* w = n.constant("w", randomTensor({6, 2, 3, 3}, 11));
    ir::Value* b = n.constant("b", randomTensor({6}, 12));
    ir::Value* y = n.node("Conv", {x, w, b}, {{"group", int64_t{2}}, {"strides", std::vector<int64_t>{2, 2}}});
    n.output(n.node("Relu", {addBn(n, y, 6, 30)}, {}, "y"));
    return std::move(n.g);
  };
  auto g = testing::checkSameOutputs(build, [](ir::Graph& g) { EXPECT_TRUE(run(g)); },
                                     {{"x", randomTensor({1, 4, 6, 5}, 2)}});
  EXPECT_EQ(opList(*g), (std::vector<std::string>{"Conv", "Relu"}));
}

TEST(FoldBatchNorm, FoldsIntoGroupedConvTranspose) {
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {1, 4, 3, 3});
    ir::Value* w = n.constant("w", randomTensor({4, 3, 2, 2}, 13));  // 2 groups of 3 outputs
    ir::Value* y = n.node("ConvTranspose", {x, w}, {{"group", int64_t{2}}, {"strides", std::vector<int64_t>{2, 2}}});
    n.output(addBn(n, y, 6, 40, "y"));
    return std::move(n.g);
  };
  auto g = testing::checkSameOutputs(build, [](ir::Graph& g) { EXPECT_TRUE(run(g)); },
                                     {{"x", randomTensor({1, 4, 3, 3}, 3)}});
  EXPECT_EQ(opList(*g), std::vector<std::string>{"ConvTranspose"});
}

TEST(FoldBatchNorm, FoldsIntoGemmBothLayouts) {
  for (int64_t transB : {0, 1}) {
    for (bool withC : {false, true}) {
      auto build = [&] {
        Net n;
        ir::Value* x = n.input("x", {3, 4});
        ir::Value* w =
            n.constant("w", randomTensor(transB ? std::vector<int64_t>{5, 4} : std::vector<int64_t>{4, 5}, 14));
        std::vector<ir::Value*> ins{x, w};
        if (withC) ins.push_back(n.constant("c", randomTensor({1, 5}, 15)));
        ir::Value* y = n.node("Gemm", ins, {{"transB", transB}, {"alpha", 0.5f}, {"beta", 2.f}});
        n.output(addBn(n, y, 5, 50, "y"));
        return std::move(n.g);
      };
      auto g =
          testing::checkSameOutputs(build, [](ir::Graph& g) { EXPECT_TRUE(run(g)); }, {{"x", randomTensor({3, 4}, 4)}});
      EXPECT_EQ(opList(*g), std::vector<std::string>{"Gemm"}) << "transB " << transB << " C " << withC;
    }
  }
}

TEST(FoldBatchNorm, LeavesABnWhoseInputHasAnotherReader) {
  Net n;
  ir::Value* x = n.input("x", {1, 2, 4, 4});
  ir::Value* y = n.node("Conv", {x, n.constant("w", randomTensor({2, 2, 1, 1}, 16))});
  n.output(addBn(n, y, 2, 60, "bn"));
  n.output(n.node("Relu", {y}, {}, "other"));
  EXPECT_FALSE(run(*n.g));
  EXPECT_EQ(n.g->nodes().size(), 3u);
}

TEST(FoldBatchNorm, LeavesABnNotAfterAConvOrWithNonConstantWeights) {
  Net n;
  ir::Value* x = n.input("x", {1, 2, 4, 4});
  ir::Value* w = n.input("w", {2, 2, 1, 1});  // weights are an input
  ir::Value* a = addBn(n, n.node("Conv", {x, w}), 2, 70, "a");
  n.output(addBn(n, n.node("Relu", {a}), 2, 80, "b"));
  EXPECT_FALSE(run(*n.g));
  EXPECT_EQ(testing::countOps(*n.g, "BatchNormalization"), 2);
}

}  // namespace
}  // namespace kiln::passes
