// Quantization ops: QuantizeLinear / DequantizeLinear by hand (rounding half
// to even, saturation, per tensor / per axis / blocked with a remainder
// block, int32 and float16; int16 / uint16 at their range's edges; the four
// float8 formats with and without `saturate`, their codes from ONNX's
// onnx.helper.float32_to_float8e4m3 / e5m2), DynamicQuantizeLinear on ONNX's documented
// example, and the integer matmul / conv kernels against the float MatMul /
// Conv reference kernels on the zero-point-shifted values (scales are powers
// of two so that the float path is exact); the schemas' errors.
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using V = std::vector<int64_t>;

template <typename T>
ir::Tensor typed(DType dtype, std::vector<int64_t> dims, const std::vector<int64_t>& values) {
  ir::Tensor t(dtype, std::move(dims));
  for (std::size_t i = 0; i < values.size(); ++i) t.mutableAs<T>()[i] = static_cast<T>(values[i]);
  return t;
}
ir::Tensor u8(std::vector<int64_t> dims, const std::vector<int64_t>& v) { return typed<uint8_t>(DType::kUINT8, dims, v); }
ir::Tensor i8(std::vector<int64_t> dims, const std::vector<int64_t>& v) { return typed<int8_t>(DType::kINT8, dims, v); }
ir::Tensor i32(std::vector<int64_t> dims, const std::vector<int64_t>& v) { return typed<int32_t>(DType::kINT32, dims, v); }
ir::Tensor i16(std::vector<int64_t> dims, const std::vector<int64_t>& v) { return typed<int16_t>(DType::kINT16, dims, v); }
ir::Tensor u16(std::vector<int64_t> dims, const std::vector<int64_t>& v) { return typed<uint16_t>(DType::kUINT16, dims, v); }
//! A float8 tensor of `dtype` holding the 8-bit `codes`.
ir::Tensor fp8Codes(DType dtype, std::vector<int64_t> dims, const std::vector<int64_t>& codes) {
  return typed<uint8_t>(dtype, dims, codes);
}

// Values in [lo, hi] of `dtype`, reproducible from `seed`.
ir::Tensor randomInts(DType dtype, std::vector<int64_t> dims, uint32_t seed, int lo, int hi) {
  ir::Tensor t(dtype, dims);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int v = dist(rng);
    if (dtype == DType::kINT8) t.mutableAs<int8_t>()[i] = static_cast<int8_t>(v);
    else t.mutableAs<uint8_t>()[i] = static_cast<uint8_t>(v);
  }
  return t;
}

std::vector<int64_t> values(const ir::Tensor& t) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype()) {
      case DType::kINT8: out.push_back(t.as<int8_t>()[i]); break;
      case DType::kUINT8: out.push_back(t.as<uint8_t>()[i]); break;
      case DType::kINT16: out.push_back(t.as<int16_t>()[i]); break;
      case DType::kUINT16: out.push_back(t.as<uint16_t>()[i]); break;
      case DType::kFP8: case DType::kFP8E5M2: case DType::kFP8E4M3FNUZ: case DType::kFP8E5M2FNUZ:
        out.push_back(t.as<uint8_t>()[i]);  // the codes
        break;
      default: out.push_back(t.as<int32_t>()[i]); break;
    }
  }
  return out;
}

// The first n values of a float32 tensor (the elements before a NaN, which
// no comparison passes; exact, and infinities compare equal).
std::vector<float> head(const ir::Tensor& t, int64_t n) { return std::vector<float>(t.as<float>(), t.as<float>() + n); }
using F = std::vector<float>;

// x - zeroPoint as float32 (zeroPoint per element of axis 0 when `perRow`).
ir::Tensor shifted(const ir::Tensor& x, const std::vector<int64_t>& zero) {
  const std::vector<int64_t> v = values(x);
  const int64_t per = x.numel() / static_cast<int64_t>(zero.size());
  std::vector<float> f(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) f[i] = static_cast<float>(v[i] - zero[i / per]);
  return floats(x.dims(), f);
}

OpSpec quantize(const std::string& op, ir::Tensor x, ir::Tensor scale, std::optional<ir::Tensor> zero,
                std::map<std::string, ir::Attribute> attrs = {}) {
  OpSpec s;
  s.op = op;
  s.attrs = std::move(attrs);
  s.inputs = {dyn(std::move(x)), cst(std::move(scale))};
  if (zero) s.inputs.push_back(cst(*zero));
  return s;
}

TEST(QuantizeLinearRef, RoundingAndSaturation) {
  const ir::Tensor x = floats({7}, {0, 1, 2.5f, 3.5f, -1000, 1000, -2.5f});
  auto y = runTactic(quantize("QuantizeLinear", x, floats({}, {1}), u8({}, {10})), "QuantizeLinear.ref")[0];
  EXPECT_EQ(y.dtype(), DType::kUINT8);
  EXPECT_EQ(values(y), (V{10, 11, 12, 14, 0, 255, 8}));
  y = runTactic(quantize("QuantizeLinear", x, floats({1}, {0.5f}), i8({1}, {-1})), "QuantizeLinear.ref")[0];
  EXPECT_EQ(y.dtype(), DType::kINT8);
  EXPECT_EQ(values(y), (V{-1, 1, 4, 6, -128, 127, -6}));
  // No zero point: uint8 with zero point 0.
  y = runTactic(quantize("QuantizeLinear", x, floats({}, {2}), std::nullopt), "QuantizeLinear.ref")[0];
  EXPECT_EQ(y.dtype(), DType::kUINT8);
  EXPECT_EQ(values(y), (V{0, 0, 1, 2, 0, 255, 0}));
}

TEST(QuantizeLinearRef, PerAxisAndBlocked) {
  const ir::Tensor x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  auto y = runTactic(quantize("QuantizeLinear", x, floats({2}, {1, 2}), i8({2}, {0, -1}), {{"axis", int64_t{0}}}),
                     "QuantizeLinear.ref")[0];
  EXPECT_EQ(values(y), (V{1, 2, 3, 1, 1, 2}));  // row 1: 4/2 - 1, rint(2.5) = 2 - 1, 6/2 - 1
  // Blocks of 2 along axis 1 of a [2, 5]: scale [2, 3], the last block holds one column.
  const ir::Tensor xb = floats({2, 5}, {2, 4, 6, 8, 10, -2, -4, -6, -8, -10});
  const ir::Tensor sb = floats({2, 3}, {1, 2, 5, 2, 1, 10});
  y = runTactic(quantize("QuantizeLinear", xb, sb, i8({2, 3}, {0, 1, 2, 0, 0, 0}), {{"axis", int64_t{-1}}, {"block_size", int64_t{2}}}),
                "QuantizeLinear.ref")[0];
  EXPECT_EQ(values(y), (V{2, 4, 4, 5, 4, -1, -2, -6, -8, -1}));
  y = runTactic(quantize("DequantizeLinear", y, sb, i8({2, 3}, {0, 1, 2, 0, 0, 0}), {{"axis", int64_t{1}}, {"block_size", int64_t{2}}}),
                "DequantizeLinear.ref")[0];
  EXPECT_TRUE(equals(y, {2, 5}, {2, 4, 6, 8, 10, -2, -4, -6, -8, -10}));
}

TEST(DequantizeLinearRef, Int32Float16AndPerAxis) {
  auto y = runTactic(quantize("DequantizeLinear", i32({3}, {-70000, 0, 3}), floats({}, {0.5f}), std::nullopt),
                     "DequantizeLinear.ref")[0];
  EXPECT_TRUE(equals(y, {3}, {-35000, 0, 1.5f}));
  // float16 scale -> float16 output.
  y = runTactic(quantize("DequantizeLinear", u8({2}, {0, 255}), floats({}, {0.25f}).castTo(DType::kHALF), u8({}, {128})),
                "DequantizeLinear.ref")[0];
  EXPECT_EQ(y.dtype(), DType::kHALF);
  EXPECT_TRUE(equals(y.castTo(DType::kFLOAT), {2}, {-32, 31.75f}));
  // Per axis over the last of [2, 2, 3].
  y = runTactic(quantize("DequantizeLinear", i8({2, 2, 3}, {1, 1, 1, 2, 2, 2, -1, -1, -1, 0, 0, 0}), floats({3}, {1, 2, 4}),
                         i8({3}, {0, 1, -1}), {{"axis", int64_t{-1}}}),
                "DequantizeLinear.ref")[0];
  EXPECT_TRUE(equals(y, {2, 2, 3}, {1, 0, 8, 2, 2, 12, -1, -4, 0, 0, -2, 4}));
}

TEST(QuantizeLinearRef, Int16AndUint16RoundTiesToEvenAndSaturate) {
  // ONNX's int16 example, scale 2, zero point 256: +-1.5 round to +-2,
  // 32511.5 to 32512 (then saturates), -33023.5 to -33024.
  auto y = runTactic(quantize("QuantizeLinear", floats({8}, {0, -514, 3, -3, 65022, -66046, 65023, -66047}),
                              floats({}, {2}), i16({}, {256})),
                     "QuantizeLinear.ref")[0];
  EXPECT_EQ(y.dtype(), DType::kINT16);
  EXPECT_EQ(values(y), (V{256, -1, 258, 254, 32767, -32767, 32767, -32768}));
  // Zero point 0: the type's edges, ties at and past them.
  y = runTactic(quantize("QuantizeLinear", floats({10}, {2.5f, -2.5f, 3.5f, -3.5f, 32767, 32767.5f, 32768, -32768,
                                                         -32768.5f, -1e9f}),
                         floats({}, {1}), i16({}, {0})),
                "QuantizeLinear.ref")[0];
  EXPECT_EQ(values(y), (V{2, -2, 4, -4, 32767, 32767, 32767, -32768, -32768, -32768}));
  // uint16, zero point 32767: -65535 / 2 = -32767.5 rounds to -32768 (-1, saturates to 0),
  // -65533 / 2 = -32766.5 to -32766 (1).
  y = runTactic(quantize("QuantizeLinear", floats({13}, {0, -128, 3, -3, 2.9f, -2.9f, 3.1f, -3.1f, 65536, -65534, 70000,
                                                         -65535, -65533}),
                         floats({}, {2}), u16({}, {32767})),
                "QuantizeLinear.ref")[0];
  EXPECT_EQ(y.dtype(), DType::kUINT16);
  EXPECT_EQ(values(y), (V{32767, 32703, 32769, 32765, 32768, 32766, 32769, 32765, 65535, 0, 65535, 0, 1}));
}

TEST(QuantizeLinearRef, Float16DividesInFloat16) {
  // As numpy (ONNX's reference): 1000 / float16(1/3) is 3000.73 in float32
  // (3001) but 3000 in float16, whose step there is 2.
  const ir::Tensor x = floats({3}, {1000, -1000, 3}).castTo(DType::kHALF);
  auto y = runTactic(quantize("QuantizeLinear", x, floats({}, {1.f / 3}).castTo(DType::kHALF), i16({}, {0})),
                     "QuantizeLinear.ref")[0];
  EXPECT_EQ(values(y), (V{3000, -3000, 9}));
}

TEST(QuantizeLinearRef, Int16PerAxisAndUint16Blocked) {
  // Per axis 0 of [2, 3]: row 0 scale 1, zero point -32760; row 1 scale 0.5, zero point 100.
  auto y = runTactic(quantize("QuantizeLinear", floats({2, 3}, {-10, -7.5f, 3, 1000, -0.25f, 16383}), floats({2}, {1, 0.5f}),
                              i16({2}, {-32760, 100}), {{"axis", int64_t{0}}}),
                     "QuantizeLinear.ref")[0];
  EXPECT_EQ(values(y), (V{-32768, -32768, -32757, 2100, 100, 32767}));
  // Blocks of 2 along axis 1 of [2, 5] (the last block holds one column).
  const ir::Tensor sb = floats({2, 3}, {0.5f, 1, 2, 0.25f, 0.5f, 1});
  const ir::Tensor zb = u16({2, 3}, {0, 65530, 100, 7, 65535, 1});
  const std::map<std::string, ir::Attribute> blocked = {{"axis", int64_t{1}}, {"block_size", int64_t{2}}};
  y = runTactic(quantize("QuantizeLinear", floats({2, 5}, {1, 2, 3, 4, 5, -1, -2, -3, -4, -5}), sb, zb, blocked),
                "QuantizeLinear.ref")[0];
  EXPECT_EQ(y.dtype(), DType::kUINT16);
  EXPECT_EQ(values(y), (V{2, 4, 65533, 65534, 102, 3, 0, 65529, 65527, 0}));
  y = runTactic(quantize("DequantizeLinear", y, sb, zb, blocked), "DequantizeLinear.ref")[0];
  EXPECT_TRUE(equals(y, {2, 5}, {1, 2, 3, 4, 4, -1, -1.75f, -3, -4, -1}));
}

TEST(DequantizeLinearRef, Int16AndUint16) {
  auto y = runTactic(quantize("DequantizeLinear", i16({6}, {-300, -30, -1025, 1270, -32768, 32767}), floats({}, {2}),
                              i16({}, {-1024})),
                     "DequantizeLinear.ref")[0];
  EXPECT_TRUE(equals(y, {6}, {1448, 1988, -2, 4588, -63488, 67582}));
  y = runTactic(quantize("DequantizeLinear", u16({6}, {30000, 31000, 32768, 33000, 0, 65535}), floats({}, {2}),
                         u16({}, {32767})),
                "DequantizeLinear.ref")[0];
  EXPECT_TRUE(equals(y, {6}, {-5534, -3534, 2, 466, -65534, 65536}));
}

// x / scale (scale 2) -> float8 codes, with saturate 1 and 0. Each list:
// 0, 1, a tie that rounds down to 1, a tie that rounds up, its negative,
// the largest finite value, just past it (rounds back down), far past it
// (+-), +inf, NaN, -0, a subnormal tie that rounds to even.
struct Fp8Case {
  DType dtype;
  std::vector<float> q;
  V saturated, unsaturated;
};

TEST(QuantizeLinearRef, Float8FormatsWithAndWithoutSaturate) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<Fp8Case> cases = {
      {DType::kFP8,
       {0, 1, 1.0625f, 1.1875f, -1.0625f, 448, 449, 500, 1e5f, -1e5f, inf, nan, -0.f, 0x1p-10f, 0x1.8p-9f},
       {0x00, 0x38, 0x38, 0x3A, 0xB8, 0x7E, 0x7E, 0x7E, 0x7E, 0xFE, 0x7E, 0x7F, 0x80, 0x00, 0x02},
       // ONNX's reference writes -1e5 as 0xFF (NaN with the sign); core's floatToFp8 as 0x7F, also NaN.
       {0x00, 0x38, 0x38, 0x3A, 0xB8, 0x7E, 0x7E, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x80, 0x00, 0x02}},
      {DType::kFP8E5M2,
       {0, 1, 1.125f, 1.375f, -1.125f, 57344, 58000, 1e5f, -1e5f, inf, nan, -0.f, 0x1p-17f, 0x1.8p-16f},
       {0x00, 0x3C, 0x3C, 0x3E, 0xBC, 0x7B, 0x7B, 0x7B, 0xFB, 0x7B, 0x7F, 0x80, 0x00, 0x02},
       {0x00, 0x3C, 0x3C, 0x3E, 0xBC, 0x7B, 0x7B, 0x7C, 0xFC, 0x7C, 0x7F, 0x80, 0x00, 0x02}},
      {DType::kFP8E4M3FNUZ,
       {0, 1, 1.0625f, 1.1875f, -1.0625f, 240, 241, 250, 1e5f, -1e5f, inf, nan, -0.f, 0x1p-11f, 0x1.8p-10f},
       {0x00, 0x40, 0x40, 0x42, 0xC0, 0x7F, 0x7F, 0x7F, 0x7F, 0xFF, 0x7F, 0x80, 0x00, 0x00, 0x02},
       {0x00, 0x40, 0x40, 0x42, 0xC0, 0x7F, 0x7F, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00, 0x02}},
      {DType::kFP8E5M2FNUZ,
       {0, 1, 1.125f, 1.375f, -1.125f, 57344, 58000, 61440, 1e5f, -1e5f, inf, nan, -0.f, 0x1p-18f, 0x1.8p-17f},
       {0x00, 0x40, 0x40, 0x42, 0xC0, 0x7F, 0x7F, 0x7F, 0x7F, 0xFF, 0x7F, 0x80, 0x00, 0x00, 0x02},
       {0x00, 0x40, 0x40, 0x42, 0xC0, 0x7F, 0x7F, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00, 0x02}},
  };
  for (const Fp8Case& c : cases) {
    std::vector<float> x;
    for (float q : c.q) x.push_back(2 * q);
    const auto n = static_cast<int64_t>(x.size());
    // The zero point only names the type (its value is not used for float8).
    auto y = runTactic(quantize("QuantizeLinear", floats({n}, x), floats({}, {2}), fp8Codes(c.dtype, {1}, {0})),
                       "QuantizeLinear.ref")[0];
    EXPECT_EQ(y.dtype(), c.dtype);
    EXPECT_EQ(values(y), c.saturated) << dataTypeName(c.dtype);
    y = runTactic(quantize("QuantizeLinear", floats({n}, x), floats({}, {2}), fp8Codes(c.dtype, {1}, {0}),
                           {{"saturate", int64_t{0}}}),
                  "QuantizeLinear.ref")[0];
    EXPECT_EQ(values(y), c.unsaturated) << dataTypeName(c.dtype) << " without saturate";
  }
}

TEST(QuantizeLinearRef, Float8PerAxisAndBlocked) {
  // e4m3fn per axis 0: row 0 scale 1, row 1 scale 4; 500 and -2000 / 4 saturate to +-448.
  auto y = runTactic(quantize("QuantizeLinear", floats({2, 3}, {1, -3, 500, 4, 1, -2000}), floats({2}, {1, 4}),
                              fp8Codes(DType::kFP8, {2}, {0, 0}), {{"axis", int64_t{0}}}),
                     "QuantizeLinear.ref")[0];
  EXPECT_EQ(values(y), (V{0x38, 0xC4, 0x7E, 0x38, 0x28, 0xFE}));  // 1, -3, 448, 1, 0.25, -448
  // e4m3fnuz blocks of 2 along axis 1 of [2, 3]: scales [2, 2].
  const ir::Tensor sb = floats({2, 2}, {1, 2, 0.5f, 4});
  y = runTactic(quantize("QuantizeLinear", floats({2, 3}, {1, 2, 2, 0.5f, 1, -4}), sb,
                         fp8Codes(DType::kFP8E4M3FNUZ, {2, 2}, {0, 0, 0, 0}),
                         {{"axis", int64_t{1}}, {"block_size", int64_t{2}}}),
                "QuantizeLinear.ref")[0];
  EXPECT_EQ(values(y), (V{0x40, 0x48, 0x40, 0x40, 0x48, 0xC0}));  // 1, 2, 1, 1, 2, -1
  y = runTactic(quantize("DequantizeLinear", y, sb, std::nullopt, {{"axis", int64_t{1}}, {"block_size", int64_t{2}}}),
                "DequantizeLinear.ref")[0];
  EXPECT_TRUE(equals(y, {2, 3}, {1, 2, 2, 0.5f, 1, -4}));
}

TEST(DequantizeLinearRef, Float8Formats) {
  const float inf = std::numeric_limits<float>::infinity();
  // e4m3fn: 0, 1, -1, 448 (max), 2^-9 (smallest subnormal), -0, NaN; scale 2.
  auto y = runTactic(quantize("DequantizeLinear", fp8Codes(DType::kFP8, {7}, {0x00, 0x38, 0xB8, 0x7E, 0x01, 0x80, 0x7F}),
                              floats({}, {2}), std::nullopt),
                     "DequantizeLinear.ref")[0];
  ASSERT_EQ(y.dtype(), DType::kFLOAT);
  EXPECT_TRUE(std::isnan(y.as<float>()[6]));
  EXPECT_TRUE(std::signbit(y.as<float>()[5]));
  EXPECT_EQ(head(y, 6), (F{0, 2, -2, 896, 0x1p-8f, 0}));
  // e5m2 with a (zero) zero point: 1, 57344 (max), +-inf, 2^-16, NaN.
  y = runTactic(quantize("DequantizeLinear", fp8Codes(DType::kFP8E5M2, {6}, {0x3C, 0x7B, 0x7C, 0xFC, 0x01, 0x7D}),
                         floats({}, {0.5f}), fp8Codes(DType::kFP8E5M2, {1}, {0})),
                "DequantizeLinear.ref")[0];
  EXPECT_TRUE(std::isnan(y.as<float>()[5]));
  EXPECT_EQ(head(y, 5), (F{0.5f, 28672, inf, -inf, 0x1p-17f}));
  // The UZ formats: 0x80 is NaN; 1, max, smallest subnormal, -1.
  y = runTactic(quantize("DequantizeLinear", fp8Codes(DType::kFP8E4M3FNUZ, {5}, {0x40, 0x7F, 0x01, 0xC0, 0x80}),
                         floats({}, {1}), std::nullopt),
                "DequantizeLinear.ref")[0];
  EXPECT_TRUE(std::isnan(y.as<float>()[4]));
  EXPECT_EQ(head(y, 4), (F{1, 240, 0x1p-10f, -1}));
  y = runTactic(quantize("DequantizeLinear", fp8Codes(DType::kFP8E5M2FNUZ, {5}, {0x40, 0x7F, 0x01, 0xC0, 0x80}),
                         floats({}, {1}), std::nullopt),
                "DequantizeLinear.ref")[0];
  EXPECT_TRUE(std::isnan(y.as<float>()[4]));
  EXPECT_EQ(head(y, 4), (F{1, 57344, 0x1p-17f, -1}));
  // float16 scale -> float16 output; per axis 1 of [2, 2] with e4m3fn.
  y = runTactic(quantize("DequantizeLinear", fp8Codes(DType::kFP8, {2, 2}, {0x38, 0x7E, 0xB8, 0x40}),
                         floats({2}, {0.5f, 4}).castTo(DType::kHALF), fp8Codes(DType::kFP8, {2}, {0, 0}),
                         {{"axis", int64_t{1}}}),
                "DequantizeLinear.ref")[0];
  EXPECT_EQ(y.dtype(), DType::kHALF);
  EXPECT_TRUE(equals(y.castTo(DType::kFLOAT), {2, 2}, {0.5f, 1792, -0.5f, 8}));
}

TEST(DynamicQuantizeLinearRef, OnnxExampleAndEdgeRanges) {
  OpSpec s;
  s.op = "DynamicQuantizeLinear";
  s.numOutputs = 3;
  s.inputs = {dyn(floats({2, 3}, {0, 2, -3, -2.5f, 1.34f, 0.5f}))};
  auto y = runTactic(s, "DynamicQuantizeLinear.ref");
  EXPECT_EQ(values(y[0]), (V{153, 255, 0, 26, 221, 179}));
  EXPECT_NEAR(y[1].as<float>()[0], 0.019607844f, 1e-8f);
  EXPECT_EQ(y[2].as<uint8_t>()[0], 153);
  // All positive: the range still includes 0 (zero point 0); all zero: scale 1/255.
  s.inputs = {dyn(floats({3}, {1, 2, 5.1f}))};
  y = runTactic(s, "DynamicQuantizeLinear.ref");
  EXPECT_EQ(values(y[0]), (V{50, 100, 255}));
  EXPECT_EQ(y[2].as<uint8_t>()[0], 0);
  s.inputs = {dyn(floats({2}, {0, 0}))};
  y = runTactic(s, "DynamicQuantizeLinear.ref");
  EXPECT_EQ(values(y[0]), (V{0, 0}));
  EXPECT_FLOAT_EQ(y[1].as<float>()[0], 1.f / 255);
}

TEST(MatMulIntegerRef, MatchesFloatMatMulOfShiftedValues) {
  // [2, 1, 3, 4] x [3, 4, 5] (batch broadcast), uint8 A with per-row zero points, int8 B with one.
  const ir::Tensor a = randomInts(DType::kUINT8, {2, 1, 3, 4}, 31, 0, 255);
  const ir::Tensor b = randomInts(DType::kINT8, {3, 4, 5}, 32, -128, 127);
  OpSpec s;
  s.op = "MatMulInteger";
  s.inputs = {dyn(a), dyn(b), cst(u8({3}, {3, 128, 255})), cst(i8({}, {-5}))};
  const ir::Tensor got = runTactic(s, "MatMulInteger.ref")[0];
  ASSERT_EQ(got.dtype(), DType::kINT32);
  // Per-row zero points of A: shift rows of each [3, 4] slice.
  std::vector<int64_t> zeroA;
  for (int i = 0; i < 2; ++i) zeroA.insert(zeroA.end(), {3, 128, 255});
  OpSpec f;
  f.op = "MatMul";
  f.inputs = {dyn(shifted(a, zeroA)), dyn(shifted(b, {-5}))};
  EXPECT_TRUE(near(got.castTo(DType::kFLOAT), runTactic(f, "MatMul.ref")[0], 0.f, 0.f));
  // Rank-1 operands (vector . matrix), no zero points.
  OpSpec v;
  v.op = "MatMulInteger";
  v.inputs = {dyn(i8({3}, {1, -2, 3})), dyn(i8({3, 2}, {1, 2, 3, 4, 5, 6}))};
  EXPECT_EQ(values(runTactic(v, "MatMulInteger.ref")[0]), (V{10, 12}));
}

TEST(QLinearMatMulRef, RequantizesWithSaturation) {
  const ir::Tensor a = randomInts(DType::kINT8, {2, 3, 6}, 33, -128, 127);
  const ir::Tensor b = randomInts(DType::kINT8, {6, 4}, 34, -128, 127);
  OpSpec s;
  s.op = "QLinearMatMul";
  s.inputs = {dyn(a), cst(floats({}, {0.5f})), cst(i8({}, {2})), dyn(b), cst(floats({}, {0.25f})), cst(i8({}, {-3})),
              cst(floats({}, {16.f})), cst(i8({}, {5}))};
  const ir::Tensor got = runTactic(s, "QLinearMatMul.ref")[0];
  OpSpec f;
  f.op = "MatMul";
  f.inputs = {dyn(shifted(a, {2})), dyn(shifted(b, {-3}))};
  const ir::Tensor acc = runTactic(f, "MatMul.ref")[0];
  std::vector<int64_t> want;
  bool saturated = false;
  for (int64_t i = 0; i < acc.numel(); ++i) {
    const float q = std::nearbyint(acc.as<float>()[i] * 0.5f * 0.25f / 16.f) + 5.f;
    saturated = saturated || q < -128 || q > 127;
    want.push_back(static_cast<int64_t>(std::min(127.f, std::max(-128.f, q))));
  }
  EXPECT_EQ(values(got), want);
  EXPECT_EQ(got.dtype(), DType::kINT8);
  EXPECT_TRUE(saturated) << "the data should reach the int8 limits";
}

TEST(ConvIntegerRef, MatchesFloatConvOfShiftedValues) {
  // N = 2, C = 4, group 2, 5 x 6 input, 3 x 2 kernel, strides, pads, dilations.
  const ir::Tensor x = randomInts(DType::kUINT8, {2, 4, 5, 6}, 35, 0, 255);
  const ir::Tensor w = randomInts(DType::kUINT8, {6, 2, 3, 2}, 36, 0, 255);
  const std::map<std::string, ir::Attribute> attrs = {
      {"group", int64_t{2}}, {"strides", V{2, 1}}, {"pads", V{1, 0, 1, 1}}, {"dilations", V{1, 2}}};
  OpSpec s;
  s.op = "ConvInteger";
  s.attrs = attrs;
  s.inputs = {dyn(x), dyn(w), cst(u8({}, {100})), cst(u8({6}, {0, 10, 20, 30, 40, 50}))};
  const ir::Tensor got = runTactic(s, "ConvInteger.ref")[0];
  OpSpec f;
  f.op = "Conv";
  f.attrs = attrs;
  // Padding holds the zero point, i.e. 0 after the shift, as the float conv's zero padding.
  f.inputs = {dyn(shifted(x, {100})), dyn(shifted(w, {0, 10, 20, 30, 40, 50}))};
  const ir::Tensor want = runTactic(f, "Conv.ref")[0];
  EXPECT_EQ(got.dims(), want.dims());
  EXPECT_TRUE(near(got.castTo(DType::kFLOAT), want, 0.f, 0.f));
  // QLinearConv: the same accumulators (+ bias) requantized; per-channel weight scales.
  OpSpec q;
  q.op = "QLinearConv";
  q.attrs = attrs;
  const std::vector<float> ws = {1, 0.5f, 0.25f, 2, 1, 0.125f};
  q.inputs = {dyn(x), cst(floats({}, {0.5f})), cst(u8({}, {100})), dyn(w), cst(floats({6}, ws)),
              cst(u8({6}, {0, 10, 20, 30, 40, 50})), cst(floats({}, {256.f})), cst(u8({}, {128})),
              cst(i32({6}, {1000, -1000, 0, 5, 7, -9}))};
  const ir::Tensor qy = runTactic(q, "QLinearConv.ref")[0];
  const std::vector<int64_t> bias = {1000, -1000, 0, 5, 7, -9};
  const int64_t plane = want.numel() / (2 * 6);
  std::vector<int64_t> expect;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const int64_t m = (i / plane) % 6;
    const float r = std::nearbyint((want.as<float>()[i] + static_cast<float>(bias[m])) * (0.5f * ws[m] / 256.f)) + 128;
    expect.push_back(static_cast<int64_t>(std::min(255.f, std::max(0.f, r))));
  }
  EXPECT_EQ(values(qy), expect);
}

TEST(QuantSchema, ShapesAndErrors) {
  auto quantShape = [](ir::Shape x, ir::Shape scale, std::map<std::string, ir::Attribute> attrs = {}) {
    ir::Graph g;
    ir::Node* n = g.addNode("QuantizeLinear", "q",
                            {g.addValue("x", DType::kFLOAT, std::move(x)), g.addValue("s", DType::kFLOAT, std::move(scale))},
                            {g.addValue("y")});
    n->attrs = std::move(attrs);
    ir::inferNode(*n);
    return n->outputs[0]->dtype;  // the graph (and the value) die with this call
  };
  EXPECT_EQ(quantShape({2, 3}, {}), DType::kUINT8);
  EXPECT_TRUE(throwsWith([&] { quantShape({2, 3}, {2}); },
                         "QuantizeLinear node \"q\": scale has 2 values, but axis 1 of the input [2,3] has 3"));
  EXPECT_TRUE(throwsWith([&] { quantShape({2, 3}, {2, 3}); }, "expected a scalar (per tensor) or 1-D (per axis)"));
  EXPECT_TRUE(throwsWith([&] { quantShape({2, 5}, {2, 2}, {{"block_size", int64_t{2}}}); },
                         "with block_size 2 needs 3 on axis 1"));
  EXPECT_TRUE(throwsWith([&] { quantShape({2, 5}, {5}, {{"axis", int64_t{2}}}); }, "axis 2 is out of range"));
  EXPECT_TRUE(throwsWith([&] { quantShape({2}, {}, {{"saturate", int64_t{2}}}); }, "attribute 'saturate' is 2; expected 0 or 1"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"DequantizeLinear", {}, {{2}, {}}}); },
                         "x is float32; expected int32, int8, uint8, int16, uint16 or a float8 type"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"QuantizeLinear", {}, {{2}, {}}, {{2, i32({}, {0})}}}); },
                         "zero point is int32; Kiln quantizes to int8, uint8, int16, uint16 or a float8 type"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"DequantizeLinear", {}, {{2}, {}}, {{0, fp8Codes(DType::kFP8, {2}, {0, 0})}, {2, u8({}, {0})}}}); },
                         "zero point is uint8, x is fp8"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"MatMulInteger", {}, {{2, 3}, {3, 4}}}); },
                         "A is float32; expected int8 or uint8"));
  EXPECT_EQ(ir::toString(inferShapes({"DynamicQuantizeLinear", {}, {{2, 3}}, {}, 3})[1]), "[]");
}

}  // namespace
}  // namespace kiln::test
