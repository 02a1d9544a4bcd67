#include <gtest/gtest.h>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::opList;
using testing::randomTensor;

bool run(ir::Graph& g, bool elementwiseChains = true) {
  PassContext ctx;
  ctx.elementwiseChains = elementwiseChains;
  return fuseElementwiseChains(g, ctx);
}

template <typename Build>
std::unique_ptr<ir::Graph> fuseAndCompare(Build&& build, const std::map<std::string, ir::Tensor>& feeds) {
  return testing::checkSameOutputs(
      build, [](ir::Graph& g) { EXPECT_TRUE(run(g)); }, feeds, 1e-5f);
}

const ir::Node& only(const ir::Graph& g, const std::string& op) {
  for (auto& n : g.nodes())
    if (n->op == op) return *n;
  throw Error("no " + op + " node");
}

TEST(FuseElementwiseChains, FusesAChainWithSideOperands) {
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {2, 3, 4});
    ir::Value* a = n.node("Add", {x, n.constant("b", randomTensor({4}, 1))});
    ir::Value* r = n.node("Relu", {a});
    ir::Value* m = n.node("Mul", {r, n.input("s", {3, 1})});
    n.output(n.node("Sub", {n.scalar("one", 1.f), m}, {}, "y"));  // the accumulator is on the right
    return std::move(n.g);
  };
  auto g = fuseAndCompare(build, {{"x", randomTensor({2, 3, 4}, 2)}, {"s", randomTensor({3, 1}, 3)}});
  ASSERT_EQ(opList(*g), std::vector<std::string>{"KilnFusedElementwise"});
  const ir::Node& f = *g->nodes()[0];
  EXPECT_EQ(f.inputs.size(), 4u);
  EXPECT_EQ(f.inputs[0]->name, "x");
  EXPECT_EQ(std::get<std::vector<std::string>>(f.attrs.at("ops")),
            (std::vector<std::string>{"Add", "Relu", "Mul", "Sub"}));
  EXPECT_EQ(f.ints("operands"), (std::vector<int64_t>{1, -1, 2, 3}));
  EXPECT_EQ(f.ints("swapped"), (std::vector<int64_t>{0, 0, 0, 1}));
  EXPECT_EQ(f.outputs[0]->name, "y");
}

TEST(FuseElementwiseChains, SiluReadsItsInputOnce) {
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {5, 7});
    n.output(n.node("Mul", {x, n.node("Sigmoid", {x})}, {}, "y"));
    return std::move(n.g);
  };
  auto g = fuseAndCompare(build, {{"x", randomTensor({5, 7}, 4, -4.f, 4.f)}});
  const ir::Node& f = only(*g, "KilnFusedElementwise");
  EXPECT_EQ(f.inputs.size(), 1u);
  EXPECT_EQ(f.ints("operands"), (std::vector<int64_t>{-1, 0}));
  EXPECT_EQ(f.ints("swapped"), (std::vector<int64_t>{0, 1}));
}

TEST(FuseElementwiseChains, CarriesActivationParameters) {
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {16});
    ir::Value* a = n.node("LeakyRelu", {x}, {{"alpha", 0.25f}});
    ir::Value* b = n.node("Clip", {a, n.scalar("lo", -0.5f), n.scalar("hi", 0.75f)});
    ir::Value* c = n.node("HardSigmoid", {b}, {{"alpha", 0.3f}, {"beta", 0.6f}});
    n.output(n.node("Gelu", {c}, {{"approximate", std::string("tanh")}}, "y"));
    return std::move(n.g);
  };
  auto g = fuseAndCompare(build, {{"x", randomTensor({16}, 5, -3.f, 3.f)}});
  const ir::Node& f = only(*g, "KilnFusedElementwise");
  EXPECT_EQ(std::get<std::vector<std::string>>(f.attrs.at("ops")),
            (std::vector<std::string>{"LeakyRelu", "Clip", "HardSigmoid", "GeluTanh"}));
  EXPECT_EQ(f.floats("alphas"), (std::vector<float>{0.25f, -0.5f, 0.3f, 0.f}));
  EXPECT_EQ(f.floats("betas"), (std::vector<float>{0.f, 0.75f, 0.6f, 0.f}));
}

TEST(FuseElementwiseChains, TheHeadCarriesTheLargestTensor) {
  // Add(small, big): the chain accumulates `big`, the Add is swapped.
  auto build = [] {
    Net n;
    ir::Value* small = n.input("small", {4});
    ir::Value* big = n.input("big", {2, 3, 4});
    n.output(n.node("Tanh", {n.node("Div", {small, big})}, {}, "y"));
    return std::move(n.g);
  };
  auto g = fuseAndCompare(build, {{"small", randomTensor({4}, 6)}, {"big", randomTensor({2, 3, 4}, 7, 1.f, 2.f)}});
  const ir::Node& f = only(*g, "KilnFusedElementwise");
  EXPECT_EQ(f.inputs[0]->name, "big");
  EXPECT_EQ(f.ints("swapped"), (std::vector<int64_t>{1, 0}));
}

TEST(FuseElementwiseChains, AWideningOperandStartsANewChain) {
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {4});
    ir::Value* r = n.node("Exp", {n.node("Relu", {x})});
    ir::Value* a = n.node("Add", {r, n.input("y", {3, 4})});  // widens [4] to [3,4]
    n.output(n.node("Abs", {n.node("Tanh", {a})}, {}, "out"));
    return std::move(n.g);
  };
  auto g = fuseAndCompare(build, {{"x", randomTensor({4}, 8)}, {"y", randomTensor({3, 4}, 9)}});
  EXPECT_EQ(opList(*g), (std::vector<std::string>{"KilnFusedElementwise", "KilnFusedElementwise"}));
  const ir::Node& second = *g->nodes()[1];
  EXPECT_EQ(std::get<std::vector<std::string>>(second.attrs.at("ops")),
            (std::vector<std::string>{"Add", "Tanh", "Abs"}));
  EXPECT_EQ(second.inputs[0]->name, "y");
}

TEST(FuseElementwiseChains, StopsAtValuesReadTwiceOrGraphOutputs) {
  Net n;
  ir::Value* x = n.input("x", {6});
  ir::Value* a = n.node("Relu", {x});
  n.output(n.node("Exp", {a}, {}, "e"));
  n.output(n.node("Neg", {a}, {}, "n"));  // a has two readers
  ir::Value* b = n.node("Sigmoid", {x}, {}, "b");
  n.output(b);  // b is a graph output
  n.output(n.node("Sqrt", {b}, {}, "s"));
  EXPECT_FALSE(run(*n.g));
  EXPECT_EQ(n.g->nodes().size(), 5u);
}

TEST(FuseElementwiseChains, OnlyFloatAndOnlyWhenAsked) {
  Net n;
  ir::Value* i = n.input("i", {3}, DType::kINT64);
  n.output(n.node("Neg", {n.node("Add", {i, i})}, {}, "ints"));
  ir::Value* x = n.input("x", {3});
  n.output(n.node("Neg", {n.node("Relu", {x})}, {}, "floats"));
  EXPECT_FALSE(run(*n.g, /*elementwiseChains=*/false));
  EXPECT_EQ(n.g->nodes().size(), 4u);
  EXPECT_TRUE(run(*n.g));
  EXPECT_EQ(opList(*n.g), (std::vector<std::string>{"Add", "Neg", "KilnFusedElementwise"}));
}

TEST(FuseElementwiseChains, DeviceBuildsFuseToo) {
  // A CUDA build: no CPU-only fusions, but the backend has KilnFusedElementwise.nvrtc.
  Net n;
  ir::Value* x = n.input("x", {3});
  n.output(n.node("Neg", {n.node("Relu", {x})}, {}, "y"));
  PassContext ctx;
  ctx.cpuFusions = false;
  ctx.elementwiseChains = true;
  EXPECT_TRUE(fuseElementwiseChains(*n.g, ctx));
  EXPECT_EQ(opList(*n.g), (std::vector<std::string>{"KilnFusedElementwise"}));
}

TEST(FuseElementwiseChains, KeepsLayersWithAPrecisionConstraint) {
  for (const char* attr : {"kiln_precision", "kiln_output_types"}) {
    Net n;
    ir::Value* x = n.input("x", {3});
    ir::Value* r = n.node("Relu", {x});
    ir::Value* e = n.node("Exp", {r});
    if (std::string(attr) == "kiln_precision") e->producer->attrs[attr] = int64_t{static_cast<int>(DType::kFLOAT)};
    else e->producer->attrs[attr] = std::vector<int64_t>{static_cast<int>(DType::kFLOAT)};
    ir::Value* s = n.node("Sigmoid", {e});
    n.output(n.node("Neg", {s}, {}, "y"));
    EXPECT_TRUE(run(*n.g)) << attr;
    // Relu alone is no chain; the pinned Exp stays; Sigmoid -> Neg fuse.
    EXPECT_EQ(opList(*n.g), (std::vector<std::string>{"Relu", "Exp", "KilnFusedElementwise"})) << attr;
    EXPECT_TRUE(only(*n.g, "Exp").has(attr));
  }
}

TEST(FuseElementwiseChains, StopsAtSixteenInputs) {
  // x + s0 + s1 + ... + s19: the kernels take 16 inputs, so the first chain
  // takes x and 15 side operands, the rest start a chain of their own.
  auto build = [] {
    Net n;
    ir::Value* acc = n.input("x", {5});
    for (int k = 0; k < 20; ++k) acc = n.node("Add", {acc, n.input(strCat("s", k), {5})});
    n.output(n.node("Relu", {acc}, {}, "y"));
    return std::move(n.g);
  };
  std::map<std::string, ir::Tensor> feeds{{"x", randomTensor({5}, 100)}};
  for (int k = 0; k < 20; ++k) feeds[strCat("s", k)] = randomTensor({5}, 101 + k);
  std::unique_ptr<ir::Graph> g = fuseAndCompare(build, feeds);
  std::size_t fusedNodes = 0;
  for (auto& node : g->nodes()) {
    ASSERT_EQ(node->op, "KilnFusedElementwise");
    EXPECT_LE(node->inputs.size(), 16u);
    ++fusedNodes;
  }
  EXPECT_EQ(fusedNodes, 2u);
}

}  // namespace
}  // namespace kiln::passes
