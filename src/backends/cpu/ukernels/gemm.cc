// The GEMM driver (blocking, threading), packing, and the choice of
// micro-kernels for this CPU. The micro-kernels are in gemm_<isa>.cc.
#include "backends/cpu/ukernels/gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

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

void packBScaledRows(const float* b, int64_t rsb, int64_t k, int64_t n0, int64_t n1, int nr, const float* rowScale,
                     float* out) {
  for (int64_t col0 = n0; col0 < n1; col0 += nr) {
    float* panel = out + (col0 / nr) * k * nr;
    const int64_t w = std::min<int64_t>(nr, n1 - col0);
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* src = b + kk * rsb + col0;
      float* dst = panel + kk * nr;
      const float s = rowScale[kk];
      for (int64_t t = 0; t < w; ++t) dst[t] = src[t] * s;
      for (int64_t t = w; t < nr; ++t) dst[t] = 0.f;
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

namespace {
// Whether `rows` rows of A read in place at a row stride of `rs` floats keep
// to at most 4 lines of any L1 set (L1: 64 sets of 64-byte lines, 8 ways or
// more), leaving the other ways to the B slice. Rows 1024 floats apart (K =
// 3072) all fall into one set: 12 of them would evict each other and B.
bool rowsFitL1Sets(int64_t rs, int rows) {
  constexpr int64_t kLine = 64, kSets = 64;
  int64_t lines[2 * kMR];
  for (int i = 0; i < rows; ++i) lines[i] = i * rs * static_cast<int64_t>(sizeof(float)) / kLine;
  for (int i = 0; i < rows; ++i) {
    int sameSet = 0;
    for (int j = 0; j < rows; ++j) {
      bool seen = false;  // count each line once
      for (int t = 0; t < j && !seen; ++t) seen = lines[t] == lines[j];
      if (!seen && lines[j] % kSets == lines[i] % kSets) ++sameSet;
    }
    if (sameSet > 4) return false;
  }
  return true;
}
}  // namespace

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
  const int64_t kBlk = kBlock(uk, K);
  // A read in place at a stride whose rows collide in L1 (rowsFitL1Sets) is
  // copied, one K block of this block's rows at a time, into panels in this
  // thread's buffer: one pass over the block's A per K block, against one per
  // B panel in place.
  const int panelRows = uk.kernel2x ? 2 * kMR : kMR;
  const bool packHere = !p.a.packed && n1 - n0 > nr && !rowsFitL1Sets(p.a.rs, panelRows);
  const bool use2x = uk.kernel2x && (p.a.packed || packHere || rowsFitL1Sets(p.a.rs, 2 * kMR));
  thread_local std::vector<float> aBlock;
  if (packHere) {
    const std::size_t want = static_cast<std::size_t>(roundUp(m1 - m0, kMR) * kBlk);
    if (aBlock.size() < want) aBlock.resize(want);
  }
  for (int64_t k0 = 0; k0 < K; k0 += kBlk) {
    const int64_t kb = std::min<int64_t>(kBlk, K - k0);
    const bool first = k0 == 0, last = k0 + kb == K;
    if (packHere) packA(p.a.data + m0 * p.a.rs + k0 * p.a.cs, p.a.rs, p.a.cs, m1 - m0, kb, aBlock.data());
    // B slices (kb x nr) are used one after another; the next one is
    // prefetched into L2 a few lines per tile while this one is in use (the
    // weights of a model come from DRAM: the hardware prefetcher does not
    // cross from one panel to the next one 4 KiB pages away).
    const int64_t sliceLines = kb * nr * static_cast<int64_t>(sizeof(float)) / 64;
    const int64_t tiles = std::max<int64_t>(1, (m1 - m0 + kMR - 1) / kMR);
    const int64_t linesPerTile = (sliceLines + tiles - 1) / tiles;
    for (int64_t n = n0; n < n1; n += nr) {
      const int64_t nv = std::min(nr, n1 - n);
      const float* bp = p.b + (n / nr) * K * nr + k0 * nr;
      const float* nextB = n + nr < n1         ? bp + K * nr
                           : k0 + kb < K ? p.b + (n0 / nr) * K * nr + (k0 + kb) * nr
                                         : nullptr;
      int64_t line = 0;
      for (int64_t m = m0; m < m1;) {
        if (nextB)
          for (const int64_t end = std::min(sliceLines, line + linesPerTile); line < end; ++line)
            __builtin_prefetch(nextB + line * 16, 0, 2);
        // Two full row panels at once where the ISA can (one B load feeds 12 rows).
        // A tail of kMR+1 .. 2kMR-1 rows runs as one wide tile where there is a kernel for it.
        const int64_t left = m1 - m;
        const bool two = use2x && left >= 2 * kMR;
        const bool wide = use2x && !two && left > kMR && uk.kernelWide[left];
        const int64_t mr = two ? 2 * kMR : wide ? left : std::min<int64_t>(kMR, left);
        const float* ap;
        const float* ap2;  // the second panel
        int64_t rs, cs;
        if (packHere) {
          ap = aBlock.data() + ((m - m0) / kMR) * kb * kMR;
          ap2 = ap + kb * kMR;
          rs = 1;
          cs = kMR;
        } else if (p.a.packed) {
          ap = p.a.data + (m / kMR) * K * kMR + k0 * kMR;
          ap2 = ap + K * kMR;
          rs = 1;
          cs = kMR;
        } else {
          ap = p.a.data + m * p.a.rs + k0 * p.a.cs;
          ap2 = ap + kMR * p.a.rs;
          rs = p.a.rs;
          cs = p.a.cs;
        }
        float* cp = p.c + m * p.ldc + n;
        if (two)
          uk.kernel2x(kb, ap, ap2, rs, cs, bp, cp, p.ldc, nv, !first);
        else if (wide)
          uk.kernelWide[mr](kb, ap, ap2, rs, cs, bp, cp, p.ldc, nv, !first);
        else
          uk.kernel[mr](kb, ap, rs, cs, bp, cp, p.ldc, nv, !first);
        // The tile is still in L1: finish it now rather than in a second pass.
        if (last && !trivial) uk.epilogue(p.ep, cp, p.ldc, m, n, mr, nv);
        m += mr;
      }
    }
  }
}

namespace {
// Bytes of an A block (mb rows x kb floats) that stay in L2 (1-2 MiB a core on
// the CPUs Kiln targets) while the B panels stream through L1: every B panel
// slice loaded is reused by all mb rows, so the fewer A blocks, the fewer
// passes over B (a transformer's 197 rows are one block, B is read once).
constexpr int64_t kABlockBytes = 256 << 10;
// Columns of a B block: 16 panels of 32 (512 KiB at kb 256), bounding the C
// block (mb x nb) that is re-read after each K block.
constexpr int64_t kMaxNCols = 512;
// The narrowest B block the thread split makes before it splits M instead.
constexpr int64_t kMinNTiles = 4;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

int64_t kBlock(const Ukernels& uk, int64_t k) {
  // Equal K blocks of at most uk.kc: K = 300 runs as 150 + 150, not 256 + 44.
  if (k <= uk.kc) return std::max<int64_t>(k, 1);
  return ceilDiv(k, ceilDiv(k, uk.kc));
}

Blocking chooseBlocking(const Ukernels& uk, int64_t m, int64_t n, int64_t k, int threads, int64_t problems) {
  const int64_t nr = uk.nr;
  const int64_t mTiles = std::max<int64_t>(1, ceilDiv(m, kMR));
  const int64_t nTiles = std::max<int64_t>(1, ceilDiv(n, nr));
  const int64_t rowBytes = kBlock(uk, k) * static_cast<int64_t>(sizeof(float));
  const int64_t maxMTiles = std::max<int64_t>(1, kABlockBytes / (kMR * rowBytes));
  const int64_t maxNTiles = std::max<int64_t>(1, kMaxNCols / nr);
  int64_t mBlocks = ceilDiv(mTiles, maxMTiles), nBlocks = ceilDiv(nTiles, maxNTiles);
  // Enough blocks that threads finish together (a few per thread), made by
  // splitting N first: each thread then streams its own B panels through its
  // own caches while all share the A block (M is small in transformers: a
  // split by M would have every thread read all of B). Blocks are split
  // evenly (197 rows as one block of 33 tiles, not 96 + 96 + 5: a block of
  // a few rows reads all of B for little work).
  const int64_t want = threads > 1 ? 4 * threads : 1;
  auto total = [&] { return mBlocks * nBlocks * problems; };
  while (total() < want || (threads > 1 && total() < 8 * threads && total() % threads != 0)) {
    if (nBlocks < nTiles && ceilDiv(nTiles, nBlocks + 1) >= kMinNTiles)
      ++nBlocks;
    else if (mBlocks < mTiles)
      ++mBlocks;
    else if (nBlocks < nTiles)
      ++nBlocks;
    else
      break;
  }
  const int64_t mbT = ceilDiv(mTiles, mBlocks), nbT = ceilDiv(nTiles, nBlocks);
  Blocking b;
  b.mb = mbT * kMR;
  b.nb = nbT * nr;
  b.mBlocks = ceilDiv(mTiles, mbT);
  b.nBlocks = ceilDiv(nTiles, nbT);
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
  // A read in place at a stride whose rows collide in L1 (K = 3072) would be
  // copied into panels by every task (computeBlock), once per N block: with N
  // split for the threads that is 6 or more copies of all of A. Copy it once
  // here, over the pool, and let every task read the shared panels.
  if (!p.a.packed && p.n > uk.nr && !rowsFitL1Sets(p.a.rs, uk.kernel2x ? 2 * kMR : kMR)) {
    thread_local std::vector<float> aPanels;
    const std::size_t want = static_cast<std::size_t>(packedASize(p.m, p.k));
    if (aPanels.size() < want) aPanels.resize(want);
    float* panels = aPanels.data();
    pool.parallelFor(ceilDiv(p.m, kMR), [&](int64_t t0, int64_t t1) {
      const int64_t row0 = t0 * kMR, rows = std::min(p.m, t1 * kMR) - row0;
      packA(p.a.data + row0 * p.a.rs, p.a.rs, p.a.cs, rows, p.k, panels + row0 * p.k);
    });
    Problem q = p;
    q.a = AOperand{panels, 0, 0, true};
    forEachTask(pool, bl.tasks(), [&](int64_t t) { runTask(uk, q, bl, t); });
    return;
  }
  forEachTask(pool, bl.tasks(), [&](int64_t t) { runTask(uk, p, bl, t); });
}

}  // namespace kiln::cpu::gemm
