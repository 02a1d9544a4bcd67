// CumSum, TopK, Hardmax, Einsum and Det against loops written here:
// exclusive/reverse, ties by index, every axis, diagonals, broadcast
// ellipses, implicit outputs, singular matrices.
#include <cmath>

#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Shape;

std::vector<float> floats(const ir::Tensor& t) { return t.toFloat(); }

TEST(CumSum, ExclusiveReverseOnEveryAxis) {
  ir::Tensor x = iota<float>({2, 3, 4}, 1);
  for (int64_t axis = -3; axis < 3; ++axis)
    for (int64_t excl : {0, 1})
      for (int64_t rev : {0, 1}) {
        int64_t a = axis < 0 ? axis + 3 : axis;
        std::vector<float> want(24);
        for (int64_t i = 0; i < 24; ++i) {
          std::vector<int64_t> c = unravel(i, {2, 3, 4});
          float s = 0;
          for (int64_t k = 0; k < x.dims()[a]; ++k) {
            bool take = rev ? (excl ? k > c[a] : k >= c[a]) : (excl ? k < c[a] : k <= c[a]);
            std::vector<int64_t> cc = c;
            cc[a] = k;
            if (take) s += x.as<float>()[ravel(cc, {2, 3, 4})];
          }
          want[i] = s;
        }
        OpTest t("CumSum");
        t.input(x).input(scalar<int32_t>(static_cast<int32_t>(axis))).attr("exclusive", excl).attr("reverse", rev);
        EXPECT_EQ(floats(t.run1()), want) << axis << excl << rev;
      }
  OpTest i("CumSum");
  i.input(makeTensor<int64_t>({4}, {1, -2, 3, 4})).input(scalar<int64_t>(0));
  EXPECT_EQ(valuesOf<int64_t>(i.run1()), (std::vector<int64_t>{1, -1, 2, 6}));
}

TEST(TopK, LargestSmallestTiesAndAxes) {
  OpTest t("TopK");
  t.input(makeTensor<float>({2, 5}, {3, 1, 3, 5, 1, 0, 0, -1, 2, 2})).constant(ints({3})).outputs(2);
  EXPECT_EQ(t.shape(0), (Shape{2, 3}));
  auto outs = t.run();
  EXPECT_EQ(floats(outs[0]), (std::vector<float>{5, 3, 3, 2, 2, 0}));
  EXPECT_EQ(valuesOf<int64_t>(outs[1]), (std::vector<int64_t>{3, 0, 2, 3, 4, 0}));  // ties: lower index first
  OpTest s("TopK");
  s.input(makeTensor<int64_t>({3, 2}, {4, 1, 4, 0, 2, 7})).constant(ints({2})).attr("axis", int64_t{0})
      .attr("largest", int64_t{0}).outputs(2);
  auto so = s.run();
  EXPECT_EQ(valuesOf<int64_t>(so[0]), (std::vector<int64_t>{2, 0, 4, 1}));
  EXPECT_EQ(valuesOf<int64_t>(so[1]), (std::vector<int64_t>{2, 1, 0, 0}));
  OpTest bad("TopK", "tk");
  bad.input(iota<float>({2, 3})).constant(ints({4})).outputs(2);
  expectNodeError([&] { bad.infer(); }, "tk", "K is 4");
}

TEST(Hardmax, FirstMaximumOnTheAxis) {
  OpTest t("Hardmax");
  t.input(makeTensor<float>({2, 3}, {1, 3, 3, -1, -2, -5})).attr("axis", int64_t{1});
  EXPECT_EQ(floats(t.run1()), (std::vector<float>{0, 1, 0, 1, 0, 0}));
  OpTest a0("Hardmax");
  a0.input(makeTensor<float>({2, 3}, {1, 3, 3, 1, 4, -5})).attr("axis", int64_t{0});
  EXPECT_EQ(floats(a0.run1()), (std::vector<float>{1, 0, 1, 0, 1, 0}));
}

//! Einsum computed the slow obvious way for two inputs and explicit labels.
TEST(Einsum, MatmulTransposeTraceDiagonalAndSums) {
  ir::Tensor a = iota<float>({2, 3, 4}, 1), b = iota<float>({2, 4, 5}, -3);
  OpTest mm("Einsum");
  mm.input(a).input(b).attr("equation", std::string("bij, bjk -> bik"));
  EXPECT_EQ(mm.shape(), (Shape{2, 3, 5}));
  std::vector<float> want(30, 0);
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k)
        for (int j = 0; j < 4; ++j)
          want[(n * 3 + i) * 5 + k] += a.as<float>()[(n * 3 + i) * 4 + j] * b.as<float>()[(n * 4 + j) * 5 + k];
  EXPECT_EQ(floats(mm.run1()), want);

  ir::Tensor m = iota<float>({3, 3});
  OpTest tr("Einsum");
  tr.input(m).attr("equation", std::string("ii"));  // implicit output: a scalar trace
  EXPECT_EQ(tr.shape(), Shape{});
  EXPECT_EQ(floats(tr.run1()), (std::vector<float>{0 + 4 + 8}));
  OpTest dg("Einsum");
  dg.input(iota<float>({2, 3, 3})).attr("equation", std::string("...ii->...i"));
  EXPECT_EQ(floats(dg.run1()), (std::vector<float>{0, 4, 8, 9, 13, 17}));
  OpTest tp("Einsum");
  tp.input(iota<float>({2, 3})).attr("equation", std::string("ij"));
  EXPECT_EQ(floats(tp.run1()), floats(iota<float>({2, 3})));
  OpTest ji("Einsum");
  ji.input(iota<float>({2, 3})).attr("equation", std::string("ji"));  // implicit: alphabetical -> transpose
  EXPECT_EQ(floats(ji.run1()), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  OpTest sum("Einsum");
  sum.input(iota<float>({2, 3})).attr("equation", std::string("ij->i"));
  EXPECT_EQ(floats(sum.run1()), (std::vector<float>{3, 12}));
  OpTest bc("Einsum");  // ellipsis dims broadcast: [2,1] against [3]
  bc.input(makeTensor<float>({2, 1, 2}, {1, 2, 3, 4})).input(makeTensor<float>({3, 2}, {1, 0, 0, 1, 1, 1}))
      .attr("equation", std::string("...j,...j->..."));
  EXPECT_EQ(bc.shape(), (Shape{2, 3}));
  EXPECT_EQ(floats(bc.run1()), (std::vector<float>{1, 2, 3, 3, 4, 7}));
  OpTest bad("Einsum", "es");
  bad.input(iota<float>({2, 3})).attr("equation", std::string("ijk->i"));
  expectNodeError([&] { bad.infer(); }, "es", "does not match input 0");
  OpTest bad2("Einsum", "es2");
  bad2.input(iota<float>({2, 3})).attr("equation", std::string("ij->iz"));
  expectNodeError([&] { bad2.infer(); }, "es2", "no input has");
}

TEST(Det, BatchesSingularAndPivoting) {
  OpTest t("Det");
  // [[0, 2], [3, 4]] needs a row swap: det -6; a singular one; a 3x3 with det 1*(5*9-6*8)... computed below.
  t.input(makeTensor<float>({3, 3, 3}, {0, 2, 0, 3, 4, 0, 0, 0, 1,  //
                                         1, 2, 3, 2, 4, 6, 0, 1, 1,  //
                                         2, -1, 0, -1, 2, -1, 0, -1, 2}));
  EXPECT_EQ(t.shape(), (Shape{3}));
  std::vector<float> got = floats(t.run1());
  EXPECT_NEAR(got[0], -6, 1e-5);
  EXPECT_NEAR(got[1], 0, 1e-5);
  EXPECT_NEAR(got[2], 4, 1e-5);
  OpTest bad("Det", "d");
  bad.input(iota<float>({2, 3}));
  expectNodeError([&] { bad.infer(); }, "d", "square");
}

}  // namespace
}  // namespace kiln::test
