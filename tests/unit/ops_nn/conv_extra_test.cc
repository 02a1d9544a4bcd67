// DeformConv, Col2Im, MaxUnpool and integer MaxPool: DeformConv with zero
// offsets is Conv.ref (groups, pads, strides, dilations, batch 2), a mask
// scales it, a whole-pixel offset shifts the input; Col2Im undoes an im2col
// built in the test (times each pixel's block coverage when blocks overlap);
// MaxUnpool puts MaxPool's maxima back where its indices say (also into a
// larger output_shape); uint8 MaxPool with Indices; schema errors.
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using V = std::vector<int64_t>;

TEST(DeformConvRef, ZeroOffsetsAreConvMaskScalesShiftMoves) {
  const ir::Tensor x = randomTensor({2, 4, 6, 7}, 51);
  const ir::Tensor w = randomTensor({6, 2, 3, 2}, 52);
  const ir::Tensor b = randomTensor({6}, 53);
  const std::map<std::string, ir::Attribute> attrs = {
      {"group", int64_t{2}}, {"strides", V{2, 1}}, {"pads", V{1, 1, 1, 0}}, {"dilations", V{1, 2}}};
  OpSpec conv;
  conv.op = "Conv";
  conv.attrs = attrs;
  conv.inputs = {dyn(x), cst(w), cst(b)};
  const ir::Tensor want = runTactic(conv, "Conv.ref")[0];
  const int64_t oh = want.dims()[2], ow = want.dims()[3];
  // offset_group 2: 2 x 3 x 2 taps x (dy, dx) channels.
  ir::Tensor offset(DType::kFLOAT, {2, 2 * 6 * 2, oh, ow});
  std::memset(offset.mutableData(), 0, offset.bytes());
  OpSpec dc;
  dc.op = "DeformConv";
  dc.attrs = attrs;
  dc.attrs["offset_group"] = int64_t{2};
  dc.inputs = {dyn(x), cst(w), dyn(offset), cst(b)};
  EXPECT_TRUE(near(runTactic(dc, "DeformConv.ref")[0], want, 1e-5f, 1e-5f));
  // A mask of 0.5 everywhere halves the convolution (not the bias).
  ir::Tensor mask(DType::kFLOAT, {2, 2 * 6, oh, ow});
  for (int64_t i = 0; i < mask.numel(); ++i) mask.mutableAs<float>()[i] = 0.5f;
  dc.inputs = {dyn(x), cst(w), dyn(offset), none(), dyn(mask)};
  conv.inputs = {dyn(x), cst(w)};
  ir::Tensor half = runTactic(conv, "Conv.ref")[0];
  for (int64_t i = 0; i < half.numel(); ++i) half.mutableAs<float>()[i] *= 0.5f;
  EXPECT_TRUE(near(runTactic(dc, "DeformConv.ref")[0], half, 1e-5f, 1e-5f));
  // dy = 1 for every tap reads one row lower: Conv of the input moved up a row (zeros below).
  // No top padding here: a tap in it would read row 0 through the offset, where Conv reads 0.
  conv.attrs["pads"] = V{0, 1, 1, 0};
  dc.attrs["pads"] = V{0, 1, 1, 0};
  conv.inputs = {dyn(x), cst(w)};
  const int64_t sh = runTactic(conv, "Conv.ref")[0].dims()[2], sw = runTactic(conv, "Conv.ref")[0].dims()[3];
  offset = ir::Tensor(DType::kFLOAT, {2, 2 * 6 * 2, sh, sw});
  std::memset(offset.mutableData(), 0, offset.bytes());
  ir::Tensor up(DType::kFLOAT, x.dims());
  for (int64_t p = 0; p < 8; ++p)
    for (int64_t h = 0; h < 6; ++h)
      for (int64_t c = 0; c < 7; ++c)
        up.mutableAs<float>()[(p * 6 + h) * 7 + c] = h + 1 < 6 ? x.as<float>()[(p * 6 + h + 1) * 7 + c] : 0.f;
  for (int64_t ch = 0; ch < offset.dims()[1]; ch += 2)
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < sh * sw; ++i) offset.mutableAs<float>()[(n * offset.dims()[1] + ch) * sh * sw + i] = 1.f;
  dc.inputs = {dyn(x), cst(w), dyn(offset)};
  conv.inputs = {dyn(up), cst(w)};
  EXPECT_TRUE(near(runTactic(dc, "DeformConv.ref")[0], runTactic(conv, "Conv.ref")[0], 1e-5f, 1e-5f));
}

TEST(DeformConvRef, FractionalOffsetInterpolates) {
  // 1 x 1 x 1 x 3 input, 1 x 1 kernel, dx = 0.25: y[j] = 0.75 x[j] + 0.25 x[j + 1] (x[3] = 0).
  OpSpec dc;
  dc.op = "DeformConv";
  dc.inputs = {dyn(floats({1, 1, 1, 3}, {4, 8, 12})), cst(floats({1, 1, 1, 1}, {2})),
               dyn(floats({1, 2, 1, 3}, {0, 0, 0, 0.25f, 0.25f, 0.25f}))};
  EXPECT_TRUE(equals(runTactic(dc, "DeformConv.ref")[0], {1, 1, 1, 3}, {2 * 5, 2 * 9, 2 * 9}));
}

// Columns of an N x C x H x W image for blocks kh x kw at strides sh, sw (no pads): C*kh*kw x L.
ir::Tensor im2col(const ir::Tensor& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw) {
  const int64_t n = x.dims()[0], c = x.dims()[1], h = x.dims()[2], w = x.dims()[3];
  const int64_t bh = (h - kh) / sh + 1, bw = (w - kw) / sw + 1;
  ir::Tensor cols(DType::kFLOAT, {n, c * kh * kw, bh * bw});
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < kh; ++p)
        for (int64_t q = 0; q < kw; ++q)
          for (int64_t i = 0; i < bh; ++i)
            for (int64_t j = 0; j < bw; ++j)
              cols.mutableAs<float>()[((b * c * kh * kw) + (ch * kh + p) * kw + q) * bh * bw + i * bw + j] =
                  x.as<float>()[((b * c + ch) * h + i * sh + p) * w + j * sw + q];
  return cols;
}

TEST(Col2ImRef, UndoesIm2Col) {
  const ir::Tensor x = randomTensor({2, 3, 4, 6}, 54);
  OpSpec s;
  s.op = "Col2Im";
  s.attrs["strides"] = V{2, 3};
  s.inputs = {dyn(im2col(x, 2, 3, 2, 3)), cst(ints({2}, {4, 6})), cst(ints({2}, {2, 3}))};
  EXPECT_TRUE(near(runTactic(s, "Col2Im.ref")[0], x));
  // Overlapping 2 x 2 blocks at stride 1 on 3 x 3: each pixel counted once per block covering it.
  const ir::Tensor y = randomTensor({1, 1, 3, 3}, 55);
  s.attrs.clear();
  s.inputs = {dyn(im2col(y, 2, 2, 1, 1)), cst(ints({2}, {3, 3})), cst(ints({2}, {2, 2}))};
  const float cover[9] = {1, 2, 1, 2, 4, 2, 1, 2, 1};
  ir::Tensor want(DType::kFLOAT, {1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) want.mutableAs<float>()[i] = y.as<float>()[i] * cover[i];
  EXPECT_TRUE(near(runTactic(s, "Col2Im.ref")[0], want));
}

TEST(MaxUnpoolRef, RestoresMaxPoolMaxima) {
  // A 5 x 5 input pooled 2 x 2 / 2 (the last row and column are dropped), then unpooled into 5 x 5.
  const ir::Tensor x = randomTensor({2, 1, 5, 5}, 56);
  OpSpec pool;
  pool.op = "MaxPool";
  pool.attrs = {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}};
  pool.numOutputs = 2;
  pool.inputs = {dyn(x)};
  const auto pooled = runTactic(pool, "MaxPool.ref");
  OpSpec un;
  un.op = "MaxUnpool";
  un.attrs = pool.attrs;
  un.inputs = {dyn(pooled[0]), dyn(pooled[1]), cst(ints({4}, {2, 1, 5, 5}))};
  const ir::Tensor y = runTactic(un, "MaxUnpool.ref")[0];
  ASSERT_EQ(y.dims(), (V{2, 1, 5, 5}));
  int64_t nonzero = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const float v = y.as<float>()[i];
    if (v != 0.f) {
      ++nonzero;
      EXPECT_EQ(v, x.as<float>()[i]) << i;  // a maximum, back where it was
    }
  }
  EXPECT_EQ(nonzero, 8);
  // Without output_shape: (2 - 1) * 2 + 2 = 4 per axis, indices must then fit 2 x 1 x 4 x 4.
  un.inputs.pop_back();
  EXPECT_TRUE(throwsWith([&] { runTactic(un, "MaxUnpool.ref"); }, "is outside the output of 32 elements"));
}

TEST(MaxPoolRef, Uint8WithIndices) {
  ir::Tensor x(DType::kUINT8, {1, 1, 3, 3});
  const uint8_t v[9] = {1, 200, 3, 4, 5, 255, 7, 8, 0};
  std::memcpy(x.mutableData(), v, 9);
  OpSpec s;
  s.op = "MaxPool";
  s.attrs = {{"kernel_shape", V{2, 2}}, {"pads", V{0, 0, 1, 1}}, {"strides", V{2, 2}}};
  s.numOutputs = 2;
  s.inputs = {dyn(x)};
  const auto y = runTactic(s, "MaxPool.ref");
  ASSERT_EQ(y[0].dtype(), DType::kUINT8);
  const uint8_t* p = y[0].as<uint8_t>();
  EXPECT_EQ((std::vector<int>{p[0], p[1], p[2], p[3]}), (std::vector<int>{200, 255, 8, 0}));
  const int64_t* idx = y[1].as<int64_t>();
  EXPECT_EQ((V{idx[0], idx[1], idx[2], idx[3]}), (V{1, 5, 7, 8}));
}

TEST(ConvExtraSchema, Errors) {
  EXPECT_TRUE(throwsWith([] { inferShapes({"DeformConv", {}, {{1, 4, 5, 5}, {2, 4, 3, 3}, {1, 17, 3, 3}}}, "dc"); },
                         "DeformConv node \"dc\": offset has 17 channels, expected offset_group x kH x kW x 2 = 18"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"DeformConv", {}, {{1, 4, 5, 5}, {2, 4, 3, 3}, {1, 18, 2, 3}}}); },
                         "does not match the output [1,2,3,3]"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"DeformConv", {}, {{1, 4, 5, 5, 5}, {2, 4, 3, 3, 3}, {1, 54, 3, 3, 3}}}); },
                         "Kiln's DeformConv is 2-D"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"Col2Im", {}, {{1, 12, 6}}, {{1, ints({2}, {4, 6})}, {2, ints({2}, {2, 3})}}}); },
                         "input has 6 blocks, the geometry gives 12"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"Col2Im", {}, {{1, 12, 6}, {2}, {2}}}); },
                         "image_shape is float32; expected int64"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"MaxUnpool", {}, {{1, 1, 2, 2}}, {{1, ints({1}, {0})}}}); },
                         "I has rank 1, X has 4"));
}

}  // namespace
}  // namespace kiln::test
