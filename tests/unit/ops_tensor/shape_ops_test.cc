// Shape, Size, ConstantOfShape and Range.
#include <cmath>

#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Dim;
using ir::Shape;

TEST(Shape, WholeAndStartEnd) {
  OpTest t("Shape");
  t.input(iota<float>({2, 3, 5, 7}));
  EXPECT_EQ(t.out().dtype, DType::kINT64);
  EXPECT_EQ(t.shape(), (Shape{4}));
  expectSameTensor(t.run1(), ints({2, 3, 5, 7}));
  OpTest part("Shape");
  part.input(iota<uint8_t>({2, 3, 5, 7})).attr("start", int64_t{1}).attr("end", int64_t{-1});
  expectSameTensor(part.run1(), ints({3, 5}));
  OpTest clamped("Shape");
  clamped.input(iota<uint8_t>({2, 3, 5, 7})).attr("start", int64_t{-10}).attr("end", int64_t{100});
  expectSameTensor(clamped.run1(), ints({2, 3, 5, 7}));
  OpTest empty("Shape");
  empty.input(iota<uint8_t>({2, 3})).attr("start", int64_t{2});
  EXPECT_EQ(empty.shape(), (Shape{0}));
  OpTest scalarIn("Shape");
  scalarIn.input(scalar<float>(1.f));
  EXPECT_EQ(scalarIn.shape(), (Shape{0}));
}

TEST(Shape, SymbolicInputHasKnownRank) {
  OpTest t("Shape");
  t.symbolic(DType::kFLOAT, sym({named("N"), 3, Dim()}));
  EXPECT_EQ(t.shape(), (Shape{3}));
}

TEST(Size, CountsElements) {
  OpTest t("Size");
  t.input(iota<int32_t>({4, 5, 6}));
  EXPECT_EQ(t.shape(), Shape{});
  expectSameTensor(t.run1(), scalar<int64_t>(120));
  OpTest empty("Size");
  empty.input(iota<float>({4, 0}));
  expectSameTensor(empty.run1(), scalar<int64_t>(0));
}

TEST(ConstantOfShape, DefaultFloatZeroAndTypedValues) {
  OpTest t("ConstantOfShape");
  t.constant(ints({2, 3}));
  EXPECT_EQ(t.out().dtype, DType::kFLOAT);
  expectSameTensor(t.run1(), makeTensor<float>({2, 3}, std::vector<float>(6, 0.f)));
  OpTest i64("ConstantOfShape");
  i64.constant(ints({4})).attr("value", makeTensor<int64_t>({1}, {-3}));
  expectSameTensor(i64.run1(), ints({-3, -3, -3, -3}));
  OpTest u8("ConstantOfShape");
  u8.input(ints({1, 2, 1, 3, 1, 2})).attr("value", makeTensor<uint8_t>({1}, {200}));
  ASSERT_EQ(u8.shape(), (Shape{Dim(), Dim(), Dim(), Dim(), Dim(), Dim()}));
  // A runtime shape input leaves the dims unknown; the graph can't be run
  // here, so check the kernel through a constant shape.
  OpTest u8c("ConstantOfShape");
  u8c.constant(ints({1, 2, 1, 3, 1, 2})).attr("value", makeTensor<uint8_t>({1}, {200}));
  expectSameTensor(u8c.run1(), makeTensor<uint8_t>({1, 2, 1, 3, 1, 2}, std::vector<uint8_t>(12, 200)));
  OpTest empty("ConstantOfShape");
  empty.constant(ints({}));
  EXPECT_EQ(empty.shape(), Shape{});
  expectSameTensor(empty.run1(), scalar<float>(0.f));
}

TEST(ConstantOfShape, Errors) {
  expectNodeError([] { OpTest("ConstantOfShape", "c").constant(ints({2, -1})).infer(); }, "c", "negative");
  expectNodeError(
      [] {
        OpTest("ConstantOfShape", "c2").constant(ints({2})).attr("value", makeTensor<float>({2}, {1.f, 2.f})).infer();
      },
      "c2", "one element");
}

TEST(Range, FloatAndIntegerSequences) {
  OpTest f("Range");
  f.constant(scalar<float>(1.f)).constant(scalar<float>(2.f)).constant(scalar<float>(0.3f));
  EXPECT_EQ(f.shape(), (Shape{4}));
  ir::Tensor out = f.run1();
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out.as<float>()[i], 1.f + i * 0.3f);
  OpTest down("Range");
  down.constant(scalar<int64_t>(10)).constant(scalar<int64_t>(3)).constant(scalar<int64_t>(-3));
  expectSameTensor(down.run1(), ints({10, 7, 4}));
  OpTest i32("Range");
  i32.constant(scalar<int32_t>(-2)).constant(scalar<int32_t>(3)).constant(scalar<int32_t>(2));
  expectSameTensor(i32.run1(), int32s({-2, 0, 2}));
  OpTest none("Range");
  none.constant(scalar<int64_t>(5)).constant(scalar<int64_t>(1)).constant(scalar<int64_t>(1));
  EXPECT_EQ(none.shape(), (Shape{0}));
}

TEST(Range, RuntimeInputsAndErrors) {
  OpTest dyn("Range");
  dyn.input(scalar<int64_t>(0)).constant(scalar<int64_t>(5)).constant(scalar<int64_t>(1));
  ASSERT_EQ(dyn.shape().size(), 1u);
  EXPECT_FALSE(dyn.shape()[0].known());
  expectNodeError(
      [] {
        OpTest("Range", "r").constant(scalar<int64_t>(0)).constant(scalar<int64_t>(5)).constant(scalar<int64_t>(0))
            .infer();
      },
      "r", "delta must not be 0");
  expectNodeError(
      [] {
        OpTest("Range", "r2").constant(scalar<int64_t>(0)).constant(scalar<float>(5)).constant(scalar<int64_t>(1))
            .infer();
      },
      "r2", "one dtype");
}

}  // namespace
}  // namespace kiln::test
