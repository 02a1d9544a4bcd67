// Slice (clamping, negative steps, empty results, parameters that are not
// constants), Concat and Split.
#include <limits>

#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Dim;
using ir::Shape;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// numpy's slice(start, stop, step) semantics, by walking the indices.
std::vector<int64_t> sliceIndices(int64_t dim, int64_t start, int64_t end, int64_t step) {
  auto norm = [&](int64_t v, int64_t lo, int64_t hi) {
    if (v < 0) v = v < -dim ? lo : v + dim;
    return std::min(std::max(v, lo), hi);
  };
  std::vector<int64_t> out;
  if (step > 0) {
    for (int64_t i = norm(start, 0, dim), e = norm(end, 0, dim); i < e; i += step) out.push_back(i);
  } else {
    int64_t s = norm(start, -1, dim - 1), e = end < -dim ? -1 : norm(end, -1, dim - 1);
    for (int64_t i = s; i > e; i += step) out.push_back(i);
  }
  return out;
}

// Picks, on each axis, the listed indices.
template <typename T>
ir::Tensor pick(const ir::Tensor& in, const std::vector<std::vector<int64_t>>& idx) {
  std::vector<int64_t> dims;
  for (auto& l : idx) dims.push_back(static_cast<int64_t>(l.size()));
  ir::Tensor out(in.dtype(), dims);
  for (int64_t i = 0; i < out.numel(); ++i) {
    auto o = unravel(i, dims);
    for (std::size_t k = 0; k < o.size(); ++k) o[k] = idx[k][o[k]];
    out.mutableAs<T>()[i] = in.as<T>()[ravel(o, in.dims())];
  }
  return out;
}

template <typename T>
void checkSlice(const std::vector<int64_t>& dims, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                const std::vector<int64_t>& axes, const std::vector<int64_t>& steps, ThreadPool* pool = nullptr) {
  ir::Tensor in = iota<T>(dims, 1);
  std::vector<std::vector<int64_t>> idx;
  for (int64_t d : dims) idx.push_back(sliceIndices(d, 0, d, 1));
  for (std::size_t j = 0; j < starts.size(); ++j) {
    int64_t a = axes.empty() ? static_cast<int64_t>(j) : axes[j];
    if (a < 0) a += static_cast<int64_t>(dims.size());
    idx[a] = sliceIndices(dims[a], starts[j], ends[j], steps.empty() ? 1 : steps[j]);
  }
  OpTest t("Slice");
  t.input(in).constant(ints(starts)).constant(ints(ends));
  if (!axes.empty() || !steps.empty()) {
    if (axes.empty()) t.absent();
    else t.constant(ints(axes));
  }
  if (!steps.empty()) t.constant(ints(steps));
  expectSameTensor(t.run1(pool), pick<T>(in, idx));
}

TEST(Slice, ClampingAndNegativeIndices) {
  checkSlice<float>({5, 6}, {1, -4}, {4, 100}, {}, {});
  checkSlice<float>({5, 6}, {-100}, {kMax}, {1}, {});
  checkSlice<int64_t>({7}, {-3}, {-1}, {}, {});
  checkSlice<uint8_t>({2, 1, 5, 3}, {0, 1}, {1, 3}, {-3, 0}, {});
}

TEST(Slice, NegativeAndLargeSteps) {
  checkSlice<float>({7}, {-1}, {kMin}, {}, {-1});
  checkSlice<float>({7}, {5}, {1}, {}, {-2});
  checkSlice<int32_t>({4, 9}, {kMax, 8}, {kMin, 0}, {}, {-1, -3});
  checkSlice<uint16_t>({3, 4, 10}, {1}, {10}, {2}, {4});
  checkSlice<float>({3, 4, 10}, {0, 20}, {3, -20}, {0, -1}, {2, -7});
}

TEST(Slice, EmptyResults) {
  OpTest t("Slice");
  t.input(iota<float>({4, 3})).constant(ints({3})).constant(ints({1})).constant(ints({0}));
  EXPECT_EQ(t.shape(), (Shape{0, 3}));
  EXPECT_EQ(t.run1().numel(), 0);
  checkSlice<float>({4, 3}, {1}, {1}, {1}, {-1});
  OpTest none("Slice");  // an empty axis sliced backwards
  none.input(iota<float>({0, 3})).constant(ints({-1})).constant(ints({kMin})).constant(ints({0})).constant(
      ints({-1}));
  EXPECT_EQ(none.shape(), (Shape{0, 3}));
  EXPECT_EQ(none.run1().numel(), 0);
}

TEST(Slice, Int32ParamsAndRank6) {
  ir::Tensor in = iota<float>({2, 3, 2, 3, 2, 3});
  OpTest t("Slice");
  t.input(in).constant(int32s({1, -1})).constant(int32s({3, -3})).constant(int32s({-1, 1})).constant(
      int32s({1, -1}));
  EXPECT_EQ(t.shape(), (Shape{2, 2, 2, 3, 2, 2}));
  std::vector<std::vector<int64_t>> idx = {{0, 1}, {2, 1}, {0, 1}, {0, 1, 2}, {0, 1}, {1, 2}};
  expectSameTensor(t.run1(), pick<float>(in, idx));
}

TEST(Slice, LargeSliceWithThreads) {
  ThreadPool pool(4);
  checkSlice<float>({64, 65, 33}, {1, 2}, {63, 60}, {0, 2}, {1, 3}, &pool);
  checkSlice<int64_t>({300, 301}, {-1}, {kMin}, {1}, {-1}, &pool);
}

TEST(Slice, SymbolicAndNonConstantParameters) {
  OpTest whole("Slice");
  whole.symbolic(DType::kFLOAT, sym({named("N"), 8})).constant(ints({0, 2})).constant(ints({kMax, 6}));
  EXPECT_EQ(whole.shape()[0].symbol, "N");
  EXPECT_EQ(whole.shape()[1], Dim(4));
  OpTest part("Slice");
  part.symbolic(DType::kFLOAT, sym({named("N"), 8})).constant(ints({1})).constant(ints({kMax}));
  EXPECT_FALSE(part.shape()[0].known());
  EXPECT_TRUE(part.shape()[0].symbol.empty());
  OpTest dyn("Slice");  // runtime starts: the sliced axis is unknown, the other kept
  dyn.input(iota<float>({4, 5})).symbolic(DType::kINT64, {1}).constant(ints({3})).constant(ints({1}));
  EXPECT_EQ(dyn.shape()[0], Dim(4));
  EXPECT_FALSE(dyn.shape()[1].known());
}

TEST(Slice, Errors) {
  expectNodeError(
      [] {
        OpTest("Slice", "s0").input(iota<float>({4})).constant(ints({0})).constant(ints({4})).absent().constant(
            ints({0})).infer();
      },
      "s0", "steps must not be 0");
  expectNodeError(
      [] {
        OpTest("Slice", "s1").input(iota<float>({4, 4})).constant(ints({0, 0})).constant(ints({1, 1})).constant(
            ints({1, -1})).infer();
      },
      "s1", "repeated");
  expectNodeError(
      [] {
        OpTest("Slice", "s2").input(iota<float>({4})).constant(ints({0})).constant(ints({1})).constant(ints({1}))
            .infer();
      },
      "s2", "out of range");
}

TEST(Concat, ThreeInputsOnEachAxis) {
  ir::Tensor a = iota<int64_t>({2, 3, 4}), b = iota<int64_t>({2, 3, 4}, 100), c = iota<int64_t>({2, 3, 4}, 200);
  for (int64_t axis = -3; axis < 3; ++axis) {
    OpTest t("Concat");
    t.input(a).input(b).input(c).attr("axis", axis);
    ir::Tensor out = t.run1();
    int64_t ax = axis < 0 ? axis + 3 : axis;
    for (int64_t i = 0; i < out.numel(); ++i) {
      auto o = unravel(i, out.dims());
      int64_t which = o[ax] / a.dims()[ax];
      o[ax] %= a.dims()[ax];
      ASSERT_EQ(out.as<int64_t>()[i], 100 * which + ravel(o, a.dims())) << "axis " << axis;
    }
  }
}

TEST(Concat, UnequalSizesZeroSizedInputAndUint8) {
  OpTest t("Concat");
  t.input(iota<uint8_t>({2, 1})).input(iota<uint8_t>({2, 0})).input(iota<uint8_t>({2, 3}, 10)).attr("axis",
                                                                                                     int64_t{-1});
  EXPECT_EQ(t.shape(), (Shape{2, 4}));
  expectSameTensor(t.run1(), makeTensor<uint8_t>({2, 4}, {0, 10, 11, 12, 1, 13, 14, 15}));
}

// Reference concat of float tensors by index arithmetic.
ir::Tensor refConcat(const std::vector<ir::Tensor>& parts, int64_t axis) {
  std::vector<int64_t> dims = parts[0].dims();
  dims[axis] = 0;
  for (auto& p : parts) dims[axis] += p.dims()[axis];
  ir::Tensor out(DType::kFLOAT, dims);
  for (int64_t i = 0; i < out.numel(); ++i) {
    auto o = unravel(i, dims);
    std::size_t k = 0;
    while (o[axis] >= parts[k].dims()[axis]) o[axis] -= parts[k++].dims()[axis];
    out.mutableAs<float>()[i] = parts[k].as<float>()[ravel(o, parts[k].dims())];
  }
  return out;
}

TEST(Concat, LargeWithThreads) {
  ThreadPool pool(4);
  ir::Tensor a = iota<float>({3, 200, 100});
  for (int64_t axis : {0, 1}) {
    ir::Tensor b = axis == 0 ? iota<float>({2, 200, 100}, 1 << 20) : iota<float>({3, 57, 100}, 1 << 20);
    OpTest t("Concat");
    t.input(a).input(b).attr("axis", axis);
    expectSameTensor(t.run1(&pool), refConcat({a, b}, axis));
  }
}

TEST(Concat, SymbolicDimsAndErrors) {
  OpTest t("Concat");
  t.symbolic(DType::kFLOAT, sym({named("N"), 3})).symbolic(DType::kFLOAT, sym({named("N"), 5})).attr("axis",
                                                                                                   int64_t{1});
  EXPECT_EQ(t.shape()[0].symbol, "N");
  EXPECT_EQ(t.shape()[1], Dim(8));
  expectNodeError(
      [] { OpTest("Concat", "c1").input(iota<float>({2, 3})).input(iota<float>({2, 3, 1})).attr("axis", int64_t{0}).infer(); },
      "c1", "rank");
  expectNodeError(
      [] { OpTest("Concat", "c2").input(iota<float>({2, 3})).input(iota<int32_t>({2, 3})).attr("axis", int64_t{0}).infer(); },
      "c2", "int32");
  expectNodeError(
      [] { OpTest("Concat", "c3").input(iota<float>({2, 3})).input(iota<float>({2, 4})).attr("axis", int64_t{0}).infer(); },
      "c3", "on axis 1");
  expectNodeError(
      [] { OpTest("Concat", "c4").input(iota<float>({2, 3})).attr("axis", int64_t{2}).infer(); }, "c4",
      "out of range");
}

TEST(Split, SplitInputNumOutputsAndEqual) {
  ir::Tensor in = iota<float>({3, 7});
  OpTest t("Split");
  t.input(in).constant(ints({2, 0, 5})).attr("axis", int64_t{-1}).outputs(3);
  auto outs = t.run();
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[1].dims(), (std::vector<int64_t>{3, 0}));
  expectSameTensor(outs[0], pick<float>(in, {{0, 1, 2}, {0, 1}}));
  expectSameTensor(outs[2], pick<float>(in, {{0, 1, 2}, {2, 3, 4, 5, 6}}));

  OpTest uneven("Split");  // num_outputs: chunks of ceil(7/3) = 3, the last smaller
  uneven.input(in).attr("axis", int64_t{1}).attr("num_outputs", int64_t{3}).outputs(3);
  auto u = uneven.run();
  EXPECT_EQ(u[0].dims()[1], 3);
  EXPECT_EQ(u[2].dims()[1], 1);
  expectSameTensor(u[2], pick<float>(in, {{0, 1, 2}, {6}}));

  OpTest equal("Split");
  equal.input(iota<int64_t>({6, 2})).outputs(3);
  auto e = equal.run();
  expectSameTensor(e[2], makeTensor<int64_t>({2, 2}, {8, 9, 10, 11}));
}

TEST(Split, LargeWithThreadsAndErrors) {
  ThreadPool pool(4);
  ir::Tensor in = iota<int32_t>({50, 300, 10});
  OpTest t("Split");
  t.input(in).constant(ints({100, 199, 1})).attr("axis", int64_t{1}).outputs(3);
  auto single = t.run(), multi = t.run(&pool);
  for (int k = 0; k < 3; ++k) expectSameTensor(multi[k], single[k]);
  expectSameTensor(single[2], pick<int32_t>(in, {sliceIndices(50, 0, 50, 1), {299}, sliceIndices(10, 0, 10, 1)}));
  expectNodeError([] { OpTest("Split", "sp").input(iota<float>({7})).outputs(2).infer(); }, "sp", "equal parts");
  expectNodeError(
      [] { OpTest("Split", "sp2").input(iota<float>({7})).constant(ints({3, 3})).outputs(2).infer(); }, "sp2",
      "sums to 6");
}


// The NHWC form (kiln_nhwc, set where a oneDNN convolution chain passes a channels-last value
// through): NCHW-shaped views over NHWC bytes, concatenated / split on the channel axis.
ir::Tensor nhwcBytes(const ir::Tensor& t) {  // t's dims, its data reordered to NHWC
  const std::vector<int64_t>& d = t.dims();
  ir::Tensor out(DType::kFLOAT, d);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const auto o = unravel(i, d);  // n, c, h, w
    out.mutableAs<float>()[((o[0] * d[2] + o[2]) * d[3] + o[3]) * d[1] + o[1]] = t.as<float>()[i];
  }
  return out;
}

TEST(Concat, NhwcFormOnTheChannelAxis) {
  ThreadPool pool(2);
  const ir::Tensor a = iota<float>({2, 16, 3, 5}), b = iota<float>({2, 8, 3, 5}, 1000), c = iota<float>({2, 3, 3, 5}, 2000);
  OpTest t("Concat");
  t.input(nhwcBytes(a)).input(nhwcBytes(b)).input(nhwcBytes(c)).attr("axis", int64_t{1}).attr("kiln_nhwc", int64_t{1});
  expectSameTensor(t.run1(&pool), nhwcBytes(refConcat({a, b, c}, 1)));
}

TEST(Split, NhwcFormOnTheChannelAxis) {
  const ir::Tensor whole = iota<float>({2, 27, 4, 3});
  OpTest t("Split");
  t.input(nhwcBytes(whole)).constant(ints({16, 8, 3})).attr("axis", int64_t{1}).attr("kiln_nhwc", int64_t{1}).outputs(3);
  const auto outs = t.run();
  OpTest plain("Split");
  plain.input(whole).constant(ints({16, 8, 3})).attr("axis", int64_t{1}).outputs(3);
  const auto want = plain.run();
  for (int k = 0; k < 3; ++k) expectSameTensor(outs[k], nhwcBytes(want[k]));
}

}  // namespace
}  // namespace kiln::test
