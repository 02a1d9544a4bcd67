// pack_qkv_projections (src/passes/pack_qkv_projections.cc): HF BERT's three
// projections of one input become one MatMul whose output Q, K and V read
// through their views once fold_attention_views has run; the outputs match the
// unpacked graph's (both run through the CPU kernels); projections it cannot
// pack are left alone.
#include <gtest/gtest.h>

#include <cmath>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::randomTensor;
using Ints = std::vector<int64_t>;

//! The attention fusion, this pass, the views and dead-code removal, as the pipeline runs them.
bool fusePackFold(ir::Graph& g) {
  PassContext ctx;
  auto settle = [&] {
    g.topoSort();
    ir::inferGraph(g);
  };
  EXPECT_TRUE(fuseAttention(g, ctx));
  settle();
  const bool packed = packQkvProjections(g, ctx);
  settle();
  foldAttentionViews(g, ctx);
  settle();
  eliminateDeadCode(g, ctx);
  settle();
  return packed;
}

struct Layer {
  int64_t b, s, h, d;
  bool bias = true;
  bool sharedInput = true;  //!< false: V projects another input (cross attention): no packing
};

ir::Value* transpose(Net& n, ir::Value* x, Ints perm) { return n.node("Transpose", {x}, {{"perm", perm}}); }
ir::Value* reshape(Net& n, ir::Value* x, Ints shape) {
  return n.node("Reshape", {x, n.ints(n.g->uniqueName("shape"), shape)});
}

//! HF BERT's self-attention: x [B,S,E] -> three (MatMul + bias) -> Reshape [B,S,H,D] -> Transpose.
std::unique_ptr<ir::Graph> bertAttention(const Layer& l) {
  const int64_t e = l.h * l.d;
  Net n;
  ir::Value* x = n.input("x", {l.b, l.s, e});
  ir::Value* other = l.sharedInput ? x : n.input("x2", {l.b, l.s, e});
  uint32_t seed = 100;
  auto project = [&](ir::Value* in, Ints perm) {
    ir::Value* y = n.node("MatMul", {in, n.constant(n.g->uniqueName("w"), randomTensor({e, e}, ++seed))});
    if (l.bias) y = n.node("Add", {y, n.constant(n.g->uniqueName("b"), randomTensor({e}, ++seed))});
    return transpose(n, reshape(n, y, {l.b, l.s, l.h, l.d}), perm);
  };
  ir::Value* q = project(x, {0, 2, 1, 3});
  ir::Value* kt = project(x, {0, 2, 3, 1});
  ir::Value* v = project(other, {0, 2, 1, 3});
  ir::Value* scores = n.node("Div", {n.node("MatMul", {q, kt}), n.scalar("sqrt_d", std::sqrt(float(l.d)))});
  scores = n.node("Add", {scores, n.input("mask", {l.b, 1, 1, l.s})});
  ir::Value* p = n.node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  n.output(reshape(n, transpose(n, n.node("MatMul", {p, v}), {0, 2, 1, 3}), {l.b, l.s, e}));
  return std::move(n.g);
}

std::map<std::string, ir::Tensor> feeds(const Layer& l) {
  const int64_t e = l.h * l.d;
  return {{"x", randomTensor({l.b, l.s, e}, 1)},
          {"x2", randomTensor({l.b, l.s, e}, 2)},
          {"mask", randomTensor({l.b, 1, 1, l.s}, 3, -5.f, 0.f)}};
}

TEST(PackQkvProjections, BertProjectionsBecomeOneMatMulReadThroughViews) {
  for (const Layer& l : {Layer{2, 7, 3, 8}, Layer{1, 1, 2, 4}, Layer{3, 5, 1, 6, false}}) {
    SCOPED_TRACE(::testing::Message() << "B " << l.b << " S " << l.s << " H " << l.h << " D " << l.d);
    std::map<std::string, ir::Tensor> in = feeds(l);
    in.erase("x2");
    auto g = testing::checkSameOutputs([&] { return bertAttention(l); },
                                       [&](ir::Graph& graph) { EXPECT_TRUE(fusePackFold(graph)); }, in, 2e-5f);
    EXPECT_EQ(testing::countOps(*g, "MatMul"), 1);
    EXPECT_EQ(testing::countOps(*g, "Add"), l.bias ? 1 : 0);
    EXPECT_EQ(testing::countOps(*g, "Gather"), 0);  // the selects are the attention's views
    EXPECT_EQ(testing::countOps(*g, "Transpose"), 0);
    for (const auto& node : g->nodes()) {
      if (node->op == "MatMul") {
        EXPECT_EQ(node->inputs[0]->name, "x");
        EXPECT_EQ(node->inputs[1]->constant->dims(), (Ints{l.h * l.d, 3 * l.h * l.d}));
      }
      if (node->op == "KilnAttention") {
        for (int i = 0; i < 3; ++i) EXPECT_EQ(node->ints(std::string(1, "qkv"[i]) + "_select"), (Ints{2, i}));
      }
    }
  }
}

TEST(PackQkvProjections, LeavesProjectionsOfDifferentInputs) {
  const Layer l{2, 4, 2, 4, true, false};
  auto g = bertAttention(l);
  EXPECT_FALSE(fusePackFold(*g));
  EXPECT_EQ(testing::countOps(*g, "MatMul"), 3);
}

TEST(PackQkvProjections, LeavesPinnedOrActivatedProjections) {
  for (const char* attr : {"kiln_precision", "kiln_act"}) {
    SCOPED_TRACE(attr);
    auto g = bertAttention(Layer{2, 4, 2, 4});
    for (auto& node : g->nodes())
      if (node->op == "MatMul" && node->inputs[0]->name == "x") {
        node->attrs[attr] = std::string(attr[5] == 'p' ? "float32" : "Relu");
        break;
      }
    EXPECT_FALSE(fusePackFold(*g));
  }
}

}  // namespace
}  // namespace kiln::passes
