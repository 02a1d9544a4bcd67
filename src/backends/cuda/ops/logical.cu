// Comparison, logic and Not kernels (logical_kernels.h). Grid-stride loops,
// 64-bit indexing, the same broadcast index walk as kernels.cu's binary kernel.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "backends/cuda/ops/logical_kernels.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;

//! The operand offsets of output element i.
__device__ __forceinline__ void broadcastOffsets(const BroadcastShape& s, int64_t i, int64_t* ia, int64_t* ib) {
  int64_t rest = i, a = 0, b = 0;
  for (int d = s.rank - 1; d >= 0; --d) {
    int64_t coord = rest % s.dims[d];
    rest /= s.dims[d];
    a += coord * s.aStrides[d];
    b += coord * s.bStrides[d];
  }
  *ia = a;
  *ib = b;
}

//! Comparisons in float for the 16-bit float types, in T otherwise.
template <typename T>
struct CompareValue {
  using type = T;
  __device__ static T get(T v) { return v; }
};
template <>
struct CompareValue<__half> {
  using type = float;
  __device__ static float get(__half v) { return __half2float(v); }
};
template <>
struct CompareValue<__nv_bfloat16> {
  using type = float;
  __device__ static float get(__nv_bfloat16 v) { return __bfloat162float(v); }
};

template <typename T>
__device__ __forceinline__ bool applyCompare(Compare op, T x, T y) {
  auto a = CompareValue<T>::get(x), b = CompareValue<T>::get(y);
  switch (op) {
    case Compare::kEqual: return a == b;
    case Compare::kLess: return a < b;
    case Compare::kLessOrEqual: return a <= b;
    case Compare::kGreater: return a > b;
    case Compare::kGreaterOrEqual: return a >= b;
  }
  return false;
}

template <typename T>
__global__ void compareKernel(const T* a, const T* b, bool* y, int64_t n, BroadcastShape s, Compare op) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t ia = i, ib = i;
    if (!s.sameShape) broadcastOffsets(s, i, &ia, &ib);
    y[i] = applyCompare(op, a[ia], b[ib]);
  }
}

// Bool operands are read as bytes, so a nonzero byte other than 1 is true too.
__global__ void logicKernel(const uint8_t* a, const uint8_t* b, bool* y, int64_t n, BroadcastShape s, Logic op) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t ia = i, ib = i;
    if (!s.sameShape) broadcastOffsets(s, i, &ia, &ib);
    bool x = a[ia] != 0, z = b[ib] != 0;
    y[i] = op == Logic::kAnd ? (x && z) : op == Logic::kOr ? (x || z) : (x != z);
  }
}

__global__ void notKernel(const uint8_t* x, bool* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = x[i] == 0;
}

int64_t elements(const BroadcastShape& s) {
  int64_t n = 1;
  for (int d = 0; d < s.rank; ++d) n *= s.dims[d];
  return n;
}

}  // namespace

template <typename T>
void compare(const T* a, const T* b, bool* y, const BroadcastShape& s, Compare op, cudaStream_t stream) {
  int64_t n = elements(s);
  if (n > 0) compareKernel<T><<<gridFor(n), kThreads, 0, stream>>>(a, b, y, n, s, op);
}

template void compare<float>(const float*, const float*, bool*, const BroadcastShape&, Compare, cudaStream_t);
template void compare<int32_t>(const int32_t*, const int32_t*, bool*, const BroadcastShape&, Compare, cudaStream_t);
template void compare<int64_t>(const int64_t*, const int64_t*, bool*, const BroadcastShape&, Compare, cudaStream_t);
template void compare<uint8_t>(const uint8_t*, const uint8_t*, bool*, const BroadcastShape&, Compare, cudaStream_t);
template void compare<__half>(const __half*, const __half*, bool*, const BroadcastShape&, Compare, cudaStream_t);
template void compare<__nv_bfloat16>(const __nv_bfloat16*, const __nv_bfloat16*, bool*, const BroadcastShape&, Compare,
                                     cudaStream_t);

void logic(const bool* a, const bool* b, bool* y, const BroadcastShape& s, Logic op, cudaStream_t stream) {
  int64_t n = elements(s);
  if (n > 0)
    logicKernel<<<gridFor(n), kThreads, 0, stream>>>(reinterpret_cast<const uint8_t*>(a),
                                                     reinterpret_cast<const uint8_t*>(b), y, n, s, op);
}

void logicalNot(const bool* x, bool* y, int64_t n, cudaStream_t stream) {
  if (n > 0) notKernel<<<gridFor(n), kThreads, 0, stream>>>(reinterpret_cast<const uint8_t*>(x), y, n);
}

}  // namespace kiln::cuda::kernels
