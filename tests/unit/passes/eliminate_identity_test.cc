#include <gtest/gtest.h>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::opList;

TEST(EliminateIdentity, RewiresReadersOfAnIdentity) {
  Net n;
  ir::Value* x = n.input("x", {2, 3});
  ir::Value* id = n.node("Identity", {x});
  ir::Value* y = n.node("Relu", {id}, {}, "y");
  n.output(y);
  PassContext ctx;
  EXPECT_TRUE(eliminateIdentity(*n.g, ctx));
  EXPECT_EQ(opList(*n.g), std::vector<std::string>{"Relu"});
  EXPECT_EQ(n.g->nodes()[0]->inputs[0], x);
  ASSERT_EQ(ctx.log.size(), 1u);
  EXPECT_EQ(ctx.log[0], "eliminate_identity: removed 1 nodes");
}

TEST(EliminateIdentity, KeepsTheGraphOutputName) {
  // relu -> Identity -> graph output "out": Relu now writes "out" itself.
  Net n;
  ir::Value* x = n.input("x", {4});
  ir::Value* r = n.node("Relu", {x}, {}, "relu");
  ir::Value* other = n.node("Neg", {r}, {}, "other");  // a second reader of relu
  ir::Value* out = n.node("Identity", {r}, {}, "out");
  n.output(out);
  n.output(other);
  PassContext ctx;
  EXPECT_TRUE(eliminateIdentity(*n.g, ctx));
  EXPECT_EQ(n.g->nodes().size(), 2u);
  EXPECT_EQ(n.g->outputs[0]->name, "out");
  EXPECT_EQ(out->producer->op, "Relu");
  EXPECT_EQ(other->producer->inputs[0], out);  // Neg reads what Relu now writes
}

TEST(EliminateIdentity, KeepsAnIdentityFromInputToOutput) {
  Net n;
  ir::Value* x = n.input("x", {4});
  n.output(n.node("Identity", {x}, {}, "y"));
  PassContext ctx;
  EXPECT_FALSE(eliminateIdentity(*n.g, ctx));
  EXPECT_EQ(n.g->nodes().size(), 1u);
}

TEST(EliminateIdentity, RemovesInferenceDropoutButNotOneWhoseMaskIsRead) {
  Net n;
  ir::Value* x = n.input("x", {2, 2});
  ir::Value* d1 = n.node("Dropout", {x, n.scalar("ratio", 0.1f)});
  std::vector<ir::Value*> d2 = n.nodeN("Dropout", {d1}, 2);
  n.output(n.node("Relu", {d2[0]}, {}, "y"));
  n.output(d2[1]);  // the mask is a graph output: that Dropout stays
  PassContext ctx;
  EXPECT_TRUE(eliminateIdentity(*n.g, ctx));
  EXPECT_EQ(opList(*n.g), (std::vector<std::string>{"Dropout", "Relu"}));
  EXPECT_EQ(n.g->nodes()[0]->inputs[0], x);
}

TEST(EliminateIdentity, RemovesNoOpReshapeCastAndTranspose) {
  Net n;
  ir::Value* x = n.input("x", {2, 3});
  ir::Value* a = n.node("Reshape", {x, n.ints("shape", {2, 3})});
  ir::Value* b = n.node("Cast", {a}, {{"to", int64_t{1}}});  // ONNX FLOAT
  ir::Value* c = n.node("Transpose", {b}, {{"perm", std::vector<int64_t>{0, 1}}});
  ir::Value* d = n.node("Reshape", {c, n.ints("shape2", {3, 2})});  // a real reshape stays
  n.output(n.node("Relu", {d}, {}, "y"));
  ASSERT_EQ(b->dtype, DType::kFLOAT);
  PassContext ctx;
  EXPECT_TRUE(eliminateIdentity(*n.g, ctx));
  EXPECT_EQ(opList(*n.g), (std::vector<std::string>{"Reshape", "Relu"}));
  EXPECT_EQ(n.g->nodes()[0]->inputs[0], x);
}

TEST(EliminateIdentity, KeepsAChangingCast) {
  Net n;
  ir::Value* x = n.input("x", {3});
  n.output(n.node("Cast", {x}, {{"to", int64_t{7}}}, "y"));  // ONNX INT64
  PassContext ctx;
  EXPECT_FALSE(eliminateIdentity(*n.g, ctx));
}

}  // namespace
}  // namespace kiln::passes

namespace kiln::passes {
namespace {

TEST(EliminateIdentity, TransposeMovingOnlyUnitDimsBecomesAReshape) {
  // torch MHA's batch-first swap at batch 1: [1, S, E] -> [S, 1, E] moves no element.
  auto build = [] {
    Net n;
    ir::Value* t = n.node("Transpose", {n.input("x", {1, 5, 4})}, {{"perm", std::vector<int64_t>{1, 0, 2}}});
    ir::Value* u = n.node("Transpose", {n.input("z", {2, 1, 3})}, {{"perm", std::vector<int64_t>{2, 1, 0}}});
    n.output(n.node("Relu", {t}, {}, "y"));
    n.output(n.node("Relu", {u}, {}, "w"));  // 3 and 2 swap: a real transpose, kept
    return std::move(n.g);
  };
  auto g = testing::checkSameOutputs(
      build, [](ir::Graph& g) {
        PassContext ctx;
        EXPECT_TRUE(eliminateIdentity(g, ctx));
        ir::inferGraph(g);
      },
      {{"x", testing::randomTensor({1, 5, 4}, 1)}, {"z", testing::randomTensor({2, 1, 3}, 2)}});
  EXPECT_EQ(testing::countOps(*g, "Transpose"), 1);
  ASSERT_EQ(testing::countOps(*g, "Reshape"), 1);
  for (auto& n : g->nodes())
    if (n->op == "Reshape") {
      EXPECT_EQ(ir::toString(n->outputs[0]->shape), "[5,1,4]");
      EXPECT_FALSE(n->has("perm"));
    }
}

}  // namespace
}  // namespace kiln::passes
