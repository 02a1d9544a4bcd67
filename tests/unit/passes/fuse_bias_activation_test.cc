#include <gtest/gtest.h>

#include <functional>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::opList;
using testing::randomTensor;

bool run(ir::Graph& g) {
  PassContext ctx;
  return fuseBiasActivation(g, ctx);
}

//! Checks the pass keeps the outputs and returns the rewritten graph.
template <typename Build>
std::unique_ptr<ir::Graph> fuseAndCompare(Build&& build, const std::map<std::string, ir::Tensor>& feeds,
                                          bool expectChange = true) {
  return testing::checkSameOutputs(
      build, [&](ir::Graph& g) { EXPECT_EQ(run(g), expectChange); }, feeds, 2e-4f);
}

TEST(FuseBiasActivation, MatMulTakesAConstantBias) {
  for (bool biasFirst : {false, true}) {
    for (std::vector<int64_t> biasDims : {std::vector<int64_t>{5}, std::vector<int64_t>{1, 1, 5}}) {
      auto build = [&] {
        Net n;
        ir::Value* x = n.input("x", {2, 3, 4});
        ir::Value* y = n.node("MatMul", {x, n.constant("w", randomTensor({4, 5}, 1))});
        ir::Value* b = n.constant("b", randomTensor(biasDims, 2));
        n.output(n.node("Add", biasFirst ? std::vector<ir::Value*>{b, y} : std::vector<ir::Value*>{y, b}, {}, "y"));
        return std::move(n.g);
      };
      auto g = fuseAndCompare(build, {{"x", randomTensor({2, 3, 4}, 3)}});
      ASSERT_EQ(opList(*g), std::vector<std::string>{"MatMul"});
      const ir::Node& mm = *g->nodes()[0];
      ASSERT_EQ(mm.inputs.size(), 3u);
      EXPECT_EQ(mm.inputs[2]->constant->dims(), std::vector<int64_t>{5});
      EXPECT_EQ(mm.outputs[0]->name, "y");
    }
  }
}

TEST(FuseBiasActivation, MatMulKeepsAnAddThatIsNoBias) {
  Net n;
  ir::Value* x = n.input("x", {3, 4});
  ir::Value* y = n.node("MatMul", {x, n.constant("w", randomTensor({4, 5}, 1))});
  n.output(n.node("Add", {y, n.constant("b", randomTensor({3, 1}, 2))}, {}, "y"));  // per row, not per column
  ir::Value* z = n.node("MatMul", {x, n.input("w2", {4, 5})});                      // B is not constant
  n.output(n.node("Add", {z, n.constant("b2", randomTensor({5}, 3))}, {}, "z"));
  EXPECT_FALSE(run(*n.g));
  EXPECT_EQ(n.g->nodes().size(), 4u);
}

TEST(FuseBiasActivation, ConvTakesAPerChannelAdd) {
  for (std::vector<int64_t> dims : {std::vector<int64_t>{1, 4, 1, 1}, std::vector<int64_t>{4, 1, 1}}) {
    for (bool hasBias : {false, true}) {
      auto build = [&] {
        Net n;
        ir::Value* x = n.input("x", {2, 3, 5, 5});
        std::vector<ir::Value*> ins{x, n.constant("w", randomTensor({4, 3, 3, 3}, 4))};
        if (hasBias) ins.push_back(n.constant("b0", randomTensor({4}, 5)));
        ir::Value* y = n.node("Conv", ins);
        n.output(n.node("Add", {y, n.constant("b", randomTensor(dims, 6))}, {}, "y"));
        return std::move(n.g);
      };
      auto g = fuseAndCompare(build, {{"x", randomTensor({2, 3, 5, 5}, 7)}});
      ASSERT_EQ(opList(*g), std::vector<std::string>{"Conv"});
      EXPECT_EQ(g->nodes()[0]->inputs[2]->constant->dims(), std::vector<int64_t>{4});
    }
  }
}

struct ActCase {
  std::string name;
  std::function<ir::Value*(Net&, ir::Value*)> apply;
  std::string kind;
};

TEST(FuseBiasActivation, GemmTakesEachActivation) {
  std::vector<ActCase> cases = {
      {"Relu", [](Net& n, ir::Value* v) { return n.node("Relu", {v}, {}, "y"); }, "Relu"},
      {"LeakyRelu",
       [](Net& n, ir::Value* v) {
         return n.node("LeakyRelu", {v}, {{"alpha", 0.2f}}, "y");
       },
       "LeakyRelu"},
      {"Sigmoid", [](Net& n, ir::Value* v) { return n.node("Sigmoid", {v}, {}, "y"); }, "Sigmoid"},
      {"Tanh", [](Net& n, ir::Value* v) { return n.node("Tanh", {v}, {}, "y"); }, "Tanh"},
      {"Clip",
       [](Net& n, ir::Value* v) {
         return n.node("Clip", {v, n.scalar("lo", -0.5f), n.scalar("hi", 0.6f)}, {}, "y");
       },
       "Clip"},
      {"ClipMaxOnly",
       [](Net& n, ir::Value* v) {
         return n.node("Clip", {v, nullptr, n.scalar("hi", 0.3f)}, {}, "y");
       },
       "Clip"},
      {"HardSigmoid",
       [](Net& n, ir::Value* v) {
         return n.node("HardSigmoid", {v}, {{"alpha", 0.3f}, {"beta", 0.4f}}, "y");
       },
       "HardSigmoid"},
      {"HardSwish", [](Net& n, ir::Value* v) { return n.node("HardSwish", {v}, {}, "y"); }, "HardSwish"},
      {"Gelu", [](Net& n, ir::Value* v) { return n.node("Gelu", {v}, {}, "y"); }, "Gelu"},
      {"GeluTanh",
       [](Net& n, ir::Value* v) {
         return n.node("Gelu", {v}, {{"approximate", std::string("tanh")}}, "y");
       },
       "GeluTanh"},
      {"Silu",
       [](Net& n, ir::Value* v) {
         return n.node("Mul", {n.node("Sigmoid", {v}), v}, {}, "y");
       },
       "Silu"},
  };
  for (const ActCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto build = [&] {
      Net n;
      ir::Value* x = n.input("x", {3, 6});
      ir::Value* y = n.node(
          "Gemm", {x, n.constant("w", randomTensor({6, 4}, 8, -2.f, 2.f)), n.constant("c", randomTensor({4}, 9))});
      n.output(c.apply(n, y));
      return std::move(n.g);
    };
    auto g = fuseAndCompare(build, {{"x", randomTensor({3, 6}, 10, -2.f, 2.f)}});
    ASSERT_EQ(opList(*g), std::vector<std::string>{"Gemm"});
    EXPECT_EQ(g->nodes()[0]->s("kiln_act", ""), c.kind);
    EXPECT_EQ(g->nodes()[0]->outputs[0]->name, "y");
  }
}

TEST(FuseBiasActivation, KeepsActivationsItCannotFuse) {
  Net n;
  ir::Value* x = n.input("x", {3, 6});
  ir::Value* w = n.constant("w", randomTensor({6, 4}, 8));
  ir::Value* a = n.node("MatMul", {x, w});
  n.output(n.node("Relu", {a}, {}, "relu"));
  n.output(n.node("Neg", {a}, {}, "neg"));  // a has two readers
  ir::Value* b = n.node("MatMul", {x, w});
  n.output(n.node("Clip", {b, n.input("lo", {})}, {}, "clip"));  // min is not constant
  ir::Value* c = n.node("MatMul", {x, w});
  n.output(n.node("Exp", {c}, {}, "exp"));  // no fused form
  EXPECT_FALSE(run(*n.g));
  EXPECT_EQ(n.g->nodes().size(), 7u);
}

TEST(FuseBiasActivation, ConvResidualThenRelu) {
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {2, 4, 6, 6});
    ir::Value* y =
        n.node("Conv", {x, n.constant("w", randomTensor({4, 4, 3, 3}, 11)), n.constant("b", randomTensor({4}, 12))},
               {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
    n.output(n.node("Relu", {n.node("Add", {x, y})}, {}, "y"));
    return std::move(n.g);
  };
  auto g = fuseAndCompare(build, {{"x", randomTensor({2, 4, 6, 6}, 13)}});
  ASSERT_EQ(opList(*g), std::vector<std::string>{"Conv"});
  const ir::Node& conv = *g->nodes()[0];
  ASSERT_EQ(conv.inputs.size(), 4u);
  EXPECT_EQ(conv.inputs[3]->name, "x");
  EXPECT_EQ(conv.s("kiln_act", ""), "Relu");
}

TEST(FuseBiasActivation, ResidualNeedsTheOutputShape) {
  Net n;
  ir::Value* x = n.input("x", {1, 4, 5, 5});
  ir::Value* y = n.node("Conv", {x, n.constant("w", randomTensor({4, 4, 1, 1}, 14))});
  n.output(n.node("Add", {y, n.input("r", {1, 4, 1, 1})}, {}, "y"));  // broadcasts: no residual
  EXPECT_FALSE(run(*n.g));
  EXPECT_EQ(n.g->nodes().size(), 2u);
}

//! x @ W + b + r (BERT's output projection and residual), optionally then Relu.
std::unique_ptr<ir::Graph> matMulResidual(bool relu, std::vector<int64_t> residualDims) {
  Net n;
  ir::Value* x = n.input("x", {2, 3, 4});
  ir::Value* r = n.input("r", residualDims);
  ir::Value* y = n.node("MatMul", {x, n.constant("w", randomTensor({4, 5}, 21))});
  y = n.node("Add", {y, n.constant("b", randomTensor({5}, 22))});
  y = n.node("Add", {r, y}, {}, relu ? "" : "y");
  if (relu) y = n.node("Relu", {y}, {}, "y");
  n.output(y);
  return std::move(n.g);
}

TEST(FuseBiasActivation, MatMulResidualOnlyInDeviceBuilds) {
  for (bool relu : {false, true}) {
    auto g = matMulResidual(relu, {2, 3, 5});
    PassContext device;
    device.cpuFusions = false;
    EXPECT_TRUE(fuseBiasActivation(*g, device));
    ASSERT_EQ(opList(*g), std::vector<std::string>{"MatMul"});
    const ir::Node& mm = *g->nodes()[0];
    ASSERT_EQ(mm.inputs.size(), 4u);
    EXPECT_EQ(mm.inputs[2]->name, "b");
    EXPECT_EQ(mm.inputs[3]->name, "r");
    EXPECT_EQ(mm.outputs[0]->name, "y");
    EXPECT_EQ(mm.s("kiln_act", ""), relu ? "Relu" : "");

    auto cpu = matMulResidual(relu, {2, 3, 5});
    PassContext host;  // the CPU's MatMul kernels read no residual: the Add stays
    EXPECT_TRUE(fuseBiasActivation(*cpu, host));
    EXPECT_EQ(opList(*cpu), (relu ? std::vector<std::string>{"MatMul", "Add", "Relu"}
                                  : std::vector<std::string>{"MatMul", "Add"}));
  }
  auto broadcast = matMulResidual(false, {1, 3, 5});  // broadcasts over the batch: no residual
  PassContext device;
  device.cpuFusions = false;
  EXPECT_TRUE(fuseBiasActivation(*broadcast, device));  // the bias still fuses
  EXPECT_EQ(opList(*broadcast), (std::vector<std::string>{"MatMul", "Add"}));
}

//! Runs the pass as a device build does (MatMul residuals on), then re-sorts: a
//! residual reshaped to the product's shape is a new node at the list's end.
bool runDevice(ir::Graph& g) {
  PassContext device;
  device.cpuFusions = false;
  const bool changed = fuseBiasActivation(g, device);
  g.topoSort();
  ir::inferGraph(g);
  return changed;
}

//! The device rewrite keeps the outputs (the CPU reference's MatMul adds the 4th input as the residual).
template <typename Build>
std::unique_ptr<ir::Graph> fuseOnDeviceAndCompare(Build&& build, const std::map<std::string, ir::Tensor>& feeds) {
  return testing::checkSameOutputs(build, [&](ir::Graph& g) { EXPECT_TRUE(runDevice(g)); }, feeds, 2e-4f);
}

TEST(FuseBiasActivation, MatMulResidualThroughAReshape) {
  // [6,4] @ [4,5] + b -> Reshape [2,3,5] -> + r: r is reshaped to [6,5] and added by the MatMul.
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {6, 4});
    ir::Value* r = n.input("r", {2, 3, 5});
    ir::Value* y = n.node("MatMul", {x, n.constant("w", randomTensor({4, 5}, 31))});
    y = n.node("Add", {y, n.constant("b", randomTensor({5}, 32))});
    y = n.node("Reshape", {y, n.ints("split", {2, 3, 5})});
    n.output(n.node("Relu", {n.node("Add", {y, r})}, {}, "y"));
    return std::move(n.g);
  };
  auto g = fuseOnDeviceAndCompare(build, {{"x", randomTensor({6, 4}, 33)}, {"r", randomTensor({2, 3, 5}, 34)}});
  EXPECT_EQ(testing::countOps(*g, "Add"), 0);
  EXPECT_EQ(testing::countOps(*g, "Relu"), 1);  // after the Reshape: the MatMul's output was not the Add's
  ASSERT_EQ(testing::countOps(*g, "MatMul"), 1);
  for (const auto& node : g->nodes()) {
    if (node->op != "MatMul") continue;
    ASSERT_EQ(node->inputs.size(), 4u);
    EXPECT_EQ(ir::staticDims(node->inputs[3]->shape), (std::vector<int64_t>{6, 5}));
    EXPECT_EQ(node->inputs[3]->producer->op, "Reshape");
    EXPECT_EQ(node->inputs[3]->producer->inputs[0]->name, "r");
  }

  // A second reader of the Reshape's output: the Add stays.
  Net n;
  ir::Value* x = n.input("x", {6, 4});
  ir::Value* y = n.node("Reshape", {n.node("MatMul", {x, n.constant("w", randomTensor({4, 5}, 31))}),
                                    n.ints("split", {2, 3, 5})});
  n.output(n.node("Add", {y, n.input("r", {2, 3, 5})}, {}, "y"));
  n.output(y);
  EXPECT_FALSE(runDevice(*n.g));
  EXPECT_EQ(testing::countOps(*n.g, "Add"), 1);
}

TEST(FuseBiasActivation, MatMulResidualThroughTwoReshapes) {
  // ViT at batch 1: out-projection [197,768] -> Reshape [197,1,768] -> the batch-first swap,
  // a Transpose of a unit dim made a Reshape [1,197,768] -> + residual. Here [6,5] -> [6,1,5] -> [1,6,5].
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {6, 4});
    ir::Value* r = n.input("r", {1, 6, 5});
    ir::Value* y = n.node("MatMul", {x, n.constant("w", randomTensor({4, 5}, 41))});
    y = n.node("Reshape", {y, n.ints("split", {6, 1, 5})});
    y = n.node("Reshape", {y, n.ints("swap", {1, 6, 5})});
    n.output(n.node("Add", {y, r}, {}, "y"));
    return std::move(n.g);
  };
  auto g = fuseOnDeviceAndCompare(build, {{"x", randomTensor({6, 4}, 42)}, {"r", randomTensor({1, 6, 5}, 43)}});
  EXPECT_EQ(testing::countOps(*g, "Add"), 0);
  for (const auto& node : g->nodes()) {
    if (node->op != "MatMul") continue;
    ASSERT_EQ(node->inputs.size(), 4u);
    EXPECT_EQ(ir::staticDims(node->inputs[3]->shape), (std::vector<int64_t>{6, 5}));
  }

  // The middle value read twice: the Add stays.
  Net n;
  ir::Value* x = n.input("x", {6, 4});
  ir::Value* mid = n.node("Reshape", {n.node("MatMul", {x, n.constant("w", randomTensor({4, 5}, 41))}),
                                      n.ints("split", {6, 1, 5})});
  ir::Value* y = n.node("Reshape", {mid, n.ints("swap", {1, 6, 5})});
  n.output(n.node("Add", {y, n.input("r", {1, 6, 5})}, {}, "y"));
  n.output(mid);
  EXPECT_FALSE(runDevice(*n.g));
  EXPECT_EQ(testing::countOps(*n.g, "Add"), 1);
}

TEST(FuseBiasActivation, GemmResidualBecomesAMatMul) {
  // torch MHA's out-projection: Gemm(x, W, b) with transB, directly or through a Reshape, + residual.
  for (bool transB : {false, true}) {
    for (int bias = 0; bias < 3; ++bias) {  // none, [5], [1, 5]
      for (bool reshape : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "transB " << transB << " bias " << bias << " reshape " << reshape);
        const std::vector<int64_t> rdims = reshape ? std::vector<int64_t>{2, 3, 5} : std::vector<int64_t>{6, 5};
        auto build = [&] {
          Net n;
          ir::Value* x = n.input("x", {6, 4});
          ir::Value* r = n.input("r", rdims);
          std::vector<ir::Value*> ins = {x, n.constant("w", randomTensor(transB ? std::vector<int64_t>{5, 4}
                                                                                : std::vector<int64_t>{4, 5},
                                                                         41))};
          if (bias) ins.push_back(n.constant("c", randomTensor(bias == 1 ? std::vector<int64_t>{5}
                                                                         : std::vector<int64_t>{1, 5},
                                                               42)));
          ir::Value* y = n.node("Gemm", ins, {{"transB", int64_t{transB}}});
          if (reshape) y = n.node("Reshape", {y, n.ints("split", {2, 3, 5})});
          n.output(n.node("Add", {r, y}, {}, "y"));
          return std::move(n.g);
        };
        auto g = fuseOnDeviceAndCompare(build, {{"x", randomTensor({6, 4}, 43)}, {"r", randomTensor(rdims, 44)}});
        EXPECT_EQ(testing::countOps(*g, "Gemm"), 0);
        EXPECT_EQ(testing::countOps(*g, "Add"), 0);
        for (const auto& node : g->nodes()) {
          if (node->op != "MatMul") continue;
          ASSERT_EQ(node->inputs.size(), 4u);
          EXPECT_EQ(node->inputs[1]->constant->dims(), (std::vector<int64_t>{4, 5}));
          EXPECT_EQ(node->inputs[2] != nullptr, bias != 0);
          if (bias) {
            EXPECT_EQ(node->inputs[2]->constant->dims(), std::vector<int64_t>{5});
          }
          EXPECT_FALSE(node->has("transB"));
        }
      }
    }
  }
}

TEST(FuseBiasActivation, GemmResidualNeedsAPlainGemm) {
  // alpha != 1, transA, a B that is not constant, a CPU build: the Gemm and the Add stay.
  for (int why = 0; why < 4; ++why) {
    SCOPED_TRACE(why);
    Net n;
    ir::Value* x = n.input("x", {4, 6});
    ir::Value* w = why == 2 ? n.input("w", {4, 5}) : n.constant("w", randomTensor({4, 5}, 51));
    std::map<std::string, ir::Attribute> attrs;
    if (why == 0) attrs["alpha"] = 0.5f;
    if (why == 1) attrs["transA"] = int64_t{1};
    ir::Value* a = why == 1 ? x : n.node("Reshape", {x, n.ints("rows", {6, 4})});
    n.output(n.node("Add", {n.node("Gemm", {a, w}, attrs), n.input("r", {6, 5})}, {}, "y"));
    if (why == 3) {
      EXPECT_FALSE(run(*n.g));
    } else {
      EXPECT_FALSE(runDevice(*n.g));
    }
    EXPECT_EQ(testing::countOps(*n.g, "Gemm"), 1);
    EXPECT_EQ(testing::countOps(*n.g, "Add"), 1);
  }
}

//! PyTorch's erf GELU after x @ W + b, in the three orders exporters write.
ir::Value* erfGelu(Net& n, ir::Value* x, int order) {
  ir::Value* e = n.node("Erf", {n.node("Div", {x, n.scalar("sqrt2", 1.4142135f)})});
  ir::Value* a = n.node("Add", {e, n.scalar("one", 1.f)});
  if (order == 0) return n.node("Mul", {n.node("Mul", {x, a}), n.scalar("half", 0.5f)}, {}, "y");
  if (order == 1) return n.node("Mul", {n.node("Mul", {x, n.scalar("half", 0.5f)}), a}, {}, "y");
  return n.node("Mul", {x, n.node("Mul", {a, n.scalar("half", 0.5f)})}, {}, "y");
}

TEST(FuseBiasActivation, MatMulTakesBiasAndErfGelu) {
  for (int order = 0; order < 3; ++order) {
    SCOPED_TRACE(order);
    auto build = [&] {
      Net n;
      ir::Value* x = n.input("x", {2, 3, 8});
      ir::Value* y = n.node("MatMul", {x, n.constant("w", randomTensor({8, 6}, 15))});
      ir::Value* b = n.node("Add", {n.constant("b", randomTensor({6}, 16)), y});
      n.output(erfGelu(n, b, order));
      return std::move(n.g);
    };
    auto g = fuseAndCompare(build, {{"x", randomTensor({2, 3, 8}, 17, -2.f, 2.f)}});
    ASSERT_EQ(opList(*g), std::vector<std::string>{"MatMul"});
    EXPECT_EQ(g->nodes()[0]->inputs.size(), 3u);
    EXPECT_EQ(g->nodes()[0]->s("kiln_act", ""), "Gelu");
  }
}

TEST(FuseBiasActivation, ErfGeluWithAnExtraReaderStays) {
  Net n;
  ir::Value* x = n.input("x", {2, 8});
  ir::Value* y = n.node("MatMul", {x, n.constant("w", randomTensor({8, 6}, 15))});
  ir::Value* e = n.node("Erf", {n.node("Div", {y, n.scalar("sqrt2", 1.4142135f)})});
  ir::Value* a = n.node("Add", {e, n.scalar("one", 1.f)});
  n.output(n.node("Mul", {n.node("Mul", {y, a}), n.scalar("half", 0.5f)}, {}, "y"));
  n.output(a);  // 1 + erf is read outside the pattern
  EXPECT_FALSE(run(*n.g));
}

}  // namespace
}  // namespace kiln::passes
