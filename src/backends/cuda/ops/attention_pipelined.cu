// KilnAttention's pipelined tensor-core kernel (attention_kernels.h: the
// `pipelined` variant). The same block shape and online softmax as the staged
// kernel of attention.cu (64 query rows, 4 warps of 16, 64-key tiles, mma.sync
// m16n8k16, P kept in registers), with the tile traffic that profiled as its
// cost taken out (ViT-B/16 at batch 64 on the H200: 112 us per layer, 68
// TFLOP/s):
//  - K and V tiles go global -> shared memory by cp.async, double-buffered:
//    tile i + 1 is in flight while tile i's math runs, and no registers stage it;
//  - V stays row-major in shared memory and ldmatrix.trans hands the P V
//    product its B fragments (the staged kernel transposes V with 2-byte
//    stores); K's fragments come by ldmatrix too, two k-steps per instruction;
//  - warps whose 16 rows are all past Sq (the last tile of Sq = 197 has one live
//    warp of four) load and meet the barriers but skip the math.
// Head sizes 32 and 64 (two K/V stages of 64 x (D + 8) halves each fit the 48 KiB
// of static shared memory; D / 16 even for the paired ldmatrix k-steps).
#include <cfloat>
#include <type_traits>

#include "backends/cuda/ops/attention_kernels.h"
#include "backends/cuda/ops/attention_mma.cuh"
#include "backends/cuda/ops/element_type.cuh"

namespace kiln::cuda::kernels {
namespace {

using namespace attention_mma;

template <typename T, int D>
__global__ void __launch_bounds__(128, 3) attentionPipelinedKernel(const T* __restrict__ q, const T* __restrict__ k,
                                                                const T* __restrict__ v, const T* __restrict__ mask,
                                                                T* __restrict__ y, AttentionShape s, float scale,
                                                                int64_t rowTiles) {
  constexpr int kBM = kAttentionTileRows, kBN = kAttentionTileKeys;
  constexpr int kStride = D + 8;  // padded rows: 8 rows of 16 bytes at a stride of 16 mod 128 bytes hit 32 banks
  constexpr int kSteps = D / 16;       // k-steps of Q K^T
  constexpr int kKeyTiles = kBN / 8;   // n-tiles of the scores
  constexpr int kDimTiles = D / 8;     // n-tiles of the output
  constexpr int kChunks = D / 8;       // 16-byte chunks per K/V row
  constexpr int kPerThread = kBN * kChunks / 128;
  static_assert(kSteps % 2 == 0 && kDimTiles % 2 == 0 && kBN * kChunks % 128 == 0, "fragment pairs, whole chunks");
  __shared__ __align__(16) T ks[2][kBN * kStride];
  __shared__ __align__(16) T vs[2][kBN * kStride];

  const int64_t b = blockIdx.x / rowTiles;
  const int64_t tile = blockIdx.x % rowTiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int64_t warpRow0 = tile * kBM + warp * 16;
  const bool live = warpRow0 < s.sq;
  const int64_t row0 = warpRow0 + g;  // this thread's rows: row0 and row0 + 8
  // Each operand's batch entry and row stride from its view (attention_kernels.h: AttentionOperand).
  const T* qb = q + attentionOperandOffset(s, s.q, b);
  const T* kb = k + attentionOperandOffset(s, s.k, b);
  const T* vb = v + attentionOperandOffset(s, s.v, b);
  const T* mb = mask != nullptr ? mask + attentionMaskOffset(s, b, 0, 0) : nullptr;

  // Tile `i`'s K and V rows into stage `st`; rows past Sk are zero-filled (V's
  // must be finite: P is 0 there, and 0 * NaN would not be).
  auto issueTile = [&](int64_t i, int st) {
    const int64_t kv0 = i * kBN;
#pragma unroll
    for (int u = 0; u < kPerThread; ++u) {
      const int c = threadIdx.x + 128 * u;
      const int r = c / kChunks, col = (c % kChunks) * 8;
      const bool valid = kv0 + r < s.sk;
      cpAsync16(&ks[st][r * kStride + col], kb + (valid ? (kv0 + r) * s.k.rowStride + col : 0), valid);
      cpAsync16(&vs[st][r * kStride + col], vb + (valid ? (kv0 + r) * s.v.rowStride + col : 0), valid);
    }
    cpAsyncCommit();
  };
  const int64_t tiles = (s.sk + kBN - 1) / kBN;
  issueTile(0, 0);

  uint32_t qf[kSteps][4];  // Q's A fragments, loaded once (during tile 0's copy)
  loadQueryFragments<T, kSteps>(qf, qb, s.q.rowStride, row0, s.sq, t);

  float m[2] = {-FLT_MAX, -FLT_MAX}, l[2] = {0.f, 0.f};
  float o[kDimTiles][4];
#pragma unroll
  for (int j = 0; j < kDimTiles; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;

  for (int64_t i = 0; i < tiles; ++i) {
    const int st = static_cast<int>(i & 1);
    if (i + 1 < tiles) {
      issueTile(i + 1, st ^ 1);  // stage st ^ 1 was last read in iteration i - 1, before its closing barrier
      cpAsyncWait<1>();          // tile i has landed (this thread's part)
    } else {
      cpAsyncWait<0>();
    }
    __syncthreads();  // ... and every thread's part
    if (live) {
      const T* kt = ks[st];
      const T* vt = vs[st];
      float sc[kKeyTiles][4];
#pragma unroll
      for (int nt = 0; nt < kKeyTiles; ++nt) {
        sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.f;
        // Lanes 8j..8j+7 address keys nt*8 + (lane % 8) at dims 32 kk + 8 j: b0, b1 of k-step 2kk, then of 2kk + 1.
        const T* kr = kt + (nt * 8 + lane % 8) * kStride + (lane / 8) * 8;
#pragma unroll
        for (int kk = 0; kk < kSteps / 2; ++kk) {
          uint32_t bf[4];
          ldmatrixX4(bf, kr + kk * 32);
          mma16816<T>(sc[nt], qf[2 * kk], bf[0], bf[1]);
          mma16816<T>(sc[nt], qf[2 * kk + 1], bf[2], bf[3]);
        }
      }
      onlineSoftmaxTile<T, kKeyTiles, kDimTiles>(sc, m, l, o, row0, i * kBN, t, s, scale, mb);
      // O += P V over the tile's 16-key steps; lanes address keys 16 kk + (lane % 16) at dims 16 j + 8 (lane / 16):
      // b0, b1 of output n-tile 2j, then of 2j + 1.
#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) {
        const uint32_t a[4] = {pack2<T>(sc[2 * kk][0], sc[2 * kk][1]), pack2<T>(sc[2 * kk][2], sc[2 * kk][3]),
                               pack2<T>(sc[2 * kk + 1][0], sc[2 * kk + 1][1]),
                               pack2<T>(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
        const T* vr = vt + (kk * 16 + lane % 16) * kStride + (lane / 16) * 8;
#pragma unroll
        for (int j = 0; j < kDimTiles / 2; ++j) {
          uint32_t bf[4];
          ldmatrixX4Trans(bf, vr + j * 16);
          mma16816<T>(o[2 * j], a, bf[0], bf[1]);
          mma16816<T>(o[2 * j + 1], a, bf[2], bf[3]);
        }
      }
    }
    __syncthreads();  // stage st's readers are done before iteration i + 1 refills it
  }
  if (live) storeOutputRows<T, kDimTiles>(o, l, row0, t, s.sq, y + attentionOperandOffset(s, s.y, b), s.y.rowStride);
}

}  // namespace

bool attentionPipelinedHeadSize(int64_t d) { return d == 32 || d == 64; }

void attentionPipelined(const void* q, const void* k, const void* v, const void* mask, void* y,
                        const AttentionShape& s, float scale, Elem elem, const AttentionLaunch& l,
                        cudaStream_t stream) {
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, float>) {
      auto kernel = s.d == 32 ? attentionPipelinedKernel<T, 32> : attentionPipelinedKernel<T, 64>;
      kernel<<<static_cast<unsigned>(l.blocks), l.threads, 0, stream>>>(
          static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<const T*>(mask),
          static_cast<T*>(y), s, scale, l.rowTiles);
    }
  });
}

}  // namespace kiln::cuda::kernels
