// The tensor-core pieces the attention kernels share (attention.cu: the staged
// kernel; attention_pipelined.cu: the cp.async/ldmatrix one; attention_wide.cu:
// its 128-row, 8-warp form, which shares the tile loads and ldmatrix products).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cfloat>
#include <cstdint>

#include "backends/cuda/ops/attention_kernels.h"
#include "backends/cuda/ops/element_type.cuh"

namespace kiln::cuda::kernels::attention_mma {

// Tensor-core path. mma.sync.m16n8k16 fragments (PTX ISA "Matrix Fragments for
// mma.m16n8k16"), with g = lane / 4 and t = lane % 4:
//   A (16x16, row-major), 4 registers of 2 elements: a0 (row g,   cols 2t, 2t+1),
//     a1 (row g+8, cols 2t..), a2 (row g, cols 2t+8..), a3 (row g+8, cols 2t+8..);
//   B (16x8, "col": B[k][n]), 2 registers: b0 (k 2t, 2t+1; n g), b1 (k 2t+8, 2t+9; n g);
//   C (16x8, FP32), 4 registers: c0, c1 (row g, cols 2t, 2t+1), c2, c3 (row g+8, same cols).
// The low 16 bits of a register hold the element with the lower column / k.

template <typename T>
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1);

template <>
__device__ __forceinline__ void mma16816<__half>(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

//! Two floats as one register of two T (lo in the low 16 bits).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}

template <typename T>
__device__ __forceinline__ uint32_t load2(const T* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

//! Four 8x8 b16 matrices from shared memory (lanes 8i..8i+7 give matrix i's row
//! addresses); lane (g, t) gets row g, cols 2t and 2t+1 of each: a B fragment
//! pair of a K tile stored [key][dim].
__device__ __forceinline__ void ldmatrixX4(uint32_t r[4], const void* smem) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

//! The same, transposed: lane (g, t) gets rows 2t and 2t+1 of col g of each
//! matrix: B fragments of a V tile stored [key][dim] (k = key, n = dim).
__device__ __forceinline__ void ldmatrixX4Trans(uint32_t r[4], const void* smem) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

//! 16 bytes global -> shared without passing through registers; `valid` false
//! writes 16 zero bytes (src-size 0) and reads nothing (gmem must still be a
//! valid address).
__device__ __forceinline__ void cpAsync16(void* smem, const void* gmem, bool valid) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(a), "l"(gmem), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
//! Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

//! A thread's A fragments of Q K^T for its rows row0 and row0 + 8 of a warp's 16
//! (zeros past sq): qb is the batch entry's first row, rows rowStride elements apart.
template <typename T, int kSteps>
__device__ __forceinline__ void loadQueryFragments(uint32_t (&qf)[kSteps][4], const T* qb, int64_t rowStride,
                                                   int64_t row0, int64_t sq, int t) {
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk)
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int64_t row = row0 + 8 * r;
        qf[kk][r + 2 * c] = row < sq ? load2(qb + row * rowStride + kk * 16 + c * 8 + 2 * t) : 0u;
      }
}

//! 2^x by the SFU's ex2.approx (what __expf uses after its multiply by log2(e)); 2^-inf = +0.
__device__ __forceinline__ float fastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

constexpr float kLog2e = 1.4426950408889634f;

//! One 64-key tile's online-softmax step for a thread's two query rows (row0:
//! r 0, row0 + 8: r 1) of its warp's 16: scale, mask and the padding keys'
//! -inf on the scores `sc` (C fragments of keys kv0 + 8 nt + 2t, +1), the new
//! running max m, the exponentials left in `sc` as P, this thread's part of the
//! row sums l, and the accumulators o rescaled by exp(m_old - m_new).
//! kBase2: `scale` already holds scale * log2(e), the mask is multiplied by
//! log2(e) and m is kept in base 2, so each exponential is one ex2 (the ratios
//! P / l are the same). kBounds false: the caller knows every key of the tile
//! is below Sk and every row below Sq (not the last key or query tile), and the
//! per-score bound checks are left out.
//! kClampRows (with kBounds false): rows may pass Sq (the resident kernel's last slice); they read row
//! Sq - 1's mask (their scores are never stored, and the read stays inside the mask).
template <typename T, int kKeyTiles, int kDimTiles, bool kBase2 = false, bool kBounds = true, bool kClampRows = false>
__device__ __forceinline__ void onlineSoftmaxTile(float (&sc)[kKeyTiles][4], float (&m)[2], float (&l)[2],
                                                  float (&o)[kDimTiles][4], int64_t row0, int64_t kv0, int t,
                                                  const AttentionShape& s, float scale, const T* mb) {
  auto expOf = [](float x) { return kBase2 ? fastExp2(x) : __expf(x); };
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t row = row0 + 8 * r;
    float mx = m[r];
#pragma unroll
    for (int nt = 0; nt < kKeyTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int64_t col = kv0 + nt * 8 + 2 * t + e;
        float x = sc[nt][2 * r + e] * scale;
        if (kBounds && col >= s.sk) {
          x = -INFINITY;
        } else if (mb != nullptr && (!kBounds || row < s.sq)) {
          const int64_t mrow = !kClampRows || kBounds || row < s.sq ? row : s.sq - 1;
          const float mv = toFloat(mb[mrow * s.maskRowStride + col * s.maskColStride]);
          x = kBase2 ? fmaf(mv, kLog2e, x) : x + mv;
        }
        sc[nt][2 * r + e] = x;
        mx = fmaxf(mx, x);
      }
    // The 4 threads of a group hold one row's scores.
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float corr = expOf(m[r] - mx);
    m[r] = mx;
    float sum = 0.f;
#pragma unroll
    for (int nt = 0; nt < kKeyTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const float p = expOf(sc[nt][2 * r + e] - mx);
        sc[nt][2 * r + e] = p;
        sum += p;
      }
    l[r] = l[r] * corr + sum;  // this thread's part of the row sum; the group's parts are added at the end
#pragma unroll
    for (int j = 0; j < kDimTiles; ++j) {
      o[j][2 * r] *= corr;
      o[j][2 * r + 1] *= corr;
    }
  }
}

//! Shared-memory rows of a K or V tile of head size D: padded by 8 elements, so
//! 8 rows of 16 bytes at a stride of 16 mod 128 bytes hit 32 banks (ldmatrix).
template <int D>
constexpr int kKvStride = D + 8;

//! Key tile `kv0`'s kBN K and V rows into kDst and vDst (rows kKvStride<D>
//! apart) by cp.async from kThreads threads, one commit group; rows past Sk are
//! zero-filled (V's must be finite: P is 0 there, and 0 * NaN would not be).
//! kb, vb: the batch entry's first rows.
template <typename T, int D, int kBN, int kThreads>
__device__ __forceinline__ void issueKvTile(T* kDst, T* vDst, const T* kb, const T* vb, int64_t kv0,
                                            const AttentionShape& s) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per K/V row
  static_assert(kBN * kChunks % kThreads == 0, "whole chunks per thread");
#pragma unroll
  for (int u = 0; u < kBN * kChunks / kThreads; ++u) {
    const int c = threadIdx.x + kThreads * u;
    const int r = c / kChunks, col = (c % kChunks) * 8;  // a row's chunks on neighbouring threads (coalesced)
    const bool valid = kv0 + r < s.sk;
    cpAsync16(&kDst[r * kKvStride<D> + col], kb + (valid ? (kv0 + r) * s.k.rowStride + col : 0), valid);
    cpAsync16(&vDst[r * kKvStride<D> + col], vb + (valid ? (kv0 + r) * s.v.rowStride + col : 0), valid);
  }
  cpAsyncCommit();
}

//! A warp's scores S = Q K^T against a shared-memory K tile kt [kKeyTiles * 8][D]
//! (qf: its A fragments), K's B fragments by ldmatrix, two k-steps per instruction.
template <typename T, int D, int kKeyTiles>
__device__ __forceinline__ void tileScores(float (&sc)[kKeyTiles][4], const uint32_t (&qf)[D / 16][4], const T* kt,
                                           int lane) {
  static_assert(D % 32 == 0, "paired k-steps");
#pragma unroll
  for (int nt = 0; nt < kKeyTiles; ++nt) {
    sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.f;
    // Lanes 8j..8j+7 address keys nt*8 + (lane % 8) at dims 32 kk + 8 j: b0, b1 of k-step 2kk, then of 2kk + 1.
    const T* kr = kt + (nt * 8 + lane % 8) * kKvStride<D> + (lane / 8) * 8;
#pragma unroll
    for (int kk = 0; kk < D / 32; ++kk) {
      uint32_t bf[4];
      ldmatrixX4(bf, kr + kk * 32);
      mma16816<T>(sc[nt], qf[2 * kk], bf[0], bf[1]);
      mma16816<T>(sc[nt], qf[2 * kk + 1], bf[2], bf[3]);
    }
  }
}

//! O += P V for a warp: P (the softmax step's exponentials in `sc`, re-packed as
//! A fragments: key tiles 2kk and 2kk+1 are keys [16kk, 16kk + 16)) times the
//! shared-memory V tile vt [kKeyTiles * 8][D], row-major, whose B fragments
//! ldmatrix.trans gives; lanes address keys 16 kk + (lane % 16) at dims
//! 16 j + 8 (lane / 16): b0, b1 of output n-tile 2j, then of 2j + 1.
template <typename T, int D, int kKeyTiles>
__device__ __forceinline__ void accumulateTileValues(float (&o)[D / 8][4], const float (&sc)[kKeyTiles][4],
                                                     const T* vt, int lane) {
  static_assert(kKeyTiles % 2 == 0 && D % 16 == 0, "16-key steps, paired output tiles");
#pragma unroll
  for (int kk = 0; kk < kKeyTiles / 2; ++kk) {
    const uint32_t a[4] = {pack2<T>(sc[2 * kk][0], sc[2 * kk][1]), pack2<T>(sc[2 * kk][2], sc[2 * kk][3]),
                           pack2<T>(sc[2 * kk + 1][0], sc[2 * kk + 1][1]),
                           pack2<T>(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
    const T* vr = vt + (kk * 16 + lane % 16) * kKvStride<D> + (lane / 16) * 8;
#pragma unroll
    for (int j = 0; j < D / 16; ++j) {
      uint32_t bf[4];
      ldmatrixX4Trans(bf, vr + j * 16);
      mma16816<T>(o[2 * j], a, bf[0], bf[1]);
      mma16816<T>(o[2 * j + 1], a, bf[2], bf[3]);
    }
  }
}

//! y rows row0 and row0 + 8 (those below sq) = o / l, the group's four parts of l
//! added first; yb is the batch entry's first row, rowStride elements apart.
template <typename T, int kDimTiles>
__device__ __forceinline__ void storeOutputRows(const float (&o)[kDimTiles][4], float (&l)[2], int64_t row0, int t,
                                                int64_t sq, T* yb, int64_t rowStride) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    const int64_t row = row0 + 8 * r;
    if (row >= sq) continue;
    T* yr = yb + row * rowStride + 2 * t;
#pragma unroll
    for (int j = 0; j < kDimTiles; ++j)  // l == 0 (every score -inf): 0/0 = NaN, as unfused
      *reinterpret_cast<uint32_t*>(yr + j * 8) = pack2<T>(o[j][2 * r] / l[r], o[j][2 * r + 1] / l[r]);
  }
}

//! One key tile's work for a warp: scores against the shared-memory K tile kt,
//! the online-softmax step (kBounds: with the key and row bound checks) and
//! O += P V from the V tile vt, over the tile's first kKeyTiles * 8 keys
//! (fewer than kAttentionTileKeys on a trimmed last tile; kKeyTiles even).
template <typename T, int D, int kKeyTiles, bool kBase2, bool kBounds, bool kClampRows = false>
__device__ __forceinline__ void keyTileStep(float (&o)[D / 8][4], float (&m)[2], float (&l)[2],
                                            const uint32_t (&qf)[D / 16][4], const T* kt, const T* vt,
                                            int64_t row0, int64_t kv0, int lane, int t, const AttentionShape& s,
                                            float scale, const T* mb) {
  float sc[kKeyTiles][4];
  tileScores<T, D, kKeyTiles>(sc, qf, kt, lane);
  onlineSoftmaxTile<T, kKeyTiles, D / 8, kBase2, kBounds, kClampRows>(sc, m, l, o, row0, kv0, t, s, scale, mb);
  accumulateTileValues<T, D, kKeyTiles>(o, sc, vt, lane);
}

//! One block of the cp.async-pipelined kernels (attention_pipelined.cu: 4
//! warps; attention_wide.cu: 8): kWarps * 16 query rows of a batch entry
//! (blockIdx.x / rowTiles, query tile blockIdx.x % rowTiles), a warp per 16;
//! 64-key K/V tiles go global -> shared memory by cp.async, double-buffered
//! (tile i + 1 in flight while tile i's math runs); warps whose rows are all
//! past Sq load and meet the barriers but skip the math, and the last key tile's
//! math stops at the 16-key step that holds key Sk - 1. kBase2: `scale` holds
//! scale * log2(e) (onlineSoftmaxTile); kTailBoundsOnly: the key and row bound
//! checks run on the last key tile and the last query tile only.
template <typename T, int D, int kWarps, bool kBase2, bool kTailBoundsOnly>
__device__ __forceinline__ void pipelinedAttentionBlock(const T* __restrict__ q, const T* __restrict__ k,
                                                        const T* __restrict__ v, const T* __restrict__ mask,
                                                        T* __restrict__ y, const AttentionShape& s, float scale,
                                                        int64_t rowTiles) {
  constexpr int kBM = 16 * kWarps, kBN = kAttentionTileKeys, kThreads = 32 * kWarps;
  constexpr int kKeyTiles = kBN / 8;  // n-tiles of the scores
  constexpr int kDimTiles = D / 8;    // n-tiles of the output
  __shared__ __align__(16) T ks[2][kBN * kKvStride<D>];
  __shared__ __align__(16) T vs[2][kBN * kKvStride<D>];

  const int64_t b = blockIdx.x / rowTiles;
  const int64_t tile = blockIdx.x % rowTiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int64_t warpRow0 = tile * kBM + warp * 16;
  const bool live = warpRow0 < s.sq;
  const bool lastRowTile = tile == rowTiles - 1;
  const int64_t row0 = warpRow0 + g;  // this thread's rows: row0 and row0 + 8
  // Each operand's batch entry and row stride from its view (attention_kernels.h: AttentionOperand).
  const T* qb = q + attentionOperandOffset(s, s.q, b);
  const T* kb = k + attentionOperandOffset(s, s.k, b);
  const T* vb = v + attentionOperandOffset(s, s.v, b);
  const T* mb = mask != nullptr ? mask + attentionMaskOffset(s, b, 0, 0) : nullptr;

  const int64_t tiles = (s.sk + kBN - 1) / kBN;
  issueKvTile<T, D, kBN, kThreads>(ks[0], vs[0], kb, vb, 0, s);

  uint32_t qf[D / 16][4];  // Q's A fragments, loaded once (during tile 0's copy)
  loadQueryFragments<T, D / 16>(qf, qb, s.q.rowStride, row0, s.sq, t);

  float m[2] = {-FLT_MAX, -FLT_MAX}, l[2] = {0.f, 0.f};
  float o[kDimTiles][4];
#pragma unroll
  for (int j = 0; j < kDimTiles; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;

  for (int64_t i = 0; i < tiles; ++i) {
    const int st = static_cast<int>(i & 1);
    if (i + 1 < tiles) {
      // Stage st ^ 1 was last read in iteration i - 1, before its closing barrier.
      issueKvTile<T, D, kBN, kThreads>(ks[st ^ 1], vs[st ^ 1], kb, vb, (i + 1) * kBN, s);
      cpAsyncWait<1>();  // tile i has landed (this thread's part)
    } else {
      cpAsyncWait<0>();
    }
    __syncthreads();  // ... and every thread's part
    if (live) {
      const int64_t kv0 = i * kBN;
      if (i + 1 < tiles) {
        // Only the last key tile has keys past Sk, only the last query tile rows past Sq (block-uniform).
        if (!kTailBoundsOnly || lastRowTile)
          keyTileStep<T, D, kKeyTiles, kBase2, true>(o, m, l, qf, ks[st], vs[st], row0, kv0, lane, t, s, scale, mb);
        else
          keyTileStep<T, D, kKeyTiles, kBase2, false>(o, m, l, qf, ks[st], vs[st], row0, kv0, lane, t, s, scale, mb);
      } else {
        // The last tile's math runs in 16-key steps up to the one that holds key Sk - 1: Sk = 197
        // leaves 5 keys there, and a whole tile would spend a quarter of the products and
        // exponentials on padding. (One step's code for every count keeps the registers of a
        // single extra instantiation; a softmax rescale per step is cheap next to the products.)
        // A full last tile (Sk a multiple of 64: BERT's 128) keeps the one whole-tile step.
        const int steps = static_cast<int>((s.sk - kv0 + 15) / 16);
        if (steps == kBN / 16) {
          keyTileStep<T, D, kKeyTiles, kBase2, true>(o, m, l, qf, ks[st], vs[st], row0, kv0, lane, t, s, scale, mb);
        } else {
#pragma unroll 1
          for (int j = 0; j < steps; ++j)
            keyTileStep<T, D, 2, kBase2, true>(o, m, l, qf, ks[st] + j * 16 * kKvStride<D>,
                                               vs[st] + j * 16 * kKvStride<D>, row0, kv0 + 16 * j, lane, t, s, scale,
                                               mb);
        }
      }
    }
    __syncthreads();  // stage st's readers are done before iteration i + 1 refills it
  }
  if (live) storeOutputRows<T, kDimTiles>(o, l, row0, t, s.sq, y + attentionOperandOffset(s, s.y, b), s.y.rowStride);
}

}  // namespace kiln::cuda::kernels::attention_mma
