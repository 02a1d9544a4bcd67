// Elementwise and reduction kernels on the types beyond float32/int32/int64:
// float64, int16, uint16/32/64, float16 (through float32); the bitwise ops,
// BitShift, BitwiseNot, Shrink, IsNaN/IsInf on float16, bool ReduceMax/Min.
#include <cmath>
#include <limits>

#include "eltwise_test_util.h"

namespace kiln::test {
namespace {

template <typename T>
ir::Tensor typedT(DType dtype, const std::vector<double>& v, std::vector<int64_t> dims) {
  ir::Tensor t(dtype, std::move(dims));
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel());
  for (std::size_t i = 0; i < v.size(); ++i) t.mutableAs<T>()[i] = static_cast<T>(v[i]);
  return t;
}
ir::Tensor D(const std::vector<double>& v, std::vector<int64_t> dims) { return typedT<double>(DType::kDOUBLE, v, dims); }
ir::Tensor H(const std::vector<float>& v, std::vector<int64_t> dims) {
  ir::Tensor t(DType::kHALF, std::move(dims));
  for (std::size_t i = 0; i < v.size(); ++i) t.mutableAs<uint16_t>()[i] = floatToHalf(v[i]);
  return t;
}
template <typename T>
std::vector<double> asDoubles(const ir::Tensor& t) {
  std::vector<double> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(static_cast<double>(t.as<T>()[i]));
  return out;
}

TEST(WideTypes, DoubleArithmeticKeepsFloat64Precision) {
  ir::Tensor a = D({1.0, 1e-17, -3.5, 7.0}, {2, 2}), b = D({1e-16, 1.0}, {1, 2});
  ir::Tensor s = run("Add", {in(a), in(b)});
  ASSERT_EQ(s.dtype(), DType::kDOUBLE);
  EXPECT_EQ(asDoubles<double>(s), (std::vector<double>{1.0 + 1e-16, 1e-17 + 1.0, -3.5 + 1e-16, 8.0}));
  EXPECT_EQ(asDoubles<double>(run("Mod", {in(D({-7, 7, 5.5}, {3})), in(D({3, -3, 2}, {3}))})),
            (std::vector<double>{2, -2, 1.5}));
  EXPECT_EQ(asDoubles<double>(run("Max", {in(D({1, NAN, 3}, {3})), in(D({2, 0, -1}, {3})), in(D({0}, {1}))}))[2], 3);
  ir::Tensor e = run("Exp", {in(D({1.0, -0.5}, {2}))});
  EXPECT_EQ(e.as<double>()[0], std::exp(1.0));
  EXPECT_EQ(e.as<double>()[1], std::exp(-0.5));
}

TEST(WideTypes, SmallAndUnsignedIntegersMaxMinModWrap) {
  ir::Tensor a = typedT<int16_t>(DType::kINT16, {-7, 300, 32767}, {3}), b = typedT<int16_t>(DType::kINT16, {3, -7, 1}, {3});
  EXPECT_EQ(asDoubles<int16_t>(run("Mod", {in(a), in(b)})), (std::vector<double>{2, -1, 0}));  // the divisor's sign
  EXPECT_EQ(asDoubles<int16_t>(run("Add", {in(a), in(b)})), (std::vector<double>{-4, 293, -32768}));  // wraps
  for (DType t : {DType::kUINT16, DType::kUINT32, DType::kUINT64}) {
    auto make = [&](const std::vector<double>& v) {
      if (t == DType::kUINT16) return typedT<uint16_t>(t, v, {4});
      if (t == DType::kUINT32) return typedT<uint32_t>(t, v, {4});
      return typedT<uint64_t>(t, v, {4});
    };
    ir::Tensor x = make({1, 65535, 7, 0}), y = make({5, 2, 3, 9});
    ir::Tensor mx = run("Max", {in(x), in(y)}), mn = run("Min", {in(x), in(y)}), md = run("Mod", {in(x), in(y)});
    EXPECT_EQ(mx.toInt64(), (std::vector<int64_t>{5, 65535, 7, 9})) << dataTypeName(t);
    EXPECT_EQ(mn.toInt64(), (std::vector<int64_t>{1, 2, 3, 0})) << dataTypeName(t);
    EXPECT_EQ(md.toInt64(), (std::vector<int64_t>{1, 1, 1, 0})) << dataTypeName(t);
  }
}

TEST(WideTypes, Float16MaxMinModComputeInFloat) {
  ir::Tensor a = H({1.5f, -2.f, 5.f, NAN}, {4}), b = H({1.f, 3.f, -3.f, 1.f}, {4});
  expectClose(run("Max", {in(a), in(b)}), {1.5f, 3.f, 5.f, NAN}, 0);
  expectClose(run("Min", {in(a), in(b)}), {1.f, -2.f, -3.f, NAN}, 0);
  expectClose(run("Mod", {in(a), in(b)}, {{"fmod", int64_t{1}}}), {0.5f, -2.f, 2.f, NAN}, 0);
  expectClose(run("Mean", {in(a), in(b), in(H({0.5f}, {1}))}), {1.f, 0.5f, 2.5f / 3.f, NAN}, 1e-3f);
}

TEST(WideTypes, PowWithUnsignedExponents) {
  ir::Tensor base = F({2.f, -3.f, 0.5f}, {3});
  EXPECT_EQ(run("Pow", {in(base), in(typedT<uint32_t>(DType::kUINT32, {3, 2, 1}, {3}))}).toFloat(),
            (std::vector<float>{8.f, 9.f, 0.5f}));
  EXPECT_EQ(run("Pow", {in(base), in(typedT<uint64_t>(DType::kUINT64, {0, 3, 2}, {3}))}).toFloat(),
            (std::vector<float>{1.f, -27.f, 0.25f}));
}

TEST(WideTypes, BitwiseOpsBroadcastOnEveryIntegerType) {
  ir::Tensor a = typedT<uint8_t>(DType::kUINT8, {0xF0, 0x0F, 0xAA, 0x01, 0xFF, 0x00}, {2, 3});
  ir::Tensor b = typedT<uint8_t>(DType::kUINT8, {0x3C, 0xFF, 0x55}, {3});
  EXPECT_EQ(run("BitwiseAnd", {in(a), in(b)}).toInt64(), (std::vector<int64_t>{0x30, 0x0F, 0x00, 0x00, 0xFF, 0x00}));
  EXPECT_EQ(run("BitwiseOr", {in(a), in(b)}).toInt64(), (std::vector<int64_t>{0xFC, 0xFF, 0xFF, 0x3D, 0xFF, 0x55}));
  EXPECT_EQ(run("BitwiseXor", {in(a), in(b)}).toInt64(), (std::vector<int64_t>{0xCC, 0xF0, 0xFF, 0x3D, 0x00, 0x55}));
  ir::Tensor s = typedT<int32_t>(DType::kINT32, {-1, 5, 0}, {3});
  EXPECT_EQ(run("BitwiseNot", {in(s)}).toInt64(), (std::vector<int64_t>{0, -6, -1}));
  EXPECT_EQ(run("BitwiseAnd", {in(typedT<int16_t>(DType::kINT16, {-2}, {1})), in(typedT<int16_t>(DType::kINT16, {7, -1}, {2}))})
                .toInt64(),
            (std::vector<int64_t>{6, -2}));
  expectSchemaError("BitwiseAnd", {in(F({1}, {1})), in(F({1}, {1}))}, {}, "needs integer inputs");
}

TEST(WideTypes, BitShiftBothDirectionsAndWideShifts) {
  ir::Tensor x = typedT<uint16_t>(DType::kUINT16, {1, 0x8001, 7, 3}, {4});
  ir::Tensor n = typedT<uint16_t>(DType::kUINT16, {3, 1, 16, 0}, {4});
  EXPECT_EQ(run("BitShift", {in(x), in(n)}, {{"direction", std::string("LEFT")}}).toInt64(),
            (std::vector<int64_t>{8, 2, 0, 3}));
  EXPECT_EQ(run("BitShift", {in(x), in(n)}, {{"direction", std::string("RIGHT")}}).toInt64(),
            (std::vector<int64_t>{0, 0x4000, 0, 3}));
  ir::Tensor big = typedT<uint64_t>(DType::kUINT64, {1}, {1});
  EXPECT_EQ(run("BitShift", {in(big), in(typedT<uint64_t>(DType::kUINT64, {63}, {1}))},
                {{"direction", std::string("LEFT")}})
                .as<uint64_t>()[0],
            uint64_t{1} << 63);
  expectSchemaError("BitShift", {in(x), in(n)}, {{"direction", std::string("UP")}}, "'direction'");
  expectSchemaError("BitShift", {in(I64({1}, {1})), in(I64({1}, {1}))}, {{"direction", std::string("LEFT")}},
                    "unsigned");
}

TEST(WideTypes, ShrinkAndFloat16Predicates) {
  ir::Tensor x = F({-2.f, -0.5f, 0.f, 0.5f, 1.5f}, {5});
  expectClose(run("Shrink", {in(x)}, {{"lambd", 1.f}, {"bias", 0.5f}}), {-1.5f, 0.f, 0.f, 0.f, 1.f}, 0);
  expectClose(run("Shrink", {in(x)}), {-2.f, 0.f, 0.f, 0.f, 1.5f}, 0);  // lambd 0.5, bias 0: hard shrink
  expectClose(run("Shrink", {in(D({-3, 3}, {2}))}, {{"lambd", 1.f}, {"bias", 1.f}}), {-2.f, 2.f}, 0);
  expectSchemaError("Shrink", {in(x)}, {{"lambd", -1.f}}, "'lambd'");
  ir::Tensor h = H({1.f, NAN, INFINITY, -INFINITY}, {4});
  EXPECT_EQ(run("IsNaN", {in(h)}).toInt64(), (std::vector<int64_t>{0, 1, 0, 0}));
  EXPECT_EQ(run("IsInf", {in(h)}, {{"detect_positive", int64_t{0}}}).toInt64(), (std::vector<int64_t>{0, 0, 0, 1}));
  EXPECT_EQ(run("IsNaN", {in(D({NAN, 1}, {2}))}).toInt64(), (std::vector<int64_t>{1, 0}));
}

TEST(WideTypes, DoubleReductionsAndBoolMaxMin) {
  ir::Tensor x = D({0.0, 1.0, 2.0, 1000.0, -1000.0, 999.0}, {2, 3});
  ir::Tensor lse = run("ReduceLogSumExp", {in(x), constant(I64({1}, {1}))}, {{"keepdims", int64_t{0}}});
  ASSERT_EQ(lse.dtype(), DType::kDOUBLE);
  EXPECT_NEAR(lse.as<double>()[0], std::log(1 + std::exp(1.0) + std::exp(2.0)), 1e-12);
  EXPECT_NEAR(lse.as<double>()[1], 1000.0 + std::log(1 + std::exp(-1.0)), 1e-12);
  ir::Tensor b = B({1, 0, 1, 1, 1, 1}, {2, 3});
  EXPECT_EQ(run("ReduceMin", {in(b), constant(I64({1}, {1}))}, {{"keepdims", int64_t{0}}}).toInt64(),
            (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(run("ReduceMax", {in(B({0, 0, 0, 1}, {2, 2})), constant(I64({1}, {1}))}, {{"keepdims", int64_t{0}}})
                .toInt64(),
            (std::vector<int64_t>{0, 1}));
  expectSchemaError("ReduceSum", {in(b), constant(I64({1}, {1}))}, {}, "bool");
}

}  // namespace
}  // namespace kiln::test
