// The element-type dispatch every Kiln CUDA kernel that takes floating data
// uses (nvcc only; included by .cu files). The pattern:
//
//   1. the launcher in kernels.h takes `const void*` / `void*` and an `Elem`;
//   2. the kernel is a template on the storage type T (float, __half,
//      __nv_bfloat16) and does its arithmetic in FP32: `float v = load(x, i)`,
//      `store(y, i, v)` (accumulations, softmax, LayerNorm and reductions
//      therefore accumulate in FP32 whatever T is);
//   3. the launcher picks T once with `dispatchElem`:
//        dispatchElem(elem, [&](auto tag) {
//          using T = typename decltype(tag)::type;
//          myKernel<T><<<grid, threads, 0, stream>>>(static_cast<const T*>(x), ...);
//        });
//
// The tactic side (ops/*.cc) maps node dtypes to Elem with tactic_util.h's
// `floatElem` / `uniformFloat`.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {

template <typename T>
struct ElemTag {
  using type = T;
};

template <typename F>
void dispatchElem(Elem e, F&& f) {
  switch (e) {
    case Elem::kFloat: f(ElemTag<float>{}); break;
    case Elem::kHalf: f(ElemTag<__half>{}); break;
    case Elem::kBF16: f(ElemTag<__nv_bfloat16>{}); break;
  }
}

__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ float fromFloat<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half fromFloat<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename T>
__device__ __forceinline__ float load(const T* p, int64_t i) { return toFloat(p[i]); }
template <typename T>
__device__ __forceinline__ void store(T* p, int64_t i, float v) { p[i] = fromFloat<T>(v); }

//! V elements of T, loaded and stored as one access: 16 bytes (float4, 8 halves,
//! 8 bf16) when V = kVec16<T>. The pointer must be aligned to the vector.
template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};
template <typename T>
constexpr int kVec16 = 16 / sizeof(T);

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace kiln::cuda::kernels
