// InstanceNormalization, GroupNormalization, LRN, MeanVarianceNormalization,
// LpNormalization and LpPool: reference kernels against direct computations
// in the test (batch > 1, odd sizes), against each other where the ops
// coincide (GroupNorm with one group per channel = InstanceNorm; one group =
// LayerNorm over C x spatial), hand values, and the schemas' errors.
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using V = std::vector<int64_t>;

// (x - mean) / sqrt(var + eps) * scale[c] + bias[c] over blocks of
// `perGroup` channels of an N x C x S tensor.
ir::Tensor groupNormDirect(const ir::Tensor& x, int64_t groups, const std::vector<float>& scale,
                           const std::vector<float>& bias, float eps) {
  const int64_t n = x.dims()[0], c = x.dims()[1], s = x.numel() / (n * c), per = c / groups;
  ir::Tensor y(DType::kFLOAT, x.dims());
  const float* xp = x.as<float>();
  float* yp = y.mutableAs<float>();
  for (int64_t b = 0; b < n * groups; ++b) {
    const int64_t len = per * s;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < len; ++i) mean += xp[b * len + i];
    mean /= static_cast<double>(len);
    for (int64_t i = 0; i < len; ++i) var += (xp[b * len + i] - mean) * (xp[b * len + i] - mean);
    var /= static_cast<double>(len);
    for (int64_t i = 0; i < len; ++i) {
      const int64_t ch = (b % groups) * per + i / s;
      yp[b * len + i] = static_cast<float>((xp[b * len + i] - mean) / std::sqrt(var + eps) * scale[ch] + bias[ch]);
    }
  }
  return y;
}

TEST(InstanceNormRef, MatchesDirectComputation) {
  const ir::Tensor x = randomTensor({2, 3, 5, 7}, 21, -2.f, 3.f);
  const std::vector<float> scale = {0.5f, -1.f, 2.f}, bias = {0.f, 1.f, -3.f};
  OpSpec s;
  s.op = "InstanceNormalization";
  s.attrs["epsilon"] = 1e-3f;
  s.inputs = {dyn(x), cst(floats({3}, scale)), cst(floats({3}, bias))};
  EXPECT_TRUE(near(runTactic(s, "InstanceNormalization.ref")[0], groupNormDirect(x, 3, scale, bias, 1e-3f)));
  // GroupNormalization with one group per channel is the same op.
  s.op = "GroupNormalization";
  s.attrs["num_groups"] = int64_t{3};
  EXPECT_TRUE(near(runTactic(s, "GroupNormalization.ref")[0], groupNormDirect(x, 3, scale, bias, 1e-3f)));
}

TEST(GroupNormRef, GroupsOfChannels) {
  const ir::Tensor x = randomTensor({3, 6, 1, 5}, 22);
  const std::vector<float> scale = {1, 2, 3, 4, 5, 6}, bias = {-1, 0, 1, 2, 3, 4};
  OpSpec s;
  s.op = "GroupNormalization";
  s.attrs["num_groups"] = int64_t{2};
  s.inputs = {dyn(x), cst(floats({6}, scale)), cst(floats({6}, bias))};
  EXPECT_TRUE(near(runTactic(s, "GroupNormalization.ref")[0], groupNormDirect(x, 2, scale, bias, 1e-5f), 1e-4f));
  // One group with unit scale and zero bias is LayerNormalization over C x H x W.
  s.attrs["num_groups"] = int64_t{1};
  s.inputs[1] = cst(floats({6}, std::vector<float>(6, 1.f)));
  s.inputs[2] = cst(floats({6}, std::vector<float>(6, 0.f)));
  OpSpec ln;
  ln.op = "LayerNormalization";
  ln.attrs["axis"] = int64_t{1};
  ln.inputs = {dyn(x), cst(floats({1}, {1.f}))};
  EXPECT_TRUE(near(runTactic(s, "GroupNormalization.ref")[0], runTactic(ln, "LayerNormalization.ref")[0], 1e-4f));
}

TEST(LrnRef, HandValues) {
  // One pixel, channels [1, 2, 3]; alpha / size = 1, bias 1, beta 1.
  OpSpec s;
  s.op = "LRN";
  s.attrs = {{"size", int64_t{3}}, {"alpha", 3.f}, {"beta", 1.f}, {"bias", 1.f}};
  s.inputs = {dyn(floats({1, 3, 1, 1}, {1, 2, 3}))};
  // size 3 sums channels c-1..c+1: 5, 14, 13.
  EXPECT_TRUE(equals(runTactic(s, "LRN.ref")[0], {1, 3, 1, 1}, {1.f / 6, 2.f / 15, 3.f / 14}));
  // size 2 sums channels c..c+1 (floor((2-1)/2) = 0 before, 1 after): 5, 13, 9.
  s.attrs["size"] = int64_t{2};
  s.attrs["alpha"] = 2.f;
  EXPECT_TRUE(equals(runTactic(s, "LRN.ref")[0], {1, 3, 1, 1}, {1.f / 6, 2.f / 14, 3.f / 10}));
  // Batch 2, 2 pixels: each (batch, pixel) column is separate; beta 0.5.
  s.attrs = {{"size", int64_t{3}}, {"alpha", 3.f}, {"beta", 0.5f}, {"bias", 2.f}};
  s.inputs = {dyn(floats({2, 2, 1, 2}, {1, 0, 1, 2, 3, 1, 0, 0}))};
  EXPECT_TRUE(equals(runTactic(s, "LRN.ref")[0], {2, 2, 1, 2},
                     {1 / std::sqrt(4.f), 0, 1 / std::sqrt(4.f), 2 / std::sqrt(6.f), 3 / std::sqrt(11.f),
                      1 / std::sqrt(3.f), 0, 0}));
}

TEST(MvnRef, DefaultAndCustomAxes) {
  // N = 2, C = 2, H = 1, W = 2; default axes {0, 2, 3}: per channel over batch and pixels.
  const ir::Tensor x = floats({2, 2, 1, 2}, {1, 3, 10, 10, 5, 7, 20, 40});
  OpSpec s;
  s.op = "MeanVarianceNormalization";
  s.inputs = {dyn(x)};
  // Channel 0: {1, 3, 5, 7}, mean 4, std sqrt(5); channel 1: {10, 10, 20, 40}, mean 20, std sqrt(150).
  const float a = std::sqrt(5.f), b = std::sqrt(150.f);
  EXPECT_TRUE(equals(runTactic(s, "MeanVarianceNormalization.ref")[0], {2, 2, 1, 2},
                     {-3 / a, -1 / a, -10 / b, -10 / b, 1 / a, 3 / a, 0, 20 / b}, 1e-5f));
  // axes {3}: each pair on its own, mean of the pair, std = half the difference.
  s.attrs["axes"] = V{-1};
  EXPECT_TRUE(equals(runTactic(s, "MeanVarianceNormalization.ref")[0], {2, 2, 1, 2}, {-1, 1, 0, 0, -1, 1, -1, 1},
                     1e-5f));
}

TEST(LpNormRef, P1AndP2) {
  const ir::Tensor x = floats({2, 3}, {3, -4, 0, 1, 1, -2});
  OpSpec s;
  s.op = "LpNormalization";
  s.inputs = {dyn(x)};
  EXPECT_TRUE(equals(runTactic(s, "LpNormalization.ref")[0], {2, 3},
                     {0.6f, -0.8f, 0, 1 / std::sqrt(6.f), 1 / std::sqrt(6.f), -2 / std::sqrt(6.f)}));
  s.attrs = {{"p", int64_t{1}}, {"axis", int64_t{0}}};
  EXPECT_TRUE(equals(runTactic(s, "LpNormalization.ref")[0], {2, 3}, {0.75f, -0.8f, 0, 0.25f, 0.2f, -1}));
}

TEST(LpPoolRef, P2WithPaddingAndStrides) {
  const ir::Tensor x = randomTensor({2, 3, 5, 6}, 23);
  OpSpec s;
  s.op = "LpPool";
  s.attrs = {{"kernel_shape", V{3, 2}}, {"strides", V{2, 2}}, {"pads", V{1, 0, 1, 1}}, {"p", int64_t{2}}};
  s.inputs = {dyn(x)};
  const ir::Tensor y = runTactic(s, "LpPool.ref")[0];
  ASSERT_EQ(y.dims(), (V{2, 3, 3, 3}));
  // Direct: sqrt of the sum of squares of the taps inside the input.
  const float* xp = x.as<float>();
  for (int64_t pl = 0; pl < 6; ++pl)
    for (int64_t oh = 0; oh < 3; ++oh)
      for (int64_t ow = 0; ow < 3; ++ow) {
        double sum = 0;
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 2; ++kw) {
            const int64_t ih = oh * 2 - 1 + kh, iw = ow * 2 + kw;
            if (ih >= 0 && ih < 5 && iw >= 0 && iw < 6) sum += xp[(pl * 5 + ih) * 6 + iw] * xp[(pl * 5 + ih) * 6 + iw];
          }
        EXPECT_NEAR(y.as<float>()[(pl * 3 + oh) * 3 + ow], std::sqrt(sum), 1e-5) << pl << " " << oh << " " << ow;
      }
  // p = 1 of non-negative values is the window sum: AveragePool (counting pads) times the window size.
  const ir::Tensor pos = randomTensor({1, 2, 7}, 24, 0.f, 1.f);
  s.attrs = {{"kernel_shape", V{3}}, {"pads", V{1, 1}}, {"p", int64_t{1}}};
  s.inputs = {dyn(pos)};
  OpSpec avg;
  avg.op = "AveragePool";
  avg.attrs = {{"kernel_shape", V{3}}, {"pads", V{1, 1}}, {"count_include_pad", int64_t{1}}};
  avg.inputs = {dyn(pos)};
  ir::Tensor want = runTactic(avg, "AveragePool.ref")[0];
  for (int64_t i = 0; i < want.numel(); ++i) want.mutableAs<float>()[i] *= 3.f;
  EXPECT_TRUE(near(runTactic(s, "LpPool.ref")[0], want));
}

TEST(NormExtraSchema, Errors) {
  EXPECT_TRUE(throwsWith(
      [] { inferShapes({"GroupNormalization", {{"num_groups", int64_t{4}}}, {{1, 6, 3}, {6}, {6}}}, "gn"); },
      "GroupNormalization node \"gn\": input has 6 channels, not a multiple of num_groups 4"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"GroupNormalization", {}, {{1, 6, 3}, {6}, {6}}}); },
                         "needs the attribute 'num_groups'"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"GroupNormalization", {{"num_groups", int64_t{2}}}, {{1, 6, 3}, {2}, {6}}}); },
                         "scale has 2 elements, input has 6 channels"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"InstanceNormalization", {}, {{1, 6}, {6}, {6}}}); },
                         "input has rank 2, expected N x C x spatial dims"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"LRN", {}, {{1, 6, 3, 3}}}); }, "needs the attribute 'size'"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"LpNormalization", {{"p", int64_t{3}}}, {{2, 3}}}); },
                         "attribute 'p' is 3; expected 1 or 2"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"MeanVarianceNormalization", {{"axes", V{1, 1}}}, {{2, 3}}}); },
                         "axes has axis 1 twice"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"LpPool", {{"kernel_shape", V{2}}, {"p", int64_t{0}}}, {{1, 2, 5}}}); },
                         "attribute 'p' is 0; expected >= 1"));
}

}  // namespace
}  // namespace kiln::test
