// AVX-512 GEMM micro-kernels: 12 x 32 tiles (24 zmm accumulators, two B
// vectors, A values broadcast from memory into the FMAs) where two 6-row
// panels are left, 7..11 x 32 for an M tail of more than one panel, else
// 6 x 32 (12 accumulators) or fewer rows. Partial tiles use
// masked loads and stores. Compiled with the AVX-512 flags; only reached when
// hostIsa() says "avx512". Internal linkage throughout (see gemm_avx2.cc).
#include <immintrin.h>

// GCC 12 warns about _mm512_undefined_ps() inside its own min/max intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "backends/cpu/ukernels/gemm.h"

namespace kiln::cpu::gemm {
namespace {

inline __mmask16 maskOf(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1u);
}

// Rows 0..5 of the tile read A at a0, rows 6..11 at a1 (the next 6-row
// panel): A(i, k) = a0[i*rsa + k*csa] for i < 6, a1[(i-6)*rsa + k*csa] after.
template <int MRV>
inline void ukernelRows(int64_t kc, const float* a0, const float* a1, int64_t rsa, int64_t csa, const float* b,
                        float* c, int64_t ldc, int64_t nr, bool accumulate) {
  __m512 c0[MRV], c1[MRV];
  // The C tile is read (accumulate) or written after the K loop: ask for its
  // lines now, so that the loads and stores at the end do not wait on L2.
#pragma GCC unroll 12
  for (int i = 0; i < MRV; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + nr - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 12
  for (int i = 0; i < MRV; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MRV; ++i) {
      const __m512 av = _mm512_set1_ps(i < kMR ? a0[i * rsa] : a1[(i - kMR) * rsa]);
      c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
    }
    a0 += csa;
    a1 += csa;
    b += 32;
  }
  if (nr == 32) {
#pragma GCC unroll 12
    for (int i = 0; i < MRV; ++i) {
      float* cr = c + i * ldc;
      if (accumulate) {
        c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(cr));
        c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(cr + 16));
      }
      _mm512_storeu_ps(cr, c0[i]);
      _mm512_storeu_ps(cr + 16, c1[i]);
    }
    return;
  }
  const __mmask16 m0 = maskOf(nr), m1 = maskOf(nr - 16);
#pragma GCC unroll 12
  for (int i = 0; i < MRV; ++i) {
    float* cr = c + i * ldc;
    if (accumulate) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, cr));
      c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    _mm512_mask_storeu_ps(cr, m0, c0[i]);
    _mm512_mask_storeu_ps(cr + 16, m1, c1[i]);
  }
}

template <int MRV>
void ukernel(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b, float* c, int64_t ldc,
             int64_t nr, bool accumulate) {
  ukernelRows<MRV>(kc, a, a, rsa, csa, b, c, ldc, nr, accumulate);
}

// 12 x 32 (24 zmm accumulators): each B vector loaded feeds 12 rows, half
// the B traffic per FMA of the 6 x 32 tile.
void ukernel12(int64_t kc, const float* a0, const float* a1, int64_t rsa, int64_t csa, const float* b, float* c,
               int64_t ldc, int64_t nr, bool accumulate) {
  ukernelRows<2 * kMR>(kc, a0, a1, rsa, csa, b, c, ldc, nr, accumulate);
}

// 7..11 rows (an M tail of more than one panel): rows kMR.. read a1.
template <int MRV>
void ukernelWide(int64_t kc, const float* a0, const float* a1, int64_t rsa, int64_t csa, const float* b, float* c,
                 int64_t ldc, int64_t nr, bool accumulate) {
  ukernelRows<MRV>(kc, a0, a1, rsa, csa, b, c, ldc, nr, accumulate);
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

inline __m512 activate(VecAct k, __m512 x, __m512 alpha, __m512 beta) {
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.f);
  switch (k) {
    case VecAct::kRelu: return _mm512_max_ps(x, zero);
    case VecAct::kLeakyRelu:
      return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GE_OQ), _mm512_mul_ps(alpha, x), x);
    case VecAct::kClip: return _mm512_min_ps(beta, _mm512_max_ps(alpha, x));
    case VecAct::kHardSigmoid:
      return _mm512_max_ps(_mm512_min_ps(_mm512_add_ps(_mm512_mul_ps(alpha, x), beta), one), zero);
    case VecAct::kHardSwish: {
      __m512 t = _mm512_add_ps(_mm512_div_ps(x, _mm512_set1_ps(6.f)), _mm512_set1_ps(0.5f));
      return _mm512_mul_ps(x, _mm512_max_ps(_mm512_min_ps(t, one), zero));
    }
    default: return x;
  }
}

void epilogue(const Epilogue& ep, float* c, int64_t ldc, int64_t row0, int64_t col0, int64_t mr, int64_t nr) {
  const VecAct va = vecAct(ep.act.kind);
  const __m512 scale = _mm512_set1_ps(ep.scale), bs = _mm512_set1_ps(ep.biasScale);
  const __m512 alpha = _mm512_set1_ps(ep.act.alpha), beta = _mm512_set1_ps(ep.act.beta);
  for (int64_t i = 0; i < mr; ++i) {
    float* cr = c + i * ldc;
    const __m512 rb =
        _mm512_set1_ps(ep.biasScale * (ep.scalarBias + (ep.rowBias ? ep.rowBias[row0 + i] : 0.f)));
    const float* cb = ep.colBias ? ep.colBias + col0 : nullptr;
    const float* mx = ep.matrix ? ep.matrix + (row0 + i) * ep.ldm + col0 : nullptr;
    for (int64_t j = 0; j < nr; j += 16) {
      const __mmask16 m = maskOf(nr - j);
      __m512 v = _mm512_add_ps(_mm512_mul_ps(scale, _mm512_maskz_loadu_ps(m, cr + j)), rb);
      if (cb) v = _mm512_add_ps(v, _mm512_mul_ps(bs, _mm512_maskz_loadu_ps(m, cb + j)));
      if (mx) v = _mm512_add_ps(v, _mm512_mul_ps(bs, _mm512_maskz_loadu_ps(m, mx + j)));
      _mm512_mask_storeu_ps(cr + j, m, activate(va, v, alpha, beta));
    }
    if (va == VecAct::kOther) activateRow(ep.act, cr, nr);
  }
}

Ukernels makeTable() {
  Ukernels u{};
  u.isa = "avx512";
  u.nr = 32;
  u.kc = 256;
  u.kernel[0] = nullptr;
  u.kernel[1] = ukernel<1>;
  u.kernel[2] = ukernel<2>;
  u.kernel[3] = ukernel<3>;
  u.kernel[4] = ukernel<4>;
  u.kernel[5] = ukernel<5>;
  u.kernel[6] = ukernel<6>;
  u.kernel2x = ukernel12;
  u.kernelWide[7] = ukernelWide<7>;
  u.kernelWide[8] = ukernelWide<8>;
  u.kernelWide[9] = ukernelWide<9>;
  u.kernelWide[10] = ukernelWide<10>;
  u.kernelWide[11] = ukernelWide<11>;
  u.epilogue = epilogue;
  return u;
}

}  // namespace

const Ukernels& avx512Ukernels() {
  static const Ukernels u = makeTable();
  return u;
}

}  // namespace kiln::cpu::gemm
