// The BF16 micro-kernels (gemm_bf16.h): packing, conversion and the kMR x 32
// tile, compiled with AVX512_BF16; reached only where hostSupportsBF16().
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which its
// -Wmaybe-uninitialized reports once they are inlined here (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>

#include "backends/cpu/ukernels/gemm_bf16.h"

namespace kiln::cpu::gemmbf16 {
namespace {

// 16 words from 32 floats: word t = bf16(lo[t]) | bf16(hi[t]) << 16.
inline __m512i pairWords(__m512 lo, __m512 hi) {
  // cvtne2ps_pbh(a, b) puts b's 16 values in the low 256 bits and a's in the high.
  const __m512i bits = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
  // bits: lo0..lo15 | hi0..hi15 (16-bit each); interleave to lo0 hi0 lo1 hi1 ...
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21,
                                       5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(idx, bits);
}

inline uint32_t bf16Bits(float x) {
  // Round to nearest even, as vcvtne2ps2bf16 (NaN kept a quiet NaN).
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// C[0:R, 0:32] = A[0:R, 0:kp words] * B panel; A(i, p) = a[i*lda + p], B
// words (p, t) at b[p*32 + t]; the first `cols` columns of C are stored.
template <int R>
void microKernel(int64_t kp, const uint32_t* a, int64_t lda, const uint32_t* b, float* c, int64_t ldc, int cols) {
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kp; ++p) {
    const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b + p * kNR));
    const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b + p * kNR + 16));
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512bh av = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a[r * lda + p])));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
  if (cols == kNR) {
    for (int r = 0; r < R; ++r) {
      _mm512_storeu_ps(c + r * ldc, acc[r][0]);
      _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
    }
    return;
  }
  const __mmask16 m0 = static_cast<__mmask16>(cols >= 16 ? 0xffff : (1u << cols) - 1);
  const __mmask16 m1 = static_cast<__mmask16>(cols <= 16 ? 0 : (1u << (cols - 16)) - 1);
  for (int r = 0; r < R; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, acc[r][0]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc[r][1]);
  }
}

using Kernel = void (*)(int64_t, const uint32_t*, int64_t, const uint32_t*, float*, int64_t, int);
constexpr Kernel kKernels[kMR + 1] = {nullptr,        microKernel<1>,  microKernel<2>,  microKernel<3>, microKernel<4>,
                                      microKernel<5>, microKernel<6>,  microKernel<7>,  microKernel<8>, microKernel<9>,
                                      microKernel<10>, microKernel<11>, microKernel<12>};

}  // namespace

namespace {

// Row x (k floats) times scale as pairs: y[p] = bf16(x[2p]) | bf16(x[2p+1]) << 16.
void rowPairs(const float* x, int64_t k, float scale, uint32_t* y) {
  // 32 floats -> 16 words: even / odd elements split by a permute of two loads.
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odds = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const __m512 s = _mm512_set1_ps(scale);
  int64_t j = 0;
  for (; j + 32 <= k; j += 32) {
    const __m512 v0 = _mm512_mul_ps(_mm512_loadu_ps(x + j), s), v1 = _mm512_mul_ps(_mm512_loadu_ps(x + j + 16), s);
    // pairWords interleaves even / odd again: word t = x[2t] | x[2t+1] << 16.
    _mm512_storeu_si512(y + j / 2, pairWords(_mm512_permutex2var_ps(v0, evens, v1), _mm512_permutex2var_ps(v0, odds, v1)));
  }
  for (; j < k; j += 2) y[j / 2] = bf16Bits(x[j] * scale) | (j + 1 < k ? bf16Bits(x[j + 1] * scale) << 16 : 0u);
}

}  // namespace

void packB(const float* b, int64_t rsb, int64_t csb, int64_t k, int64_t n, float scale, uint32_t* out) {
  const int64_t kp = pairs(k);
  uint32_t column[512];  // one column's pairs (the K^T case), K <= 1024 at a time
  for (int64_t col0 = 0; col0 < n; col0 += kNR) {
    uint32_t* panel = out + (col0 / kNR) * kp * kNR;
    const int64_t w = std::min<int64_t>(kNR, n - col0);
    if (rsb == 1 && k <= 1024) {
      // B = K^T: a column of B is a row of K, its pairs adjacent in memory.
      for (int64_t t = 0; t < kNR; ++t) {
        if (t < w) rowPairs(b + (col0 + t) * csb, k, scale, column);
        for (int64_t p = 0; p < kp; ++p) panel[p * kNR + t] = t < w ? column[p] : 0u;
      }
      continue;
    }
    for (int64_t p = 0; p < kp; ++p) {
      uint32_t* dst = panel + p * kNR;
      const float* r0 = b + 2 * p * rsb + col0 * csb;
      const float* r1 = 2 * p + 1 < k ? r0 + rsb : nullptr;
      if (csb == 1 && w == kNR) {  // row-major B (V): two rows, 32 columns at a time
        const __m512 s = _mm512_set1_ps(scale);
        for (int h = 0; h < 2; ++h) {
          const __m512 lo = _mm512_mul_ps(_mm512_loadu_ps(r0 + 16 * h), s);
          const __m512 hi = r1 ? _mm512_mul_ps(_mm512_loadu_ps(r1 + 16 * h), s) : _mm512_setzero_ps();
          _mm512_storeu_si512(dst + 16 * h, pairWords(lo, hi));
        }
        continue;
      }
      for (int64_t t = 0; t < kNR; ++t) {
        const float lo = t < w ? r0[t * csb] * scale : 0.f;
        const float hi = t < w && r1 ? r1[t * csb] * scale : 0.f;
        dst[t] = bf16Bits(lo) | bf16Bits(hi) << 16;
      }
    }
  }
}

void convertRows(const float* a, int64_t rsa, int64_t m, int64_t k, uint32_t* out, int64_t ldo) {
  for (int64_t i = 0; i < m; ++i) rowPairs(a + i * rsa, k, 1.f, out + i * ldo);
}

void compute(int64_t m, int64_t n, int64_t k, const uint32_t* a, int64_t lda, const uint32_t* b, float* c,
             int64_t ldc) {
  const int64_t kp = pairs(k);
  if (kp == 0) {  // an empty sum
    for (int64_t i = 0; i < m; ++i) std::memset(c + i * ldc, 0, static_cast<std::size_t>(n) * sizeof(float));
    return;
  }
  for (int64_t col0 = 0; col0 < n; col0 += kNR) {
    const uint32_t* panel = b + (col0 / kNR) * kp * kNR;
    const int cols = static_cast<int>(std::min<int64_t>(kNR, n - col0));
    for (int64_t r = 0; r < m; r += kMR) {
      const int rows = static_cast<int>(std::min<int64_t>(kMR, m - r));
      kKernels[rows](kp, a + r * lda, lda, panel, c + r * ldc + col0, ldc, cols);
    }
  }
}

}  // namespace kiln::cpu::gemmbf16
