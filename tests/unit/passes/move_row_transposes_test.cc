// move_row_transposes (src/passes/move_row_transposes.cc): torch MHA's
// batch-first swaps around a packed in_proj and a Gemm out_proj move next to
// the attention, where fold_attention_views takes them, so the whole layer
// has no Transpose left; the outputs match the unfused graph's. A Transpose
// that would not meet an attention stays where it is.
#include <gtest/gtest.h>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::randomTensor;
using Ints = std::vector<int64_t>;

ir::Value* transpose(Net& n, ir::Value* x, Ints perm) { return n.node("Transpose", {x}, {{"perm", perm}}); }
ir::Value* reshape(Net& n, ir::Value* x, Ints shape) {
  return n.node("Reshape", {x, n.ints(n.g->uniqueName("shape"), shape)});
}

// torchvision's EncoderBlock attention at batch B: x [B,S,E] -> swap -> in_proj -> heads -> SDPA ->
// merge -> out_proj (Gemm, transB) -> swap back -> + x.
std::unique_ptr<ir::Graph> batchFirstMha(int64_t B, int64_t S, int64_t H, int64_t D) {
  const int64_t E = H * D;
  Net n;
  ir::Value* x = n.input("x", {B, S, E});
  ir::Value* proj = n.node("Add", {n.node("MatMul", {transpose(n, x, {1, 0, 2}), n.constant("w_in", randomTensor({E, 3 * E}, 1))}),
                                   n.constant("b_in", randomTensor({3 * E}, 2))});
  ir::Value* u = n.node("Unsqueeze", {reshape(n, proj, {S, B, 3, E}), n.ints("axes0", {0})});
  ir::Value* sq = n.node("Squeeze", {transpose(n, u, {3, 1, 2, 0, 4}), n.ints("axes3", {3})});
  auto part = [&](int64_t i) {
    ir::Value* g = n.node("Gather", {sq, n.constant(n.g->uniqueName("index"), ir::Tensor(DType::kINT64, {}, &i))},
                          {{"axis", int64_t{0}}});
    return reshape(n, transpose(n, reshape(n, g, {S, B * H, D}), {1, 0, 2}), {B, H, S, D});
  };
  ir::Value* q = part(0);
  ir::Value* k = part(1);
  ir::Value* v = part(2);
  ir::Value* c = n.scalar("root", 1.f / std::sqrt(std::sqrt(float(D))));
  ir::Value* scores = n.node("MatMul", {n.node("Mul", {q, c}), n.node("Mul", {transpose(n, k, {0, 1, 3, 2}), c})});
  ir::Value* p = n.node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  ir::Value* merged = reshape(n, transpose(n, n.node("MatMul", {p, v}), {2, 0, 1, 3}), {S * B, E});
  ir::Value* o = n.node("Gemm", {merged, n.constant("w_out", randomTensor({E, E}, 3)), n.constant("b_out", randomTensor({E}, 4))},
                        {{"transB", int64_t{1}}});
  n.output(n.node("Add", {transpose(n, reshape(n, o, {S, B, E}), {1, 0, 2}), x}, {}, "y"));
  return std::move(n.g);
}

bool run(ir::Graph& g) {
  PassContext ctx;
  ctx.attentionFusion = true;
  bool moved = false;
  for (bool (*pass)(ir::Graph&, PassContext&) : {fuseAttention, moveRowTransposes, foldAttentionViews, eliminateDeadCode}) {
    const bool changed = pass(g, ctx);
    if (pass == moveRowTransposes) moved = changed;
    g.topoSort();
    ir::inferGraph(g);
  }
  return moved;
}

TEST(MoveRowTransposes, BatchFirstMhaLosesEveryTranspose) {
  for (auto [B, S, H, D] : {std::array<int64_t, 4>{2, 7, 3, 8}, {3, 5, 2, 4}, {2, 1, 1, 8}}) {
    const std::string at = std::to_string(B) + " " + std::to_string(S) + " " + std::to_string(H);
    auto g = testing::checkSameOutputs([&] { return batchFirstMha(B, S, H, D); },
                                       [&](ir::Graph& g) { EXPECT_TRUE(run(g)) << at; },
                                       {{"x", randomTensor({B, S, H * D}, 5)}}, 2e-5f);
    for (const char* op : {"Transpose", "Gather", "Squeeze"}) EXPECT_EQ(testing::countOps(*g, op), 0) << op << " " << at;
    EXPECT_EQ(testing::countOps(*g, "KilnAttention"), 1);
    EXPECT_EQ(testing::countOps(*g, "Gemm"), 1);
  }
}

TEST(MoveRowTransposes, LeavesTransposesAwayFromAttentionsAlone) {
  // The same swap into a MatMul + bias whose result is no attention's operand: sinking it would
  // copy the 3x wider result instead.
  auto build = [] {
    Net n;
    ir::Value* t = transpose(n, n.input("x", {2, 3, 4}), {1, 0, 2});
    ir::Value* m = n.node("Add", {n.node("MatMul", {t, n.constant("w", randomTensor({4, 12}, 1))}),
                                  n.constant("b", randomTensor({12}, 2))});
    n.output(n.node("Relu", {m}, {}, "y"));
    ir::Value* rows = n.node("Gemm", {n.input("a", {6, 4}), n.constant("w2", randomTensor({4, 5}, 3))});
    n.output(transpose(n, reshape(n, rows, {3, 2, 5}), {1, 0, 2}));  // its A comes from no attention
    return std::move(n.g);
  };
  auto g = build();
  PassContext ctx;
  EXPECT_FALSE(moveRowTransposes(*g, ctx));
  EXPECT_EQ(testing::countOps(*g, "Transpose"), 2);
}

}  // namespace
}  // namespace kiln::passes
