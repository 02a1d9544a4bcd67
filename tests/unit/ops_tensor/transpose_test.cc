// Transpose (every rank 1..6, several element sizes, the blocked and the
// multithreaded paths), DepthToSpace and SpaceToDepth.
#include <algorithm>
#include <numeric>

#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Shape;

template <typename T>
void checkTranspose(const std::vector<int64_t>& dims, const std::vector<int64_t>& perm, ThreadPool* pool = nullptr) {
  ir::Tensor in = iota<T>(dims, 3);
  OpTest t("Transpose");
  t.input(in).attr("perm", perm);
  ir::Tensor out = t.run1(pool);
  SCOPED_TRACE(ir::toString(dims) + " perm " + ir::toString(perm));
  expectSameTensor(out, refTranspose(in, perm));
}

TEST(Transpose, EveryPermutationUpToRank4) {
  std::vector<std::vector<int64_t>> shapes = {{5}, {3, 7}, {2, 1, 5}, {3, 4, 5}, {2, 3, 1, 4}, {3, 5, 7, 2}};
  for (const auto& dims : shapes) {
    std::vector<int64_t> perm(dims.size());
    std::iota(perm.begin(), perm.end(), 0);
    do {
      checkTranspose<float>(dims, perm);
      checkTranspose<uint8_t>(dims, perm);
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
}

TEST(Transpose, Ranks5And6AllElementSizes) {
  std::mt19937 rng(7);
  std::vector<std::vector<int64_t>> shapes = {{2, 3, 1, 4, 5}, {3, 2, 2, 1, 3, 4}, {1, 2, 3, 2, 3, 2}};
  for (const auto& dims : shapes) {
    std::vector<int64_t> perm(dims.size());
    std::iota(perm.begin(), perm.end(), 0);
    for (int trial = 0; trial < 12; ++trial) {
      std::shuffle(perm.begin(), perm.end(), rng);
      checkTranspose<uint8_t>(dims, perm);
      checkTranspose<uint16_t>(dims, perm);
      checkTranspose<int32_t>(dims, perm);
      checkTranspose<int64_t>(dims, perm);
    }
  }
}

TEST(Transpose, DefaultPermReverses) {
  OpTest t("Transpose");
  ir::Tensor in = iota<float>({2, 3, 4});
  t.input(in);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  expectSameTensor(t.run1(), refTranspose(in, {2, 1, 0}));
}

TEST(Transpose, LargeTilesOddSizesAndThreads) {
  ThreadPool pool(4);
  // Larger than a tile, not a multiple of it, on both transposed axes.
  checkTranspose<float>({67, 131}, {1, 0});
  checkTranspose<float>({67, 131}, {1, 0}, &pool);
  checkTranspose<int64_t>({3, 129, 65}, {0, 2, 1}, &pool);
  checkTranspose<uint8_t>({2, 97, 33, 5}, {0, 3, 1, 2}, &pool);
  checkTranspose<float>({8, 64, 64, 3}, {0, 3, 1, 2}, &pool);  // NHWC -> NCHW
  checkTranspose<float>({8, 3, 64, 64}, {0, 2, 3, 1}, &pool);  // NCHW -> NHWC
}

TEST(Transpose, SymbolicDimsMoveWithTheirAxes) {
  OpTest t("Transpose");
  t.symbolic(DType::kFLOAT, sym({named("N"), 3, named("T")})).attr("perm", std::vector<int64_t>{2, 0, 1});
  Shape s = t.shape();
  EXPECT_EQ(s[0].symbol, "T");
  EXPECT_EQ(s[1].symbol, "N");
  EXPECT_EQ(s[2], ir::Dim(3));
}

TEST(Transpose, BadPermIsAnError) {
  expectNodeError(
      [] { OpTest("Transpose", "t1").input(iota<float>({2, 3})).attr("perm", std::vector<int64_t>{0, 0}).infer(); },
      "t1", "not a permutation");
  expectNodeError(
      [] { OpTest("Transpose", "t2").input(iota<float>({2, 3})).attr("perm", std::vector<int64_t>{1, 0, 2}).infer(); },
      "t2", "not a permutation");
  expectNodeError(
      [] { OpTest("Transpose", "t3").input(iota<float>({2, 3})).attr("perm", std::vector<int64_t>{0, 2}).infer(); },
      "t3", "not a permutation");
}

// ONNX's definitions, written out with index arithmetic.
ir::Tensor refDepthToSpace(const ir::Tensor& in, int64_t b, bool crd) {
  auto d = in.dims();
  int64_t n = d[0], c = d[1] / (b * b), h = d[2], w = d[3];
  ir::Tensor out(in.dtype(), {n, c, h * b, w * b});
  const float* x = in.as<float>();
  float* y = out.mutableAs<float>();
  for (int64_t in0 = 0; in0 < n; ++in0)
    for (int64_t ic = 0; ic < c; ++ic)
      for (int64_t oh = 0; oh < h * b; ++oh)
        for (int64_t ow = 0; ow < w * b; ++ow) {
          int64_t bh = oh % b, bw = ow % b;
          int64_t srcC = crd ? ic * b * b + bh * b + bw : (bh * b + bw) * c + ic;
          y[((in0 * c + ic) * h * b + oh) * w * b + ow] = x[((in0 * d[1] + srcC) * h + oh / b) * w + ow / b];
        }
  return out;
}

TEST(DepthToSpace, DcrAndCrd) {
  for (bool crd : {false, true}) {
    OpTest t("DepthToSpace");
    ir::Tensor in = iota<float>({2, 8, 3, 5});
    t.input(in).attr("blocksize", int64_t{2}).attr("mode", std::string(crd ? "CRD" : "DCR"));
    EXPECT_EQ(t.shape(), (Shape{2, 2, 6, 10}));
    expectSameTensor(t.run1(), refDepthToSpace(in, 2, crd));
  }
  expectNodeError(
      [] { OpTest("DepthToSpace", "d2s").input(iota<float>({1, 6, 2, 2})).attr("blocksize", int64_t{2}).infer(); },
      "d2s", "multiple of blocksize");
}

TEST(SpaceToDepth, InvertsDepthToSpaceDcr) {
  ir::Tensor in = iota<float>({2, 3, 6, 9});
  OpTest s2d("SpaceToDepth");
  s2d.input(in).attr("blocksize", int64_t{3});
  EXPECT_EQ(s2d.shape(), (Shape{2, 27, 2, 3}));
  ir::Tensor packed = s2d.run1();
  // y[n, (bh*b + bw)*C + c, h, w] = x[n, c, h*b + bh, w*b + bw]
  const float* y = packed.as<float>();
  const float* x = in.as<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t bh = 0; bh < 3; ++bh)
      for (int64_t bw = 0; bw < 3; ++bw)
        for (int64_t h = 0; h < 2; ++h)
          for (int64_t w = 0; w < 3; ++w)
            ASSERT_EQ(y[(((1 * 27) + (bh * 3 + bw) * 3 + c) * 2 + h) * 3 + w],
                      x[((1 * 3 + c) * 6 + h * 3 + bh) * 9 + w * 3 + bw]);
  OpTest d2s("DepthToSpace");
  d2s.input(packed).attr("blocksize", int64_t{3});
  expectSameTensor(d2s.run1(), in);
  expectNodeError(
      [] { OpTest("SpaceToDepth", "s").input(iota<float>({1, 1, 5, 4})).attr("blocksize", int64_t{2}).infer(); }, "s",
      "not a multiple");
}

}  // namespace
}  // namespace kiln::test
