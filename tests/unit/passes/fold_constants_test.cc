#include <gtest/gtest.h>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::cpuContext;
using testing::Net;
using testing::opList;

TEST(FoldConstants, FoldsANodeOfConstants) {
  Net n;
  ir::Value* x = n.input("x", {3});
  ir::Value* a = n.constant("a", ir::Tensor::fromFloat({1, 2, 3}, {3}));
  ir::Value* b = n.constant("b", ir::Tensor::fromFloat({10, 20, 30}, {3}));
  ir::Value* sum = n.node("Add", {a, b}, {}, "sum");
  ir::Value* neg = n.node("Neg", {sum}, {}, "neg");
  n.output(n.node("Mul", {x, neg}, {}, "y"));
  PassContext ctx = cpuContext();
  EXPECT_TRUE(foldConstants(*n.g, ctx));
  EXPECT_EQ(opList(*n.g), std::vector<std::string>{"Mul"});
  ASSERT_TRUE(neg->isConstant());
  EXPECT_EQ(neg->producer, nullptr);
  EXPECT_EQ(neg->constant->toFloat(), (std::vector<float>{-11, -22, -33}));
  ASSERT_FALSE(ctx.log.empty());
  EXPECT_EQ(ctx.log.back(), "fold_constants: folded 2 nodes");
}

TEST(FoldConstants, FoldsShapeGatherConcatIntoAStaticReshape) {
  // x.reshape(x.size(0), -1) as PyTorch exports it, with a static x.
  Net n;
  ir::Value* x = n.input("x", {2, 3, 4});
  ir::Value* shape = n.node("Shape", {x});
  ir::Value* dim0 =
      n.node("Gather", {shape, n.constant("zero", ir::Tensor::fromInt64({0}, {}))}, {{"axis", int64_t{0}}});
  ir::Value* d0 = n.node("Unsqueeze", {dim0, n.ints("axes", {0})});
  ir::Value* target = n.node("Concat", {d0, n.ints("minus1", {-1})}, {{"axis", int64_t{0}}});
  ir::Value* y = n.node("Reshape", {x, target}, {}, "y");
  n.output(y);
  PassContext ctx = cpuContext();
  EXPECT_TRUE(foldConstants(*n.g, ctx));
  EXPECT_EQ(opList(*n.g), std::vector<std::string>{"Reshape"});
  ASSERT_TRUE(target->isConstant());
  EXPECT_EQ(target->constant->toInt64(), (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(ir::toString(y->shape), "[2,12]");
}

TEST(FoldConstants, FoldsKnownDimsOfADynamicShape) {
  // Gather(Shape(x), 1) is 3 even though the batch dim is unknown.
  Net n;
  ir::Value* x = n.input("x", {1, 3, 8});
  x->shape[0] = ir::Dim(std::string("batch"));
  ir::Value* shape = n.node("Shape", {x});
  ir::Value* c = n.node("Gather", {shape, n.ints("one", {1})}, {{"axis", int64_t{0}}}, "c");
  ir::Value* b = n.node("Gather", {shape, n.ints("zero", {0})}, {{"axis", int64_t{0}}}, "b");
  n.output(n.node("Concat", {b, c}, {{"axis", int64_t{0}}}, "y"));
  PassContext ctx = cpuContext();
  EXPECT_TRUE(foldConstants(*n.g, ctx));
  ASSERT_TRUE(c->isConstant());
  EXPECT_EQ(c->constant->toInt64(), std::vector<int64_t>{3});
  EXPECT_FALSE(b->isConstant());
  EXPECT_EQ(opList(*n.g), (std::vector<std::string>{"Shape", "Gather", "Concat"}));
}

TEST(FoldConstants, FoldsShapeWithStartEndAndSize) {
  Net n;
  ir::Value* x = n.input("x", {2, 3, 5, 7});
  ir::Value* s = n.node("Shape", {x}, {{"start", int64_t{1}}, {"end", int64_t{-1}}}, "s");
  ir::Value* size = n.node("Size", {x}, {}, "size");
  ir::Value* size1 = n.node("Unsqueeze", {size, n.ints("axes", {0})});
  n.output(n.node("Concat", {s, size1}, {{"axis", int64_t{0}}}, "y"));
  PassContext ctx = cpuContext();
  EXPECT_TRUE(foldConstants(*n.g, ctx));
  ASSERT_TRUE(s->isConstant() && size->isConstant());
  EXPECT_EQ(s->constant->toInt64(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(size->constant->toInt64(), std::vector<int64_t>{210});
  EXPECT_TRUE(size->constant->dims().empty());
}

TEST(FoldConstants, ShapeFoldingWorksWithoutAnEvaluator) {
  Net n;
  ir::Value* x = n.input("x", {4, 2});
  ir::Value* s = n.node("Shape", {x}, {}, "s");
  n.output(n.node("Reshape", {x, s}, {}, "y"));
  PassContext ctx;  // no evaluate: only shape folding
  EXPECT_TRUE(foldConstants(*n.g, ctx));
  EXPECT_TRUE(s->isConstant());
}

TEST(FoldConstants, SkipsLargeResultsUnusedNodesAndGraphOutputs) {
  Net n;
  ir::Value* x = n.input("x", {64});
  ir::Value* big = n.node("Expand", {n.scalar("one", 1.f), n.ints("shape", {64})}, {}, "big");
  n.node("Neg", {n.scalar("unused_in", 2.f)}, {}, "unused");  // nobody reads it
  ir::Value* out2 = n.node("Abs", {n.scalar("three", -3.f)}, {}, "out2");
  n.output(n.node("Add", {x, big}, {}, "y"));
  n.output(out2);
  PassContext ctx = cpuContext();
  ctx.maxFoldBytes = 100;  // the 256-byte Expand stays
  EXPECT_FALSE(foldConstants(*n.g, ctx));
  EXPECT_EQ(n.g->nodes().size(), 4u);
  ctx.maxFoldBytes = 1024;
  EXPECT_TRUE(foldConstants(*n.g, ctx));
  EXPECT_TRUE(big->isConstant());
  EXPECT_FALSE(out2->isConstant());
}

TEST(FoldConstants, LeavesNodesWithANonConstantInput) {
  Net n;
  ir::Value* x = n.input("x", {3});
  n.output(n.node("Add", {x, n.scalar("c", 1.f)}, {}, "y"));
  PassContext ctx = cpuContext();
  EXPECT_FALSE(foldConstants(*n.g, ctx));
  EXPECT_TRUE(ctx.log.empty());
}

TEST(FoldConstants, KeepsWhatTheGraphComputes) {
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {2, 4});
    ir::Value* w = n.constant("w", testing::randomTensor({4, 3}, 1));
    ir::Value* wt = n.node("Transpose", {w}, {{"perm", std::vector<int64_t>{1, 0}}});
    ir::Value* wt2 = n.node("Mul", {wt, n.scalar("two", 2.f)});
    ir::Value* wb = n.node("Transpose", {wt2}, {{"perm", std::vector<int64_t>{1, 0}}});
    n.output(n.node("MatMul", {x, wb}, {}, "y"));
    return std::move(n.g);
  };
  auto after = testing::checkSameOutputs(build,
                                         [](ir::Graph& g) {
                                           PassContext ctx = cpuContext();
                                           EXPECT_TRUE(foldConstants(g, ctx));
                                         },
                                         {{"x", testing::randomTensor({2, 4}, 2)}});
  EXPECT_EQ(opList(*after), std::vector<std::string>{"MatMul"});
}

}  // namespace
}  // namespace kiln::passes
