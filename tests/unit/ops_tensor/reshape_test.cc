// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout: shape inference
// (symbolic dims included), errors, and the copy kernels.
#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Dim;
using ir::Shape;

TEST(Reshape, ZeroCopiesAndMinusOneInfers) {
  OpTest t("Reshape");
  t.input(iota<float>({2, 3, 4})).constant(ints({0, -1}));
  EXPECT_EQ(t.shape(), (Shape{2, 12}));
  ir::Tensor out = t.run1();
  expectSameTensor(out, iota<float>({2, 12}));
}

TEST(Reshape, Int32ShapeAndRank6) {
  OpTest t("Reshape");
  t.input(iota<int64_t>({720})).constant(int32s({2, 3, 4, 5, 1, -1}));
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4, 5, 1, 6}));
  expectSameTensor(t.run1(), iota<int64_t>({2, 3, 4, 5, 1, 6}));
}

TEST(Reshape, AllowZeroKeepsZeroDims) {
  OpTest t("Reshape");
  t.input(iota<uint8_t>({0, 4})).constant(ints({4, 0})).attr("allowzero", int64_t{1});
  EXPECT_EQ(t.shape(), (Shape{4, 0}));
  EXPECT_EQ(t.run1().numel(), 0);
  OpTest copy("Reshape");  // without allowzero the 0 copies input dim 1 (= 4)
  copy.input(iota<uint8_t>({4, 4})).constant(ints({2, 0, 2}));
  EXPECT_EQ(copy.shape(), (Shape{2, 4, 2}));
}

TEST(Reshape, SymbolicDimsPropagate) {
  OpTest t("Reshape");
  t.symbolic(DType::kFLOAT, sym({named("N"), 3, 4})).constant(ints({0, -1}));
  EXPECT_EQ(t.shape(), (Shape{Dim(std::string("N")), 12}));
  EXPECT_EQ(t.shape()[0].symbol, "N");
  OpTest u("Reshape");  // -1 absorbs the symbolic dim: unknown
  u.symbolic(DType::kFLOAT, sym({named("N"), 3, 4})).constant(ints({-1, 4}));
  EXPECT_FALSE(u.shape()[0].known());
  EXPECT_EQ(u.shape()[1], Dim(4));
}

TEST(Reshape, NonConstantShapeGivesUnknownDimsOfKnownRank) {
  OpTest t("Reshape");
  t.input(iota<float>({2, 6})).symbolic(DType::kINT64, {3});
  Shape s = t.shape();
  ASSERT_EQ(s.size(), 3u);
  for (const Dim& d : s) EXPECT_FALSE(d.known());
}

TEST(Reshape, ErrorsNameTheNode) {
  expectNodeError([] { OpTest("Reshape", "r1").input(iota<float>({3, 4})).constant(ints({5, -1})).infer(); },
                  "r1", "cannot reshape");
  expectNodeError([] { OpTest("Reshape", "r2").input(iota<float>({3, 4})).constant(ints({5, 2})).infer(); },
                  "r2", "12 elements");
  expectNodeError([] { OpTest("Reshape", "r3").input(iota<float>({12})).constant(ints({-1, -1})).infer(); },
                  "r3", "more than one -1");
  expectNodeError([] { OpTest("Reshape", "r4").input(iota<float>({12})).constant(ints({12, 0})).infer(); },
                  "r4", "copies dim 1");
  expectNodeError([] { OpTest("Reshape", "r5").input(iota<float>({12})).constant(ints({-2, 6})).infer(); },
                  "r5", "invalid dim -2");
  expectNodeError(
      [] {
        OpTest("Reshape", "r6").input(iota<float>({0, 3})).constant(ints({0, -1})).attr("allowzero", int64_t{1})
            .infer();
      },
      "r6", "both 0 and -1");
}

TEST(Reshape, KernelIsNoOpWhenBuffersAlias) {
  OpTest t("Reshape");
  t.input(iota<float>({4})).constant(ints({2, 2}));
  ir::Node& n = t.infer();
  auto kernel = cpu::tactics().find("Reshape.ref")->create(n);
  std::vector<float> buf{1, 2, 3, 4};
  std::vector<int64_t> shape{2, 2};
  cpu::TensorView in[2] = {cpu::makeView(buf.data(), DType::kFLOAT, {4}),
                           cpu::makeView(shape.data(), DType::kINT64, {2})};
  cpu::TensorView out = cpu::makeView(buf.data(), DType::kFLOAT, {2, 2});
  ThreadPool pool(1);
  cpu::ExecContext ctx;
  ctx.pool = &pool;
  kernel->run(ctx, in, &out);
  EXPECT_EQ(buf, (std::vector<float>{1, 2, 3, 4}));
}

TEST(Flatten, AxesAndSymbols) {
  OpTest t("Flatten");
  t.input(iota<int32_t>({2, 3, 4, 5})).attr("axis", int64_t{2});
  EXPECT_EQ(t.shape(), (Shape{6, 20}));
  expectSameTensor(t.run1(), iota<int32_t>({6, 20}));
  OpTest zero("Flatten");
  zero.input(iota<float>({2, 3})).attr("axis", int64_t{0});
  EXPECT_EQ(zero.shape(), (Shape{1, 6}));
  OpTest neg("Flatten");
  neg.symbolic(DType::kFLOAT, sym({named("N"), 3, 4})).attr("axis", int64_t{-2});
  EXPECT_EQ(neg.shape()[0].symbol, "N");
  EXPECT_EQ(neg.shape()[1], Dim(12));
  expectNodeError([] { OpTest("Flatten", "f").input(iota<float>({2, 3})).attr("axis", int64_t{3}).infer(); }, "f",
                  "out of range");
}

TEST(Squeeze, WithAndWithoutAxes) {
  OpTest t("Squeeze");
  t.input(iota<float>({1, 3, 1, 2})).constant(ints({-2}));
  EXPECT_EQ(t.shape(), (Shape{1, 3, 2}));
  expectSameTensor(t.run1(), iota<float>({1, 3, 2}));
  OpTest all("Squeeze");
  all.symbolic(DType::kFLOAT, sym({1, named("N"), 1, 4}));
  EXPECT_EQ(all.shape(), (Shape{Dim(std::string("N")), 4}));
  EXPECT_EQ(all.shape()[0].symbol, "N");
  expectNodeError([] { OpTest("Squeeze", "sq").input(iota<float>({2, 3})).constant(ints({1})).infer(); }, "sq",
                  "cannot squeeze axis 1 of size 3");
  expectNodeError([] { OpTest("Squeeze", "sq2").input(iota<float>({1, 3})).constant(ints({2})).infer(); }, "sq2",
                  "out of range");
}

TEST(Unsqueeze, KeepsSymbolicDims) {
  OpTest t("Unsqueeze");
  t.symbolic(DType::kFLOAT, sym({named("N"), 3})).constant(ints({0, -1}));
  Shape s = t.shape();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], Dim(1));
  EXPECT_EQ(s[1].symbol, "N");
  EXPECT_EQ(s[2], Dim(3));
  EXPECT_EQ(s[3], Dim(1));
  OpTest run("Unsqueeze");
  run.input(iota<uint8_t>({2, 3})).constant(ints({1, 3}));
  EXPECT_EQ(run.shape(), (Shape{2, 1, 3, 1}));
  expectSameTensor(run.run1(), iota<uint8_t>({2, 1, 3, 1}));
  expectNodeError([] { OpTest("Unsqueeze", "u").input(iota<float>({2})).constant(ints({0, 0})).infer(); }, "u",
                  "repeated");
  expectNodeError([] { OpTest("Unsqueeze", "u2").input(iota<float>({2})).constant(ints({3})).infer(); }, "u2",
                  "out of range");
}

TEST(Unsqueeze, NonConstantAxesWithKnownLength) {
  OpTest t("Unsqueeze");
  t.input(iota<float>({2, 3})).symbolic(DType::kINT64, {2});
  EXPECT_EQ(t.shape().size(), 4u);
}

TEST(Identity, CopiesAnyDtype) {
  OpTest t("Identity");
  t.input(iota<int8_t>({5, 7}, -10));
  expectSameTensor(t.run1(), iota<int8_t>({5, 7}, -10));
  OpTest h("Identity");
  h.input(iota<uint16_t>({3}));
  expectSameTensor(h.run1(), iota<uint16_t>({3}));
}

TEST(Dropout, InferenceIsIdentityWithTrueMask) {
  OpTest t("Dropout");
  t.input(iota<float>({2, 3})).constant(scalar<float>(0.5f)).outputs(2);
  EXPECT_EQ(t.out(1).dtype, DType::kBOOL);
  auto outs = t.run();
  expectSameTensor(outs[0], iota<float>({2, 3}));
  ASSERT_EQ(outs[1].dtype(), DType::kBOOL);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(outs[1].as<uint8_t>()[i], 1);
  ir::Tensor training = makeTensor<uint8_t>({}, {1});
  expectNodeError(
      [&] { OpTest("Dropout", "d").input(iota<float>({2})).absent().constant(training).infer(); }, "d",
      "training_mode");
}

TEST(Reshape, LargeCopyUsesThePool) {
  ThreadPool pool(4);
  OpTest t("Reshape");
  t.input(iota<int32_t>({512, 513})).constant(ints({-1}));
  expectSameTensor(t.run1(&pool), iota<int32_t>({512 * 513}));
}

}  // namespace
}  // namespace kiln::test
