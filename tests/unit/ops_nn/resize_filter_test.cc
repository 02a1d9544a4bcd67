// Resize.filter (cubic, antialiased linear / cubic): identity at scale 1,
// 1-D hand values from Keys' kernel (cubic_coeff_a, exclude_outside, edge
// taps), antialiased downsampling, tf_crop_and_resize extrapolation, batch
// and channels carried through; Resize.ref declines what this tactic serves.
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using F = std::vector<float>;

ir::Tensor resizeFilter(const ir::Tensor& x, F scales, std::map<std::string, ir::Attribute> attrs, F roi = {}) {
  OpSpec s;
  s.op = "Resize";
  s.attrs = std::move(attrs);
  s.inputs = {dyn(x), roi.empty() ? none() : cst(floats({static_cast<int64_t>(roi.size())}, roi)),
              cst(floats({static_cast<int64_t>(scales.size())}, scales))};
  return runTactic(s, "Resize.filter")[0];
}

// Keys' cubic kernel with parameter a.
float keys(float d, float a) {
  d = std::fabs(d);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

TEST(ResizeFilter, ScaleOneIsIdentity) {
  const ir::Tensor x = randomTensor({2, 3, 4, 5}, 41);
  for (const char* ctm : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"})
    for (int64_t antialias : {0, 1})
      EXPECT_TRUE(near(resizeFilter(x, {1, 1, 1, 1},
                                    {{"mode", std::string("cubic")}, {"coordinate_transformation_mode", std::string(ctm)},
                                     {"antialias", antialias}}),
                       x))
          << ctm << " antialias " << antialias;
}

TEST(ResizeFilter, CubicHandValues) {
  const ir::Tensor x = floats({4}, {0, 1, 2, 3});
  const std::map<std::string, ir::Attribute> asym = {{"mode", std::string("cubic")},
                                                     {"coordinate_transformation_mode", std::string("asymmetric")}};
  const ir::Tensor y = resizeFilter(x, {2}, asym);
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{8}));
  // Output 1 reads x = 0.5 from taps -1 (the edge, 0), 0, 1, 2.
  const float a = -0.75f, w0 = keys(1.5f, a), w1 = keys(0.5f, a);
  EXPECT_NEAR(y.as<float>()[1], w0 * 0 + w1 * 0 + w1 * 1 + w0 * 2, 1e-6f);
  EXPECT_NEAR(y.as<float>()[2], 1.f, 1e-6f);  // x = 1 exactly
  // Output 7 reads x = 3.5 from taps 2, 3, 4 (edge 3), 5 (edge 3).
  EXPECT_NEAR(y.as<float>()[7], w0 * 2 + w1 * 3 + w1 * 3 + w0 * 3, 1e-6f);
  // exclude_outside drops tap -1 and renormalizes; cubic_coeff_a changes the kernel.
  std::map<std::string, ir::Attribute> ex = asym;
  ex["exclude_outside"] = int64_t{1};
  ex["cubic_coeff_a"] = -0.5f;
  const float v0 = keys(1.5f, -0.5f), v1 = keys(0.5f, -0.5f);
  EXPECT_NEAR(resizeFilter(x, {2}, ex).as<float>()[1], (v1 * 0 + v1 * 1 + v0 * 2) / (v1 + v1 + v0), 1e-6f);
}

TEST(ResizeFilter, AntialiasedLinearDownsample) {
  // half_pixel, scale 0.5: x = 2o + 0.5; the triangle stretched to 4 taps 2o-1 .. 2o+2 with
  // weights 1/8, 3/8, 3/8, 1/8 (edge taps read the edge value).
  const ir::Tensor x = floats({1, 1, 8}, {0, 1, 2, 3, 4, 5, 6, 7});
  const ir::Tensor y = resizeFilter(x, {1, 1, 0.5f}, {{"mode", std::string("linear")}, {"antialias", int64_t{1}}});
  EXPECT_TRUE(equals(y, {1, 1, 4}, {0.625f, 2.5f, 4.5f, 6.375f}));
}

TEST(ResizeFilter, CropAndResizeExtrapolates) {
  const ir::Tensor x = floats({1, 4}, {1, 2, 3, 4});
  // roi on the last axis [0.5, 1.5]: coordinates 1.5 .. 4.5 on an axis of 4; those past 3 extrapolate.
  const ir::Tensor y = resizeFilter(x, {1, 1},
                                    {{"mode", std::string("cubic")},
                                     {"coordinate_transformation_mode", std::string("tf_crop_and_resize")},
                                     {"extrapolation_value", -7.f}},
                                    {0, 0.5f, 1, 1.5f});
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{1, 4}));
  // scale 1: x = 1.5 + o * 1 * 3 / 3 -> 1.5, 2.5, 3.5, 4.5.
  EXPECT_NEAR(y.as<float>()[0], keys(1.5f, -0.75f) * 1 + keys(0.5f, -0.75f) * (2 + 3) + keys(1.5f, -0.75f) * 4, 1e-6f);
  EXPECT_EQ(y.as<float>()[2], -7.f);
  EXPECT_EQ(y.as<float>()[3], -7.f);
}

TEST(ResizeFilter, ReferenceTacticDeclinesCubicAndAntialias) {
  OpSpec s;
  s.op = "Resize";
  s.attrs = {{"mode", std::string("cubic")}};
  s.inputs = {dyn(randomTensor({1, 1, 2, 2}, 42)), none(), cst(floats({4}, {1, 1, 2, 2}))};
  EXPECT_TRUE(throwsWith([&] { runTactic(s, "Resize.ref"); }, "does not support"));
  s.attrs = {{"mode", std::string("linear")}, {"antialias", int64_t{1}}};
  EXPECT_TRUE(throwsWith([&] { runTactic(s, "Resize.ref"); }, "does not support"));
  s.attrs = {{"mode", std::string("linear")}};
  EXPECT_TRUE(throwsWith([&] { runTactic(s, "Resize.filter"); }, "does not support"));
}

}  // namespace
}  // namespace kiln::test
