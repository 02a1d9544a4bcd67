#include "builder/memory_planner.h"

#include <gtest/gtest.h>

#include <random>

namespace kiln::builder {
namespace {

ir::Value* act(ir::Graph& g, const std::string& name, int64_t elems) {
  return g.addValue(name, DType::kFLOAT, ir::Shape{ir::Dim(elems)});
}

//! Checks the planner's one promise: two values alive at the same time never share bytes.
void expectNoOverlap(const ir::Graph& g, const MemoryPlan& plan) {
  const auto& nodes = g.nodes();
  std::map<const ir::Value*, std::pair<int, int>> life;
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    for (const ir::Value* o : nodes[i]->outputs) life[o] = {i, i};
    for (const ir::Value* in : nodes[i]->inputs)
      if (life.count(in)) life[in].second = i;
  }
  for (auto& [a, la] : life)
    for (auto& [b, lb] : life) {
      if (a >= b || !plan.offsets.count(a->name) || !plan.offsets.count(b->name)) continue;
      int64_t oa = plan.offsets.at(a->name), ob = plan.offsets.at(b->name);
      if (oa == ob) continue;  // an in-place alias (checked separately)
      bool liveTogether = la.first <= lb.second && lb.first <= la.second;
      int64_t sa = ir::numElements(ir::staticDims(a->shape)) * 4, sb = ir::numElements(ir::staticDims(b->shape)) * 4;
      bool bytesOverlap = oa < ob + sb && ob < oa + sa;
      EXPECT_FALSE(liveTogether && bytesOverlap) << a->name << " and " << b->name;
      EXPECT_LE(oa + sa, plan.arenaBytes);
    }
}

TEST(MemoryPlanner, ChainPingPongsBetweenTwoBlocks) {
  ir::Graph g;
  ir::Value* in = act(g, "in", 1000);
  g.inputs.push_back(in);
  ir::Value* cur = in;
  for (int i = 0; i < 6; ++i) {
    ir::Value* next = act(g, "v" + std::to_string(i), 1000);
    g.addNode("Relu", "r" + std::to_string(i), {cur}, {next});
    cur = next;
  }
  g.outputs.push_back(cur);
  MemoryPlan plan = planMemory(g);
  EXPECT_EQ(plan.offsets.size(), 5u);  // v0..v4; v5 is the graph output, bound by the user
  EXPECT_EQ(plan.arenaBytes, 2 * 4032);  // 4000 bytes rounded up to 64, twice
  EXPECT_EQ(plan.naiveBytes, 5 * 4032);
  EXPECT_FALSE(plan.offsets.count("in"));
  expectNoOverlap(g, plan);
}

TEST(MemoryPlanner, ReshapeRunsInPlaceWhenItsInputDies) {
  ir::Graph g;
  ir::Value* in = act(g, "in", 64);
  g.inputs.push_back(in);
  ir::Value* a = act(g, "a", 64);
  ir::Value* b = act(g, "b", 64);
  ir::Value* c = act(g, "c", 64);
  g.addNode("Relu", "relu", {in}, {a});
  g.addNode("Reshape", "reshape", {a, nullptr}, {b});
  g.addNode("Relu", "relu2", {b}, {c});
  g.outputs.push_back(c);
  MemoryPlan plan = planMemory(g);
  EXPECT_EQ(plan.offsets.at("a"), plan.offsets.at("b"));
  EXPECT_EQ(plan.arenaBytes, 256);
}

TEST(MemoryPlanner, NoAliasWhenTheInputLivesOn) {
  ir::Graph g;
  ir::Value* in = act(g, "in", 64);
  g.inputs.push_back(in);
  ir::Value* a = act(g, "a", 64);
  ir::Value* b = act(g, "b", 64);
  ir::Value* c = act(g, "c", 64);
  g.addNode("Relu", "relu", {in}, {a});
  g.addNode("Reshape", "reshape", {a, nullptr}, {b});
  g.addNode("Add", "add", {a, b}, {c});  // a is still read after the reshape
  g.outputs.push_back(c);
  MemoryPlan plan = planMemory(g);
  EXPECT_NE(plan.offsets.at("a"), plan.offsets.at("b"));
  expectNoOverlap(g, plan);
}

TEST(MemoryPlanner, RandomDagsNeverOverlapLiveValues) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 50; ++trial) {
    ir::Graph g;
    std::vector<ir::Value*> vals{act(g, "in", 1 + rng() % 500)};
    g.inputs.push_back(vals[0]);
    int n = 5 + rng() % 30;
    for (int i = 0; i < n; ++i) {
      ir::Value* x = vals[rng() % vals.size()];
      ir::Value* y = vals[rng() % vals.size()];
      ir::Value* out = act(g, "v" + std::to_string(i), 1 + rng() % 500);
      g.addNode(rng() % 4 == 0 ? "Reshape" : "Add", "n" + std::to_string(i), {x, y}, {out});
      vals.push_back(out);
    }
    g.outputs.push_back(vals.back());
    MemoryPlan plan = planMemory(g);
    expectNoOverlap(g, plan);
    EXPECT_LE(plan.arenaBytes, plan.naiveBytes);
  }
}

}  // namespace
}  // namespace kiln::builder
