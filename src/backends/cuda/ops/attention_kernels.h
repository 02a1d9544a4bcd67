// KilnAttention on the device (attention.cu): y = softmax(scale * Q K^T + mask) V
// in one kernel, flash-attention style (online softmax over key tiles, FP32
// accumulators and softmax; the scores never reach memory). Two paths:
//  - tensor cores (FP16/BF16, head size D == Dv in kTensorCoreHeadSizes, 16-byte
//    aligned Q/K/V/y): 64 query rows per block (16 per warp), 64-key K/V tiles
//    in shared memory, mma.sync m16n8k16 for Q K^T and P V, P kept in registers;
//    variants: the K/V prefetch; `pipelined` (cp.async double buffering, ldmatrix;
//    D 32/64); `wide` (the pipelined scheme on 128-row, 8-warp blocks, base-2
//    softmax, bound checks on the tail tiles only; D 32/64: attention_wide.cu);
//  - rows (any float type, D <= kRowsMaxD, Dv <= kRowsMaxDv): one warp per query
//    row, 8 rows per block sharing K/V tiles of up to 32 keys in shared memory
//    (a lane per key), FP32 throughout. FP32 inputs and the head sizes the
//    tensor-core kernel lacks take it.
// A row whose scores are all -inf gives NaN, as the unfused Softmax does (0/0).
// These are the tactic KilnAttention.flash (attention.cc). A second tactic,
// KilnAttention.gemm (attention_gemm.cc, attention_gemm_kernels.h), runs FP32
// attention unfused: S = scale * Q K^T and y = P V as batched cuBLASLt products
// (TF32 tensor cores where allowed) around a masked row softmax of S in the
// workspace; the builder times both where both apply (FP32: the rows path above
// is SIMT-bound at ViT/BERT batch sizes) and keeps the faster.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {

//! Where one operand's (batch) planes and rows are, in elements: batch index
//! b = outer * inner + i starts at offset + outer * outerStride + i * innerStride,
//! and its rows are rowStride apart; the head dim is contiguous. Contiguous
//! operands have rowStride = the head size and plane strides = rows x head size;
//! strided views (ir/ops/attention_view.h) read Q, K, V straight from the
//! projections' layout and write y in the next MatMul's.
struct AttentionOperand {
  int64_t offset = 0, outerStride = 0, innerStride = 0, rowStride = 0;
};

//! Q [batch, sq, d], K [batch, sk, d], V [batch, sk, dv], y [batch, sq, dv]
//! (batch: the product of the leading dims; each laid out as its
//! AttentionOperand says: attentionShape gives the contiguous layout), and the mask's
//! element strides: batch index b = outer * inner + i reads the mask at
//! outer * maskOuterStride + i * maskInnerStride + row * maskRowStride + col * maskColStride
//! (0 on broadcast dims; rank 3 has outer 0 and inner = the batch).
struct AttentionShape {
  int64_t batch = 0, inner = 1;
  int64_t sq = 0, sk = 0, d = 0, dv = 0;
  bool hasMask = false;
  int64_t maskOuterStride = 0, maskInnerStride = 0, maskRowStride = 0, maskColStride = 0;
  AttentionOperand q, k, v, y;
};

//! Host arithmetic from the views' dims (mask: null when absent); throws naming
//! the mismatched dims (rank other than 3/4, leading dims, head sizes, key
//! lengths, a mask that does not broadcast to [B..., sq, sk]).
AttentionShape attentionShape(const std::vector<int64_t>& q, const std::vector<int64_t>& k,
                              const std::vector<int64_t>& v, const std::vector<int64_t>* mask);

//! The mask element of score (b, row, col): the kernels' walk, replayed on the host in tests.
KILN_HOST_DEVICE inline int64_t attentionMaskOffset(const AttentionShape& s, int64_t b, int64_t row, int64_t col) {
  return (b / s.inner) * s.maskOuterStride + (b % s.inner) * s.maskInnerStride + row * s.maskRowStride +
         col * s.maskColStride;
}

//! The first element of operand `o`'s batch entry b.
KILN_HOST_DEVICE inline int64_t attentionOperandOffset(const AttentionShape& s, const AttentionOperand& o, int64_t b) {
  return o.offset + (b / s.inner) * o.outerStride + (b % s.inner) * o.innerStride;
}

//! The layout of a view with logical `rank` (3 or 4) dims of element `strides` from `offset` on.
AttentionOperand attentionOperand(int rank, const int64_t* strides, int64_t offset);

//! Whether every offset and stride of Q, K, V and y is a multiple of `elems` elements (with 16-byte
//! aligned base pointers: each row start is 16-byte aligned when elems * element size = 16).
bool attentionStridesMultipleOf(const AttentionShape& s, int64_t elems);

constexpr int kTensorCoreHeadSizes[] = {32, 64, 80, 96, 128};
constexpr int kAttentionTileRows = 64;  //!< query rows per block, tensor-core path
constexpr int kAttentionTileKeys = 64;  //!< keys per shared-memory tile, tensor-core path
constexpr int kAttentionWideTileRows = 128;  //!< query rows per block (8 warps of 16), the wide kernel
constexpr int kAttentionResidentWarps = 4;   //!< warps per block, the resident kernel
constexpr int kResidentMaxShared = 100 * 1024;  //!< the resident kernel's shared memory at most (else: pipelined)
constexpr bool kResidentPrefetchQ = false;  //!< the resident kernel prefetches each warp's next Q slice
constexpr int kRowsPerBlock = 8;        //!< query rows (warps) per block, rows path
constexpr int kRowsMaxShared = 48 * 1024;  //!< the rows path's shared memory (the static limit, no opt-in)
constexpr int64_t kRowsMaxD = 512, kRowsMaxDv = 256;

enum class AttentionPath : int32_t { kTensorCore, kRows };

//! One launch: a 1-D grid of `blocks` = batch * rowTiles (block i: batch i / rowTiles,
//! query tile i % rowTiles), `threads` per block, `sharedBytes` of dynamic shared memory.
struct AttentionLaunch {
  AttentionPath path = AttentionPath::kRows;
  int64_t rowTiles = 0, blocks = 0;
  int32_t threads = 128;
  int32_t sharedBytes = 0;
  int32_t keysPerStep = 0;  //!< rows path: keys staged per step (32, 16 or 8: what fits kRowsMaxShared)
  bool prefetch = false;    //!< tensor-core path: the next K/V tile's loads overlap this tile's math
  bool pipelined = false;   //!< tensor-core path: the cp.async/ldmatrix kernel (attention_pipelined.cu)
  bool wide = false;        //!< tensor-core path: its 128-row, 256-thread form (attention_wide.cu)
  bool resident = false;    //!< tensor-core path: the whole-K/V-in-shared-memory kernel (attention_resident.cu)
  int32_t residentSlices = 0;  //!< resident kernel: 16-row query slices per block
};

//! Whether a head size (D == Dv) has a tensor-core kernel.
bool attentionTensorCoreHeadSize(int64_t d);

//! Whether some path runs head sizes d and dv (for FP32 too): what the tactic's supports() asks.
bool attentionSupportsHeadSizes(int64_t d, int64_t dv);

//! The path and grid for `s` in `elem`; `aligned16`: every row of Q, K, V and y starts 16-byte aligned;
//! `prefetch`: the tensor-core kernel that loads the next K/V tile during this one's
//! math (more registers; a variant the builder times); `pipelined`: the cp.async
//! double-buffered kernel instead, where the head size has it (another variant);
//! `wide`: the 128-row wide kernel, where the head size has it (over `pipelined`).
//! Throws when no path takes the head sizes or the grid would exceed CUDA's limit.
//! `resident`: the kernel that keeps the entry's whole K/V in shared memory (over the others), where the
//! head size has it and K/V fit kResidentMaxShared (else the pipelined kernel).
AttentionLaunch attentionLaunch(const AttentionShape& s, Elem elem, bool aligned16, bool prefetch = false,
                                bool pipelined = false, bool wide = false, bool resident = false);

//! Whether the pipelined tensor-core kernel has head size d (32 and 64).
bool attentionPipelinedHeadSize(int64_t d);

//! The pipelined kernel's launch (attention_pipelined.cu), for a launch `l` with l.pipelined.
void attentionPipelined(const void* q, const void* k, const void* v, const void* mask, void* y,
                        const AttentionShape& s, float scale, Elem elem, const AttentionLaunch& l,
                        cudaStream_t stream);

//! Whether the wide tensor-core kernel has head size d (32 and 64).
bool attentionWideHeadSize(int64_t d);

//! The wide kernel's launch (attention_wide.cu), for a launch `l` with l.wide.
void attentionWide(const void* q, const void* k, const void* v, const void* mask, void* y, const AttentionShape& s,
                   float scale, Elem elem, const AttentionLaunch& l, cudaStream_t stream);

//! Whether the resident tensor-core kernel has head size d (32 and 64).
bool attentionResidentHeadSize(int64_t d);

//! The resident kernel's dynamic shared memory for `s` (K and V, Sk rounded up to 16 rows of D + 8, and,
//! with kResidentPrefetchQ, a 16-row Q buffer per warp).
int64_t attentionResidentSharedBytes(const AttentionShape& s);

//! The resident kernel's launch (attention_resident.cu), for a launch `l` with l.resident.
void attentionResident(const void* q, const void* k, const void* v, const void* mask, void* y,
                       const AttentionShape& s, float scale, Elem elem, const AttentionLaunch& l,
                       cudaStream_t stream);

//! Enqueues y = softmax(scale * Q K^T + mask) V (mask: null when absent, else of
//! Q's type). Needs s.sk > 0 (no keys: y is zeros, which the caller writes).
void attention(const void* q, const void* k, const void* v, const void* mask, void* y, const AttentionShape& s,
               float scale, Elem elem, bool aligned16, bool prefetch, bool pipelined, bool wide, bool resident,
               cudaStream_t stream);

}  // namespace kiln::cuda::kernels
