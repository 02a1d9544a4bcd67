// Packed, cache-blocked SGEMM: C = epilogue(A * B).
//
// B is always packed into column panels of `nr` columns: panel j holds rows
// 0..K-1 of columns [j*nr, j*nr + nr), one row of nr floats after another
// (columns past N are zero). A is read in place through strides, or from row
// panels of kMR rows packed the same way (conv weights are packed so at build
// time). The micro-kernel computes an mr x nr tile of C from a kc-long slice
// of an A row panel and a B panel, keeping the tile in registers; the driver
// blocks K (kc), M and N so that the B slice stays in L1 and the A block in L2.
//
// The micro-kernels for this CPU are picked once (hostUkernels(), through
// hostIsa()), never by branching in hot loops. Layouts are independent of
// the ISA except for nr, which a packed B records (16 for AVX2 and the
// portable kernels, 32 for AVX-512); a B packed with another nr still runs,
// through the portable kernels for that nr.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "backends/cpu/activation.h"
#include "core/thread_pool.h"

namespace kiln::cpu::gemm {

constexpr int kMR = 6;  //!< rows of a micro-tile and of a packed A panel

//! What happens to each C value after the last K block:
//! c = act(scale * acc + biasScale * (scalarBias + rowBias[i] + colBias[j] + matrix[i][j])).
struct Epilogue {
  float scale = 1.f;
  float biasScale = 1.f;
  float scalarBias = 0.f;
  const float* rowBias = nullptr;  //!< M values (conv: per output channel)
  const float* colBias = nullptr;  //!< N values (MatMul / Gemm bias)
  const float* matrix = nullptr;   //!< M x N with row stride ldm (conv residual, Gemm's full C)
  int64_t ldm = 0;
  Activation act;
  //! True when nothing but storing the accumulator is needed.
  bool trivial() const {
    return scale == 1.f && scalarBias == 0.f && !rowBias && !colBias && !matrix && act.kind == ActKind::kNone;
  }
};

//! C[0:mr, 0:nr] = (accumulate ? C : 0) + A[0:mr, 0:kc] * B[0:kc, 0:NR], where
//! A(i, k) = a[i*rsa + k*csa], B is a packed panel (row stride NR) and only
//! the first nr (<= NR) columns of C are stored.
using MicroKernel = void (*)(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b, float* c,
                             int64_t ldc, int64_t nr, bool accumulate);
//! The same for 2 * kMR rows: rows 0..kMR-1 from a0, rows kMR..2kMR-1 from a1
//! (each A(i, k) = a[i*rsa + k*csa]): two row panels sharing each B load.
using MicroKernel2x = void (*)(int64_t kc, const float* a0, const float* a1, int64_t rsa, int64_t csa,
                               const float* b, float* c, int64_t ldc, int64_t nr, bool accumulate);
//! Applies `ep` to the mr x nr tile of C at (row0, col0) of the whole matrix.
using EpilogueFn = void (*)(const Epilogue& ep, float* c, int64_t ldc, int64_t row0, int64_t col0, int64_t mr,
                            int64_t nr);

struct Ukernels {
  const char* isa;
  int nr;
  int kc;                             //!< K block: kc x nr floats of B stay in L1
  MicroKernel kernel[kMR + 1];        //!< by number of rows, 1..kMR
  MicroKernel2x kernel2x = nullptr;   //!< 2 * kMR rows, where the ISA has the registers for it
  //! kMR+1 .. 2*kMR-1 rows from two panels (index = rows; others nullptr):
  //! an M tail of 8 rows (M = 128 = 10 * 12 + 8) runs as one 8-row tile
  //! (16 accumulators, each B load feeding 8 rows) instead of 6 + 2, whose
  //! 2-row tile has too few independent FMA chains to hide FMA latency.
  MicroKernel2x kernelWide[2 * kMR] = {};
  EpilogueFn epilogue;
};

//! The kernels for this CPU (chosen once).
const Ukernels& hostUkernels();
//! Kernels that read B panels of width `nr`: the host's when it matches,
//! else the portable ones. Throws for an nr Kiln never packs.
const Ukernels& ukernelsForNr(int nr);
//! Kernels of one ISA ("avx512", "avx2", "generic"), or nullptr when this
//! CPU cannot run them (the tests run every ISA the CPU has).
const Ukernels* ukernelsForIsa(const char* isa);

// Per-ISA tables, defined in gemm_<isa>.cc.
const Ukernels& genericUkernels16();
const Ukernels& genericUkernels32();
const Ukernels& avx2Ukernels();
const Ukernels& avx512Ukernels();

//! Applies the activation of `ep` to n floats with the shared helper
//! (activation.h); the ISA epilogues call it for the activations they do
//! not vectorize themselves, so that fused and unfused results agree.
void activateRow(const Activation& act, float* x, int64_t n);

// ---- packing -------------------------------------------------------------

inline int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
//! Floats of a packed B (K x N) with panel width nr.
inline int64_t packedBSize(int64_t k, int64_t n, int nr) { return roundUp(n, nr) * k; }
//! Floats of a packed A (M x K).
inline int64_t packedASize(int64_t m, int64_t k) { return roundUp(m, kMR) * k; }

//! Packs columns [n0, n1) (n0 a multiple of nr) of B into their panels of
//! `out` (a packed B of N columns); B(k, n) = b[k*rsb + n*csb], times `scale`.
void packB(const float* b, int64_t rsb, int64_t csb, int64_t k, int64_t n0, int64_t n1, int nr, float scale,
           float* out);
//! packB for a row-major B (csb = 1) whose row kk is scaled by rowScale[kk]:
//! B(k, n) = b[k*rsb + n] * rowScale[k] (KilnScaledConv: a 1x1 convolution's
//! input channels times a squeeze-excitation scale, applied while packing).
void packBScaledRows(const float* b, int64_t rsb, int64_t k, int64_t n0, int64_t n1, int nr, const float* rowScale,
                     float* out);
//! Packs all of B, splitting the panels over `pool`.
void packBParallel(ThreadPool& pool, const float* b, int64_t rsb, int64_t csb, int64_t k, int64_t n, int nr,
                   float scale, float* out);
//! Packs A (M x K), A(i, k) = a[i*rsa + k*csa], into row panels of kMR.
void packA(const float* a, int64_t rsa, int64_t csa, int64_t m, int64_t k, float* out);

// ---- driver --------------------------------------------------------------

//! The A operand: strided (A(i, k) = data[i*rs + k*cs]) or packed in kMR-row
//! panels (packed = true; rs / cs ignored).
struct AOperand {
  const float* data = nullptr;
  int64_t rs = 0, cs = 0;
  bool packed = false;
};

//! One GEMM: C (M x N, row stride ldc) = epilogue(A (M x K) * B (K x N)).
struct Problem {
  int64_t m = 0, n = 0, k = 0;
  AOperand a;
  const float* b = nullptr;  //!< packed with the kernels' nr
  float* c = nullptr;
  int64_t ldc = 0;
  Epilogue ep;
};

//! Rows [m0, m1) x columns [n0, n1) of C (m0 a multiple of kMR, n0 of nr).
void computeBlock(const Ukernels& uk, const Problem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

//! Splits a problem into cache blocks; tasks() of them are run by runTask().
//! Several problems (batches, groups) can share one parallelFor by
//! numbering their tasks one after another.
struct Blocking {
  int64_t mb = 0, nb = 0;          //!< block size in rows / columns
  int64_t mBlocks = 0, nBlocks = 0;
  int64_t tasks() const { return mBlocks * nBlocks; }
};
//! The K block computeBlock uses: K split into equal blocks of at most uk.kc.
int64_t kBlock(const Ukernels& uk, int64_t k);
//! Blocks sized for the caches, split further until there are enough blocks
//! for `threads` threads (counting `problems` same-shape problems together).
Blocking chooseBlocking(const Ukernels& uk, int64_t m, int64_t n, int64_t k, int threads, int64_t problems = 1);
void runTask(const Ukernels& uk, const Problem& p, const Blocking& bl, int64_t task);

//! Runs one problem over the pool.
void run(const Ukernels& uk, ThreadPool& pool, const Problem& p);

//! Calls fn(task) for every task in [0, n) on the pool's threads, each
//! thread taking the next task from a shared counter: blocks are uneven
//! (edges) and a shared CPU may stall a thread, so a static split would leave
//! threads idle. Consecutive tasks share an A block, so order is kept.
template <typename Fn>
void forEachTask(ThreadPool& pool, int64_t n, Fn&& fn) {
  if (n <= 0) return;
  const int64_t workers = std::min<int64_t>(pool.size(), n);
  if (workers <= 1) {
    for (int64_t t = 0; t < n; ++t) fn(t);
    return;
  }
  std::atomic<int64_t> next{0};
  pool.parallelFor(workers, [&](int64_t, int64_t) {
    for (int64_t t = next.fetch_add(1, std::memory_order_relaxed); t < n;
         t = next.fetch_add(1, std::memory_order_relaxed))
      fn(t);
  });
}

}  // namespace kiln::cpu::gemm
