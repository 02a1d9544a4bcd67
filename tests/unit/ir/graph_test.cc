#include "ir/graph.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "ir/op_schema.h"
#include "ir/shape_resolver.h"

namespace kiln::ir {
namespace {

//! in -> a -> b -> out, with a constant feeding b, added in REVERSE order.
struct Chain {
  Graph g;
  Value *in, *a, *b, *out, *c;
  Node *n1, *n2, *n3;
  Chain() {
    in = g.addValue("in", DType::kFLOAT, Shape{2, 3});
    c = g.addConstant("c", Tensor::fromFloat({1, 2, 3}, {3}));
    a = g.addValue("a");
    b = g.addValue("b");
    out = g.addValue("out");
    g.inputs = {in};
    g.outputs = {out};
    n3 = g.addNode("Relu", "n3", {b}, {out});
    n2 = g.addNode("Add", "n2", {a, c}, {b});
    n1 = g.addNode("Relu", "n1", {in}, {a});
  }
};

TEST(Graph, TopoSortOrdersProducersFirst) {
  Chain ch;
  ch.g.topoSort();
  auto nodes = ch.g.nodeList();
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0], ch.n1);
  EXPECT_EQ(nodes[1], ch.n2);
  EXPECT_EQ(nodes[2], ch.n3);
  ch.g.topoSort();  // idempotent, and every node survives a second sort
  EXPECT_EQ(ch.g.nodeList(), nodes);
}

TEST(Graph, TopoSortFindsCycles) {
  Graph g;
  Value* x = g.addValue("x");
  Value* y = g.addValue("y");
  g.addNode("Relu", "r1", {y}, {x});
  g.addNode("Relu", "r2", {x}, {y});
  EXPECT_THROW(g.topoSort(), Error);
}

TEST(Graph, NamesStayUnique) {
  Graph g;
  Value* a = g.addValue("t");
  Value* b = g.addValue("t");
  EXPECT_NE(a->name, b->name);
  EXPECT_EQ(g.findValue(b->name), b);
  EXPECT_EQ(g.rename(b, "u"), "u");
  EXPECT_EQ(g.findValue("u"), b);
  EXPECT_EQ(g.findValue(a->name), a);
}

TEST(Graph, CloneIsDeepAndSharesConstants) {
  Chain ch;
  ch.n2->attrs["alpha"] = 0.5f;
  auto copy = ch.g.clone();
  ASSERT_EQ(copy->nodes().size(), 3u);
  Value* cin = copy->findValue("in");
  ASSERT_NE(cin, nullptr);
  EXPECT_NE(cin, ch.in);
  EXPECT_EQ(copy->inputs[0], cin);
  EXPECT_EQ(copy->findValue("c")->constant.get(), ch.c->constant.get());  // immutable: shared
  Node* n2 = copy->findValue("b")->producer;
  ASSERT_NE(n2, nullptr);
  EXPECT_EQ(n2->f("alpha", 0), 0.5f);
  EXPECT_EQ(n2->inputs[0], copy->findValue("a"));
  cin->shape = Shape{7};  // the original is untouched
  EXPECT_EQ(ch.in->shape.size(), 2u);
}

TEST(Graph, ReplaceAllUsesAndRemoveUnused) {
  Chain ch;
  ch.g.replaceAllUses(ch.b, ch.a);  // n3 now reads a; n2's output is dead
  EXPECT_EQ(ch.n3->inputs[0], ch.a);
  ch.g.removeNode(ch.n2);
  ch.g.removeUnusedValues();
  EXPECT_EQ(ch.g.findValue("b"), nullptr);
  EXPECT_EQ(ch.g.findValue("c"), nullptr);
  EXPECT_NE(ch.g.findValue("a"), nullptr);
  EXPECT_EQ(ch.g.consumers(ch.a), std::vector<Node*>{ch.n3});
}

TEST(Tensor, CastsAndReadsValues) {
  Tensor t = Tensor::fromFloat({1.5f, -2.f, 65504.f}, {3});
  EXPECT_EQ(t.castTo(DType::kINT64).toInt64(), (std::vector<int64_t>{1, -2, 65504}));
  EXPECT_EQ(t.castTo(DType::kHALF).toFloat(), (std::vector<float>{1.5f, -2.f, 65504.f}));
  EXPECT_EQ(t.castTo(DType::kBOOL).toInt64(), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_THROW(Tensor::fromInt64({1, 2}, {3}), Error);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
}

TEST(Shape, SymbolsAndStaticDims) {
  Shape s{Dim(1), Dim(std::string("width"))};
  EXPECT_FALSE(isStatic(s));
  EXPECT_EQ(toString(s), "[1,width]");
  EXPECT_THROW(staticDims(s), Error);
  EXPECT_EQ(staticDims(Shape{2, 3}), (std::vector<int64_t>{2, 3}));
}

TEST(ShapeResolver, ResolvesSymbolicInputsAndChecksThem) {
  Graph g;
  Value* x = g.addValue("x", DType::kFLOAT, Shape{Dim(2), Dim(std::string("n"))});
  Value* y = g.addValue("y");
  g.inputs = {x};
  g.outputs = {y};
  g.addNode("Relu", "relu", {x}, {y});
  auto copy = g.clone();
  resolveShapes(*copy, {{"x", {2, 9}}}, nullptr);
  EXPECT_EQ(copy->findValue("y")->shape, (Shape{2, 9}));
  EXPECT_THROW(resolveShapes(*g.clone(), {{"x", {3, 9}}}, nullptr), Error);  // dim 0 is fixed at 2
  EXPECT_THROW(resolveShapes(*g.clone(), {{"x", {2}}}, nullptr), Error);     // rank
  EXPECT_THROW(resolveShapes(*g.clone(), {}, nullptr), Error);               // n unknown
}

}  // namespace
}  // namespace kiln::ir
