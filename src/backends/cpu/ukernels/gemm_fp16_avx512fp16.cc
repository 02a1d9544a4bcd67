// The FP16 GEMM (gemm_fp16.h): packing, the kMR x 64 micro-kernel and the
// driver, compiled with AVX512-FP16; reached only where hostSupportsFP16().
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which its
// -Wmaybe-uninitialized reports once they are inlined here (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>

#include "backends/cpu/ukernels/gemm_fp16.h"

namespace kiln::cpu::gemm16 {
namespace {

using half = _Float16;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Converts n floats to fp16, 16 at a time.
void toHalves(const float* x, int64_t n, half* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_castph_si256(_mm512_cvtxps_ph(_mm512_loadu_ps(x + i))));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m256h h = _mm512_cvtxps_ph(_mm512_maskz_loadu_ps(m, x + i));
    _mm256_mask_storeu_epi16(y + i, m, _mm256_castph_si256(h));
  }
}

// Converts n floats to fp16, each stored twice in one 32-bit word (h | h << 16).
void toHalfPairs(const float* x, int64_t n, uint32_t* y) {
  int64_t i = 0;
  auto pairs = [](__m512 v) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_castph_si256(_mm512_cvtxps_ph(v)));
    return _mm512_or_si512(h, _mm512_slli_epi32(h, 16));
  };
  for (; i + 16 <= n; i += 16) _mm512_storeu_si512(y + i, pairs(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_epi32(y + i, m, pairs(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

uint32_t halfPair(float x) {
  const half h = static_cast<half>(x);
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof bits);
  return bits | uint32_t{bits} << 16;
}

// c[0:16] (+)= the 16 halves of h, as floats.
inline void addHalves(float* c, __m256h h, bool add) {
  __m512 v = _mm512_cvtxph_ps(h);
  if (add) v = _mm512_add_ps(v, _mm512_loadu_ps(c));
  _mm512_storeu_ps(c, v);
}

// C[0:R, 0:64] (+)= A[0:R, 0:kc] * B[0:kc, 0:64]; A(i, k) = a[i*lda + k]
// (an fp16 pair, convertA), B a packed panel slice (row stride 64), C f32
// with row stride ldc. Each kChunk of K is summed in fp16 registers (2R
// accumulators), then added into C in f32. A's values come as pairs so that
// a 32-bit broadcast (vbroadcastss: one load uop) fills all 32 lanes; the
// 16-bit one (vpbroadcastw) costs a shuffle on the port the FMAs need.
template <int R>
void microKernel(int64_t kc, const float* a, int64_t lda, const half* b, float* c, int64_t ldc, bool accumulate) {
  for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
    const int64_t k1 = std::min<int64_t>(kc, k0 + kChunk);
    __m512h acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ph();
    for (int64_t k = k0; k < k1; ++k) {
      const __m512h b0 = _mm512_loadu_ph(b + k * kNR), b1 = _mm512_loadu_ph(b + k * kNR + 32);
#pragma GCC unroll 12
      for (int r = 0; r < R; ++r) {
        const __m512h av = _mm512_castps_ph(_mm512_set1_ps(a[r * lda + k]));
        acc[r][0] = _mm512_fmadd_ph(av, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ph(av, b1, acc[r][1]);
      }
    }
    const bool add = accumulate || k0 > 0;
    for (int r = 0; r < R; ++r) {
      float* cr = c + r * ldc;
      for (int h = 0; h < 2; ++h) {
        const __m512i bits = _mm512_castph_si512(acc[r][h]);
        addHalves(cr + 32 * h, _mm256_castsi256_ph(_mm512_castsi512_si256(bits)), add);
        addHalves(cr + 32 * h + 16, _mm256_castsi256_ph(_mm512_extracti64x4_epi64(bits, 1)), add);
      }
    }
  }
}

using Kernel = void (*)(int64_t, const float*, int64_t, const half*, float*, int64_t, bool);
constexpr Kernel kKernels[kMR + 1] = {nullptr,        microKernel<1>, microKernel<2>,  microKernel<3>, microKernel<4>,
                                      microKernel<5>, microKernel<6>, microKernel<7>,  microKernel<8>, microKernel<9>,
                                      microKernel<10>, microKernel<11>, microKernel<12>};

struct Task {
  int64_t m0, m1, p0, p1;  // rows, and B panels
};

// Rows [m0, m1) x panels [p0, p1) of C, K blocked by kKc: each B slice
// (kKc x 64 halves) stays in L1 while every row tile of the block uses it.
void computeBlock(const Task& t, int64_t n, int64_t k, const float* a, const half* b, float* c, int64_t ldc,
                  const gemm::Epilogue& ep, const gemm::Ukernels& fp32) {
  const bool trivial = ep.trivial();
  alignas(64) float edge[kMR * kNR];  // a tile whose columns run past N
  const int64_t kb = k <= kKc ? std::max<int64_t>(k, 1) : ceilDiv(k, ceilDiv(k, kKc));
  for (int64_t k0 = 0; k0 < k; k0 += kb) {
    const int64_t kc = std::min(kb, k - k0);
    const bool first = k0 == 0, last = k0 + kc == k;
    // The next B slice is prefetched into L2 a few lines per tile while this
    // one is in use (the weights come from DRAM; the hardware prefetcher does
    // not cross to the next panel, K x 128 bytes away), as the FP32 driver does.
    const int64_t sliceLines = kc * kNR * static_cast<int64_t>(sizeof(half)) / 64;
    const int64_t linesPerTile = ceilDiv(sliceLines, std::max<int64_t>(1, ceilDiv(t.m1 - t.m0, kMR)));
    for (int64_t p = t.p0; p < t.p1; ++p) {
      const int64_t col0 = p * kNR, cols = std::min<int64_t>(kNR, n - col0);
      const half* bp = b + p * k * kNR + k0 * kNR;
      const half* nextB = p + 1 < t.p1 ? bp + k * kNR : k0 + kc < k ? b + t.p0 * k * kNR + (k0 + kc) * kNR : nullptr;
      int64_t line = 0;
      for (int64_t m = t.m0; m < t.m1; m += kMR) {
        if (nextB)
          for (const int64_t end = std::min(sliceLines, line + linesPerTile); line < end; ++line)
            __builtin_prefetch(nextB + line * 32, 0, 2);
        const int rows = static_cast<int>(std::min<int64_t>(kMR, t.m1 - m));
        float* cp = c + m * ldc + col0;
        float* tile = cols == kNR ? cp : edge;
        const int64_t ldt = cols == kNR ? ldc : kNR;
        if (tile == edge && !first)
          for (int r = 0; r < rows; ++r) std::memcpy(edge + r * kNR, cp + r * ldc, cols * sizeof(float));
        kKernels[rows](kc, a + m * k + k0, k, bp, tile, ldt, !first);
        if (tile == edge)
          for (int r = 0; r < rows; ++r) std::memcpy(cp + r * ldc, edge + r * kNR, cols * sizeof(float));
        if (last && !trivial) fp32.epilogue(ep, cp, ldc, m, col0, rows, cols);
      }
    }
  }
}

}  // namespace

void toHalf(const float* x, int64_t n, uint16_t* y) { toHalves(x, n, reinterpret_cast<half*>(y)); }

void packB(const float* b, int64_t rsb, int64_t csb, int64_t k, int64_t n, uint16_t* out) {
  half* o = reinterpret_cast<half*>(out);
  for (int64_t col0 = 0; col0 < n; col0 += kNR) {
    half* panel = o + (col0 / kNR) * k * kNR;
    const int64_t w = std::min<int64_t>(kNR, n - col0);
    for (int64_t kk = 0; kk < k; ++kk) {
      half* dst = panel + kk * kNR;
      if (csb == 1) {
        toHalves(b + kk * rsb + col0, w, dst);
      } else {
        for (int64_t t = 0; t < w; ++t) dst[t] = static_cast<half>(b[kk * rsb + (col0 + t) * csb]);
      }
      for (int64_t t = w; t < kNR; ++t) dst[t] = static_cast<half>(0.f);
    }
  }
}

void convertA(ThreadPool& pool, const float* a, int64_t rsa, int64_t csa, int64_t m, int64_t k, uint32_t* out) {
  auto rows = [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      if (csa == 1) {
        toHalfPairs(a + i * rsa, k, out + i * k);
      } else {
        for (int64_t kk = 0; kk < k; ++kk) out[i * k + kk] = halfPair(a[i * rsa + kk * csa]);
      }
    }
  };
  if (m * k < (int64_t{1} << 16)) {
    rows(0, m);
    return;
  }
  pool.parallelFor(m, rows);
}

void run(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const uint32_t* a, const uint16_t* b, float* c,
         int64_t ldc, const gemm::Epilogue& ep) {
  if (m == 0 || n == 0) return;
  const gemm::Ukernels& fp32 = gemm::hostUkernels();  // its epilogue (f32, on the finished tile)
  const float* ah = reinterpret_cast<const float*>(a);  // pairs of halves, broadcast as 32-bit words
  const half* bh = reinterpret_cast<const half*>(b);
  if (k == 0) {  // an empty sum: C is the epilogue of zero
    for (int64_t i = 0; i < m; ++i) std::memset(c + i * ldc, 0, n * sizeof(float));
    if (!ep.trivial())
      for (int64_t i = 0; i < m; i += kMR) fp32.epilogue(ep, c + i * ldc, ldc, i, 0, std::min<int64_t>(kMR, m - i), n);
    return;
  }
  // Blocks: N split first (each thread streams its own B panels, all share
  // A, which is small in transformers), then M, until there are a few
  // blocks per thread; A blocks at most 256 rows (kKc x 256 halves: 128 KiB of L2).
  const int64_t panels = ceilDiv(n, kNR), tiles = ceilDiv(m, kMR);
  const int threads = 2 * m * n * k < ThreadPool::kMinSplitFlops ? 1 : pool.size();
  int64_t nBlocks = 1, mBlocks = ceilDiv(tiles, 256 / kMR);
  const int64_t want = threads > 1 ? 4 * threads : 1;
  while (mBlocks * nBlocks < want) {
    if (nBlocks < panels && ceilDiv(panels, nBlocks + 1) >= 2)
      ++nBlocks;
    else if (mBlocks < tiles)
      ++mBlocks;
    else if (nBlocks < panels)
      ++nBlocks;
    else
      break;
  }
  const int64_t pb = ceilDiv(panels, nBlocks), tb = ceilDiv(tiles, mBlocks);
  nBlocks = ceilDiv(panels, pb);
  mBlocks = ceilDiv(tiles, tb);
  auto task = [&](int64_t t) {
    const int64_t bm = t / nBlocks, bn = t % nBlocks;
    const Task blk{bm * tb * kMR, std::min(m, (bm + 1) * tb * kMR), bn * pb, std::min(panels, (bn + 1) * pb)};
    computeBlock(blk, n, k, ah, bh, c, ldc, ep, fp32);
  };
  if (threads == 1) {
    for (int64_t t = 0; t < mBlocks * nBlocks; ++t) task(t);
    return;
  }
  gemm::forEachTask(pool, mBlocks * nBlocks, task);
}

}  // namespace kiln::cpu::gemm16
