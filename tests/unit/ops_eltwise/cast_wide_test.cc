// Cast to and from the types beyond TensorRT's: the four float8 formats
// (rounding to nearest even, saturation, infinity and NaN per ONNX's table),
// float64 and the 16/32/64-bit unsigned and 16-bit signed integers.
#include <cmath>
#include <limits>

#include "eltwise_test_util.h"

namespace kiln::test {
namespace {

constexpr int64_t kOnnxFloat = 1, kOnnxUint16 = 4, kOnnxInt16 = 5, kOnnxInt32 = 6, kOnnxDouble = 11,
                  kOnnxUint32 = 12, kOnnxUint64 = 13, kOnnxE4M3FN = 17, kOnnxE4M3FNUZ = 18, kOnnxE5M2 = 19,
                  kOnnxE5M2FNUZ = 20;
constexpr float kInf = std::numeric_limits<float>::infinity();

ir::Tensor cast(const ir::Tensor& x, int64_t to, int64_t saturate = 1) {
  return run("Cast", {in(x)}, {{"to", to}, {"saturate", saturate}});
}

std::vector<int> bytes(const ir::Tensor& t) {
  std::vector<int> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t.as<uint8_t>()[i]);
  return out;
}

// Codes worked out by hand from each format's definition (sign, exponent, bias, mantissa).
TEST(CastFp8, E4M3FNRoundsToNearestEvenAndSaturates) {
  // 1.0625 and 1.1875 lie halfway between neighbours: they go to the even mantissa.
  ir::Tensor x = F({1.f, 0.5f, 1.0625f, 1.1875f, 448.f, 500.f, kInf, -kInf, NAN, std::ldexp(1.f, -9), -0.f,
                    std::ldexp(1.f, -11)},
                   {12});
  ir::Tensor y = cast(x, kOnnxE4M3FN);
  ASSERT_EQ(y.dtype(), DType::kFP8);
  EXPECT_EQ(bytes(y), (std::vector<int>{0x38, 0x30, 0x38, 0x3A, 0x7E, 0x7E, 0x7E, 0xFE, 0x7F, 0x01, 0x80, 0x00}));
  ir::Tensor noSat = cast(F({500.f, kInf, 464.f, 465.f}, {4}), kOnnxE4M3FN, 0);
  EXPECT_EQ(bytes(noSat), (std::vector<int>{0x7F, 0x7F, 0x7E, 0x7F}));  // 464 ties down to 448; 465 overflows
  expectClose(cast(y, kOnnxFloat), {1.f, 0.5f, 1.f, 1.25f, 448.f, 448.f, 448.f, -448.f, NAN, std::ldexp(1.f, -9),
                                    -0.f, 0.f},
              0);
}

// ONNX's reference saturates infinity to the largest value in the UZ formats too.
TEST(CastFp8, UzFormatsHaveOneNaNAndNoNegativeZero) {
  ir::Tensor x = F({1.f, 240.f, 300.f, -0.f, kInf, NAN}, {6});
  EXPECT_EQ(bytes(cast(x, kOnnxE4M3FNUZ)), (std::vector<int>{0x40, 0x7F, 0x7F, 0x00, 0x7F, 0x80}));
  EXPECT_EQ(bytes(cast(x, kOnnxE4M3FNUZ, 0)), (std::vector<int>{0x40, 0x7F, 0x80, 0x00, 0x80, 0x80}));
  ir::Tensor z = F({1.f, 57344.f, 1e6f, -kInf}, {4});
  EXPECT_EQ(bytes(cast(z, kOnnxE5M2FNUZ)), (std::vector<int>{0x40, 0x7F, 0x7F, 0xFF}));
  ir::Tensor nan(DType::kFP8E4M3FNUZ, {1});
  nan.mutableAs<uint8_t>()[0] = 0x80;
  EXPECT_TRUE(std::isnan(cast(nan, kOnnxFloat).as<float>()[0]));
}

TEST(CastFp8, E5M2KeepsInfinityWithoutSaturate) {
  ir::Tensor x = F({1.f, 57344.f, 1e6f, kInf, -kInf, 1.125f, 1.375f}, {7});
  EXPECT_EQ(bytes(cast(x, kOnnxE5M2)), (std::vector<int>{0x3C, 0x7B, 0x7B, 0x7B, 0xFB, 0x3C, 0x3E}));
  EXPECT_EQ(bytes(cast(x, kOnnxE5M2, 0)), (std::vector<int>{0x3C, 0x7B, 0x7C, 0x7C, 0xFC, 0x3C, 0x3E}));
  // Between float8 formats: through float (e5m2 1.5 is exact in e4m3fn).
  ir::Tensor h(DType::kFP8E5M2, {2});
  h.mutableAs<uint8_t>()[0] = 0x3E;  // 1.5
  h.mutableAs<uint8_t>()[1] = 0x7C;  // inf
  EXPECT_EQ(bytes(cast(h, kOnnxE4M3FN)), (std::vector<int>{0x3C, 0x7E}));
}

TEST(CastWide, DoubleKeepsPrecisionAndSaturatesIntoIntegers) {
  ir::Tensor x = F({0.1f, -2.75f, 3e9f, -3e9f, NAN}, {5});
  ir::Tensor d = cast(x, kOnnxDouble);
  ASSERT_EQ(d.dtype(), DType::kDOUBLE);
  EXPECT_EQ(d.as<double>()[0], static_cast<double>(0.1f));  // float -> double is exact
  ir::Tensor i = cast(d, kOnnxInt32);
  EXPECT_EQ(ints(i), (std::vector<int64_t>{0, -2, 2147483647, -2147483648LL, 0}));
  ir::Tensor big = I64({(int64_t{1} << 53) + 1, -5}, {2});
  ir::Tensor bd = cast(big, kOnnxDouble);
  EXPECT_EQ(bd.as<double>()[0], std::ldexp(1.0, 53));  // one rounding, to even
  EXPECT_EQ(bd.as<double>()[1], -5.0);
}

TEST(CastWide, SmallAndUnsignedIntegersWrapAndSaturate) {
  ir::Tensor x = I64({-1, 70000, 5}, {3});
  ir::Tensor u16 = cast(x, kOnnxUint16);
  ASSERT_EQ(u16.dtype(), DType::kUINT16);
  EXPECT_EQ(ints(u16), (std::vector<int64_t>{65535, 70000 - 65536, 5}));  // integers wrap
  ir::Tensor i16 = cast(F({-40000.f, 1.9f, 40000.f}, {3}), kOnnxInt16);
  EXPECT_EQ(ints(i16), (std::vector<int64_t>{-32768, 1, 32767}));  // floats saturate
  ir::Tensor u32 = cast(F({-1.f, 5e9f, 7.5f}, {3}), kOnnxUint32);
  EXPECT_EQ(ints(u32), (std::vector<int64_t>{0, 4294967295LL, 7}));
  ir::Tensor u64 = cast(I64({-1}, {1}), kOnnxUint64);
  EXPECT_EQ(u64.as<uint64_t>()[0], std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(cast(u64, kOnnxFloat).as<float>()[0], 18446744073709551616.f);
}

}  // namespace
}  // namespace kiln::test
