// KilnAttention's CPU kernels reading Q, K, V and writing y through views
// (ir/ops/attention_view.h) in the layouts of attention_views_util.h: both
// tactics must give what the reference gives on the same numbers laid out
// contiguously.
#include "unit/ops_nn/attention_views_util.h"

namespace kiln::test {
namespace {

using namespace attention_views;  // NOLINT: the layouts' helpers

const Case kCases[] = {
    {Layout::kBert, {2, 3}, 7, 7, 64, 64, {2, 1, 1, 7}},     // BERT, batch 2, padding mask
    {Layout::kBert, {1, 1}, 1, 1, 32, 32, {}},               // one token, one head
    {Layout::kBert, {3, 5}, 13, 29, 13, 7, {3, 1, 13, 29}},  // Sq != Sk, odd D and Dv, odd H
    {Layout::kPacked, {1, 12}, 197, 197, 64, 64, {}},        // ViT-B/16
    {Layout::kPacked, {2, 3}, 7, 7, 32, 32, {7, 7}},         // batch 2, odd H, a mask
    {Layout::kPacked, {4, 1}, 1, 1, 8, 8, {}},               // S = 1
    {Layout::kPackedBatchFirst, {2, 3}, 7, 7, 16, 16, {2, 1, 1, 7}},  // torchvision ViT's [B, S, 3, H, D]
    {Layout::kPackedBatchFirst, {1, 2}, 1, 1, 8, 8, {}},
    {Layout::kSeqFirst3, {6}, 11, 11, 16, 16, {6, 11, 11}},  // rank 3, full mask
    {Layout::kSeqFirst3, {1}, 1, 1, 5, 5, {}},
};

TEST(KilnAttentionViews, BothTacticsMatchTheContiguousReference) {
  uint32_t seed = 1;
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "layout " << static_cast<int>(c.layout) << " lead " << ir::toString(c.lead)
                                      << " Sq " << c.sq << " Sk " << c.sk << " D " << c.d << " Dv " << c.dv);
    const Specs s = makeSpecs(c, seed += 11);
    const ir::Tensor want = runTactic(s.contiguous, "KilnAttention.ref")[0];
    for (const char* tactic : {"KilnAttention.ref", "KilnAttention.fused"}) {
      const ir::Tensor y = runTactic(s.viewed, tactic)[0];
      ASSERT_EQ(y.dims(), viewDims(c, 3)) << tactic;  // the schema's output shape: y's layout
      EXPECT_TRUE(near(unview(c, y), want, 2e-5f, 2e-5f)) << tactic;
    }
  }
}

TEST(KilnAttentionViews, AnyThreadCount) {
  const Case c = {Layout::kPacked, {2, 3}, 45, 45, 16, 16, {2, 1, 1, 45}};
  const Specs s = makeSpecs(c, 5);
  const ir::Tensor want = runTactic(s.contiguous, "KilnAttention.ref")[0];
  for (int threads : {1, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_TRUE(near(unview(c, runTactic(s.viewed, "KilnAttention.fused", pool)[0]), want, 2e-5f, 2e-5f)) << threads;
  }
}

TEST(KilnAttentionViews, BadViewsNameTheNode) {
  const Case c = {Layout::kPacked, {1, 2}, 3, 3, 4, 4, {}};
  Specs s = makeSpecs(c, 9);
  OpSpec bad = s.viewed;
  bad.attrs["q_perm"] = Ints{1, 2, 3, 0};  // the head dim would not be X's last
  EXPECT_TRUE(throwsWith([&] { buildGraph(bad); }, "head dim"));
  bad = s.viewed;
  bad.attrs["k_select"] = Ints{2, 3};  // index 3 of a dim of 3
  EXPECT_TRUE(throwsWith([&] { buildGraph(bad); }, "k_select index 3"));
  bad = s.viewed;
  bad.attrs["y_select"] = Ints{0, 0};
  EXPECT_TRUE(throwsWith([&] { buildGraph(bad); }, "KilnAttention node \"node0\""));
  bad = s.viewed;
  bad.attrs.erase("v_select");  // V is then all of the rank-5 tensor
  EXPECT_TRUE(throwsWith([&] { buildGraph(bad); }, "the perm has 4 entries for 5 dims"));
}

}  // namespace
}  // namespace kiln::test
