// KilnAttention unfused (attention_gemm.cc's tactic KilnAttention.gemm), as
// TensorRT runs attention outside its fused MHA kernels: S = scale * Q K^T
// (a batched cuBLASLt product), S += mask and the row softmax of S in place
// (FP32, attention_gemm.cu), y = P V (a second batched product). For FP32,
// where the product runs on TF32 tensor cores (or exact FP32) and the flash
// kernels' FP32 path is one warp per query row on the SIMT units.
//
// A batch entry b = outer * inner + i of an operand starts at
// outer * outerStride + i * innerStride (two strides: the views of a packed QKV
// or a head split), which one strided-batch product cannot address. So the
// products read their batch entries through pointer arrays (cuBLASLt's
// CUBLASLT_BATCH_MODE_POINTER_ARRAY), filled on the device at each enqueue
// (graph-capturable: no host sync, no host-to-device copy), or, where cuBLASLt
// has no pointer-array algorithm, as strided-batch products: one where one
// stride reaches every entry, else one per outer (or inner) index.
//
// This header: the host arithmetic (workspace layout, the strided plan, the
// pointers' alignment; unit-tested in tests/unit/cuda/attention_shapes_test.cc)
// and the two kernels' launchers.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "backends/cuda/ops/attention_kernels.h"

namespace kiln::cuda::kernels {

//! The operands the products address, in the pointer arrays' order.
enum AttentionGemmOperand : int { kGemmQ = 0, kGemmK, kGemmV, kGemmY, kGemmS, kGemmOperands };

//! S's row stride in floats: Sk rounded up to 16 bytes (aligned rows for the softmax and for
//! cuBLASLt's vector loads of P).
inline int64_t attentionScoresRowStride(int64_t sk) { return (sk + 3) / 4 * 4; }

//! S's layout as an AttentionOperand: batch entry b at b * sq * ldS, rows ldS apart.
AttentionOperand attentionScoresOperand(const AttentionShape& s);

//! The kernel's workspace, each part 256-byte aligned: cuBLASLt's scratch, the pointer
//! arrays (kGemmOperands arrays of `batch` device pointers, array i at pointers + i * batch),
//! and S (batch x sq x ldS floats).
struct AttentionGemmWorkspace {
  int64_t ldS = 0;
  std::size_t cublasOffset = 0, cublasBytes = 0;
  std::size_t pointersOffset = 0, pointersBytes = 0;
  std::size_t scoresOffset = 0, scoresBytes = 0;
  std::size_t total = 0;
};

AttentionGemmWorkspace attentionGemmWorkspace(int64_t batch, int64_t sq, int64_t sk, std::size_t cublasBytes);

//! The strided-batch form: `calls` products of `perCall` matrices each; operand o's matrices
//! of call c start at c * callStep[o] and are batchStride[o] apart (elements). One call where
//! a single stride reaches every batch entry of every operand (rank 3; one head or one outer
//! index; outerStride == inner * innerStride, as contiguous [B, H, S, D]), else one call per
//! index of the smaller of outer and inner.
struct AttentionGemmStrided {
  int64_t calls = 1, perCall = 0;
  int64_t callStep[kGemmOperands] = {}, batchStride[kGemmOperands] = {};
};

AttentionGemmStrided attentionGemmStrided(const AttentionShape& s);

//! The alignment in bytes (a power of two, at most 256) that every batch entry of operand `o`
//! keeps when its tensor starts at an address aligned to `baseAlignment`, for elements of
//! `elemBytes`: what cuBLASLt is told of its pointers.
uint32_t attentionEntryAlignment(const AttentionShape& s, const AttentionOperand& o, uint32_t baseAlignment,
                                 int64_t elemBytes);

//! The slot of operand o's pointer to batch entry b in the pointer arrays (o's array starts at o * batch).
KILN_HOST_DEVICE inline int64_t attentionGemmPointerSlot(int o, int64_t b, int64_t batch) { return o * batch + b; }

//! Fills pointers[attentionGemmPointerSlot(o, b, s.batch)] with the address of operand o's batch entry b
//! (FP32 elements: attentionOperandOffset; S by attentionScoresOperand).
void attentionGemmPointers(const float* q, const float* k, const float* v, float* y, float* scores,
                           const AttentionShape& s, void** pointers, cudaStream_t stream);

//! In place over S: each row's first sk scores become softmax(S + mask) (mask: null, or FP32 read
//! by attentionMaskOffset), FP32, the max from -FLT_MAX as the unfused Softmax (an all -inf row: NaN).
void attentionGemmSoftmax(float* scores, const float* mask, const AttentionShape& s, cudaStream_t stream);

}  // namespace kiln::cuda::kernels
