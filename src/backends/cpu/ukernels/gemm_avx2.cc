// AVX2 + FMA GEMM micro-kernels: 6 x 16 tiles (12 ymm accumulators, two B
// vectors, one broadcast A value). Compiled with -mavx2 -mfma; only reached
// when hostIsa() says the CPU has them. Everything here has internal linkage
// (or is a plain table) so no AVX2 code can leak into portable callers.
#include <immintrin.h>

#include <algorithm>

#include "backends/cpu/ukernels/gemm.h"

namespace kiln::cpu::gemm {
namespace {

// Lane masks for maskload/maskstore: the first n of 8 lanes (n clamped to 0..8).
inline __m256i maskOf(int64_t n) {
  const int64_t k = std::clamp<int64_t>(n, 0, 8);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Every loop over the tile's rows is unrolled (so is the partial-tile store, through masks):
// an accumulator array indexed by a runtime row in any one of them makes GCC keep the whole
// array in memory, and the K loop then stores all 12 accumulators every step, a quarter of the
// FMA rate (24 of 103 GFLOP/s on a Zen 3 core).
template <int MRV>
void ukernel(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b, float* c, int64_t ldc,
             int64_t nr, bool accumulate) {
  __m256 c0[MRV], c1[MRV];
  // The C tile is read (accumulate) or written after the K loop: ask for its lines now.
#pragma GCC unroll 6
  for (int i = 0; i < MRV; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + nr - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 6
  for (int i = 0; i < MRV; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MRV; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + i * rsa);
      c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
    }
    a += csa;
    b += 16;
  }
  if (nr == 16) {
#pragma GCC unroll 6
    for (int i = 0; i < MRV; ++i) {
      float* cr = c + i * ldc;
      if (accumulate) {
        c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(cr));
        c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(cr + 8));
      }
      _mm256_storeu_ps(cr, c0[i]);
      _mm256_storeu_ps(cr + 8, c1[i]);
    }
    return;
  }
  const __m256i m0 = maskOf(nr), m1 = maskOf(nr - 8);
#pragma GCC unroll 6
  for (int i = 0; i < MRV; ++i) {
    float* cr = c + i * ldc;
    if (accumulate) {
      c0[i] = _mm256_add_ps(c0[i], _mm256_maskload_ps(cr, m0));
      c1[i] = _mm256_add_ps(c1[i], _mm256_maskload_ps(cr + 8, m1));
    }
    _mm256_maskstore_ps(cr, m0, c0[i]);
    _mm256_maskstore_ps(cr + 8, m1, c1[i]);
  }
}

// The activations the epilogue does in registers, with the same operations
// (and rounding) as activation.h; the rest go through activateRow.
enum class VecAct { kNone, kRelu, kLeakyRelu, kClip, kHardSigmoid, kHardSwish, kOther };

VecAct vecAct(ActKind k) {
  switch (k) {
    case ActKind::kNone: return VecAct::kNone;
    case ActKind::kRelu: return VecAct::kRelu;
    case ActKind::kLeakyRelu: return VecAct::kLeakyRelu;
    case ActKind::kClip: return VecAct::kClip;
    case ActKind::kHardSigmoid: return VecAct::kHardSigmoid;
    case ActKind::kHardSwish: return VecAct::kHardSwish;
    default: return VecAct::kOther;
  }
}

inline __m256 activate(VecAct k, __m256 x, __m256 alpha, __m256 beta) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.f);
  switch (k) {
    case VecAct::kRelu: return _mm256_max_ps(x, zero);
    case VecAct::kLeakyRelu:
      return _mm256_blendv_ps(_mm256_mul_ps(alpha, x), x, _mm256_cmp_ps(x, zero, _CMP_GE_OQ));
    case VecAct::kClip: return _mm256_min_ps(beta, _mm256_max_ps(alpha, x));
    case VecAct::kHardSigmoid:
      return _mm256_max_ps(_mm256_min_ps(_mm256_add_ps(_mm256_mul_ps(alpha, x), beta), one), zero);
    case VecAct::kHardSwish: {
      __m256 t = _mm256_add_ps(_mm256_div_ps(x, _mm256_set1_ps(6.f)), _mm256_set1_ps(0.5f));
      return _mm256_mul_ps(x, _mm256_max_ps(_mm256_min_ps(t, one), zero));
    }
    default: return x;
  }
}

void epilogue(const Epilogue& ep, float* c, int64_t ldc, int64_t row0, int64_t col0, int64_t mr, int64_t nr) {
  const VecAct va = vecAct(ep.act.kind);
  const __m256 scale = _mm256_set1_ps(ep.scale), bs = _mm256_set1_ps(ep.biasScale);
  const __m256 alpha = _mm256_set1_ps(ep.act.alpha), beta = _mm256_set1_ps(ep.act.beta);
  for (int64_t i = 0; i < mr; ++i) {
    float* cr = c + i * ldc;
    const float rbs = ep.biasScale * (ep.scalarBias + (ep.rowBias ? ep.rowBias[row0 + i] : 0.f));
    const __m256 rb = _mm256_set1_ps(rbs);
    const float* cb = ep.colBias ? ep.colBias + col0 : nullptr;
    const float* mx = ep.matrix ? ep.matrix + (row0 + i) * ep.ldm + col0 : nullptr;
    int64_t j = 0;
    for (; j + 8 <= nr; j += 8) {
      __m256 v = _mm256_add_ps(_mm256_mul_ps(scale, _mm256_loadu_ps(cr + j)), rb);
      if (cb) v = _mm256_add_ps(v, _mm256_mul_ps(bs, _mm256_loadu_ps(cb + j)));
      if (mx) v = _mm256_add_ps(v, _mm256_mul_ps(bs, _mm256_loadu_ps(mx + j)));
      _mm256_storeu_ps(cr + j, activate(va, v, alpha, beta));
    }
    for (; j < nr; ++j) {
      float v = ep.scale * cr[j] + rbs;
      if (cb) v += ep.biasScale * cb[j];
      if (mx) v += ep.biasScale * mx[j];
      __m256 r = activate(va, _mm256_set1_ps(v), alpha, beta);
      cr[j] = _mm256_cvtss_f32(r);
    }
    if (va == VecAct::kOther) activateRow(ep.act, cr, nr);
  }
}

Ukernels makeTable() {
  Ukernels u{};
  u.isa = "avx2";
  u.nr = 16;
  u.kc = 256;
  u.kernel[0] = nullptr;
  u.kernel[1] = ukernel<1>;
  u.kernel[2] = ukernel<2>;
  u.kernel[3] = ukernel<3>;
  u.kernel[4] = ukernel<4>;
  u.kernel[5] = ukernel<5>;
  u.kernel[6] = ukernel<6>;
  u.epilogue = epilogue;
  return u;
}

}  // namespace

static_assert(kMR == 6, "the tables below list kernels for 1..6 rows");

const Ukernels& avx2Ukernels() {
  static const Ukernels u = makeTable();
  return u;
}

}  // namespace kiln::cpu::gemm
