// ScatterElements, ScatterND, GatherND, ReverseSequence, OneHot, EyeLike and
// the window functions against loops written here from ONNX's definitions:
// negative indices, duplicate indices, every reduction, batch_dims, odd sizes.
#include <cmath>
#include <numbers>

#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Shape;

std::vector<float> floats(const ir::Tensor& t) { return t.toFloat(); }

TEST(ScatterElements, EveryAxisAndReduction) {
  ir::Tensor data = iota<float>({3, 4, 2}, 1);
  ir::Tensor idx = makeTensor<int64_t>({2, 2, 2}, {0, -1, 2, 1, 1, 0, -3, 2});
  ir::Tensor upd = makeTensor<float>({2, 2, 2}, {10, 20, 30, 40, 50, 60, 70, 80});
  for (int64_t axis = 0; axis < 3; ++axis)
    for (const char* red : {"none", "add", "mul", "max", "min"}) {
      int64_t dim = data.dims()[axis];
      // The same indices must be valid on every axis: clamp them into range for this one.
      std::vector<int64_t> iv = valuesOf<int64_t>(idx);
      for (int64_t& v : iv) v = std::max<int64_t>(-dim, std::min<int64_t>(v, dim - 1));
      ir::Tensor ix = makeTensor<int64_t>({2, 2, 2}, iv);
      ir::Tensor want = data.castTo(data.dtype());  // a deep copy: Tensor copies share storage
      float* w = want.mutableAs<float>();
      for (int64_t i = 0; i < 8; ++i) {
        std::vector<int64_t> c = unravel(i, {2, 2, 2});
        c[axis] = iv[i] < 0 ? iv[i] + dim : iv[i];
        float& d = w[ravel(c, data.dims())];
        float u = upd.as<float>()[i];
        std::string r = red;
        d = r == "none" ? u : r == "add" ? d + u : r == "mul" ? d * u : r == "max" ? std::max(d, u) : std::min(d, u);
      }
      OpTest t("ScatterElements");
      t.input(data).input(ix).input(upd).attr("axis", axis).attr("reduction", std::string(red));
      EXPECT_EQ(t.shape(), (Shape{3, 4, 2}));
      EXPECT_EQ(floats(t.run1()), floats(want)) << "axis " << axis << " " << red;
    }
}

TEST(ScatterElements, DuplicatesAddUpAndBadIndicesAreErrors) {
  OpTest t("ScatterElements");
  t.input(makeTensor<float>({1, 5}, {1, 2, 3, 4, 5}))
      .input(makeTensor<int32_t>({1, 3}, {1, 1, -1}))
      .input(makeTensor<float>({1, 3}, {1.1f, 2.1f, 7}))
      .attr("axis", int64_t{1})
      .attr("reduction", std::string("add"));
  EXPECT_EQ(floats(t.run1()), (std::vector<float>{1, 5.2f, 3, 4, 12}));
  OpTest bad("ScatterElements", "sc");
  bad.input(iota<float>({2, 2})).input(makeTensor<int64_t>({1, 1}, {2})).input(iota<float>({1, 1}));
  expectNodeError([&] { bad.run1(); }, "sc", "out of range");
  OpTest attr("ScatterElements", "sc2");
  attr.input(iota<float>({2, 2})).input(makeTensor<int64_t>({1, 1}, {0})).input(iota<float>({1, 1}))
      .attr("reduction", std::string("avg"));
  expectNodeError([&] { attr.infer(); }, "sc2", "'reduction'");
}

TEST(ScatterND, SlicesElementsAndReductions) {
  ir::Tensor data = iota<float>({4, 3, 2});
  // Two tuples of one index: whole [3, 2] slices; then element tuples of three.
  OpTest t("ScatterND");
  t.input(data).input(makeTensor<int64_t>({2, 1}, {-1, 1})).input(iota<float>({2, 3, 2}, 100));
  std::vector<float> want = floats(data);
  for (int k = 0; k < 6; ++k) want[3 * 6 + k] = 100.f + k, want[1 * 6 + k] = 106.f + k;
  EXPECT_EQ(floats(t.run1()), want);
  for (const char* red : {"add", "mul", "max", "min"}) {
    OpTest e("ScatterND");
    e.input(data).input(makeTensor<int64_t>({3, 3}, {0, 0, 1, 3, 2, 0, 0, 0, 1})).input(makeTensor<float>({3}, {5, 6, 7}))
        .attr("reduction", std::string(red));
    std::vector<float> w = floats(data);
    std::string r = red;
    auto apply = [&](float& d, float u) {
      d = r == "add" ? d + u : r == "mul" ? d * u : r == "max" ? std::max(d, u) : std::min(d, u);
    };
    apply(w[1], 5);
    apply(w[3 * 6 + 2 * 2], 6);
    apply(w[1], 7);  // a duplicate tuple reduces twice
    EXPECT_EQ(floats(e.run1()), w) << red;
  }
  OpTest bad("ScatterND", "snd");
  bad.input(data).input(makeTensor<int64_t>({1, 1}, {4})).input(iota<float>({1, 3, 2}));
  expectNodeError([&] { bad.run1(); }, "snd", "out of range");
}

TEST(GatherND, TuplesSlicesAndBatchDims) {
  ir::Tensor data = iota<int32_t>({2, 3, 4});
  OpTest t("GatherND");
  t.input(data).input(makeTensor<int64_t>({2, 2}, {1, -1, 0, 2}));
  EXPECT_EQ(t.shape(), (Shape{2, 4}));
  std::vector<int32_t> want;
  for (int k = 0; k < 4; ++k) want.push_back(1 * 12 + 2 * 4 + k);
  for (int k = 0; k < 4; ++k) want.push_back(0 * 12 + 2 * 4 + k);
  EXPECT_EQ(valuesOf<int32_t>(t.run1()), want);
  // batch_dims 1: each batch entry indexes its own [3, 4].
  OpTest b("GatherND");
  b.input(data).input(makeTensor<int64_t>({2, 1, 2}, {0, 3, 2, 1})).attr("batch_dims", int64_t{1});
  EXPECT_EQ(b.shape(), (Shape{2, 1}));
  EXPECT_EQ(valuesOf<int32_t>(b.run1()), (std::vector<int32_t>{3, 12 + 2 * 4 + 1}));
  OpTest bad("GatherND", "g");
  bad.input(data).input(makeTensor<int64_t>({1, 4}, {0, 0, 0, 0}));
  expectNodeError([&] { bad.infer(); }, "g", "last dim");
}

TEST(ReverseSequence, TimeMajorAndBatchMajor) {
  ir::Tensor x = iota<float>({4, 3, 2});  // [time, batch, 2]
  OpTest t("ReverseSequence");
  t.input(x).input(makeTensor<int64_t>({3}, {4, 1, 2}));
  std::vector<float> want = floats(x), src = floats(x);
  int64_t lens[3] = {4, 1, 2};
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t s = 0; s < lens[b]; ++s)
      for (int k = 0; k < 2; ++k) want[(s * 3 + b) * 2 + k] = src[((lens[b] - 1 - s) * 3 + b) * 2 + k];
  EXPECT_EQ(floats(t.run1()), want);
  OpTest bm("ReverseSequence");
  bm.input(iota<int64_t>({2, 3})).input(makeTensor<int64_t>({2}, {3, 0})).attr("batch_axis", int64_t{0})
      .attr("time_axis", int64_t{1});
  EXPECT_EQ(valuesOf<int64_t>(bm.run1()), (std::vector<int64_t>{2, 1, 0, 3, 4, 5}));
}

TEST(OneHot, AxesNegativeIndicesAndOutOfRange) {
  OpTest t("OneHot");
  t.input(makeTensor<int64_t>({2, 2}, {0, -1, 5, 2})).constant(scalar<float>(3.f)).input(makeTensor<float>({2}, {-1, 7}))
      .attr("axis", int64_t{1});
  EXPECT_EQ(t.shape(), (Shape{2, 3, 2}));
  // [i, d, j] = on where idx[i, j] (wrapped) == d; 5 is out of range: all off.
  EXPECT_EQ(floats(t.run1()), (std::vector<float>{7, -1, -1, -1, -1, 7, -1, -1, -1, -1, -1, 7}));
  OpTest last("OneHot");
  last.input(makeTensor<float>({3}, {1.9f, 0, -2})).constant(scalar<int64_t>(2)).input(makeTensor<int32_t>({2}, {0, 1}));
  EXPECT_EQ(valuesOf<int32_t>(last.run1()), (std::vector<int32_t>{0, 1, 1, 0, 1, 0}));
}

TEST(EyeLikeAndWindows, Values) {
  OpTest e("EyeLike");
  e.input(iota<float>({3, 4})).attr("k", int64_t{1}).attr("dtype", int64_t{6});
  ir::Tensor y = e.run1();
  ASSERT_EQ(y.dtype(), DType::kINT32);
  EXPECT_EQ(valuesOf<int32_t>(y), (std::vector<int32_t>{0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}));
  OpTest neg("EyeLike");
  neg.input(iota<int64_t>({3, 2})).attr("k", int64_t{-1});
  EXPECT_EQ(valuesOf<int64_t>(neg.run1()), (std::vector<int64_t>{0, 0, 1, 0, 0, 1}));
  for (int64_t periodic : {0, 1}) {
    OpTest w("HannWindow");
    w.constant(scalar<int64_t>(5)).attr("periodic", periodic);
    std::vector<float> got = floats(w.run1());
    ASSERT_EQ(got.size(), 5u);
    double N = periodic ? 5 : 4;
    for (int n = 0; n < 5; ++n)
      EXPECT_NEAR(got[n], 0.5 - 0.5 * std::cos(2 * std::numbers::pi * n / N), 1e-6) << n;
    OpTest b("BlackmanWindow");
    b.constant(scalar<int32_t>(7)).attr("periodic", periodic);
    std::vector<float> bv = floats(b.run1());
    double M = periodic ? 7 : 6;
    for (int n = 0; n < 7; ++n)
      EXPECT_NEAR(bv[n], 0.42 - 0.5 * std::cos(2 * std::numbers::pi * n / M) + 0.08 * std::cos(4 * std::numbers::pi * n / M),
                  1e-6);
  }
  OpTest h("HammingWindow");
  h.constant(scalar<int64_t>(1)).attr("periodic", int64_t{0});
  EXPECT_EQ(floats(h.run1()), (std::vector<float>{1.f}));
}

}  // namespace
}  // namespace kiln::test
