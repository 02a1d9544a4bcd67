// The GEMM driver (blocking, threading), packing, and the choice of
// micro-kernels for this CPU. The micro-kernels are in gemm_<isa>.cc.
#include "backends/cpu/ukernels/gemm.h"

#include <algorithm>
#include <cstring>

#include "backends/cpu/kernel.h"
#include "core/error.h"

namespace kiln::cpu::gemm {

const Ukernels* ukernelsForIsa(const char* isa) {
  std::string want = isa, host = hostIsa();
  if (want == "generic") return &genericUkernels16();
  if (want == "avx2") return host == "avx2" || host == "avx512" ? &avx2Ukernels() : nullptr;
  if (want == "avx512") return host == "avx512" ? &avx512Ukernels() : nullptr;
  return nullptr;
}

const Ukernels& hostUkernels() {
  static const Ukernels* uk = [] {
    const Ukernels* k = ukernelsForIsa(hostIsa());
    return k ? k : &genericUkernels16();
  }();
  return *uk;
}

const Ukernels& ukernelsForNr(int nr) {
  const Ukernels& host = hostUkernels();
  if (host.nr == nr) return host;
  if (nr == 16) {
    // An AVX-512 CPU runs AVX2 code: better than the portable kernels.
    if (const Ukernels* k = ukernelsForIsa("avx2")) return *k;
    return genericUkernels16();
  }
  if (nr == 32) return genericUkernels32();
  fail("GEMM: no micro-kernels for packed panels of ", nr, " columns");
}

void activateRow(const Activation& act, float* x, int64_t n) { applyActivation(act, x, n); }

// ---- packing -------------------------------------------------------------

void packB(const float* b, int64_t rsb, int64_t csb, int64_t k, int64_t n0, int64_t n1, int nr, float scale,
           float* out) {
  for (int64_t col0 = n0; col0 < n1; col0 += nr) {
    float* panel = out + (col0 / nr) * k * nr;
    const int64_t w = std::min<int64_t>(nr, n1 - col0);
    if (csb == 1) {
      for (int64_t kk = 0; kk < k; ++kk) {
        const float* src = b + kk * rsb + col0;
        float* dst = panel + kk * nr;
        if (scale == 1.f) {
          std::memcpy(dst, src, static_cast<std::size_t>(w) * sizeof(float));
        } else {
          for (int64_t t = 0; t < w; ++t) dst[t] = src[t] * scale;
        }
        for (int64_t t = w; t < nr; ++t) dst[t] = 0.f;
      }
    } else {
      // Transposed B: walk each source column contiguously (rsb is usually 1).
      for (int64_t t = 0; t < nr; ++t) {
        if (t >= w) {
          for (int64_t kk = 0; kk < k; ++kk) panel[kk * nr + t] = 0.f;
          continue;
        }
        const float* src = b + (col0 + t) * csb;
        for (int64_t kk = 0; kk < k; ++kk) panel[kk * nr + t] = src[kk * rsb] * scale;
      }
    }
  }
}

void packBParallel(ThreadPool& pool, const float* b, int64_t rsb, int64_t csb, int64_t k, int64_t n, int nr,
                   float scale, float* out) {
  const int64_t panels = (n + nr - 1) / nr;
  pool.parallelFor(panels, [&](int64_t p0, int64_t p1) {
    packB(b, rsb, csb, k, p0 * nr, std::min(n, p1 * nr), nr, scale, out);
  });
}

void packA(const float* a, int64_t rsa, int64_t csa, int64_t m, int64_t k, float* out) {
  for (int64_t row0 = 0; row0 < m; row0 += kMR) {
    float* panel = out + (row0 / kMR) * k * kMR;
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t r = 0; r < kMR; ++r)
        panel[kk * kMR + r] = row0 + r < m ? a[(row0 + r) * rsa + kk * csa] : 0.f;
  }
}

// ---- driver --------------------------------------------------------------

void computeBlock(const Ukernels& uk, const Problem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const int64_t nr = uk.nr, K = p.k;
  const bool trivial = p.ep.trivial();
  if (K == 0) {  // an empty sum: C is the epilogue of zero
    for (int64_t m = m0; m < m1; ++m) std::memset(p.c + m * p.ldc + n0, 0, sizeof(float) * (n1 - n0));
    if (!trivial)
      for (int64_t m = m0; m < m1; m += kMR) uk.epilogue(p.ep, p.c + m * p.ldc + n0, p.ldc, m, n0,
                                                         std::min<int64_t>(kMR, m1 - m), n1 - n0);
    return;
  }
  for (int64_t k0 = 0; k0 < K; k0 += uk.kc) {
    const int64_t kb = std::min<int64_t>(uk.kc, K - k0);
    const bool first = k0 == 0, last = k0 + kb == K;
    for (int64_t n = n0; n < n1; n += nr) {
      const int64_t nv = std::min(nr, n1 - n);
      const float* bp = p.b + (n / nr) * K * nr + k0 * nr;
      for (int64_t m = m0; m < m1; m += kMR) {
        const int64_t mr = std::min<int64_t>(kMR, m1 - m);
        const float* ap;
        int64_t rs, cs;
        if (p.a.packed) {
          ap = p.a.data + (m / kMR) * K * kMR + k0 * kMR;
          rs = 1;
          cs = kMR;
        } else {
          ap = p.a.data + m * p.a.rs + k0 * p.a.cs;
          rs = p.a.rs;
          cs = p.a.cs;
        }
        float* cp = p.c + m * p.ldc + n;
        uk.kernel[mr](kb, ap, rs, cs, bp, cp, p.ldc, nv, !first);
        // The tile is still in L1: finish it now rather than in a second pass.
        if (last && !trivial) uk.epilogue(p.ep, cp, p.ldc, m, n, mr, nv);
      }
    }
  }
}

Blocking chooseBlocking(const Ukernels& uk, int64_t m, int64_t n, int64_t k, int threads, int64_t problems) {
  const int64_t nr = uk.nr;
  const int64_t mTiles = std::max<int64_t>(1, (m + kMR - 1) / kMR);
  const int64_t nTiles = std::max<int64_t>(1, (n + nr - 1) / nr);
  // A block of mb rows x kc stays in L2 while the B panels of the block
  // stream through L1: 16 tiles (96 rows) x 256 floats is 96 KiB.
  int64_t mbT = std::min<int64_t>(mTiles, 16);
  int64_t nbT = std::min<int64_t>(nTiles, std::max<int64_t>(1, 512 / nr));
  auto count = [&] { return ((mTiles + mbT - 1) / mbT) * ((nTiles + nbT - 1) / nbT) * problems; };
  // Enough blocks that threads finish together (a few per thread).
  const int64_t want = threads > 1 ? 4 * threads : 1;
  while (count() < want && (mbT > 1 || nbT > 1)) {
    if (nbT >= mbT * 2 || mbT == 1)
      nbT = (nbT + 1) / 2;
    else
      mbT = (mbT + 1) / 2;
  }
  (void)k;
  Blocking b;
  b.mb = mbT * kMR;
  b.nb = nbT * nr;
  b.mBlocks = (mTiles + mbT - 1) / mbT;
  b.nBlocks = (nTiles + nbT - 1) / nbT;
  if (m == 0 || n == 0) b.mBlocks = b.nBlocks = 0;
  return b;
}

void runTask(const Ukernels& uk, const Problem& p, const Blocking& bl, int64_t task) {
  const int64_t bm = task / bl.nBlocks, bn = task % bl.nBlocks;
  const int64_t m0 = bm * bl.mb, n0 = bn * bl.nb;
  computeBlock(uk, p, m0, std::min(p.m, m0 + bl.mb), n0, std::min(p.n, n0 + bl.nb));
}

void run(const Ukernels& uk, ThreadPool& pool, const Problem& p) {
  if (2 * p.m * p.n * p.k < ThreadPool::kMinSplitFlops) {  // too small to split: blocked for one thread, inline
    const Blocking bl = chooseBlocking(uk, p.m, p.n, p.k, 1);
    for (int64_t t = 0; t < bl.tasks(); ++t) runTask(uk, p, bl, t);
    return;
  }
  Blocking bl = chooseBlocking(uk, p.m, p.n, p.k, pool.size());
  forEachTask(pool, bl.tasks(), [&](int64_t t) { runTask(uk, p, bl, t); });
}

}  // namespace kiln::cpu::gemm
