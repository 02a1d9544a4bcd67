// Resize: the reference kernel on a 2x2 input for each mode / coordinate
// transform / nearest rounding, against values from the ONNX formulas, and
// the schema (output shapes from scales or sizes, errors).
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using V = std::vector<int64_t>;
using F = std::vector<float>;

const ir::Tensor& x2x2() {
  static const ir::Tensor t = floats({1, 1, 2, 2}, {1, 2, 3, 4});
  return t;
}

ir::Tensor ramp(std::vector<int64_t> dims) {
  ir::Tensor t(DType::kFLOAT, dims);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutableAs<float>()[i] = static_cast<float>(i);
  return t;
}

// Resize of x by constant scales (or sizes when scales is empty).
ir::Tensor resize(const ir::Tensor& x, const std::string& mode, const std::string& ctm, F scales, V sizes,
                  std::map<std::string, ir::Attribute> more = {}, F roi = {}) {
  OpSpec s;
  s.op = "Resize";
  s.attrs = std::move(more);
  s.attrs["mode"] = mode;
  s.attrs["coordinate_transformation_mode"] = ctm;
  s.inputs = {dyn(x), roi.empty() ? none() : cst(floats({static_cast<int64_t>(roi.size())}, roi))};
  if (!scales.empty()) {
    s.inputs.push_back(cst(floats({static_cast<int64_t>(scales.size())}, scales)));
  } else {
    s.inputs.push_back(none());
    s.inputs.push_back(cst(ints({static_cast<int64_t>(sizes.size())}, sizes)));
  }
  return runTactic(s, "Resize.ref")[0];
}

TEST(ResizeRef, LinearUpsampleEachCoordinateMode) {
  // half_pixel: x = (o + 0.5) / 2 - 0.5 -> -0.25, 0.25, 0.75, 1.25 (clamped at the edges).
  const F halfPixel = {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4};
  for (const char* ctm : {"half_pixel", "pytorch_half_pixel", "half_pixel_symmetric"})
    EXPECT_TRUE(equals(resize(x2x2(), "linear", ctm, {1, 1, 2, 2}, {}), {1, 1, 4, 4}, halfPixel)) << ctm;
  // align_corners: x = o * (2 - 1) / (4 - 1).
  const float t = 1.f / 3, u = 2.f / 3;
  EXPECT_TRUE(equals(resize(x2x2(), "linear", "align_corners", {1, 1, 2, 2}, {}), {1, 1, 4, 4},
                     {1, 1 + t, 1 + u, 2, 1 + 2 * t, 2, 2 + t, 2 + u, 1 + 4 * t, 2 + u, 3, 3 + t, 3, 3 + t, 3 + u, 4}));
  // asymmetric: x = o / 2 -> 0, 0.5, 1, 1.5 (clamped).
  EXPECT_TRUE(equals(resize(x2x2(), "linear", "asymmetric", {1, 1, 2, 2}, {}), {1, 1, 4, 4},
                     {1, 1.5f, 2, 2, 2, 2.5f, 3, 3, 3, 3.5f, 4, 4, 3, 3.5f, 4, 4}));
}

TEST(ResizeRef, LinearDownsample) {
  // 4x4 ramp, scale 0.6 -> 2x2.
  const ir::Tensor x = ramp({1, 1, 4, 4});
  EXPECT_TRUE(equals(resize(x, "linear", "half_pixel", {1, 1, 0.6f, 0.6f}, {}), {1, 1, 2, 2},
                     {5.f / 3, 10.f / 3, 25.f / 3, 10}, 1e-5f));
  EXPECT_TRUE(equals(resize(x, "linear", "half_pixel_symmetric", {1, 1, 0.6f, 0.6f}, {}), {1, 1, 2, 2},
                     {10.f / 3, 5, 10, 35.f / 3}, 1e-5f));
  EXPECT_TRUE(equals(resize(x, "linear", "asymmetric", {1, 1, 0.6f, 0.6f}, {}), {1, 1, 2, 2},
                     {0, 5.f / 3, 20.f / 3, 25.f / 3}, 1e-5f));
  // align_corners divides by scale * length - 1 = 1.4 (ONNX's reference), not by the rounded size - 1.
  const float a = 3.f / 1.4f;
  EXPECT_TRUE(equals(resize(x, "linear", "align_corners", {1, 1, 0.6f, 0.6f}, {}), {1, 1, 2, 2}, {0, a, 4 * a, 5 * a},
                     1e-5f));
  // With sizes, scale = size / length, so the corners map onto each other.
  EXPECT_TRUE(equals(resize(x, "linear", "align_corners", {}, {1, 1, 2, 2}), {1, 1, 2, 2}, {0, 3, 12, 15}, 1e-5f));
  // pytorch_half_pixel with one output: x = 0.
  EXPECT_TRUE(equals(resize(x, "linear", "pytorch_half_pixel", {}, {1, 1, 1, 2}), {1, 1, 1, 2}, {0.5f, 2.5f}));
}

TEST(ResizeRef, NearestModes) {
  // 2x2 -> 3x3: scale 1.5.
  const F floorLike = {1, 1, 2, 1, 1, 2, 3, 3, 4}, ceilLike = {1, 2, 2, 3, 4, 4, 3, 4, 4};
  for (const char* ctm : {"half_pixel", "align_corners", "pytorch_half_pixel"}) {
    SCOPED_TRACE(ctm);
    // half_pixel: x = (o + 0.5) / 1.5 - 0.5 -> -0.17, 0.5, 1.17; align_corners: 0, 0.5, 1.
    EXPECT_TRUE(equals(resize(x2x2(), "nearest", ctm, {}, {1, 1, 3, 3}, {{"nearest_mode", std::string("round_prefer_floor")}}),
                       {1, 1, 3, 3}, floorLike));
    EXPECT_TRUE(equals(resize(x2x2(), "nearest", ctm, {}, {1, 1, 3, 3}, {{"nearest_mode", std::string("round_prefer_ceil")}}),
                       {1, 1, 3, 3}, ceilLike));
    EXPECT_TRUE(equals(resize(x2x2(), "nearest", ctm, {}, {1, 1, 3, 3}, {{"nearest_mode", std::string("floor")}}),
                       {1, 1, 3, 3}, floorLike));
    EXPECT_TRUE(equals(resize(x2x2(), "nearest", ctm, {}, {1, 1, 3, 3}, {{"nearest_mode", std::string("ceil")}}),
                       {1, 1, 3, 3}, ceilLike));
  }
  // asymmetric: x = o / 1.5 -> 0, 0.67, 1.33: rounding gives 0, 1, 1; floor 0, 0, 1.
  EXPECT_TRUE(equals(resize(x2x2(), "nearest", "asymmetric", {}, {1, 1, 3, 3}), {1, 1, 3, 3}, ceilLike));
  EXPECT_TRUE(equals(resize(x2x2(), "nearest", "asymmetric", {}, {1, 1, 3, 3}, {{"nearest_mode", std::string("floor")}}),
                     {1, 1, 3, 3}, floorLike));
  // tf_half_pixel_for_nn: x = (o + 0.5) / 1.5 -> 0.33, 1, 1.67: rounds to 0, 1, 2 (clamped to 1); ceil: 1, 1, 1.
  EXPECT_TRUE(equals(resize(x2x2(), "nearest", "tf_half_pixel_for_nn", {}, {1, 1, 3, 3}), {1, 1, 3, 3}, ceilLike));
  EXPECT_TRUE(equals(resize(x2x2(), "nearest", "tf_half_pixel_for_nn", {}, {1, 1, 3, 3},
                            {{"nearest_mode", std::string("ceil")}}),
                     {1, 1, 3, 3}, F(9, 4.f)));
  // The usual 2x nearest upsample.
  EXPECT_TRUE(equals(resize(x2x2(), "nearest", "asymmetric", {1, 1, 2, 2}, {}), {1, 1, 4, 4},
                     {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

TEST(ResizeRef, LongRows) {
  // Rows longer than the kernel's per-thread tap table (1024 outputs).
  const ir::Tensor x = ramp({2, 1, 3, 750});
  auto y = resize(x, "nearest", "asymmetric", {1, 1, 1, 2}, {});
  ASSERT_EQ(y.dims(), (V{2, 1, 3, 1500}));
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t o = 0; o < 1500; ++o) ASSERT_EQ(y.as<float>()[r * 1500 + o], static_cast<float>(r * 750 + o / 2));
  y = resize(x, "linear", "align_corners", {}, {2, 1, 3, 1499});
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t o = 0; o < 1499; ++o)
      ASSERT_NEAR(y.as<float>()[r * 1499 + o], static_cast<float>(r * 750) + o * 0.5f, 1e-3f) << r << " " << o;
}

TEST(ResizeRef, NearestMovesAnyDtype) {
  OpSpec s;
  s.op = "Resize";
  s.attrs = {{"mode", std::string("nearest")}, {"coordinate_transformation_mode", std::string("asymmetric")}};
  s.inputs = {dyn(ints({1, 2}, {7, -9})), none(), cst(floats({2}, {1, 2}))};
  auto y = runTactic(s, "Resize.ref");
  ASSERT_EQ(y[0].dtype(), DType::kINT64);
  EXPECT_EQ(y[0].toInt64(), (V{7, 7, -9, -9}));
}

TEST(ResizeRef, CropAndResizeExtrapolates) {
  const ir::Tensor x = ramp({1, 1, 4, 4});
  auto y = resize(x, "linear", "tf_crop_and_resize", {}, {1, 1, 3, 3}, {{"extrapolation_value", -1.f}},
                  {0, 0, 0.2f, 0.1f, 1, 1, 0.9f, 1.2f});
  EXPECT_TRUE(equals(y, {1, 1, 3, 3}, {2.7f, 4.35f, -1, 6.9f, 8.55f, -1, 11.1f, 12.75f, -1}, 1e-5f));
}

TEST(ResizeRef, AxesAndAspectPolicy) {
  // axes = [2, 3]: sizes for H and W only.
  EXPECT_TRUE(equals(resize(x2x2(), "nearest", "asymmetric", {}, {3, 5}, {{"axes", V{2, 3}}}), {1, 1, 3, 5},
                     {1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 3, 3, 4, 4, 4}));
  // not_larger: scale min(6/2, 3/2) = 1.5 -> 3x3; not_smaller: 3 -> 6x6.
  auto y = resize(x2x2(), "nearest", "half_pixel", {}, {6, 3},
                  {{"axes", V{2, 3}}, {"keep_aspect_ratio_policy", std::string("not_larger")}});
  EXPECT_EQ(y.dims(), (V{1, 1, 3, 3}));
  y = resize(x2x2(), "linear", "half_pixel", {}, {6, 3},
             {{"axes", V{2, 3}}, {"keep_aspect_ratio_policy", std::string("not_smaller")}});
  const float t = 1.f / 3, u = 2.f / 3;
  const F row0 = {1, 1, 1 + t, 1 + u, 2, 2};
  ASSERT_EQ(y.dims(), (V{1, 1, 6, 6}));
  for (int j = 0; j < 6; ++j) EXPECT_NEAR(y.as<float>()[j], row0[j], 1e-5f);
  EXPECT_NEAR(y.as<float>()[2 * 6 + 2], 2.f, 1e-5f);  // x = (2.5 / 3 - 0.5) = 1/3 on both axes
}

TEST(ResizeRef, LinearIsExactOnARampInThreeDims) {
  // Multilinear interpolation reproduces a linear function: with
  // align_corners, x = o * (len - 1) / (scale * len - 1) on each axis, so
  // out(i, j, k) = 12 * (i / 3) + 4 * (2 j / 3.5) + 3 k.
  auto y = resize(ramp({2, 3, 4}), "linear", "align_corners", {2, 1.5f, 0.5f}, {});
  ASSERT_EQ(y.dims(), (V{4, 4, 2}));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 2; ++k)
        EXPECT_NEAR(y.as<float>()[(i * 4 + j) * 2 + k], 4.f * i + 8.f * j / 3.5f + 3.f * k, 1e-4f) << i << j << k;
}

TEST(ResizeSchema, ShapesAndErrors) {
  auto shape = [](ir::Shape x, std::map<std::size_t, ir::Tensor> c, std::map<std::string, ir::Attribute> a = {},
                  std::vector<ir::Shape> dynamic = {}) {
    std::vector<ir::Shape> shapes = {x};
    for (auto& d : dynamic) shapes.push_back(d);
    return ir::toString(inferShapes({"Resize", a, shapes, c}, "up")[0]);
  };
  const ir::Shape x = {ir::Dim(std::string("n")), 3, 10, 15};
  EXPECT_EQ(shape(x, {{2, floats({4}, {1, 1, 2, 0.5f})}}), "[n,3,20,7]");
  EXPECT_EQ(shape(x, {{2, floats({0}, {})}, {3, ints({4}, {1, 3, 7, 9})}}), "[1,3,7,9]");
  EXPECT_EQ(shape(x, {{2, floats({2}, {3, 3})}}, {{"axes", V{-2, -1}}}), "[n,3,30,45]");
  // Scales computed at run time: the resized dims are unknown, the rest pass through.
  EXPECT_EQ(shape(x, {}, {}, {absentShape(), {4}}), "[?,?,?,?]");
  EXPECT_EQ(shape(x, {}, {{"axes", V{2, 3}}}, {absentShape(), {2}}), "[n,3,?,?]");
  EXPECT_TRUE(throwsWith([&] { shape(x, {}, {}, {}); }, "Resize node \"up\": needs scales or sizes"));
  EXPECT_TRUE(throwsWith([&] { shape(x, {{2, floats({4}, {1, 1, 2, 2})}, {3, ints({4}, {1, 3, 7, 9})}}); },
                         "has both scales and sizes"));
  EXPECT_TRUE(throwsWith([&] { shape(x, {{2, floats({4}, {1, 1, 2, 2})}}, {{"mode", std::string("bicubic")}}); },
                         "unknown mode 'bicubic'"));
  EXPECT_TRUE(throwsWith([&] { shape(x, {{2, floats({4}, {1, 1, 2, 2})}}, {{"antialias", int64_t{2}}}); },
                         "attribute 'antialias' is 2; expected 0 or 1"));
  EXPECT_TRUE(throwsWith([&] { shape(x, {{2, floats({3}, {1, 2, 2})}}); }, "scales has 3 values for 4 axes"));
  EXPECT_TRUE(throwsWith(
      [&] { shape(x, {{2, floats({4}, {1, 1, 2, 2})}}, {{"coordinate_transformation_mode", std::string("foo")}}); },
      "unknown coordinate_transformation_mode 'foo'"));
}

}  // namespace
}  // namespace kiln::test
