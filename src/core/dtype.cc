#include "core/dtype.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln {

int32_t dataTypeSize(DataType t) noexcept {
  switch (t) {
    case DataType::kFLOAT: case DataType::kINT32: return 4;
    case DataType::kHALF: case DataType::kBF16: return 2;
    case DataType::kINT8: case DataType::kUINT8: case DataType::kBOOL: case DataType::kFP8: return 1;
    case DataType::kINT64: case DataType::kDOUBLE: case DataType::kUINT64: return 8;
    case DataType::kINT16: case DataType::kUINT16: return 2;
    case DataType::kUINT32: return 4;
    case DataType::kFP8E5M2: case DataType::kFP8E4M3FNUZ: case DataType::kFP8E5M2FNUZ: return 1;
  }
  return 0;
}

const char* dataTypeName(DataType t) noexcept {
  switch (t) {
    case DataType::kFLOAT: return "float32";
    case DataType::kHALF: return "float16";
    case DataType::kINT8: return "int8";
    case DataType::kINT32: return "int32";
    case DataType::kBOOL: return "bool";
    case DataType::kUINT8: return "uint8";
    case DataType::kFP8: return "fp8";  // e4m3fn
    case DataType::kBF16: return "bfloat16";
    case DataType::kINT64: return "int64";
    case DataType::kDOUBLE: return "float64";
    case DataType::kINT16: return "int16";
    case DataType::kUINT16: return "uint16";
    case DataType::kUINT32: return "uint32";
    case DataType::kUINT64: return "uint64";
    case DataType::kFP8E5M2: return "fp8e5m2";
    case DataType::kFP8E4M3FNUZ: return "fp8e4m3fnuz";
    case DataType::kFP8E5M2FNUZ: return "fp8e5m2fnuz";
  }
  return "unknown";
}

namespace {
constexpr DType kAllDtypes[] = {DType::kFLOAT,  DType::kHALF,   DType::kINT8,   DType::kINT32,      DType::kBOOL,
                                DType::kUINT8,  DType::kFP8,    DType::kBF16,   DType::kINT64,      DType::kDOUBLE,
                                DType::kINT16,  DType::kUINT16, DType::kUINT32, DType::kUINT64,     DType::kFP8E5M2,
                                DType::kFP8E4M3FNUZ, DType::kFP8E5M2FNUZ};
}  // namespace

bool isValidDtype(int32_t value) {
  for (DType t : kAllDtypes)
    if (static_cast<int32_t>(t) == value) return true;
  return false;
}

std::optional<DType> dtypeFromName(std::string_view name) {
  for (DType t : kAllDtypes)
    if (name == dataTypeName(t)) return t;
  return std::nullopt;
}

float fp8ToFloat(uint8_t v, const Fp8Format& f) {
  const float sign = (v & 0x80) ? -1.f : 1.f;
  const int exp = (v >> f.mantBits) & ((1 << f.expBits) - 1), mant = v & ((1 << f.mantBits) - 1);
  if (f.uz) {
    if (v == 0x80) return std::numeric_limits<float>::quiet_NaN();
  } else if (f.hasInf) {
    if (exp == (1 << f.expBits) - 1)
      return mant ? std::numeric_limits<float>::quiet_NaN() : sign * std::numeric_limits<float>::infinity();
  } else if ((v & 0x7F) == 0x7F) {
    return std::numeric_limits<float>::quiet_NaN();
  }
  if (exp == 0) return sign * std::ldexp(static_cast<float>(mant), 1 - f.bias - f.mantBits);
  return sign * std::ldexp(static_cast<float>(mant + (1 << f.mantBits)), exp - f.bias - f.mantBits);
}

uint8_t floatToFp8(float x, const Fp8Format& f, bool saturate) {
  const uint8_t nan = f.uz ? 0x80 : 0x7F;
  if (x != x) return nan;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  auto overflow = [&]() -> uint8_t {
    if (saturate) return sign | f.maxCode;
    if (f.hasInf) return sign | 0x7C;
    return nan;
  };
  const double a = std::fabs(static_cast<double>(x));
  if (std::isinf(a)) return overflow();
  const int minExp = 1 - f.bias;  // unbiased exponent of the smallest normal
  int e = 0;
  std::frexp(a, &e);
  const int quantumExp = std::max(e - 1, minExp) - f.mantBits;
  const double q = std::nearbyint(std::ldexp(a, -quantumExp));  // default rounding: nearest even
  if (q == 0) return f.uz ? 0 : sign;
  const double v = std::ldexp(q, quantumExp);
  if (v > static_cast<double>(fp8ToFloat(f.maxCode, f))) return overflow();
  std::frexp(v, &e);
  if (e - 1 < minExp) return sign | static_cast<uint8_t>(q);  // subnormal: the mantissa is q
  const int mant = static_cast<int>(std::ldexp(v, -(e - 1) + f.mantBits)) - (1 << f.mantBits);
  return sign | static_cast<uint8_t>(((e - 1 + f.bias) << f.mantBits) | mant);
}

int32_t getInferLibVersion() noexcept { return 100; }  // 0.1.0

}  // namespace kiln
