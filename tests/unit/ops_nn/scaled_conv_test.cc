// KilnScaledConv (passes/fuse_channel_scale.h): y = Conv(x * scale, w, [b], [residual]).
// The reference against Conv.ref on the pre-multiplied input, the scaled GEMM against the
// reference on edge shapes (a [1, C] and an [N, C] scale, no bias with a residual, fused
// activations, a plane that is no multiple of the panel width, more columns than one chunk),
// and the schema's checks of the scale.
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

struct ScaledCase {
  int64_t n, c, h, w, k;
  bool perImage, bias, residual;
  std::string act;
};

//! The KilnScaledConv of `sc` and the Conv whose input is x * scale done on the host.
std::pair<OpSpec, OpSpec> specs(const ScaledCase& sc, uint32_t seed) {
  const ir::Tensor x = randomTensor({sc.n, sc.c, sc.h, sc.w}, seed);
  const ir::Tensor s = randomTensor({sc.perImage ? sc.n : 1, sc.c, 1, 1}, seed + 1, 0.f, 2.f);
  const ir::Tensor w = randomTensor({sc.k, sc.c, 1, 1}, seed + 2);
  OpSpec scaled;
  scaled.op = "KilnScaledConv";
  scaled.name = "scaled";
  if (!sc.act.empty()) scaled.attrs["kiln_act"] = sc.act;
  scaled.inputs = {dyn(x), cst(w), sc.bias ? cst(randomTensor({sc.k}, seed + 3)) : none(),
                   sc.residual ? dyn(randomTensor({sc.n, sc.k, sc.h, sc.w}, seed + 4)) : none(), dyn(s)};
  ir::Tensor xs(DType::kFLOAT, x.dims());
  const int64_t plane = sc.h * sc.w;
  for (int64_t img = 0; img < sc.n; ++img)
    for (int64_t ch = 0; ch < sc.c; ++ch)
      for (int64_t i = 0; i < plane; ++i) {
        const int64_t at = (img * sc.c + ch) * plane + i;
        xs.mutableAs<float>()[at] = x.as<float>()[at] * s.as<float>()[(sc.perImage ? img * sc.c : 0) + ch];
      }
  OpSpec conv = scaled;
  conv.op = "Conv";
  conv.inputs = {dyn(xs), scaled.inputs[1], scaled.inputs[2], scaled.inputs[3]};
  if (!sc.residual) conv.inputs.pop_back();
  if (!sc.residual && !sc.bias) conv.inputs.pop_back();
  return {scaled, conv};
}

const std::vector<ScaledCase>& cases() {
  static const std::vector<ScaledCase> c = {
      {1, 7, 9, 13, 5, false, true, false, ""},          // P = 117: a partial panel
      {2, 6, 5, 11, 9, true, true, true, "Relu"},        // per-image scale, residual
      {2, 4, 3, 7, 3, false, false, true, "Sigmoid"},    // no bias, a residual
      {1, 32, 100, 100, 16, false, true, false, "Silu"}, // 10000 columns: two chunks of B panels
  };
  return c;
}

TEST(ScaledConvRef, IsTheConvOfTheScaledInput) {
  uint32_t seed = 10;
  for (const ScaledCase& sc : cases()) {
    const auto [scaled, conv] = specs(sc, seed += 10);
    const std::vector<ir::Tensor> got = runTactic(scaled, "KilnScaledConv.ref"), want = runTactic(conv, "Conv.ref");
    EXPECT_TRUE(near(got[0], want[0], 1e-5f, 1e-5f)) << "c=" << sc.c << " k=" << sc.k;
  }
}

//! 1 where Kiln has oneDNN (KilnScaledConv.onednn, onednn_se_chain_test.cc), else 0.
int onednnTactics() { return cpu::tactics().find("KilnScaledConv.onednn") ? 1 : 0; }

TEST(ScaledConvTactics, GemmMatchesTheReference) {
  uint32_t seed = 100;
  for (const ScaledCase& sc : cases()) {
    const auto [scaled, conv] = specs(sc, seed += 10);
    // KilnScaledConv.im2col_gemm (and KilnScaledConv.onednn)
    EXPECT_EQ(compareWithRef(scaled), 1 + onednnTactics()) << "c=" << sc.c << " k=" << sc.k;
  }
}

TEST(ScaledConvTactics, GemmTakesOnlyPointwiseConvs) {
  OpSpec s = specs({1, 4, 6, 6, 3, false, true, false, ""}, 7).first;
  s.inputs[1] = cst(randomTensor({3, 4, 3, 3}, 8));  // a 3x3 window
  const cpu::Tactic* t = cpu::tactics().find("KilnScaledConv.im2col_gemm");
  ASSERT_NE(t, nullptr);
  EXPECT_FALSE(t->supports(*buildGraph(s).node));
  s.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  EXPECT_FALSE(t->supports(*buildGraph(s).node));
  EXPECT_EQ(compareWithRef(s), onednnTactics());  // only the reference (and oneDNN's, any window) runs it
}

TEST(ScaledConvSchema, ChecksTheScale) {
  OpSpec s = specs({2, 4, 5, 5, 3, true, true, false, ""}, 9).first;
  s.inputs[4] = dyn(randomTensor({2, 4, 5, 1}, 1));  // not [N, C, 1, 1]
  EXPECT_TRUE(throwsWith([&] { buildGraph(s); }, "scale has shape"));
  s.inputs[4] = dyn(randomTensor({1, 3, 1, 1}, 1));  // C disagrees
  EXPECT_TRUE(throwsWith([&] { buildGraph(s); }, "scale has shape"));
}

}  // namespace
}  // namespace kiln::test
