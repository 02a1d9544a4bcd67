// Pad (constant, reflect, edge, wrap; negative pads; axes), Expand, Tile and
// Trilu.
#include <limits>

#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Dim;
using ir::Shape;

// Input coordinate read by output coordinate x (shifted by the begin pad), by
// repeated reflection / clamping / wrapping; -1 means the constant value.
int64_t refCoord(const std::string& mode, int64_t x, int64_t d) {
  if (x >= 0 && x < d) return x;
  if (mode == "constant") return -1;
  if (mode == "edge") return x < 0 ? 0 : d - 1;
  if (mode == "wrap") {
    while (x < 0) x += d;
    return x % d;
  }
  if (d == 1) return 0;
  while (x < 0 || x >= d) x = x < 0 ? -x : 2 * (d - 1) - x;
  return x;
}

template <typename T>
ir::Tensor refPad(const ir::Tensor& in, const std::vector<int64_t>& begin, const std::vector<int64_t>& end,
                  const std::string& mode, T value) {
  std::vector<int64_t> dims = in.dims();
  for (std::size_t k = 0; k < dims.size(); ++k) dims[k] += begin[k] + end[k];
  ir::Tensor out(in.dtype(), dims);
  for (int64_t i = 0; i < out.numel(); ++i) {
    auto o = unravel(i, dims);
    bool inside = true;
    for (std::size_t k = 0; k < o.size(); ++k) {
      o[k] = refCoord(mode, o[k] - begin[k], in.dims()[k]);
      inside = inside && o[k] >= 0;
    }
    out.mutableAs<T>()[i] = inside ? in.as<T>()[ravel(o, in.dims())] : value;
  }
  return out;
}

TEST(Pad, ConstantWithValueAndCropping) {
  ir::Tensor in = iota<float>({3, 4}, 1);
  OpTest t("Pad");
  t.input(in).constant(ints({1, -1, 0, 2})).constant(scalar<float>(-7.5f));
  EXPECT_EQ(t.shape(), (Shape{4, 5}));
  expectSameTensor(t.run1(), refPad<float>(in, {1, -1}, {0, 2}, "constant", -7.5f));
  OpTest zero("Pad");  // no constant_value: zeros
  zero.input(in).constant(ints({0, 3, 2, 0}));
  expectSameTensor(zero.run1(), refPad<float>(in, {0, 3}, {2, 0}, "constant", 0.f));
}

TEST(Pad, ReflectEdgeWrapOnEveryRank) {
  for (const char* mode : {"reflect", "edge", "wrap"}) {
    SCOPED_TRACE(mode);
    ir::Tensor a = iota<float>({5});
    OpTest t1("Pad");
    t1.input(a).constant(ints({3, 2})).attr("mode", std::string(mode));
    expectSameTensor(t1.run1(), refPad<float>(a, {3}, {2}, mode, 0.f));

    ir::Tensor b = iota<int64_t>({2, 3, 4});
    OpTest t3("Pad");
    t3.input(b).constant(ints({1, 0, 2, 1, 2, 3})).attr("mode", std::string(mode));
    expectSameTensor(t3.run1(), refPad<int64_t>(b, {1, 0, 2}, {1, 2, 3}, mode, 0));

    ir::Tensor c = iota<uint8_t>({2, 1, 3, 2, 3});
    OpTest t5("Pad");
    t5.input(c).constant(ints({0, 1, 2, 0, 1, 1, 0, 1, 1, 2})).attr("mode", std::string(mode));
    expectSameTensor(t5.run1(), refPad<uint8_t>(c, {0, 1, 2, 0, 1}, {1, 0, 1, 1, 2}, mode, 0));
  }
}

TEST(Pad, ReflectBeyondTheEdgeAndSizeOneAxes) {
  ir::Tensor in = iota<float>({3, 1});
  OpTest t("Pad");
  t.input(in).constant(ints({5, 2, 4, 3})).attr("mode", std::string("reflect"));
  expectSameTensor(t.run1(), refPad<float>(in, {5, 2}, {4, 3}, "reflect", 0.f));
}

TEST(Pad, AxesInput) {
  ir::Tensor in = iota<int32_t>({2, 3, 4});
  OpTest t("Pad");
  t.input(in).constant(ints({1, 2, 0, 3})).absent().constant(ints({-1, 0})).attr("mode", std::string("edge"));
  EXPECT_EQ(t.shape(), (Shape{7, 3, 5}));  // axis 2: begin 1, end 0; axis 0: begin 2, end 3
  expectSameTensor(t.run1(), refPad<int32_t>(in, {2, 0, 1}, {3, 0, 0}, "edge", 0));
}

TEST(Pad, LargeWithThreads) {
  ThreadPool pool(4);
  ir::Tensor in = iota<float>({2, 3, 100, 120});
  OpTest t("Pad");
  t.input(in).constant(ints({0, 0, 3, 5, 0, 0, 4, 2})).attr("mode", std::string("reflect"));
  expectSameTensor(t.run1(&pool), refPad<float>(in, {0, 0, 3, 5}, {0, 0, 4, 2}, "reflect", 0.f));
}

TEST(Pad, SymbolicAndErrors) {
  OpTest s("Pad");
  s.symbolic(DType::kFLOAT, sym({named("N"), 3, named("W")})).constant(ints({0, 1, 1, 0, 1, 0}));
  EXPECT_EQ(s.shape()[0].symbol, "N");
  EXPECT_EQ(s.shape()[1], Dim(5));
  EXPECT_FALSE(s.shape()[2].known());
  expectNodeError([] { OpTest("Pad", "p1").input(iota<float>({2, 3})).constant(ints({1, 1})).infer(); }, "p1",
                  "pads");
  expectNodeError(
      [] { OpTest("Pad", "p2").input(iota<float>({2, 3})).constant(ints({0, -2, 0, -2})).infer(); }, "p2",
      "remove more");
  expectNodeError(
      [] {
        OpTest("Pad", "p3").input(iota<float>({0, 3})).constant(ints({1, 0, 0, 0})).attr("mode", std::string("edge"))
            .infer();
      },
      "p3", "size 0");
  expectNodeError(
      [] {
        OpTest("Pad", "p4").input(iota<float>({2})).constant(ints({1, 0})).attr("mode", std::string("mirror")).infer();
      },
      "p4", "unknown mode");
}

template <typename T>
ir::Tensor refExpand(const ir::Tensor& in, const std::vector<int64_t>& dims) {
  ir::Tensor out(in.dtype(), dims);
  std::size_t shift = dims.size() - in.dims().size();
  for (int64_t i = 0; i < out.numel(); ++i) {
    auto o = unravel(i, dims);
    std::vector<int64_t> src(o.begin() + shift, o.end());
    for (std::size_t k = 0; k < src.size(); ++k)
      if (in.dims()[k] == 1) src[k] = 0;
    out.mutableAs<T>()[i] = in.as<T>()[ravel(src, in.dims())];
  }
  return out;
}

TEST(Expand, BroadcastsBothWays) {
  ir::Tensor a = iota<float>({3, 1});
  OpTest t("Expand");
  t.input(a).constant(ints({2, 1, 4}));
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  expectSameTensor(t.run1(), refExpand<float>(a, {2, 3, 4}));
  ir::Tensor b = iota<int64_t>({2, 1, 4});
  OpTest u("Expand");  // shape of lower rank, and 1s that keep the input dims
  u.input(b).constant(ints({5, 1}));
  EXPECT_EQ(u.shape(), (Shape{2, 5, 4}));
  expectSameTensor(u.run1(), refExpand<int64_t>(b, {2, 5, 4}));
  ir::Tensor c = iota<uint8_t>({1, 3, 1, 2});
  OpTest v("Expand");
  v.input(c).constant(ints({2, 1, 1, 3, 4, 2}));
  expectSameTensor(v.run1(), refExpand<uint8_t>(c, {2, 1, 1, 3, 4, 2}));
}

TEST(Expand, LargeSymbolicAndErrors) {
  ThreadPool pool(4);
  ir::Tensor a = iota<float>({1, 300, 1});
  OpTest t("Expand");
  t.input(a).constant(ints({4, 300, 70}));
  expectSameTensor(t.run1(&pool), refExpand<float>(a, {4, 300, 70}));
  OpTest s("Expand");
  s.symbolic(DType::kFLOAT, sym({named("N"), 1})).constant(ints({1, 6}));
  EXPECT_EQ(s.shape()[0].symbol, "N");
  EXPECT_EQ(s.shape()[1], Dim(6));
  OpTest dyn("Expand");
  dyn.input(iota<float>({3})).symbolic(DType::kINT64, {2});
  EXPECT_EQ(dyn.shape().size(), 2u);
  expectNodeError([] { OpTest("Expand", "e").input(iota<float>({3})).constant(ints({4})).infer(); }, "e",
                  "cannot broadcast");
}

TEST(Tile, RepeatsEveryAxis) {
  ir::Tensor a = iota<float>({2, 3});
  OpTest t("Tile");
  t.input(a).constant(ints({2, 3}));
  EXPECT_EQ(t.shape(), (Shape{4, 9}));
  ir::Tensor out = t.run1();
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 9; ++j) ASSERT_EQ(out.as<float>()[i * 9 + j], a.as<float>()[(i % 2) * 3 + j % 3]);
  ThreadPool pool(4);
  ir::Tensor b = iota<uint16_t>({3, 1, 50, 7});
  OpTest u("Tile");
  u.input(b).constant(ints({2, 5, 3, 1}));
  ir::Tensor big = u.run1(&pool);
  ASSERT_EQ(big.dims(), (std::vector<int64_t>{6, 5, 150, 7}));
  for (int64_t i = 0; i < big.numel(); ++i) {
    auto o = unravel(i, big.dims());
    for (std::size_t k = 0; k < 4; ++k) o[k] %= b.dims()[k];
    ASSERT_EQ(big.as<uint16_t>()[i], b.as<uint16_t>()[ravel(o, b.dims())]);
  }
  OpTest zero("Tile");
  zero.input(a).constant(ints({0, 1}));
  EXPECT_EQ(zero.run1().numel(), 0);
}

TEST(Tile, SymbolicAndErrors) {
  OpTest s("Tile");
  s.symbolic(DType::kFLOAT, sym({named("N"), 3})).constant(ints({1, 2}));
  EXPECT_EQ(s.shape()[0].symbol, "N");
  EXPECT_EQ(s.shape()[1], Dim(6));
  expectNodeError([] { OpTest("Tile", "t").input(iota<float>({2, 3})).constant(ints({2})).infer(); }, "t",
                  "for an input of rank 2");
}

TEST(Trilu, UpperLowerWithK) {
  ir::Tensor in = iota<int64_t>({2, 4, 5}, 1);
  for (int64_t upper : {0, 1})
    for (int64_t k : {std::numeric_limits<int64_t>::min(), int64_t{-5}, int64_t{-1}, int64_t{0}, int64_t{2},
                      int64_t{6}, std::numeric_limits<int64_t>::max()}) {
      OpTest t("Trilu");
      t.input(in).constant(scalar<int64_t>(k)).attr("upper", upper);
      ir::Tensor out = t.run1();
      for (int64_t i = 0; i < out.numel(); ++i) {
        int64_t r = (i / 5) % 4, c = i % 5;
        bool keep = upper ? c - r >= k : c - r <= k;
        ASSERT_EQ(out.as<int64_t>()[i], keep ? in.as<int64_t>()[i] : 0) << "upper " << upper << " k " << k;
      }
    }
  OpTest dflt("Trilu");  // no k, upper by default
  dflt.input(iota<float>({3, 3}, 1));
  expectSameTensor(dflt.run1(), makeTensor<float>({3, 3}, {1, 2, 3, 0, 5, 6, 0, 0, 9}));
  expectNodeError([] { OpTest("Trilu", "tr").input(iota<float>({3})).infer(); }, "tr", "rank >= 2");
}

}  // namespace
}  // namespace kiln::test
