// TacticSource::kONEDNN off (BuildOptions::onednnTactics): no layer of the plan
// may use a oneDNN tactic, whatever timing would say.
#include <gtest/gtest.h>

#include <random>

#include "backends/cpu/kernel.h"
#include "builder/build_plan.h"
#include "ir/op_schema.h"
#include "plan/plan.h"

namespace kiln::builder {
namespace {

ir::Tensor randomTensor(std::vector<int64_t> dims, uint32_t seed) {
  ir::Tensor t(DType::kFLOAT, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutableAs<float>()[i] = dist(rng);
  return t;
}

// conv (3x3, 32 -> 32 channels) then MatMul with a constant B.
std::unique_ptr<ir::Graph> convAndMatMul() {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* x = g->addValue("x", DType::kFLOAT, ir::Shape{1, 32, 16, 16});
  g->inputs.push_back(x);
  ir::Value* c = g->addValue("c");
  ir::Node* conv = g->addNode("Conv", "conv", {x, g->addConstant("w", randomTensor({32, 32, 3, 3}, 1))}, {c});
  conv->attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  ir::inferNode(*conv);
  ir::Value* y = g->addValue("y");
  ir::inferNode(*g->addNode("MatMul", "mm", {c, g->addConstant("b", randomTensor({16, 64}, 2))}, {y}));
  g->outputs.push_back(y);
  return g;
}

std::vector<std::string> tacticsOf(const std::vector<uint8_t>& bytes) {
  plan::PlanContents p = plan::readPlan(bytes.data(), bytes.size(), nullptr);
  std::vector<std::string> out;
  for (const ir::Node* n : p.graph->nodeList()) out.push_back(n->tactic);
  return out;
}

TEST(TacticSources, WithoutOnednnNoLayerUsesIt) {
  BuildOptions o;
  o.threads = 1;
  o.timingIterations = 1;
  o.onednnTactics = false;
  for (const std::string& t : tacticsOf(buildPlan(*convAndMatMul(), o))) EXPECT_FALSE(t.ends_with(".onednn")) << t;
}

TEST(TacticSources, OnednnIsACandidateWhenBuiltWithIt) {
  if (!cpu::tactics().find("Conv.onednn")) GTEST_SKIP() << "built without oneDNN";
  auto g = convAndMatMul();
  for (const ir::Node* n : g->nodeList())
    EXPECT_TRUE(cpu::tactics().find(n->op + ".onednn")->supports(*n)) << n->describe();
  BuildOptions o;
  o.threads = 1;
  o.timingIterations = 1;
  EXPECT_EQ(tacticsOf(buildPlan(*g, o)).size(), 2u);  // builds (whichever tactic wins)
}

}  // namespace
}  // namespace kiln::builder
