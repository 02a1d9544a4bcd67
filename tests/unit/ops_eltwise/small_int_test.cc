// int8 / uint8 elementwise math (ONNX defines Add, Sub, Mul, Div, Mod, Max,
// Min, comparisons and Clip on them; its node tests use both): wrap-around,
// truncating division, Python-style Mod, broadcasting, and Clip's defaults.
#include <cstring>

#include "eltwise_test_util.h"

namespace kiln::test {
namespace {

template <typename T>
ir::Tensor small(DType dtype, const std::vector<int>& v, std::vector<int64_t> dims) {
  ir::Tensor t(dtype, std::move(dims));
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel());
  for (std::size_t i = 0; i < v.size(); ++i) t.mutableAs<T>()[i] = static_cast<T>(v[i]);
  return t;
}
ir::Tensor I8(const std::vector<int>& v, std::vector<int64_t> dims) { return small<int8_t>(DType::kINT8, v, dims); }
ir::Tensor U8(const std::vector<int>& v, std::vector<int64_t> dims) { return small<uint8_t>(DType::kUINT8, v, dims); }

template <typename T>
std::vector<int> valuesOf(const ir::Tensor& t) {
  std::vector<int> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t.as<T>()[i]);
  return out;
}

TEST(SmallInt, Uint8ArithmeticWrapsAndTruncates) {
  ir::Tensor a = U8({250, 7, 9, 0, 200, 255}, {2, 3}), b = U8({10, 2, 0, 3, 100, 255}, {2, 3});
  EXPECT_EQ(valuesOf<uint8_t>(run("Add", {in(a), in(b)})), (std::vector<int>{4, 9, 9, 3, 44, 254}));
  EXPECT_EQ(valuesOf<uint8_t>(run("Sub", {in(a), in(b)})), (std::vector<int>{240, 5, 9, 253, 100, 0}));
  EXPECT_EQ(valuesOf<uint8_t>(run("Mul", {in(a), in(b)})), (std::vector<int>{196, 14, 0, 0, 32, 1}));
  // x / 0 is 0 rather than a trap (as for the wider integer types).
  EXPECT_EQ(valuesOf<uint8_t>(run("Div", {in(a), in(b)})), (std::vector<int>{25, 3, 0, 0, 2, 1}));
  EXPECT_EQ(valuesOf<uint8_t>(run("Mod", {in(a), in(b)})), (std::vector<int>{0, 1, 0, 0, 0, 0}));
  ir::Tensor out = run("Max", {in(a), in(b)});
  EXPECT_EQ(out.dtype(), DType::kUINT8);
  EXPECT_EQ(valuesOf<uint8_t>(out), (std::vector<int>{250, 7, 9, 3, 200, 255}));
  EXPECT_EQ(valuesOf<uint8_t>(run("Min", {in(a), in(b)})), (std::vector<int>{10, 2, 0, 0, 100, 255}));
}

TEST(SmallInt, Int8SignsBroadcastAndCompare) {
  ir::Tensor a = I8({-128, -7, 7, 127, -5, 3}, {2, 3}), b = I8({-1, 2, -3}, {3});
  // -128 * -1 and -128 / -1 wrap to -128 (two's complement), as numpy does.
  EXPECT_EQ(valuesOf<int8_t>(run("Mul", {in(a), in(b)})), (std::vector<int>{-128, -14, -21, -127, -10, -9}));
  EXPECT_EQ(valuesOf<int8_t>(run("Div", {in(a), in(b)})), (std::vector<int>{-128, -3, -2, -127, -2, -1}));
  // Mod takes the divisor's sign (numpy.mod); fmod = 1 the dividend's (C %).
  EXPECT_EQ(valuesOf<int8_t>(run("Mod", {in(a), in(b)})), (std::vector<int>{0, 1, -2, 0, 1, 0}));
  EXPECT_EQ(valuesOf<int8_t>(run("Mod", {in(a), in(b)}, {{"fmod", int64_t{1}}})),
            (std::vector<int>{0, -1, 1, 0, -1, 0}));
  EXPECT_EQ(valuesOf<int8_t>(run("Sum", {in(a), in(b), in(b)})), (std::vector<int>{126, -3, 1, 125, -1, -3}));
  ir::Tensor less = run("Less", {in(a), in(b)});
  EXPECT_EQ(less.dtype(), DType::kBOOL);
  EXPECT_EQ(valuesOf<uint8_t>(less), (std::vector<int>{1, 1, 0, 0, 1, 0}));
  EXPECT_EQ(valuesOf<uint8_t>(run("Equal", {in(I8({2}, {1})), in(b)})), (std::vector<int>{0, 1, 0}));
}

TEST(SmallInt, ClipDefaultsToTheTypesRange) {
  ir::Tensor x = I8({-128, -3, 0, 5, 127}, {5});
  EXPECT_EQ(valuesOf<int8_t>(run("Clip", {in(x), in(I8({-2}, {})), in(I8({4}, {}))})),
            (std::vector<int>{-2, -2, 0, 4, 4}));
  // No max: only the lower bound applies (ONNX's test_clip_default_int8_min).
  EXPECT_EQ(valuesOf<int8_t>(run("Clip", {in(x), in(I8({0}, {}))})), (std::vector<int>{0, 0, 0, 5, 127}));
  EXPECT_EQ(valuesOf<uint8_t>(run("Clip", {in(U8({0, 9, 255}, {3})), absent(), in(U8({200}, {}))})),
            (std::vector<int>{0, 9, 200}));
}

TEST(SmallInt, MixedTypesAreRejected) {
  // An int8 Add with a uint8 operand has no kernel (ONNX requires one type).
  auto g = makeNode("Add", {in(I8({1}, {1})), in(U8({1}, {1}))});
  cpu::Tactic const* ref = cpu::tactics().find("Add.ref");
  ASSERT_NE(ref, nullptr);
  g->node->outputs[0]->dtype = DType::kINT8;
  g->node->outputs[0]->shape = ir::shapeOf({1});
  EXPECT_FALSE(ref->supports(*g->node));
}

}  // namespace
}  // namespace kiln::test
