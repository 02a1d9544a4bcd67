// Portable build of the vector math (the code is vmath_impl.inc, on one float
// at a time, with x86's comparison rules), and the choice of the table for
// this CPU.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "backends/cpu/kernel.h"
#include "backends/cpu/ukernels/vmath.h"

namespace kiln::cpu::vmath {
namespace {

using vf = float;
using vi = int32_t;
constexpr int64_t kW = 1;
constexpr const char* kIsaName = "generic";

inline vf vset(float a) { return a; }
inline vf vadd(vf a, vf b) { return a + b; }
inline vf vsub(vf a, vf b) { return a - b; }
inline vf vmul(vf a, vf b) { return a * b; }
inline vf vdiv(vf a, vf b) { return a / b; }
inline vf vfma(vf a, vf b, vf c) { return a * b + c; }
inline vf vfnma(vf a, vf b, vf c) { return c - a * b; }
inline vf vmax(vf a, vf b) { return a > b ? a : b; }
inline vf vmin(vf a, vf b) { return a < b ? a : b; }
inline vf vround(vf a) { return std::nearbyint(a); }
inline vf vabs(vf a) { return std::fabs(a); }
inline vf vcopysign(vf mag, vf sign) { return std::copysign(mag, sign); }
inline vi vcvt(vf a) { return a == a ? static_cast<int32_t>(a) : 0; }  // NaN: any value (the result is NaN)
inline vi vsrai1(vi a) { return a >> 1; }
inline vi vsubi(vi a, vi b) { return a - b; }
inline vf vpow2i(vi n) {
  const uint32_t bits = static_cast<uint32_t>(n + 127) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline vf vselectGt(vf a, vf b, vf t, vf f) { return a > b ? t : f; }
inline vf vselectLt(vf a, vf b, vf t, vf f) { return a < b ? t : f; }
inline vf vload(const float* p) { return *p; }
inline void vstore(float* p, vf v) { *p = v; }
inline vf vloadTail(const float* p, int64_t, float) { return *p; }  // kW = 1: never called
inline void vstoreTail(float* p, vf v, int64_t) { *p = v; }
inline float vhsum(vf v) { return v; }
inline float vhmax(vf v) { return v; }

// p * 2^n for an integral n in [-150, 128] (vexp's range), in two steps so
// that neither power of two leaves the float range.
inline vf vldexp(vf p, vf n) {
  const vi ni = vcvt(n), n1 = vsrai1(ni), n2 = vsubi(ni, n1);
  return vmul(vmul(p, vpow2i(n1)), vpow2i(n2));
}

#include "backends/cpu/ukernels/vmath_impl.inc"

}  // namespace

const Kernels& genericKernels() { return kTable; }

const Kernels* kernelsForIsa(const char* isa) {
  const std::string want = isa, host = hostIsa();
  if (want == "generic") return &genericKernels();
  if (want == "avx2") return host == "avx2" || host == "avx512" ? &avx2Kernels() : nullptr;
  if (want == "avx512") return host == "avx512" ? &avx512Kernels() : nullptr;
  return nullptr;
}

const Kernels& hostKernels() {
  static const Kernels* k = [] {
    const Kernels* p = kernelsForIsa(hostIsa());
    return p ? p : &genericKernels();
  }();
  return *k;
}

void activateCostly(ActKind kind, float* x, int64_t n) { hostKernels().activate(kind, x, n); }

}  // namespace kiln::cpu::vmath
