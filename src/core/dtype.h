// Element types inside Kiln, and float16 / bfloat16 conversions.
#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "kiln/types.h"

namespace kiln {

using DType = DataType;

inline int32_t dtypeSize(DType t) { return dataTypeSize(t); }
inline bool isFloat(DType t) {
  return t == DType::kFLOAT || t == DType::kHALF || t == DType::kBF16 || t == DType::kDOUBLE;
}
//! The float types Kiln's kernels store activations in: float32, float16, bfloat16.
inline bool isFloat32Or16(DType t) { return t == DType::kFLOAT || t == DType::kHALF || t == DType::kBF16; }
inline bool isFp8(DType t) {
  return t == DType::kFP8 || t == DType::kFP8E5M2 || t == DType::kFP8E4M3FNUZ || t == DType::kFP8E5M2FNUZ;
}
//! True for every value of DataType that Kiln defines (plan files and casts
//! from integers are checked with it).
bool isValidDtype(int32_t value);
std::optional<DType> dtypeFromName(std::string_view name);

inline float halfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) ++half;  // round to nearest even
  return static_cast<uint16_t>(half);
}

inline float bf16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t floatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // NaN
  x += 0x7fffu + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

//! The four ONNX float8 formats: sign, `expBits` exponent bits (bias `bias`),
//! `mantBits` mantissa bits. The FN formats have no infinity; the UZ ("unsigned
//! zero") ones have no negative zero and a single NaN, 0x80.
struct Fp8Format {
  int expBits, mantBits, bias;
  bool hasInf, uz;
  uint8_t maxCode;  //!< the largest finite magnitude's code
};
inline Fp8Format fp8Format(DType t) {
  switch (t) {
    case DType::kFP8E5M2: return {5, 2, 15, true, false, 0x7B};
    case DType::kFP8E4M3FNUZ: return {4, 3, 8, false, true, 0x7F};
    case DType::kFP8E5M2FNUZ: return {5, 2, 16, false, true, 0x7F};
    default: return {4, 3, 7, false, false, 0x7E};  // kFP8: e4m3fn
  }
}

float fp8ToFloat(uint8_t v, const Fp8Format& f);

//! Rounds to nearest even (ONNX Cast). With `saturate` (ONNX's default)
//! overflow and infinity become the largest finite value of that sign;
//! without it overflow and infinity become infinity (e5m2) or NaN (the
//! formats without infinity). NaN stays NaN. This is ONNX's reference
//! (onnx.helper.float32_to_float8e4m3/e5m2), which differs from the table in
//! its Cast spec for infinity in the UZ formats with saturate.
uint8_t floatToFp8(float x, const Fp8Format& f, bool saturate);

}  // namespace kiln
