// KilnAttention's wide tensor-core kernel (attention_kernels.h: the `wide`
// variant, issue #7). The pipelined kernel's scheme (attention_pipelined.cu:
// cp.async double-buffered 64-key K/V tiles, ldmatrix fragments, P in
// registers) on 128 query rows per block, 8 warps of 16: each K/V tile brought
// into shared memory serves twice the query rows, halving the K/V traffic from
// L2 per row (ViT-B/16: 197 rows are 2 tiles of 128 instead of 4 of 64).
//  - base-2 softmax: the scale is folded with log2(e) once, so each
//    exponential is one ex2 (attention_mma.cuh: onlineSoftmaxTile<kBase2>);
//  - the key bound (col < Sk) and row bound (row < Sq, for the mask reads) are
//    checked only on the tail tiles, the last key tile and the last query
//    tile; every other tile is full and skips the per-score compares.
// Head sizes 32 and 64 (two K/V stages of 64 x (D + 8) halves: 36 KiB at D = 64,
// two blocks per SM in 228 KiB); __launch_bounds__(256, 2) caps registers at 128.
#include <type_traits>

#include "backends/cuda/ops/attention_kernels.h"
#include "backends/cuda/ops/attention_mma.cuh"
#include "backends/cuda/ops/element_type.cuh"

namespace kiln::cuda::kernels {
namespace {

using namespace attention_mma;

constexpr int kWideThreads = 32 * kAttentionWideTileRows / 16;  // a warp per 16 query rows

// The block's code is pipelinedAttentionBlock (attention_mma.cuh), shared with
// the pipelined kernel; this one runs it on 8 warps, base 2, tail-only bounds.
template <typename T, int D>
__global__ void __launch_bounds__(kWideThreads, 2) attentionWideKernel(const T* __restrict__ q, const T* __restrict__ k,
                                                                     const T* __restrict__ v, const T* __restrict__ mask,
                                                                     T* __restrict__ y, AttentionShape s, float scale2,
                                                                     int64_t rowTiles) {
  pipelinedAttentionBlock<T, D, kWideThreads / 32, true, true>(q, k, v, mask, y, s, scale2, rowTiles);
}

}  // namespace

bool attentionWideHeadSize(int64_t d) { return d == 32 || d == 64; }

void attentionWide(const void* q, const void* k, const void* v, const void* mask, void* y, const AttentionShape& s,
                   float scale, Elem elem, const AttentionLaunch& l, cudaStream_t stream) {
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, float>) {
      auto kernel = s.d == 32 ? attentionWideKernel<T, 32> : attentionWideKernel<T, 64>;
      kernel<<<static_cast<unsigned>(l.blocks), l.threads, 0, stream>>>(
          static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<const T*>(mask),
          static_cast<T*>(y), s, scale * kLog2e, l.rowTiles);
    }
  });
}

}  // namespace kiln::cuda::kernels
