// AVX-512 build of the vector math (the code is vmath_impl.inc): 16 floats a
// vector, masked loads and stores for the tail.
#include <immintrin.h>

// GCC 12 warns about _mm512_undefined_ps() inside its own intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "backends/cpu/ukernels/vmath.h"

namespace kiln::cpu::vmath {
namespace {

using vf = __m512;
using vi = __m512i;
constexpr int64_t kW = 16;
constexpr const char* kIsaName = "avx512";

inline __mmask16 maskOf(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }  // 0 < n < 16
inline vf vset(float a) { return _mm512_set1_ps(a); }
inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf vfnma(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
inline vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }
inline vf vround(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf vabs(vf a) { return _mm512_abs_ps(a); }
inline vf vcopysign(vf mag, vf sign) {
  const vi m = _mm512_set1_epi32(0x7fffffff);
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(m, _mm512_castps_si512(mag), _mm512_castps_si512(sign), 0xca));
}
inline vf vselectGt(vf a, vf b, vf t, vf f) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), f, t); }
inline vf vselectLt(vf a, vf b, vf t, vf f) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), f, t); }
inline vf vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, vf v) { _mm512_storeu_ps(p, v); }
inline vf vloadTail(const float* p, int64_t n, float fill) { return _mm512_mask_loadu_ps(vset(fill), maskOf(n), p); }
inline void vstoreTail(float* p, vf v, int64_t n) { _mm512_mask_storeu_ps(p, maskOf(n), v); }
inline float vhsum(vf v) { return _mm512_reduce_add_ps(v); }
inline float vhmax(vf v) { return _mm512_reduce_max_ps(v); }

// p * 2^n for an integral n (vexp's range [-150, 128]) in one instruction,
// rounded once (the two-step form of the other ISAs is exact except where the
// result is subnormal); a quarter of EfficientNet's SiLU time went to the two steps.
inline vf vldexp(vf p, vf n) { return _mm512_scalef_ps(p, n); }

#include "backends/cpu/ukernels/vmath_impl.inc"

}  // namespace

const Kernels& avx512Kernels() { return kTable; }

}  // namespace kiln::cpu::vmath
