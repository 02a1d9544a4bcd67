// Scalar definitions of the binary elementwise ops, shared by the standalone
// kernels (elementwise_binary.cc) and KilnFusedElementwise
// (fused_elementwise.cc) so that fused and unfused graphs compute the same
// function; plus the registration functions of the elementwise family's files.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "backends/cpu/kernel.h"

namespace kiln::cpu {

void registerUnaryKernels(TacticRegistry& r);           // elementwise_unary.cc
void registerBinaryKernels(TacticRegistry& r);          // elementwise_binary.cc
void registerCastKernels(TacticRegistry& r);            // cast.cc
void registerFusedElementwiseKernels(TacticRegistry& r);  // fused_elementwise.cc

//! y = x with each channel scaled by a gate (a squeeze-excitation Mul), for x
//! stored as [n][ceil(c / block)][pixels][block]: block 1 is NCHW, block c is
//! NHWC, 8 / 16 oneDNN's nChw8c / nChw16c (the lanes past c, padding, are
//! copied). Image i's gate is s[i * gateStride .. + c] (gateStride 0: one gate
//! for all). y may be x. Split over `pool` by runs of pixels (elementwise_binary.cc).
void scaleChannelBlocks(ThreadPool* pool, const float* x, const float* s, float* y, int64_t n, int64_t c,
                        int64_t pixels, int64_t block, int64_t gateStride);

namespace ew {

// Integer math wraps (two's complement) instead of being undefined on overflow.
template <typename T>
inline T wrapAdd(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}
template <typename T>
inline T wrapSub(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
  } else {
    return a - b;
  }
}
template <typename T>
inline T wrapMul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}

//! Integer division truncates (as C and ONNX Runtime); x / 0 gives 0 rather
//! than a trap, and MIN / -1 wraps.
template <typename T>
inline T div(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>)
      if (b == -1) return wrapSub(T{0}, a);
    return static_cast<T>(a / b);
  } else {
    return a / b;
  }
}

//! Max/Min propagate NaN (as numpy.maximum and ONNX Runtime).
template <typename T>
inline T max(T a, T b) {
  return (a > b || a != a) ? a : b;
}
template <typename T>
inline T min(T a, T b) {
  return (a < b || a != a) ? a : b;
}

//! Mod with fmod = 0: the result takes the divisor's sign (Python, numpy.mod).
template <typename T>
inline T mod(T a, T b) {
  if constexpr (std::is_unsigned_v<T>) {
    return b == 0 ? T{0} : static_cast<T>(a % b);
  } else if constexpr (std::is_integral_v<T>) {
    if (b == 0 || b == -1) return 0;
    T r = static_cast<T>(a % b);
    return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(r + b) : r;
  } else {
    T r = std::fmod(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
  }
}

//! Mod with fmod = 1: the result takes the dividend's sign (C fmod, %).
template <typename T>
inline T fmod(T a, T b) {
  if constexpr (std::is_unsigned_v<T>) {
    return b == 0 ? T{0} : static_cast<T>(a % b);
  } else if constexpr (std::is_integral_v<T>) {
    if (b == 0 || b == -1) return 0;
    return static_cast<T>(a % b);
  } else {
    return std::fmod(a, b);
  }
}

//! Pow for every base/exponent type pair; the result has the base's type.
template <typename TB, typename TE>
inline TB pow(TB base, TE e) {
  if constexpr (std::is_floating_point_v<TB>) {
    // Squares are exact as x * x; std::pow may differ from it in the last bit.
    TB ef = static_cast<TB>(e);
    return ef == TB{2} ? base * base : static_cast<TB>(std::pow(base, ef));
  } else if constexpr (std::is_floating_point_v<TE>) {
    return static_cast<TB>(std::pow(static_cast<double>(base), static_cast<double>(e)));
  } else {
    // Integer power by squaring; negative exponents truncate toward zero.
    if constexpr (std::is_signed_v<TE>) {
      if (e < 0) {
        if (base == 1) return 1;
        if (base == -1) return (e & 1) ? -1 : 1;
        return 0;
      }
    }
    TB result = 1;
    auto n = static_cast<std::make_unsigned_t<TE>>(e);
    while (n) {
      if (n & 1) result = wrapMul(result, base);
      base = wrapMul(base, base);
      n >>= 1;
    }
    return result;
  }
}

}  // namespace ew
}  // namespace kiln::cpu
