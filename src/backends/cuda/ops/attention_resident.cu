// KilnAttention's resident tensor-core kernel (attention_kernels.h: the
// `resident` variant, issue #7). A block holds its batch entry's whole K and V
// in shared memory (Sk rounded up to 16 keys, rows padded as kKvStride), loaded
// once by cp.async in up to four commit groups (key tiles 0, 1, 2 and the
// rest) so the first tile's math starts while the later tiles land; its warps
// then walk the block's 16-row query slices (warp w: slices w, w + kWarps, ...),
// each slice over every key with no further barriers. A (b, h) of ViT-B/16
// (Sq = Sk = 197, 13 slices) is one or two blocks, where the 64-row kernels
// re-read K/V for each of 4 query tiles and leave the 5-row last tile's block
// mostly idle. The per-tile math is the pipelined kernels' (attention_mma.cuh:
// keyTileStep; base-2 softmax; full 64-key tiles without bound checks, the last
// partial tile in 16-key steps up to the one holding key Sk - 1).
// Head sizes 32 and 64; Sk up to what kResidentMaxShared holds (attentionLaunch
// falls back to the pipelined kernel beyond it).
#include <mutex>
#include <type_traits>

#include "backends/cuda/check.h"
#include "backends/cuda/ops/attention_kernels.h"
#include "backends/cuda/ops/attention_mma.cuh"
#include "backends/cuda/ops/element_type.cuh"

namespace kiln::cuda::kernels {
namespace {

using namespace attention_mma;

//! cp.async.wait_group with a run-time count (0..4).
__device__ __forceinline__ void cpAsyncWaitUpTo(int n) {
  switch (n) {
    case 0: cpAsyncWait<0>(); break;
    case 1: cpAsyncWait<1>(); break;
    case 2: cpAsyncWait<2>(); break;
    case 3: cpAsyncWait<3>(); break;
    default: cpAsyncWait<4>(); break;
  }
}

// kMask: a mask input (its address arithmetic costs ~46 registers at D = 64: without it the kernel fits the
// 168 that 3 blocks per SM allow with no spill).
// kPrefetchQ: each warp's next slice of Q goes to a shared-memory buffer of its own by cp.async during this
// slice's math (16 x (D + 8) elements a warp, after K and V), instead of global loads at the slice's start.
template <typename T, int D, bool kMask, int kWarps, int kMinBlocks, int kStepKeys = kAttentionTileKeys,
          bool kPrefetchQ = false>
__global__ void __launch_bounds__(32 * kWarps, kMinBlocks)
    attentionResidentKernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                            const T* __restrict__ mask, T* __restrict__ y, AttentionShape s, float scale2,
                            int64_t rowTiles, int slicesPerBlock) {
  constexpr int kThreads = 32 * kWarps, kBN = kAttentionTileKeys, kStride = kKvStride<D>;
  constexpr int kChunks = D / 8;  // 16-byte chunks per K/V row
  extern __shared__ __align__(16) unsigned char residentSmem[];
  const int skPad = static_cast<int>((s.sk + 15) / 16 * 16);
  T* ks = reinterpret_cast<T*>(residentSmem);
  T* vs = ks + skPad * kStride;
  T* qs = vs + skPad * kStride + (threadIdx.x / 32) * 16 * kStride;  // kPrefetchQ: this warp's Q buffer

  const int64_t b = blockIdx.x / rowTiles;
  const int64_t tile = blockIdx.x % rowTiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int64_t totalSlices = (s.sq + 15) / 16;
  const int64_t slice0 = tile * slicesPerBlock;
  const int slices = static_cast<int>(min(static_cast<int64_t>(slicesPerBlock), totalSlices - slice0));
  const T* qb = q + attentionOperandOffset(s, s.q, b);
  const T* kb = k + attentionOperandOffset(s, s.k, b);
  const T* vb = v + attentionOperandOffset(s, s.v, b);
  const T* mb = kMask ? mask + attentionMaskOffset(s, b, 0, 0) : nullptr;
  T* yb = y + attentionOperandOffset(s, s.y, b);

  // Every K/V row (zeros from Sk to skPad: V's must be finite, P is 0 there) in groups: tiles 0, 1, 2, the rest.
  const int tiles = (skPad + kBN - 1) / kBN;
  const int groups = tiles < 4 ? tiles : 4;
  for (int i = 0; i < tiles; ++i) {
    const int rows = min(kBN, skPad - i * kBN);
    for (int c = threadIdx.x; c < rows * kChunks; c += kThreads) {
      const int r = i * kBN + c / kChunks, col = (c % kChunks) * 8;  // a row's chunks on neighbouring threads
      const bool valid = r < s.sk;
      cpAsync16(&ks[r * kStride + col], kb + (valid ? r * s.k.rowStride + col : 0), valid);
      cpAsync16(&vs[r * kStride + col], vb + (valid ? r * s.v.rowStride + col : 0), valid);
    }
    if (i < 3 || i == tiles - 1) cpAsyncCommit();
  }

  // Round 0: every warp (with a slice or not) meets the barriers that publish each group; later rounds have none.
  bool first = true;
  for (int sl = warp; first || sl < slices; sl += kWarps) {
    const bool live = sl < slices;
    const int64_t row0 = (slice0 + sl) * 16 + g;  // this thread's rows: row0 and row0 + 8
    uint32_t qf[D / 16][4];
    if (kPrefetchQ && !first) {
      if (live) {
        cpAsyncWait<0>();  // this slice's Q, issued during the last one (K/V landed in round 0)
        __syncwarp();
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
          for (int r = 0; r < 2; ++r)
#pragma unroll
            for (int c = 0; c < 2; ++c) qf[kk][r + 2 * c] = load2(qs + (g + 8 * r) * kStride + kk * 16 + c * 8 + 2 * t);
        __syncwarp();  // every lane has its fragments before the buffer is refilled
      }
    } else if (live) {
      loadQueryFragments<T, D / 16>(qf, qb, s.q.rowStride, row0, s.sq, t);
    }
    if (kPrefetchQ && live && sl + kWarps < slices) {
      // The warp's next slice: 16 rows x D / 8 chunks, 32 lanes; rows past Sq are zeros.
      const int64_t nextRow0 = (slice0 + sl + kWarps) * 16;
#pragma unroll
      for (int u = 0; u < 16 * kChunks / 32; ++u) {
        const int c = lane + 32 * u, r = c / kChunks, col = (c % kChunks) * 8;
        const bool valid = nextRow0 + r < s.sq;
        cpAsync16(&qs[r * kStride + col], qb + (valid ? (nextRow0 + r) * s.q.rowStride + col : 0), valid);
      }
      // Round 0 issues it after the K/V groups: a group more in flight for the waits below.
      cpAsyncCommit();
    }
    const int qExtra = kPrefetchQ && first && live && sl + kWarps < slices ? 1 : 0;
    float m[2] = {-FLT_MAX, -FLT_MAX}, l[2] = {0.f, 0.f};
    float o[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    for (int i = 0; i < tiles; ++i) {
      if (first && i < groups) {
        cpAsyncWaitUpTo(groups - 1 - i + qExtra);  // group i (the last: every tile from 3 on) has landed, this thread's part
        __syncthreads();                  // ... and every thread's
      }
      if (!live) continue;
      const int64_t kv0 = static_cast<int64_t>(i) * kBN;
      const T* kt = ks + i * kBN * kStride;
      const T* vt = vs + i * kBN * kStride;
      if (kv0 + kBN <= s.sk) {
#pragma unroll
        for (int j = 0; j < kBN / kStepKeys; ++j)
          keyTileStep<T, D, kStepKeys / 8, true, false, true>(o, m, l, qf, kt + j * kStepKeys * kStride,
                                                        vt + j * kStepKeys * kStride, row0, kv0 + j * kStepKeys, lane,
                                                        t, s, scale2, mb);
      } else {
        const int steps = static_cast<int>((s.sk - kv0 + 15) / 16);
#pragma unroll 1
        for (int j = 0; j < steps; ++j)
          keyTileStep<T, D, 2, true, true>(o, m, l, qf, kt + j * 16 * kStride, vt + j * 16 * kStride, row0,
                                           kv0 + 16 * j, lane, t, s, scale2, mb);
      }
    }
    if (live) storeOutputRows<T, D / 8>(o, l, row0, t, s.sq, yb, s.y.rowStride);
    first = false;
  }
}

template <typename T, int D, bool kMask>
auto residentKernelFor() {
  return attentionResidentKernel<T, D, kMask, kAttentionResidentWarps, 3, kAttentionTileKeys, kResidentPrefetchQ>;
}

}  // namespace

bool attentionResidentHeadSize(int64_t d) { return d == 32 || d == 64; }

int64_t attentionResidentSharedBytes(const AttentionShape& s) {
  // K and V, then each warp's next Q slice (kPrefetchQ); 2-byte elements.
  return ((s.sk + 15) / 16 * 16 * 2 + (kResidentPrefetchQ ? kAttentionResidentWarps * 16 : 0)) * (s.d + 8) * 2;
}

void attentionResident(const void* q, const void* k, const void* v, const void* mask, void* y,
                       const AttentionShape& s, float scale, Elem elem, const AttentionLaunch& l,
                       cudaStream_t stream) {
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, float>) {
      const bool masked = mask != nullptr;
      auto kernel = s.d == 32 ? (masked ? residentKernelFor<T, 32, true>() : residentKernelFor<T, 32, false>())
                              : (masked ? residentKernelFor<T, 64, true>() : residentKernelFor<T, 64, false>());
      // Past the 48 KiB default, once per T and kernel: lift the dynamic shared-memory limit to the variant's cap
      // (a host-side attribute, no stream work; one device's, like the rest of the backend's launch set-up).
      static std::once_flag once[4];
      if (l.sharedBytes > 48 * 1024)
        std::call_once(once[(s.d == 32 ? 0 : 2) + masked], [&] {
          KILN_CUDA_CHECK(
              cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kResidentMaxShared));
        });
      kernel<<<static_cast<unsigned>(l.blocks), l.threads, l.sharedBytes, stream>>>(
          static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<const T*>(mask),
          static_cast<T*>(y), s, scale * kLog2e, l.rowTiles, l.residentSlices);
    }
  });
}

}  // namespace kiln::cuda::kernels
