#include <gtest/gtest.h>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::opList;

TEST(EliminateDeadCode, RemovesNodesThatReachNoOutput) {
  Net n;
  ir::Value* x = n.input("x", {2, 3});
  ir::Value* kept = n.node("Relu", {x}, {}, "kept");
  ir::Value* dead = n.node("Sigmoid", {x}, {}, "dead");
  n.node("Tanh", {dead}, {}, "dead_too");
  n.output(kept);
  PassContext ctx;
  EXPECT_TRUE(eliminateDeadCode(*n.g, ctx));
  EXPECT_EQ(opList(*n.g), std::vector<std::string>{"Relu"});
  EXPECT_EQ(n.g->findValue("dead"), nullptr);  // its values went too
  ASSERT_EQ(ctx.log.size(), 1u);
  EXPECT_EQ(ctx.log[0], "eliminate_dead_code: removed 2 nodes");
}

TEST(EliminateDeadCode, KeepsGraphInputsAndLiveMultiOutputNodes) {
  Net n;
  ir::Value* x = n.input("x", {4, 6});
  ir::Value* unused = n.input("unused", {1});
  std::vector<ir::Value*> parts = n.nodeN("Split", {x, n.ints("split", {3, 3})}, 2, {{"axis", int64_t{1}}});
  n.output(parts[0]);  // parts[1] is unread, but Split lives
  PassContext ctx;
  EXPECT_FALSE(eliminateDeadCode(*n.g, ctx));
  EXPECT_EQ(opList(*n.g), std::vector<std::string>{"Split"});
  EXPECT_TRUE(n.g->isGraphInput(unused));
  EXPECT_TRUE(ctx.log.empty());
}

TEST(EliminateDeadCode, KeepsEverythingOnTheWayToSeveralOutputs) {
  Net n;
  ir::Value* x = n.input("x", {5});
  ir::Value* a = n.node("Relu", {x});
  ir::Value* b = n.node("Neg", {a});
  ir::Value* c = n.node("Add", {a, b});
  n.output(b);
  n.output(c);
  PassContext ctx;
  EXPECT_FALSE(eliminateDeadCode(*n.g, ctx));
  EXPECT_EQ(n.g->nodes().size(), 3u);
}

TEST(EliminateDeadCode, EmptiesAGraphWhoseOutputIsAnInput) {
  Net n;
  ir::Value* x = n.input("x", {3});
  n.node("Relu", {x});
  n.output(x);
  PassContext ctx;
  EXPECT_TRUE(eliminateDeadCode(*n.g, ctx));
  EXPECT_TRUE(n.g->nodes().empty());
  ASSERT_EQ(n.g->outputs.size(), 1u);
  EXPECT_EQ(n.g->outputs[0], x);
}

}  // namespace
}  // namespace kiln::passes
