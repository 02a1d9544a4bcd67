// Cast and CastLike between every Kiln dtype: rounding to float16/bfloat16,
// float-to-integer truncation and saturation, integer wrapping, bool, round trips.
#include <cmath>
#include <limits>

#include "eltwise_test_util.h"

namespace kiln::test {
namespace {

// ONNX TensorProto.DataType numbers.
constexpr int64_t kOnnxFloat = 1, kOnnxUint8 = 2, kOnnxInt8 = 3, kOnnxInt32 = 6, kOnnxInt64 = 7, kOnnxBool = 9,
                  kOnnxHalf = 10, kOnnxDouble = 11, kOnnxBf16 = 16;

ir::Tensor cast(const ir::Tensor& x, int64_t to) { return run("Cast", {in(x)}, {{"to", to}}); }

std::vector<uint16_t> bits16(const ir::Tensor& t) { return std::vector<uint16_t>(t.as<uint16_t>(), t.as<uint16_t>() + t.numel()); }

TEST(Cast, FloatToHalfRoundsToNearestEven) {
  const float ulp = std::ldexp(1.f, -10);  // float16 spacing at 1.0
  ir::Tensor x = F({1.f, -2.5f, 1.f + ulp / 2, 1.f + 3 * ulp / 2, 65504.f, 70000.f, 1e-8f, 0.1f}, {8});
  ir::Tensor h = cast(x, kOnnxHalf);
  ASSERT_EQ(h.dtype(), DType::kHALF);
  EXPECT_EQ(bits16(h)[0], 0x3c00);
  EXPECT_EQ(bits16(h)[1], 0xc100);
  ir::Tensor back = cast(h, kOnnxFloat);
  std::vector<float> want = {1.f, -2.5f, 1.f, 1.f + 2 * ulp, 65504.f, std::numeric_limits<float>::infinity(), 0.f,
                             0.0999755859375f};
  expectClose(back, want, 0);
}

TEST(Cast, FloatToBf16RoundsToNearestEven) {
  const float ulp = std::ldexp(1.f, -7);  // bfloat16 spacing at 1.0
  ir::Tensor x = F({1.f, 1.f + ulp / 2, 1.f + 3 * ulp / 2, -3.f, 1e30f, 0.1f}, {6});
  ir::Tensor b = cast(x, kOnnxBf16);
  ASSERT_EQ(b.dtype(), DType::kBF16);
  EXPECT_EQ(bits16(b)[0], 0x3f80);
  ir::Tensor back = cast(b, kOnnxFloat);
  expectClose(back, {1.f, 1.f, 1.f + 2 * ulp, -3.f, bf16ToFloat(floatToBf16(1e30f)), 0.10009765625f}, 0);
}

TEST(Cast, EveryHalfSurvivesARoundTripThroughFloatAndBf16) {
  ir::Tensor h(DType::kHALF, {65536});
  for (int i = 0; i < 65536; ++i) h.mutableAs<uint16_t>()[i] = static_cast<uint16_t>(i);
  ir::Tensor f = cast(h, kOnnxFloat);
  ir::Tensor h2 = cast(f, kOnnxHalf);
  for (int i = 0; i < 65536; ++i) {
    if (std::isnan(f.as<float>()[i])) continue;
    ASSERT_EQ(h2.as<uint16_t>()[i], i) << "half bits " << i;
  }
  // Every bfloat16 value is a float whose low 16 bits are zero: float -> bf16 -> float is exact.
  ir::Tensor bf(DType::kBF16, {65536});
  for (int i = 0; i < 65536; ++i) bf.mutableAs<uint16_t>()[i] = static_cast<uint16_t>(i);
  ir::Tensor fb = cast(bf, kOnnxFloat);
  ir::Tensor bf2 = cast(fb, kOnnxBf16);
  for (int i = 0; i < 65536; ++i) {
    if (std::isnan(fb.as<float>()[i])) continue;
    ASSERT_EQ(bf2.as<uint16_t>()[i], i) << "bf16 bits " << i;
  }
  // half -> bf16 directly (through float).
  ir::Tensor hb = cast(F({1.5f, -0.25f}, {2}), kOnnxHalf);
  expectClose(cast(cast(hb, kOnnxBf16), kOnnxFloat), {1.5f, -0.25f}, 0);
}

TEST(Cast, ToHalfMatchesCoreConversionOnAnyBitPattern) {
  // The kernel's float16 rounding is its own branch-free code: it must agree
  // with core/dtype.h's floatToHalf everywhere (every exponent, NaN, inf, subnormals).
  ir::Tensor x(DType::kFLOAT, {1 << 20});
  std::mt19937 rng(42);
  for (int64_t i = 0; i < x.numel(); ++i) {
    uint32_t bits = rng();
    std::memcpy(x.mutableAs<float>() + i, &bits, 4);
  }
  ir::Tensor h = cast(x, kOnnxHalf);
  for (int64_t i = 0; i < x.numel(); ++i)
    ASSERT_EQ(h.as<uint16_t>()[i], floatToHalf(x.as<float>()[i])) << "float " << x.as<float>()[i];
  // Around every boundary: each float16 value and the midpoints next to it.
  ir::Tensor edges(DType::kFLOAT, {65536 * 4});
  for (int i = 0; i < 65536; ++i) {
    float v = halfToFloat(static_cast<uint16_t>(i)), next = halfToFloat(static_cast<uint16_t>(i + 1));
    float* e = edges.mutableAs<float>() + 4 * i;
    e[0] = v;
    e[1] = std::nextafter(v, INFINITY);
    e[2] = std::nextafter(v, -INFINITY);
    e[3] = std::isfinite(v) && std::isfinite(next) ? (v + next) / 2 : v;  // a tie: rounds to even
  }
  ir::Tensor he = cast(edges, kOnnxHalf);
  for (int64_t i = 0; i < edges.numel(); ++i)
    ASSERT_EQ(he.as<uint16_t>()[i], floatToHalf(edges.as<float>()[i])) << "float " << edges.as<float>()[i];
}

TEST(Cast, FloatToIntegerTruncatesAndSaturates) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  ir::Tensor x = F({2.7f, -2.7f, 3e9f, -3e9f, nan, 0.f}, {6});
  ir::Tensor i32 = cast(x, kOnnxInt32);
  EXPECT_EQ(i32.dtype(), DType::kINT32);
  EXPECT_EQ(ints(i32), (std::vector<int64_t>{2, -2, std::numeric_limits<int32_t>::max(),
                                             std::numeric_limits<int32_t>::min(), 0, 0}));
  EXPECT_EQ(ints(cast(x, kOnnxInt64)), (std::vector<int64_t>{2, -2, 3000000000, -3000000000, 0, 0}));
  EXPECT_EQ(ints(cast(F({1e20f, -1e20f}, {2}), kOnnxInt64)),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(ints(cast(F({-1.f, 300.f, 7.9f}, {3}), kOnnxUint8)), (std::vector<int64_t>{0, 255, 7}));
  EXPECT_EQ(ints(cast(F({-200.f, 127.9f, -5.5f}, {3}), kOnnxInt8)), (std::vector<int64_t>{-128, 127, -5}));
  // float16 source goes the same way.
  EXPECT_EQ(ints(cast(cast(F({-3.75f, 1000.f}, {2}), kOnnxHalf), kOnnxInt8)), (std::vector<int64_t>{-3, 127}));
}

TEST(Cast, IntegersWrapAndConvert) {
  ir::Tensor big = I64({(int64_t{1} << 32) + 5, -1, 16777217}, {3});
  EXPECT_EQ(ints(cast(big, kOnnxInt32)), (std::vector<int64_t>{5, -1, 16777217}));
  EXPECT_EQ(ints(cast(big, kOnnxUint8)), (std::vector<int64_t>{5, 255, 1}));
  ir::Tensor f = cast(big, kOnnxFloat);
  EXPECT_EQ(f.as<float>()[2], 16777216.f);  // one rounding to nearest even
  ir::Tensor i32 = I32({-7, 0, 123456}, {3});
  EXPECT_EQ(ints(cast(cast(i32, kOnnxInt64), kOnnxInt32)), ints(i32));
  EXPECT_EQ(ints(cast(cast(I64({-128, 127}, {2}), kOnnxInt8), kOnnxInt64)), (std::vector<int64_t>{-128, 127}));
}

TEST(Cast, Bool) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  ir::Tensor b = cast(F({0.f, -0.f, 0.5f, -3.f, nan}, {5}), kOnnxBool);
  EXPECT_EQ(b.dtype(), DType::kBOOL);
  EXPECT_EQ(ints(b), (std::vector<int64_t>{0, 0, 1, 1, 1}));
  EXPECT_EQ(ints(cast(I64({0, 5, -1}, {3}), kOnnxBool)), (std::vector<int64_t>{0, 1, 1}));
  expectClose(cast(B({1, 0}, {2}), kOnnxFloat), {1.f, 0.f}, 0);
  EXPECT_EQ(ints(cast(B({1, 0}, {2}), kOnnxInt64)), (std::vector<int64_t>{1, 0}));
  expectClose(cast(cast(B({1, 0}, {2}), kOnnxHalf), kOnnxFloat), {1.f, 0.f}, 0);
}

TEST(Cast, SameTypeAndScalarAndLarge) {
  ThreadPool pool(3);
  ir::Tensor x = randomF({3, 50021}, 4);
  ir::Tensor same = run("Cast", {in(x)}, {{"to", kOnnxFloat}}, &pool);
  expectClose(same, values(x), 0);
  ir::Tensor h = run("Cast", {in(x)}, {{"to", kOnnxHalf}}, &pool);
  for (int64_t i = 0; i < x.numel(); i += 997) ASSERT_EQ(h.as<uint16_t>()[i], floatToHalf(x.as<float>()[i]));
  ir::Tensor s = cast(F({-4.5f}, {}), kOnnxInt64);
  EXPECT_TRUE(s.dims().empty());
  EXPECT_EQ(ints(s), (std::vector<int64_t>{-4}));
}

TEST(CastLike, TakesTheSecondInputsType) {
  ir::Tensor out = run("CastLike", {in(F({1.9f, -1.9f}, {2})), in(I32({0}, {1}))});
  EXPECT_EQ(out.dtype(), DType::kINT32);
  EXPECT_EQ(out.dims(), (std::vector<int64_t>{2}));
  EXPECT_EQ(ints(out), (std::vector<int64_t>{1, -1}));
  ir::Tensor h = run("CastLike", {in(F({0.1f}, {1})), in(ir::Tensor(DType::kHALF, {3}))});
  EXPECT_EQ(h.dtype(), DType::kHALF);
  EXPECT_EQ(h.as<uint16_t>()[0], floatToHalf(0.1f));
}

TEST(CastSchema, TypesAndErrors) {
  EXPECT_EQ(inferOut("Cast", {typed(DType::kFLOAT, {ir::Dim("N")})}, {{"to", kOnnxInt64}}).dtype, DType::kINT64);
  EXPECT_EQ(inferOut("Cast", {typed(DType::kFLOAT, {2})}, {{"to", kOnnxBf16}}).dtype, DType::kBF16);
  EXPECT_EQ(inferOut("Cast", {typed(DType::kFLOAT, {2})}, {{"to", kOnnxBool}}).dtype, DType::kBOOL);
  EXPECT_EQ(inferOut("Cast", {typed(DType::kHALF, {2})}, {{"to", kOnnxDouble}}).dtype, DType::kDOUBLE);
  EXPECT_EQ(inferOut("Cast", {typed(DType::kFLOAT, {2})}, {{"to", int64_t{19}}}).dtype, DType::kFP8E5M2);
  expectSchemaError("Cast", {typed(DType::kFLOAT, {2})}, {{"to", int64_t{8}}}, "attribute 'to' is ONNX type 8");
  expectSchemaError("Cast", {typed(DType::kFLOAT, {2})}, {{"to", int64_t{17}}, {"saturate", int64_t{2}}},
                    "'saturate' must be 0 or 1");
  expectSchemaError("Cast", {typed(DType::kFLOAT, {2})}, {}, "'to'");
}

}  // namespace
}  // namespace kiln::test
