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
// of static shared memory; D / 16 even for the paired ldmatrix k-steps). The
// block's code is attention_mma.cuh's pipelinedAttentionBlock, which the wide
// kernel (attention_wide.cu) runs on 8 warps.
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
  static_assert(kAttentionTileRows == 64, "4 warps of 16 rows");
  pipelinedAttentionBlock<T, D, 4, false, false>(q, k, v, mask, y, s, scale, rowTiles);
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
