// The attention views fold (src/passes/fold_attention_views.cc): after the
// attention fusion, the head split / merge of each export form becomes the
// KilnAttention's views, the outputs match the unfused graph's (both run
// through the CPU kernels), and chains it cannot express are left alone.
#include <gtest/gtest.h>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::randomTensor;

using Feeds = std::map<std::string, ir::Tensor>;
using Ints = std::vector<int64_t>;

bool fuseAndFold(ir::Graph& g) {
  PassContext ctx;
  ctx.attentionFusion = true;
  EXPECT_TRUE(fuseAttention(g, ctx));
  g.topoSort();
  ir::inferGraph(g);
  bool changed = foldAttentionViews(g, ctx);
  g.topoSort();
  ir::inferGraph(g);
  eliminateDeadCode(g, ctx);
  return changed;
}

template <typename Build>
std::unique_ptr<ir::Graph> foldAndCompare(Build&& build, const Feeds& feeds, bool expectChange = true) {
  return testing::checkSameOutputs(
      build, [&](ir::Graph& g) { EXPECT_EQ(fuseAndFold(g), expectChange); }, feeds, 2e-5f);
}

const ir::Node* attentionNode(const ir::Graph& g) {
  for (auto& n : g.nodes())
    if (n->op == "KilnAttention") return n.get();
  return nullptr;
}

ir::Value* transpose(Net& n, ir::Value* x, Ints perm) { return n.node("Transpose", {x}, {{"perm", perm}}); }
ir::Value* reshape(Net& n, ir::Value* x, Ints shape) { return n.node("Reshape", {x, n.ints(n.g->uniqueName("shape"), shape)}); }

// HF BERT: x [B,S,E] -> Reshape [B,S,H,D] -> Transpose(0,2,1,3) (K: 0,2,3,1), the
// output Transpose(0,2,1,3) -> Reshape [B,S,E] -> the out projection.
std::unique_ptr<ir::Graph> bertLayer(int64_t B, int64_t S, int64_t H, int64_t D, bool mask) {
  const int64_t E = H * D;
  Net n;
  auto heads = [&](const char* name, Ints perm) {
    return transpose(n, reshape(n, n.input(name, {B, S, E}), {B, S, H, D}), perm);
  };
  ir::Value* q = heads("q", {0, 2, 1, 3});
  ir::Value* kt = heads("k", {0, 2, 3, 1});
  ir::Value* v = heads("v", {0, 2, 1, 3});
  ir::Value* scores = n.node("Div", {n.node("MatMul", {q, kt}, {}, "qk"), n.scalar("sqrt_d", std::sqrt(float(D)))});
  if (mask) scores = n.node("Add", {scores, n.input("mask", {B, 1, 1, S})});
  ir::Value* p = n.node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  ir::Value* y = reshape(n, transpose(n, n.node("MatMul", {p, v}), {0, 2, 1, 3}), {B, S, E});
  n.output(n.node("MatMul", {y, n.constant("w_out", randomTensor({E, 5}, 11))}));
  return std::move(n.g);
}

TEST(FoldAttentionViews, BertTransposesBecomeViews) {
  for (auto [B, S, H, D] : {std::array<int64_t, 4>{2, 7, 3, 8}, {1, 1, 2, 4}, {3, 5, 1, 6}}) {
    Feeds feeds = {{"q", randomTensor({B, S, H * D}, 1)},
                   {"k", randomTensor({B, S, H * D}, 2)},
                   {"v", randomTensor({B, S, H * D}, 3)},
                   {"mask", randomTensor({B, 1, 1, S}, 4, -5.f, 0.f)}};
    auto g = foldAndCompare([&] { return bertLayer(B, S, H, D, true); }, feeds);
    EXPECT_EQ(testing::countOps(*g, "Transpose"), 0) << B << " " << S << " " << H << " " << D;
    const ir::Node* a = attentionNode(*g);
    ASSERT_NE(a, nullptr);
    for (const char* attr : {"q_perm", "k_perm", "v_perm", "y_perm"})
      EXPECT_EQ(a->ints(attr), (Ints{0, 2, 1, 3})) << attr;
    EXPECT_FALSE(a->has("q_select"));
    // Q reads the Reshape of the projection ([B,S,H,D]), y is [B,S,H,D] for the merge Reshape.
    EXPECT_EQ(a->inputs[0]->producer->op, "Reshape");
    EXPECT_EQ(ir::toString(a->outputs[0]->shape), ir::toString(ir::shapeOf({B, S, H, D})));
  }
}

// torch's MultiheadAttention (torchvision ViT): the packed in_proj output [S,B,3E].
std::unique_ptr<ir::Graph> mhaLayer(int64_t B, int64_t S, int64_t H, int64_t D) {
  const int64_t E = H * D;
  Net n;
  ir::Value* packed = reshape(n, n.input("proj", {S, B, 3 * E}), {S, B, 3, E});
  ir::Value* u = n.node("Unsqueeze", {packed, n.ints("axes0", {0})});
  ir::Value* sq = n.node("Squeeze", {transpose(n, u, {3, 1, 2, 0, 4}), n.ints("axes3", {3})});  // [3,S,B,E]
  auto part = [&](int64_t i) {
    const int64_t idx = i;
    ir::Value* g = n.node("Gather", {sq, n.constant(n.g->uniqueName("index"), ir::Tensor(DType::kINT64, {}, &idx))},
                          {{"axis", int64_t{0}}});
    return reshape(n, transpose(n, reshape(n, g, {S, B * H, D}), {1, 0, 2}), {B, H, S, D});
  };
  ir::Value* q = part(0);
  ir::Value* k = part(1);
  ir::Value* v = part(2);
  ir::Value* c = n.scalar("root", 1.f / std::sqrt(std::sqrt(float(D))));
  ir::Value* scores = n.node("MatMul", {n.node("Mul", {q, c}), n.node("Mul", {transpose(n, k, {0, 1, 3, 2}), c})});
  ir::Value* p = n.node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  ir::Value* y = reshape(n, transpose(n, n.node("MatMul", {p, v}), {2, 0, 1, 3}), {S * B, E});
  n.output(n.node("MatMul", {y, n.constant("w_out", randomTensor({E, 3}, 12))}));
  return std::move(n.g);
}

TEST(FoldAttentionViews, PackedQkvBecomesSelects) {
  for (auto [B, S, H, D] : {std::array<int64_t, 4>{1, 7, 3, 8}, {2, 5, 3, 4}, {3, 1, 2, 8}}) {
    Feeds feeds = {{"proj", randomTensor({S, B, 3 * H * D}, 5, -2.f, 2.f)}};
    auto g = foldAndCompare([&] { return mhaLayer(B, S, H, D); }, feeds);
    const std::string at = std::to_string(B) + " " + std::to_string(S);
    for (const char* op : {"Transpose", "Gather", "Squeeze"}) EXPECT_EQ(testing::countOps(*g, op), 0) << op << at;
    const ir::Node* a = attentionNode(*g);
    ASSERT_NE(a, nullptr);
    // q, k, v: one shared Reshape to [S,B,3,H,D], index 0/1/2 on dim 2.
    EXPECT_EQ(a->inputs[0], a->inputs[1]);
    EXPECT_EQ(a->inputs[0], a->inputs[2]);
    EXPECT_EQ(ir::toString(a->inputs[0]->shape), ir::toString(ir::shapeOf({S, B, 3, H, D}))) << at;
    for (int i = 0; i < 3; ++i) {
      const std::string w = std::string(1, "qkv"[i]);
      EXPECT_EQ(a->ints(w + "_perm"), (Ints{1, 2, 0, 3})) << w << at;
      EXPECT_EQ(a->ints(w + "_select"), (Ints{2, i})) << w << at;
    }
    EXPECT_EQ(a->ints("y_perm"), (Ints{1, 2, 0, 3})) << at;
    EXPECT_EQ(ir::toString(a->outputs[0]->shape), ir::toString(ir::shapeOf({S, B, H, D}))) << at;
  }
}

TEST(FoldAttentionViews, TransposeWithAnotherReaderStays) {
  const int64_t B = 2, S = 6, H = 2, D = 4;
  auto build = [&] {
    Net n;
    ir::Value* q = transpose(n, n.input("q", {B, S, H, D}), {0, 2, 1, 3});
    ir::Value* kt = transpose(n, n.input("k", {B, H, S, D}), {0, 1, 3, 2});
    ir::Value* p = n.node("Softmax", {n.node("MatMul", {q, kt})}, {{"axis", int64_t{-1}}});
    n.output(n.node("MatMul", {p, n.input("v", {B, H, S, D})}));
    n.output(q);  // the Transpose is a graph output too
    return std::move(n.g);
  };
  Feeds feeds = {{"q", randomTensor({B, S, H, D}, 6)}, {"k", randomTensor({B, H, S, D}, 7)},
                 {"v", randomTensor({B, H, S, D}, 8)}};
  auto g = foldAndCompare(build, feeds);
  EXPECT_EQ(testing::countOps(*g, "Transpose"), 1);  // kept for the graph output
  const ir::Node* a = attentionNode(*g);
  EXPECT_EQ(a->inputs[0]->name, "q");
  EXPECT_EQ(a->ints("q_perm"), (Ints{0, 2, 1, 3}));
  EXPECT_FALSE(a->has("y_perm"));  // y is the graph output itself
}

TEST(FoldAttentionViews, DeclinesWhatViewsCannotSay) {
  const int64_t B = 2, S = 5, H = 3, D = 4;
  // Q's head dim comes from X's dim 1 (not contiguous); Q [B*H,S,D] merged from a Transpose
  // would need one logical dim split in two; y goes straight out.
  auto build = [&] {
    Net n;
    ir::Value* q = transpose(n, n.input("q", {B, D, H, S}), {0, 2, 3, 1});
    ir::Value* q3 = reshape(n, transpose(n, q, {0, 2, 1, 3}), {B * S, H, D});  // [B*S, H, D] as rank-3 attention
    ir::Value* kt = transpose(n, n.input("k", {B * S, H, D}), {0, 2, 1});
    ir::Value* p = n.node("Softmax", {n.node("MatMul", {q3, kt})}, {{"axis", int64_t{-1}}});
    n.output(n.node("MatMul", {p, n.input("v", {B * S, H, D})}));
    return std::move(n.g);
  };
  Feeds feeds = {{"q", randomTensor({B, D, H, S}, 9)}, {"k", randomTensor({B * S, H, D}, 10)},
                 {"v", randomTensor({B * S, H, D}, 11)}};
  auto g = foldAndCompare(build, feeds, false);
  EXPECT_EQ(testing::countOps(*g, "Transpose"), 2);
  const ir::Node* a = attentionNode(*g);
  for (const char* attr : {"q_perm", "k_perm", "v_perm", "y_perm"}) EXPECT_FALSE(a->has(attr)) << attr;
}

TEST(FoldAttentionViews, HeadDimNotLastIsDeclined) {
  const int64_t B = 2, S = 5, H = 3, D = 4;
  auto build = [&] {
    Net n;
    ir::Value* q = transpose(n, n.input("q", {B, D, H, S}), {0, 2, 3, 1});  // D from X's dim 1
    ir::Value* kt = transpose(n, n.input("k", {B, H, S, D}), {0, 1, 3, 2});
    ir::Value* p = n.node("Softmax", {n.node("MatMul", {q, kt})}, {{"axis", int64_t{-1}}});
    n.output(n.node("MatMul", {p, n.input("v", {B, H, S, D})}));
    return std::move(n.g);
  };
  Feeds feeds = {{"q", randomTensor({B, D, H, S}, 12)}, {"k", randomTensor({B, H, S, D}, 13)},
                 {"v", randomTensor({B, H, S, D}, 14)}};
  auto g = foldAndCompare(build, feeds, false);
  EXPECT_EQ(testing::countOps(*g, "Transpose"), 1);
  EXPECT_FALSE(attentionNode(*g)->has("q_perm"));
}

}  // namespace
}  // namespace kiln::passes
