// GridSample and AffineGrid: an identity AffineGrid sampled by GridSample
// returns its input (2-D and 3-D, batch and channels > 1, odd sizes, both
// align_corners, every mode); 1-D hand values for each padding mode and
// nearest rounding; AffineGrid hand values; the schemas' errors.
#include <limits>

#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using V = std::vector<int64_t>;

ir::Tensor affineGrid(const ir::Tensor& theta, V size, int64_t alignCorners) {
  OpSpec s;
  s.op = "AffineGrid";
  s.attrs["align_corners"] = alignCorners;
  s.inputs = {dyn(theta), cst(ints({static_cast<int64_t>(size.size())}, size))};
  return runTactic(s, "AffineGrid.ref")[0];
}

ir::Tensor gridSample(const ir::Tensor& x, const ir::Tensor& grid, const std::string& mode, const std::string& pad,
                      int64_t alignCorners) {
  OpSpec s;
  s.op = "GridSample";
  s.attrs = {{"mode", mode}, {"padding_mode", pad}, {"align_corners", alignCorners}};
  s.inputs = {dyn(x), dyn(grid)};
  return runTactic(s, "GridSample.ref")[0];
}

// theta = [I | 0] for each of n batches.
ir::Tensor identityTheta(int64_t n, int64_t spatial) {
  ir::Tensor t(DType::kFLOAT, {n, spatial, spatial + 1});
  float* p = t.mutableAs<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < spatial; ++i)
      for (int64_t j = 0; j <= spatial; ++j) p[(b * spatial + i) * (spatial + 1) + j] = i == j ? 1.f : 0.f;
  return t;
}

TEST(GridSampleRef, IdentityGridReturnsTheInput2D) {
  const ir::Tensor x = randomTensor({2, 3, 5, 7}, 11);
  for (int64_t ac : {0, 1}) {
    const ir::Tensor grid = affineGrid(identityTheta(2, 2), {2, 3, 5, 7}, ac);
    ASSERT_EQ(grid.dims(), (V{2, 5, 7, 2}));
    for (const char* mode : {"linear", "nearest", "cubic"})
      for (const char* pad : {"zeros", "border", "reflection"})
        EXPECT_TRUE(near(gridSample(x, grid, mode, pad, ac), x, 1e-5f, 1e-5f))
            << mode << " " << pad << " align_corners " << ac;
  }
}

TEST(GridSampleRef, IdentityGridReturnsTheInput3D) {
  const ir::Tensor x = randomTensor({1, 2, 3, 4, 5}, 12);
  for (int64_t ac : {0, 1}) {
    const ir::Tensor grid = affineGrid(identityTheta(1, 3), {1, 2, 3, 4, 5}, ac);
    ASSERT_EQ(grid.dims(), (V{1, 3, 4, 5, 3}));
    for (const char* mode : {"linear", "nearest"})
      EXPECT_TRUE(near(gridSample(x, grid, mode, "zeros", ac), x, 1e-5f, 1e-5f)) << mode << " " << ac;
  }
}

TEST(GridSampleRef, PaddingModesAndRoundingIn1D) {
  const ir::Tensor x = floats({1, 1, 4}, {1, 2, 3, 4});
  // align_corners 0: x = ((g + 1) * 4 - 1) / 2; g = -1 -> -0.5, g = 1.5 -> 4.5.
  const ir::Tensor g = floats({1, 2, 1}, {-1.f, 1.5f});
  EXPECT_TRUE(equals(gridSample(x, g, "linear", "zeros", 0), {1, 1, 2}, {0.5f, 0.f}));
  // border: -0.5 is inside the border (taps clamp to the edge); 4.5 clamps to 3.
  EXPECT_TRUE(equals(gridSample(x, g, "linear", "border", 0), {1, 1, 2}, {1.f, 4.f}));
  // reflection about [-0.5, 3.5]: 4.5 -> 2.5, the tap -1 -> 0.
  EXPECT_TRUE(equals(gridSample(x, g, "linear", "reflection", 0), {1, 1, 2}, {1.f, 3.5f}));
  // Nearest rounds half to even: x = 0.5 -> 0, x = 1.5 -> 2, x = 1.7 -> 2.
  const ir::Tensor h = floats({1, 3, 1}, {-0.5f, 0.f, 0.1f});
  EXPECT_TRUE(equals(gridSample(x, h, "nearest", "zeros", 0), {1, 1, 3}, {1, 3, 3}));
  // align_corners 1: x = (g + 1) / 2 * 3; whole coordinates read one pixel in cubic mode too.
  const ir::Tensor k = floats({1, 2, 1}, {1.f, -1.f});
  EXPECT_TRUE(equals(gridSample(x, k, "cubic", "zeros", 1), {1, 1, 2}, {4, 1}, 1e-5f));
  // Cubic at x = 1.5 (g = 0): Keys weights at distances 1.5, 0.5, 0.5, 1.5 -> -0.09375, 0.59375 (x2), -0.09375.
  const ir::Tensor m = floats({1, 1, 1}, {0.f});
  EXPECT_TRUE(equals(gridSample(x, m, "cubic", "zeros", 1), {1, 1, 1},
                     {-0.09375f * 1 + 0.59375f * 2 + 0.59375f * 3 - 0.09375f * 4}, 1e-5f));
}

TEST(GridSampleRef, HugeAndInfiniteCoordinates) {
  const ir::Tensor x = floats({1, 1, 4}, {1, 2, 3, 4});
  const float inf = std::numeric_limits<float>::infinity();
  const ir::Tensor g = floats({1, 3, 1}, {1e30f, -inf, -1e30f});
  for (const char* mode : {"linear", "nearest", "cubic"}) {
    EXPECT_TRUE(equals(gridSample(x, g, mode, "zeros", 0), {1, 1, 3}, {0, 0, 0})) << mode;
    // border clamps to the edges.
    EXPECT_TRUE(equals(gridSample(x, g, mode, "border", 1), {1, 1, 3}, {4, 1, 1})) << mode;
  }
}

TEST(AffineGridRef, HandValues) {
  // theta = [[2, 0, 0.5], [0, 1, 0]]: x' = 2x + 0.5, y' = y over pixel centers x in {-2/3, 0, 2/3}, y in {-1/2, 1/2}.
  const ir::Tensor theta = floats({1, 2, 3}, {2, 0, 0.5f, 0, 1, 0});
  const float a = 2.f / 3;
  EXPECT_TRUE(equals(affineGrid(theta, {1, 1, 2, 3}, 0), {1, 2, 3, 2},
                     {-2 * a + 0.5f, -0.5f, 0.5f, -0.5f, 2 * a + 0.5f, -0.5f, -2 * a + 0.5f, 0.5f, 0.5f, 0.5f,
                      2 * a + 0.5f, 0.5f}));
  // align_corners 1 with a size-1 axis: that axis sits at -1.
  EXPECT_TRUE(equals(affineGrid(identityTheta(1, 2), {1, 1, 1, 3}, 1), {1, 1, 3, 2}, {-1, -1, 0, -1, 1, -1}));
}

TEST(GridSampleSchema, ShapesAndErrors) {
  const ir::Dim n(std::string("n"));
  EXPECT_EQ(ir::toString(inferShapes({"GridSample", {}, {{n, 3, 8, 8}, {n, 5, 6, 2}}})[0]), "[n,3,5,6]");
  EXPECT_TRUE(throwsWith([] { inferShapes({"GridSample", {}, {{1, 3, 8, 8}, {1, 5, 6, 3}}}, "gs"); },
                         "GridSample node \"gs\": grid's last dim is 3, expected 2"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"GridSample", {{"mode", std::string("bilinear")}}, {{1, 3, 8, 8}, {1, 5, 6, 2}}}); },
                         "attribute 'mode' is 'bilinear'"));
  EXPECT_TRUE(throwsWith(
      [] { inferShapes({"GridSample", {{"padding_mode", std::string("wrap")}}, {{1, 3, 8, 8}, {1, 5, 6, 2}}}); },
      "attribute 'padding_mode' is 'wrap'"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"GridSample", {}, {{2, 3, 8, 8}, {1, 5, 6, 2}}}); },
                         "grid has batch 1, X has 2"));
  EXPECT_EQ(ir::toString(inferShapes({"AffineGrid", {}, {{2, 3, 4}}, {{1, ints({5}, {2, 1, 4, 5, 6})}}})[0]),
            "[2,4,5,6,3]");
  EXPECT_TRUE(throwsWith([] { inferShapes({"AffineGrid", {}, {{2, 2, 3}}, {{1, ints({5}, {2, 1, 4, 5, 6})}}}); },
                         "does not fit a 3-D grid"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"AffineGrid", {}, {{2, 2, 3}}, {{1, ints({3}, {2, 1, 4})}}}); },
                         "size has 3 values; expected 4"));
}

}  // namespace
}  // namespace kiln::test
