// AVX2 build of the vector math (the code is vmath_impl.inc): 8 floats a
// vector, maskload / maskstore for the tail.
#include <immintrin.h>

#include "backends/cpu/ukernels/vmath.h"

namespace kiln::cpu::vmath {
namespace {

using vf = __m256;
using vi = __m256i;
constexpr int64_t kW = 8;
constexpr const char* kIsaName = "avx2";

inline __m256i maskOf(int64_t n) {  // 0 < n < 8: lanes [0, n) set
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline vf vset(float a) { return _mm256_set1_ps(a); }
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf vfnma(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
inline vf vround(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf vabs(vf a) { return _mm256_andnot_ps(vset(-0.f), a); }
inline vf vcopysign(vf mag, vf sign) {
  return _mm256_or_ps(_mm256_andnot_ps(vset(-0.f), mag), _mm256_and_ps(vset(-0.f), sign));
}
inline vi vcvt(vf a) { return _mm256_cvtps_epi32(a); }
inline vi vsrai1(vi a) { return _mm256_srai_epi32(a, 1); }
inline vi vsubi(vi a, vi b) { return _mm256_sub_epi32(a, b); }
inline vf vpow2i(vi n) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23)); }
inline vf vselectGt(vf a, vf b, vf t, vf f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
inline vf vselectLt(vf a, vf b, vf t, vf f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vf v) { _mm256_storeu_ps(p, v); }
inline vf vloadTail(const float* p, int64_t n, float fill) {
  const __m256i m = maskOf(n);
  return _mm256_blendv_ps(vset(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
inline void vstoreTail(float* p, vf v, int64_t n) { _mm256_maskstore_ps(p, maskOf(n), v); }
inline float vhsum(vf v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float vhmax(vf v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// p * 2^n for an integral n in [-150, 128] (vexp's range), in two steps so
// that neither power of two leaves the float range.
inline vf vldexp(vf p, vf n) {
  const vi ni = vcvt(n), n1 = vsrai1(ni), n2 = vsubi(ni, n1);
  return vmul(vmul(p, vpow2i(n1)), vpow2i(n2));
}

#include "backends/cpu/ukernels/vmath_impl.inc"

}  // namespace

const Kernels& avx2Kernels() { return kTable; }

}  // namespace kiln::cpu::vmath
