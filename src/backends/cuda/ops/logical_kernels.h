// Comparison (Equal, Less, LessOrEqual, Greater, GreaterOrEqual), logic (And,
// Or, Xor) and Not kernels (logical.cu), with the broadcasting of kernels.h's
// BroadcastShape. Outputs are bool (one byte, 0 or 1). The launchers are
// templates over the operand type, instantiated in logical.cu (float,
// int32_t, int64_t, uint8_t for bool operands; __half and __nv_bfloat16 are
// one line each there): comparisons run in the operand type, so int64 keeps
// its precision.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {

enum class Compare : int32_t { kEqual, kLess, kLessOrEqual, kGreater, kGreaterOrEqual };
enum class Logic : int32_t { kAnd, kOr, kXor };

//! y = a <op> b (broadcast as `shape` says).
template <typename T>
void compare(const T* a, const T* b, bool* y, const BroadcastShape& shape, Compare op, cudaStream_t stream);

//! y = a <op> b on bool operands (any nonzero byte is true).
void logic(const bool* a, const bool* b, bool* y, const BroadcastShape& shape, Logic op, cudaStream_t stream);

//! y = !x over n elements.
void logicalNot(const bool* x, bool* y, int64_t n, cudaStream_t stream);

}  // namespace kiln::cuda::kernels
