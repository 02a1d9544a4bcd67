// KilnAttention's kernels (attention_kernels.h: the two paths and their contract).
//
// Online softmax, per query row: m = running max (starts at -FLT_MAX, as the
// unfused Softmax kernel's does, so an all -inf row keeps m finite and gives
// l = 0 and y = 0/0 = NaN, the unfused result), l = running sum of exp(s - m),
// acc = running sum of exp(s - m) * V; each new key tile rescales l and acc by
// exp(m_old - m_new). Keys beyond Sk score -inf and so add exactly 0.
#include <cfloat>
#include <type_traits>

#include "backends/cuda/ops/attention_kernels.h"
#include "backends/cuda/ops/attention_mma.cuh"
#include "backends/cuda/ops/element_type.cuh"

namespace kiln::cuda::kernels {
namespace {

using namespace attention_mma;

// One block: 64 query rows of one batch entry, 4 warps of 16 rows each. Per
// 64-key tile the block stages K [64][D] and V transposed, Vt [D][64], in shared
// memory (rows padded by 8 elements: the fragment reads of 8 rows x 4 words
// then fall in 32 distinct banks); each warp computes its 16x64 scores in
// registers, applies scale and mask, updates the online softmax, and multiplies
// P (re-packed from the score registers as A fragments) by Vt.
template <typename T, int D, bool kPrefetch>
__global__ void __launch_bounds__(128) attentionTensorCoreKernel(const T* __restrict__ q, const T* __restrict__ k,
                                                                 const T* __restrict__ v, const T* __restrict__ mask,
                                                                 T* __restrict__ y, AttentionShape s, float scale,
                                                                 int64_t rowTiles) {
  constexpr int kBM = kAttentionTileRows, kBN = kAttentionTileKeys;
  constexpr int kStrideK = D + 8, kStrideV = kBN + 8;
  constexpr int kSteps = D / 16;  // k-steps of Q K^T
  constexpr int kKeyTiles = kBN / 8;  // n-tiles of the scores
  constexpr int kDimTiles = D / 8;  // n-tiles of the output
  static_assert(D % 16 == 0 && kBN % 16 == 0, "fragment shapes");
  __shared__ __align__(16) T ks[kBN * kStrideK];
  __shared__ __align__(16) T vt[D * kStrideV];

  const int64_t b = blockIdx.x / rowTiles;
  const int64_t tile = blockIdx.x % rowTiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int64_t row0 = tile * kBM + warp * 16 + g;  // this thread's rows: row0 and row0 + 8
  const T* qb = q + attentionOperandOffset(s, s.q, b);  // rows s.q.rowStride apart (16-byte multiples here)
  const T* kb = k + attentionOperandOffset(s, s.k, b);
  const T* vb = v + attentionOperandOffset(s, s.v, b);
  // The mask's walk is linear: its batch part once here, (row, col) per score below.
  const T* mb = mask != nullptr ? mask + attentionMaskOffset(s, b, 0, 0) : nullptr;

  uint32_t qf[kSteps][4];  // Q's A fragments, loaded once
  loadQueryFragments<T, kSteps>(qf, qb, s.q.rowStride, row0, s.sq, t);

  float m[2] = {-FLT_MAX, -FLT_MAX}, l[2] = {0.f, 0.f};
  float o[kDimTiles][4];
#pragma unroll
  for (int j = 0; j < kDimTiles; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;

  // K/V tiles go global -> registers -> shared memory. kPrefetch: the next tile's
  // loads are issued before this tile's math, so they are in flight while it
  // runs (at the cost of registers: fewer blocks per SM; the builder times both).
  constexpr int kChunks = D / 8;                       // 16-byte chunks per K/V row
  constexpr int kPerThread = kBN * kChunks / 128;      // chunks of K (and of V) per thread
  static_assert(kBN * kChunks % 128 == 0, "whole chunks per thread");
  uint4 kreg[kPerThread], vreg[kPerThread];
  auto loadTile = [&](int64_t kv0) {
#pragma unroll
    for (int u = 0; u < kPerThread; ++u) {
      const int i = threadIdx.x + 128 * u;
      const int kr = i / kChunks, kc = (i % kChunks) * 8;  // K: a row's chunks on neighbouring threads (coalesced)
      const int vr = i % kBN, vc = (i / kBN) * 8;          // V: rows on neighbouring threads (see the stores)
      kreg[u] = kv0 + kr < s.sk ? *reinterpret_cast<const uint4*>(kb + (kv0 + kr) * s.k.rowStride + kc)
                                : make_uint4(0, 0, 0, 0);
      vreg[u] = kv0 + vr < s.sk ? *reinterpret_cast<const uint4*>(vb + (kv0 + vr) * s.v.rowStride + vc)
                                : make_uint4(0, 0, 0, 0);
    }
  };
  if constexpr (kPrefetch) loadTile(0);
  for (int64_t kv0 = 0; kv0 < s.sk; kv0 += kBN) {
    if constexpr (!kPrefetch) loadTile(kv0);
    __syncthreads();  // the previous tile's readers are done
    // K row-major, V transposed (the 2-byte stores of neighbouring rows spread over banks); zeros beyond Sk.
#pragma unroll
    for (int u = 0; u < kPerThread; ++u) {
      const int i = threadIdx.x + 128 * u;
      *reinterpret_cast<uint4*>(&ks[(i / kChunks) * kStrideK + (i % kChunks) * 8]) = kreg[u];
      const int vr = i % kBN, vc = (i / kBN) * 8;
      const T* e = reinterpret_cast<const T*>(&vreg[u]);
#pragma unroll
      for (int j = 0; j < 8; ++j) vt[(vc + j) * kStrideV + vr] = e[j];
    }
    __syncthreads();
    if constexpr (kPrefetch)
      if (kv0 + kBN < s.sk) loadTile(kv0 + kBN);

    float sc[kKeyTiles][4];
#pragma unroll
    for (int nt = 0; nt < kKeyTiles; ++nt) {
      sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.f;
      const T* kr = ks + (nt * 8 + g) * kStrideK + 2 * t;
#pragma unroll
      for (int kk = 0; kk < kSteps; ++kk) mma16816<T>(sc[nt], qf[kk], load2(kr + kk * 16), load2(kr + kk * 16 + 8));
    }

    onlineSoftmaxTile<T, kKeyTiles, kDimTiles>(sc, m, l, o, row0, kv0, t, s, scale, mb);

    // O += P V: P's C fragments of key tiles 2kk and 2kk+1 are the A fragment of keys [16kk, 16kk + 16).
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      const uint32_t a[4] = {pack2<T>(sc[2 * kk][0], sc[2 * kk][1]), pack2<T>(sc[2 * kk][2], sc[2 * kk][3]),
                             pack2<T>(sc[2 * kk + 1][0], sc[2 * kk + 1][1]),
                             pack2<T>(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
#pragma unroll
      for (int j = 0; j < kDimTiles; ++j) {
        const T* vr = vt + (j * 8 + g) * kStrideV + kk * 16 + 2 * t;
        mma16816<T>(o[j], a, load2(vr), load2(vr + 8));
      }
    }
  }

  storeOutputRows<T, kDimTiles>(o, l, row0, t, s.sq, y + attentionOperandOffset(s, s.y, b), s.y.rowStride);
}

// ---------------------------------------------------------------------------
// Rows path: one warp per query row, kRowsPerBlock rows of one batch entry per
// block. Per step the block stages `keys` (attentionLaunch: 32, or fewer for
// wide heads) K and V rows in shared memory as FP32 (K rows padded by one
// float, so lane j reading key j's column x hits bank (j + x) % 32); lane j
// scores key kv0 + j against the warp's query row, then every lane
// accumulates its output columns (lane + 32 i) over those keys.
template <typename T>
__global__ void __launch_bounds__(32 * kRowsPerBlock) attentionRowsKernel(
    const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ mask,
    T* __restrict__ y, AttentionShape s, float scale, int64_t rowTiles, int keys) {
  constexpr int kCols = kRowsMaxDv / 32;
  extern __shared__ float smem[];
  const int d = static_cast<int>(s.d), dv = static_cast<int>(s.dv);
  float* qs = smem;                          // [kRowsPerBlock][d]
  float* ks = qs + kRowsPerBlock * d;        // [keys][d + 1]
  float* vs = ks + keys * (d + 1);           // [keys][dv]
  const int64_t b = blockIdx.x / rowTiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row = (blockIdx.x % rowTiles) * kRowsPerBlock + warp;
  const bool live = row < s.sq;  // a warp past the last row still loads tiles and meets the barriers
  float* qr = qs + warp * d;
  if (live)
    for (int i = lane; i < d; i += 32) qr[i] = toFloat(q[attentionOperandOffset(s, s.q, b) + row * s.q.rowStride + i]);
  const T* kb = k + attentionOperandOffset(s, s.k, b);
  const T* vb = v + attentionOperandOffset(s, s.v, b);
  const T* mr = mask != nullptr && live ? mask + attentionMaskOffset(s, b, row, 0) : nullptr;  // this row's mask

  float m = -FLT_MAX, l = 0.f, acc[kCols];
#pragma unroll
  for (int i = 0; i < kCols; ++i) acc[i] = 0.f;
  for (int64_t kv0 = 0; kv0 < s.sk; kv0 += keys) {
    const int n = s.sk - kv0 < keys ? static_cast<int>(s.sk - kv0) : keys;
    __syncthreads();  // the previous step's readers are done (and, the first time, qs is written)
    // The n rows of K (and of V) from kv0 on, each contiguous: coalesced loads along a row.
    for (int i = threadIdx.x; i < n * d; i += blockDim.x)
      ks[(i / d) * (d + 1) + i % d] = toFloat(kb[(kv0 + i / d) * s.k.rowStride + i % d]);
    for (int i = threadIdx.x; i < n * dv; i += blockDim.x)
      vs[i] = toFloat(vb[(kv0 + i / dv) * s.v.rowStride + i % dv]);
    __syncthreads();
    if (!live) continue;
    float x = -INFINITY;
    if (lane < n) {
      const float* kr = ks + lane * (d + 1);
      float dot = 0.f;
      for (int i = 0; i < d; ++i) dot = fmaf(qr[i], kr[i], dot);
      x = dot * scale;
      if (mr != nullptr) x += toFloat(mr[(kv0 + lane) * s.maskColStride]);
    }
    float mx = x;
    for (int off = 16; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    mx = fmaxf(m, mx);
    const float corr = expf(m - mx);
    const float p = expf(x - mx);
    float sum = p;
    for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    l = l * corr + sum;
    m = mx;
#pragma unroll
    for (int i = 0; i < kCols; ++i) acc[i] *= corr;
    for (int j = 0; j < n; ++j) {
      const float pj = __shfl_sync(0xffffffffu, p, j);
      const float* vr = vs + j * dv;
#pragma unroll
      for (int i = 0; i < kCols; ++i)
        if (lane + 32 * i < dv) acc[i] = fmaf(pj, vr[lane + 32 * i], acc[i]);
    }
  }
  if (!live) return;
  T* yr = y + attentionOperandOffset(s, s.y, b) + row * s.y.rowStride;
#pragma unroll
  for (int i = 0; i < kCols; ++i)
    if (lane + 32 * i < dv) store(yr, lane + 32 * i, acc[i] / l);  // l == 0: NaN, as unfused
}

template <typename T, int D>
void launchTensorCore(const void* q, const void* k, const void* v, const void* mask, void* y, const AttentionShape& s,
                      float scale, const AttentionLaunch& l, cudaStream_t stream) {
  auto kernel = l.prefetch ? attentionTensorCoreKernel<T, D, true> : attentionTensorCoreKernel<T, D, false>;
  kernel<<<static_cast<unsigned>(l.blocks), l.threads, 0, stream>>>(
      static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<const T*>(mask),
      static_cast<T*>(y), s, scale, l.rowTiles);
}

template <typename T>
void launchTensorCoreFor(const void* q, const void* k, const void* v, const void* mask, void* y,
                         const AttentionShape& s, float scale, const AttentionLaunch& l, cudaStream_t stream) {
  switch (s.d) {  // kTensorCoreHeadSizes
    case 32: launchTensorCore<T, 32>(q, k, v, mask, y, s, scale, l, stream); break;
    case 64: launchTensorCore<T, 64>(q, k, v, mask, y, s, scale, l, stream); break;
    case 80: launchTensorCore<T, 80>(q, k, v, mask, y, s, scale, l, stream); break;
    case 96: launchTensorCore<T, 96>(q, k, v, mask, y, s, scale, l, stream); break;
    default: launchTensorCore<T, 128>(q, k, v, mask, y, s, scale, l, stream); break;
  }
}

}  // namespace

void attention(const void* q, const void* k, const void* v, const void* mask, void* y, const AttentionShape& s,
               float scale, Elem elem, bool aligned16, bool prefetch, bool pipelined, bool wide, bool resident,
               cudaStream_t stream) {
  const AttentionLaunch l = attentionLaunch(s, elem, aligned16, prefetch, pipelined, wide, resident);
  if (l.blocks == 0 || s.sk == 0) return;
  if (l.resident) {
    attentionResident(q, k, v, mask, y, s, scale, elem, l, stream);
    return;
  }
  if (l.wide) {
    attentionWide(q, k, v, mask, y, s, scale, elem, l, stream);
    return;
  }
  if (l.pipelined) {
    attentionPipelined(q, k, v, mask, y, s, scale, elem, l, stream);
    return;
  }
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, float>) {
      if (l.path == AttentionPath::kTensorCore) {
        launchTensorCoreFor<T>(q, k, v, mask, y, s, scale, l, stream);
        return;
      }
    }
    attentionRowsKernel<T><<<static_cast<unsigned>(l.blocks), l.threads, l.sharedBytes, stream>>>(
        static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<const T*>(mask),
        static_cast<T*>(y), s, scale, l.rowTiles, l.keysPerStep);
  });
}

}  // namespace kiln::cuda::kernels
