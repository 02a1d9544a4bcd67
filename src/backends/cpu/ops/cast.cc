// Reference kernels of Cast and CastLike between every Kiln dtype (float32,
// float16, bfloat16, int8, uint8, int32, int64, bool). The target type is the
// output view's dtype, so both ops share one kernel.
//
// Conversions: to float16/bfloat16 rounds to nearest even (core/dtype.h);
// float to integer truncates toward zero and saturates at the target's range,
// NaN becoming 0 (C++ leaves these undefined; saturation is what TensorRT does);
// integer to integer wraps (as numpy); anything to bool is "!= 0".
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "backends/cpu/ops/broadcast.h"
#include "backends/cpu/ops/elementwise.h"

namespace kiln::cpu {
namespace {

// Storage tags for the 16-bit float types, so that they dispatch apart from uint16.
struct Half { uint16_t bits; };
struct BF16 { uint16_t bits; };
struct Bool { uint8_t v; };

template <typename Fn>
void dispatchAll(DType t, Fn&& fn) {
  switch (t) {
    case DType::kFLOAT: return fn(float{});
    case DType::kHALF: return fn(Half{});
    case DType::kBF16: return fn(BF16{});
    case DType::kINT8: return fn(int8_t{});
    case DType::kUINT8: return fn(uint8_t{});
    case DType::kINT32: return fn(int32_t{});
    case DType::kINT64: return fn(int64_t{});
    case DType::kBOOL: return fn(Bool{});
    default: fail("Cast: unsupported dtype ", dataTypeName(t));
  }
}

bool castable(DType t) {
  switch (t) {
    case DType::kFLOAT: case DType::kHALF: case DType::kBF16: case DType::kINT8: case DType::kUINT8:
    case DType::kINT32: case DType::kINT64: case DType::kBOOL: return true;
    default: return false;
  }
}

template <typename S>
constexpr bool kIsFloatLike = std::is_same_v<S, float> || std::is_same_v<S, Half> || std::is_same_v<S, BF16>;

template <typename S>
float toFloat(S v) {
  if constexpr (std::is_same_v<S, Half>) return halfToFloat(v.bits);
  else if constexpr (std::is_same_v<S, BF16>) return bf16ToFloat(v.bits);
  else if constexpr (std::is_same_v<S, Bool>) return v.v != 0 ? 1.f : 0.f;
  else return static_cast<float>(v);
}

template <typename S>
int64_t toInt(S v) {
  if constexpr (std::is_same_v<S, Bool>) return v.v != 0;
  else return static_cast<int64_t>(v);
}

//! Float to integer: truncate, saturate, NaN -> 0.
template <typename D>
D saturate(float v) {
  if (v != v) return 0;
  constexpr float hi = static_cast<float>(std::numeric_limits<D>::max()) + 1.f;  // 2^digits, exact
  if (v >= hi) return std::numeric_limits<D>::max();
  if constexpr (std::is_signed_v<D>) {
    if (v <= -hi) return std::numeric_limits<D>::min();
  } else {
    if (v <= 0.f) return 0;
  }
  return static_cast<D>(v);
}

//! floatToHalf (core/dtype.h) without its data-dependent rounding branches,
//! which mispredict on real data (6x slower). Bit-identical to it for all
//! 2^32 inputs (checked exhaustively when written; cast_test samples it).
inline uint16_t fastFloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  uint32_t h;
  if (x >= 0x47800000u) {  // >= 65536: inf, or NaN (kept quiet)
    h = x > 0x7f800000u ? 0x7e00u : 0x7c00u;
  } else if (x < 0x38800000u) {  // below 2^-14: subnormal or zero; the FPU's add rounds to nearest even
    constexpr uint32_t kMagicBits = (127 - 15 + 23 - 10 + 1) << 23;
    float magic, v;
    std::memcpy(&magic, &kMagicBits, 4);
    std::memcpy(&v, &x, 4);
    v += magic;
    uint32_t vb;
    std::memcpy(&vb, &v, 4);
    h = vb - kMagicBits;
  } else {  // normal: rebias the exponent, round the 13 dropped bits to nearest even
    uint32_t odd = (x >> 13) & 1u;
    x += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu + odd;
    h = x >> 13;
  }
  return static_cast<uint16_t>(h | sign);
}

template <typename D, typename S>
D convert(S v) {
  if constexpr (std::is_same_v<D, Bool>) {
    if constexpr (kIsFloatLike<S>) return Bool{static_cast<uint8_t>(toFloat(v) != 0.f)};
    else return Bool{static_cast<uint8_t>(toInt(v) != 0)};
  } else if constexpr (std::is_same_v<D, float>) {
    if constexpr (kIsFloatLike<S> || std::is_same_v<S, Bool>) return toFloat(v);
    else return static_cast<float>(v);  // one rounding, even from int64
  } else if constexpr (std::is_same_v<D, Half>) {
    return Half{fastFloatToHalf(convert<float>(v))};
  } else if constexpr (std::is_same_v<D, BF16>) {
    return BF16{floatToBf16(convert<float>(v))};
  } else if constexpr (kIsFloatLike<S>) {
    return saturate<D>(toFloat(v));
  } else {
    return static_cast<D>(toInt(v));  // modular since C++20
  }
}

//! flatten: the conversions (floatToHalf, ...) inline into the loop.
template <typename S, typename D>
[[gnu::flatten]] void convertRange(const S* src, D* dst, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) dst[i] = convert<D>(src[i]);
}

class CastKernel final : public Kernel {
 public:
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& y = out[0];
    int64_t n = y.numel();
    if (x.dtype == y.dtype) {
      std::size_t size = static_cast<std::size_t>(dtypeSize(x.dtype));
      parallelFlat(ctx, n, kGrainCheap * 4, [&](int64_t b, int64_t e) {
        std::memcpy(static_cast<char*>(y.data) + b * size, static_cast<const char*>(x.data) + b * size,
                    static_cast<std::size_t>(e - b) * size);
      });
      return;
    }
    dispatchAll(x.dtype, [&](auto s) {
      dispatchAll(y.dtype, [&](auto d) {
        using S = decltype(s);
        using D = decltype(d);
        const S* src = static_cast<const S*>(x.data);
        D* dst = static_cast<D*>(y.data);
        parallelFlat(ctx, n, kGrainCheap, [&](int64_t b, int64_t e) { convertRange(src, dst, b, e); });
      });
    });
  }
};

bool supportsCast(const ir::Node& node) {
  if (node.inputs.empty() || !node.inputs[0] || node.outputs.size() != 1) return false;
  return castable(node.inputs[0]->dtype) && castable(node.outputs[0]->dtype);
}

std::unique_ptr<Kernel> createCast(const ir::Node&) { return std::make_unique<CastKernel>(); }

}  // namespace

void registerCastKernels(TacticRegistry& r) {
  r.add(Tactic{"Cast.ref", "Cast", 0, supportsCast, createCast, nullptr});
  r.add(Tactic{"CastLike.ref", "CastLike", 0, supportsCast, createCast, nullptr});
}

}  // namespace kiln::cpu
