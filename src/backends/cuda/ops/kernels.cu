// Kiln's CUDA kernels. Floating data is float, __half or __nv_bfloat16 (a
// template parameter T, picked once per launch by dispatchElem: see
// element_type.cuh), with FP32 arithmetic inside. Grid-stride loops
// throughout, so any n runs with a capped grid; indexing is 64-bit.
#include <cfloat>
#include <type_traits>

#include "backends/cuda/ops/element_type.cuh"
#include "backends/cuda/ops/kernels.h"
#include "backends/cuda/ops/unary.cuh"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;

//! Whether element offsets below `n` fit the 32-bit index walks (with room for
//! a grid stride past the end).
inline bool fitsIn32(int64_t n) { return n >= 0 && n < (int64_t{1} << 31); }

__device__ __forceinline__ float applyBinary(Binary op, float a, float b) {
  switch (op) {
    case Binary::kAdd: return a + b;
    case Binary::kSub: return a - b;
    case Binary::kMul: return a * b;
    case Binary::kDiv: return a / b;
    case Binary::kMax: return fmaxf(a, b);
    case Binary::kMin: return fminf(a, b);
    case Binary::kPow: return powf(a, b);
  }
  return a;
}

template <typename T>
__global__ void unaryKernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, UnaryParams p) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store(y, i, applyUnary(p, load(x, i)));
}

template <typename T>
__global__ void binaryFlatKernel(const T* a, const T* b, T* y, int64_t n, Binary op, UnaryParams then) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store(y, i, applyUnary(then, applyBinary(op, load(a, i), load(b, i))));
}

template <typename T, typename Idx>
__global__ void binaryBroadcastKernel(const T* a, const T* b, T* y, Idx n, BroadcastShape s, Binary op,
                                      UnaryParams then) {
  for (Idx i = blockIdx.x * Idx(blockDim.x) + threadIdx.x; i < n; i += Idx(gridDim.x) * blockDim.x) {
    Idx rest = i, ia = 0, ib = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      const Idx dim = Idx(s.dims[d]);
      Idx coord = rest % dim;
      rest /= dim;
      ia += coord * Idx(s.aStrides[d]);
      ib += coord * Idx(s.bStrides[d]);
    }
    store(y, i, applyUnary(then, applyBinary(op, load(a, ia), load(b, ib))));
  }
}

// One block per (outer, inner) row: max, sum of exp, then write; the row is
// read three times from global memory (L2-resident for the sizes that matter here).
template <typename T>
__global__ void softmaxKernel(const T* x, T* y, int64_t axis, int64_t inner, bool logSoftmax) {
  __shared__ float scratch[kThreads];
  int64_t row = blockIdx.x;
  int64_t o = row / inner, in = row % inner;
  const T* xr = x + o * axis * inner + in;
  T* yr = y + o * axis * inner + in;
  float m = -FLT_MAX;
  for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) m = fmaxf(m, load(xr, k * inner));
  scratch[threadIdx.x] = m;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) scratch[threadIdx.x] = fmaxf(scratch[threadIdx.x], scratch[threadIdx.x + step]);
    __syncthreads();
  }
  m = scratch[0];
  __syncthreads();
  float sum = 0.f;
  for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) sum += expf(load(xr, k * inner) - m);
  scratch[threadIdx.x] = sum;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) scratch[threadIdx.x] += scratch[threadIdx.x + step];
    __syncthreads();
  }
  sum = scratch[0];
  float logSum = logf(sum);
  for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) {
    float v = load(xr, k * inner) - m;
    store(yr, k * inner, logSoftmax ? v - logSum : expf(v) / sum);
  }
}

// Rows of at most 32 * N elements with inner == 1 (the attention softmax over
// keys): one warp per row, the row held in registers, read once and written
// once, shuffles for the max and the sum. The block-per-row kernel above spent
// 256 threads and two shared-memory reductions on a 197-element row (ViT:
// 0.46 ms per Softmax at batch 64 on the H200).
template <typename T, int N>
__global__ void softmaxWarpKernel(const T* x, T* y, int64_t rows, int axis, bool logSoftmax) {
  const int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const T* xr = x + row * axis;
  T* yr = y + row * axis;
  float v[N];
  float m = -FLT_MAX;
#pragma unroll
  for (int j = 0; j < N; ++j) {
    const int k = lane + 32 * j;
    v[j] = k < axis ? load(xr, k) : -FLT_MAX;
    m = fmaxf(m, v[j]);
  }
  for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  float sum = 0.f;
#pragma unroll
  for (int j = 0; j < N; ++j)
    if (lane + 32 * j < axis) sum += expf(v[j] - m);
  for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  const float logSum = logf(sum);
#pragma unroll
  for (int j = 0; j < N; ++j) {
    const int k = lane + 32 * j;
    if (k < axis) store(yr, k, logSoftmax ? v[j] - m - logSum : expf(v[j] - m) / sum);
  }
}

template <typename T>
__global__ void pool2dKernel(const T* x, T* y, Pool2d p) {
  int64_t total = p.n * p.c * p.oh * p.ow;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t ox = i % p.ow, oy = i / p.ow % p.oh, plane = i / (p.ow * p.oh);
    const T* xp = x + plane * p.h * p.w;
    float acc = p.max ? -INFINITY : 0.f;  // as the CPU reference, for a window with no input tap
    int count = 0;
    for (int ky = 0; ky < p.kh; ++ky) {
      int64_t iy = oy * p.sh - p.padTop + int64_t(ky) * p.dh;
      for (int kx = 0; kx < p.kw; ++kx) {
        int64_t ix = ox * p.sw - p.padLeft + int64_t(kx) * p.dw;
        bool inside = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
        // count_include_pad counts the explicit padding, not what ceil_mode adds beyond it.
        bool inPadded = iy < p.h + p.padBottom && ix < p.w + p.padRight;
        if (inside) {
          float v = load(xp, iy * p.w + ix);
          acc = p.max ? fmaxf(acc, v) : acc + v;
          ++count;
        } else if (p.countIncludePad && inPadded) {
          ++count;
        }
      }
    }
    store(y, i, p.max ? acc : (count ? acc / count : 0.f));
  }
}

template <typename T>
__global__ void rowMeanKernel(const T* x, T* y, int64_t hw) {
  __shared__ float scratch[kThreads];
  const T* xr = x + blockIdx.x * hw;
  float sum = 0.f;
  for (int64_t k = threadIdx.x; k < hw; k += blockDim.x) sum += load(xr, k);
  scratch[threadIdx.x] = sum;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) scratch[threadIdx.x] += scratch[threadIdx.x + step];
    __syncthreads();
  }
  if (threadIdx.x == 0) store(y, blockIdx.x, scratch[0] / float(hw));
}

// Idx: uint32_t where every offset fits (the launcher checks), else int64_t:
// 64-bit division is emulated on the GPU and made these index walks the
// slowest layers of a ViT (measured on the H200: 9.2 of 30.7 ms at batch 64).
template <typename T, typename Idx>
__global__ void transposeKernel(const T* x, T* y, Idx n, TransposeShape s) {
  for (Idx i = blockIdx.x * Idx(blockDim.x) + threadIdx.x; i < n; i += Idx(gridDim.x) * blockDim.x) {
    Idx rest = i, src = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      const Idx dim = Idx(s.dims[d]);
      src += rest % dim * Idx(s.inStrides[d]);
      rest /= dim;
    }
    y[i] = x[src];
  }
}

template <typename T>
__global__ void channelBiasActKernel(T* y, const T* bias, const T* residual, int64_t total, int64_t c, int64_t hw,
                                     UnaryParams act) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    float v = load(y, i);
    if (bias) v += load(bias, i / hw % c);
    if (residual) v += load(residual, i);
    store(y, i, applyUnary(act, v));
  }
}

template <typename T, typename I, typename Idx>
__global__ void gatherKernel(const T* data, const I* idx, T* y, Idx outer, Idx dim, Idx count, Idx inner) {
  const Idx total = outer * count * inner;
  for (Idx i = blockIdx.x * Idx(blockDim.x) + threadIdx.x; i < total; i += Idx(gridDim.x) * blockDim.x) {
    Idx in = i % inner, k = i / inner % count, o = i / (inner * count);
    int64_t j = int64_t(idx[k]);
    if (j < 0) j += int64_t(dim);
    y[i] = j >= 0 && j < int64_t(dim) ? data[(o * dim + Idx(j)) * inner + in] : T(0);
  }
}

template <typename T>
void launchGather(const void* data, const void* idx, bool idx64, void* y, int64_t outer, int64_t dim, int64_t count,
                  int64_t inner, cudaStream_t stream) {
  int64_t n = outer * count * inner;
  auto launch = [&](auto word, const auto* ids) {
    using Idx = decltype(word);
    gatherKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(data), ids, static_cast<T*>(y), Idx(outer),
                                                      Idx(dim), Idx(count), Idx(inner));
  };
  const bool narrow = fitsIn32(n) && fitsIn32(outer * dim * inner);  // the output's and the data's offsets
  if (idx64) {
    if (narrow) launch(uint32_t{}, static_cast<const int64_t*>(idx));
    else launch(int64_t{}, static_cast<const int64_t*>(idx));
  } else {
    if (narrow) launch(uint32_t{}, static_cast<const int32_t*>(idx));
    else launch(int64_t{}, static_cast<const int32_t*>(idx));
  }
}

__device__ float blockSum(float v, float* scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) scratch[threadIdx.x] += scratch[threadIdx.x + step];
    __syncthreads();
  }
  float total = scratch[0];
  __syncthreads();
  return total;
}

// One block per row; mean then variance (two passes over the row, numerically
// as the CPU reference).
template <typename T>
__global__ void layerNormKernel(const T* x, const T* scale, const T* bias, T* y, int64_t cols, float eps) {
  __shared__ float scratch[kThreads];
  const T* xr = x + blockIdx.x * cols;
  T* yr = y + blockIdx.x * cols;
  float sum = 0.f;
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x) sum += load(xr, k);
  float mean = blockSum(sum, scratch) / float(cols);
  float sq = 0.f;
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x) {
    float d = load(xr, k) - mean;
    sq += d * d;
  }
  float inv = rsqrtf(blockSum(sq, scratch) / float(cols) + eps);
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x)
    store(yr, k, (load(xr, k) - mean) * inv * load(scale, k) + (bias ? load(bias, k) : 0.f));
}

template <typename T>
constexpr bool kReducedFloat = std::is_same<T, __half>::value || std::is_same<T, __nv_bfloat16>::value;

//! One element of a Cast; FP16/BF16 go through FP32 (exact for every value they hold).
template <typename From, typename To>
__device__ __forceinline__ To convertElement(From v) {
  if constexpr (kReducedFloat<From>) {
    float f = toFloat(v);
    if constexpr (std::is_same<To, bool>::value) return f != 0.f;
    else if constexpr (kReducedFloat<To>) return fromFloat<To>(f);
    else return To(f);
  } else if constexpr (kReducedFloat<To>) {
    return fromFloat<To>(float(v));
  } else if constexpr (std::is_same<To, bool>::value) {
    return v != From(0);
  } else {
    return To(v);
  }
}

template <typename From, typename To>
__global__ void castKernel(const From* x, To* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = convertElement<From, To>(x[i]);
}

template <typename From>
void castFrom(const From* x, void* y, CastType to, int64_t n, cudaStream_t s) {
  switch (to) {
    case CastType::kFloat: castKernel<<<gridFor(n), kThreads, 0, s>>>(x, static_cast<float*>(y), n); break;
    case CastType::kInt32: castKernel<<<gridFor(n), kThreads, 0, s>>>(x, static_cast<int32_t*>(y), n); break;
    case CastType::kInt64: castKernel<<<gridFor(n), kThreads, 0, s>>>(x, static_cast<int64_t*>(y), n); break;
    case CastType::kBool: castKernel<<<gridFor(n), kThreads, 0, s>>>(x, static_cast<bool*>(y), n); break;
    case CastType::kUInt8: castKernel<<<gridFor(n), kThreads, 0, s>>>(x, static_cast<uint8_t*>(y), n); break;
    case CastType::kInt8: castKernel<<<gridFor(n), kThreads, 0, s>>>(x, static_cast<int8_t*>(y), n); break;
    case CastType::kHalf: castKernel<<<gridFor(n), kThreads, 0, s>>>(x, static_cast<__half*>(y), n); break;
    case CastType::kBF16: castKernel<<<gridFor(n), kThreads, 0, s>>>(x, static_cast<__nv_bfloat16*>(y), n); break;
  }
}

template <typename T>
__global__ void reduceMiddleKernel(const T* x, T* y, int64_t reduce, int64_t inner, bool mean) {
  __shared__ float scratch[kThreads];
  int64_t row = blockIdx.x, o = row / inner, in = row % inner;
  const T* xr = x + o * reduce * inner + in;
  float sum = 0.f;
  for (int64_t k = threadIdx.x; k < reduce; k += blockDim.x) sum += load(xr, k * inner);
  float total = blockSum(sum, scratch);
  if (threadIdx.x == 0) store(y, row, mean ? total / float(reduce) : total);
}

template <typename T>
__global__ void resizeNearestKernel(const T* x, T* y, int64_t n, ResizeParams p) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rest = i, src = 0, stride = 1;
    for (int d = p.rank - 1; d >= 0; --d) {
      src += resizeNearestIndex(p, d, rest % p.outDims[d]) * stride;
      rest /= p.outDims[d];
      stride *= p.inDims[d];
    }
    y[i] = x[src];
  }
}

}  // namespace

void resizeNearest(const void* x, void* y, int32_t elementBytes, const ResizeParams& p, cudaStream_t stream) {
  int64_t n = 1;
  for (int d = 0; d < p.rank; ++d) n *= p.outDims[d];
  if (n <= 0) return;
  switch (elementBytes) {
    case 1: resizeNearestKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), n, p); break;
    case 2: resizeNearestKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n, p); break;
    case 4: resizeNearestKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y), n, p); break;
    default: resizeNearestKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const uint64_t*>(x), static_cast<uint64_t*>(y), n, p); break;
  }
}

void gather(const void* data, const void* indices, bool indices64, void* y, int64_t outer, int64_t dim,
            int64_t count, int64_t inner, int32_t elementBytes, cudaStream_t stream) {
  if (outer * count * inner <= 0) return;
  switch (elementBytes) {
    case 1: launchGather<uint8_t>(data, indices, indices64, y, outer, dim, count, inner, stream); break;
    case 2: launchGather<uint16_t>(data, indices, indices64, y, outer, dim, count, inner, stream); break;
    case 4: launchGather<uint32_t>(data, indices, indices64, y, outer, dim, count, inner, stream); break;
    default: launchGather<uint64_t>(data, indices, indices64, y, outer, dim, count, inner, stream); break;
  }
}

void layerNorm(const void* x, const void* scale, const void* bias, void* y, int64_t rows, int64_t cols, float eps,
               Elem elem, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    layerNormKernel<T><<<rows, kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<const T*>(scale),
                                                      static_cast<const T*>(bias), static_cast<T*>(y), cols, eps);
  });
}

void cast(const void* x, CastType from, void* y, CastType to, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  switch (from) {
    case CastType::kFloat: castFrom(static_cast<const float*>(x), y, to, n, stream); break;
    case CastType::kInt32: castFrom(static_cast<const int32_t*>(x), y, to, n, stream); break;
    case CastType::kInt64: castFrom(static_cast<const int64_t*>(x), y, to, n, stream); break;
    case CastType::kBool: castFrom(static_cast<const bool*>(x), y, to, n, stream); break;
    case CastType::kUInt8: castFrom(static_cast<const uint8_t*>(x), y, to, n, stream); break;
    case CastType::kInt8: castFrom(static_cast<const int8_t*>(x), y, to, n, stream); break;
    case CastType::kHalf: castFrom(static_cast<const __half*>(x), y, to, n, stream); break;
    case CastType::kBF16: castFrom(static_cast<const __nv_bfloat16*>(x), y, to, n, stream); break;
  }
}

void reduceMiddle(const void* x, void* y, int64_t outer, int64_t reduce, int64_t inner, bool mean, Elem elem,
                  cudaStream_t stream) {
  int64_t rows = outer * inner;
  if (rows <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    reduceMiddleKernel<T><<<rows, kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), reduce, inner,
                                                         mean);
  });
}

void channelBiasAct(void* y, const void* bias, const void* residual, int64_t n, int64_t c, int64_t hw,
                    UnaryParams act, Elem elem, cudaStream_t stream) {
  int64_t total = n * c * hw;
  if (total <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    channelBiasActKernel<T><<<gridFor(total), kThreads, 0, stream>>>(
        static_cast<T*>(y), static_cast<const T*>(bias), static_cast<const T*>(residual), total, c, hw, act);
  });
}

int64_t gridFor(int64_t n, int threads) {
  int64_t blocks = (n + threads - 1) / threads;
  return blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks);
}

void unary(const void* x, void* y, int64_t n, UnaryParams p, Elem elem, cudaStream_t stream) {
  if (n <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    unaryKernel<T><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), n, p);
  });
}

void binary(const void* a, const void* b, void* y, const BroadcastShape& s, Binary op, UnaryParams then, Elem elem,
            cudaStream_t stream) {
  int64_t n = 1;
  for (int d = 0; d < s.rank; ++d) n *= s.dims[d];
  if (n <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *ta = static_cast<const T*>(a), *tb = static_cast<const T*>(b);
    T* ty = static_cast<T*>(y);
    if (s.sameShape)
      binaryFlatKernel<T><<<gridFor(n), kThreads, 0, stream>>>(ta, tb, ty, n, op, then);
    else if (fitsIn32(n))  // the operands are no larger than y: their offsets fit too
      binaryBroadcastKernel<T, uint32_t><<<gridFor(n), kThreads, 0, stream>>>(ta, tb, ty, uint32_t(n), s, op, then);
    else
      binaryBroadcastKernel<T, int64_t><<<gridFor(n), kThreads, 0, stream>>>(ta, tb, ty, n, s, op, then);
  });
}

void softmax(const void* x, void* y, int64_t outer, int64_t axis, int64_t inner, bool logSoftmax, Elem elem,
             cudaStream_t stream) {
  int64_t rows = outer * inner;
  if (rows <= 0 || axis <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* tx = static_cast<const T*>(x);
    T* ty = static_cast<T*>(y);
    if (inner == 1 && axis <= 1024) {
      const int64_t blocks = (rows * 32 + kThreads - 1) / kThreads;
      const int a = static_cast<int>(axis);
      auto warp = [&](auto n) {
        softmaxWarpKernel<T, decltype(n)::value><<<blocks, kThreads, 0, stream>>>(tx, ty, rows, a, logSoftmax);
      };
      if (axis <= 32) warp(std::integral_constant<int, 1>{});
      else if (axis <= 64) warp(std::integral_constant<int, 2>{});
      else if (axis <= 128) warp(std::integral_constant<int, 4>{});
      else if (axis <= 256) warp(std::integral_constant<int, 8>{});
      else if (axis <= 512) warp(std::integral_constant<int, 16>{});
      else warp(std::integral_constant<int, 32>{});
      return;
    }
    softmaxKernel<T><<<rows, kThreads, 0, stream>>>(tx, ty, axis, inner, logSoftmax);
  });
}

void pool2d(const void* x, void* y, const Pool2d& p, Elem elem, cudaStream_t stream) {
  int64_t n = p.n * p.c * p.oh * p.ow;
  if (n <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    pool2dKernel<T><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), p);
  });
}

void rowMean(const void* x, void* y, int64_t rows, int64_t hw, Elem elem, cudaStream_t stream) {
  if (rows <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    rowMeanKernel<T><<<rows, kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), hw);
  });
}

void transpose(const void* x, void* y, int32_t elementBytes, const TransposeShape& s, cudaStream_t stream) {
  int64_t n = 1;
  for (int d = 0; d < s.rank; ++d) n *= s.dims[d];
  if (n <= 0) return;
  auto launch = [&](auto word) {
    using W = decltype(word);
    const W* in = static_cast<const W*>(x);
    W* out = static_cast<W*>(y);
    if (fitsIn32(n)) transposeKernel<W, uint32_t><<<gridFor(n), kThreads, 0, stream>>>(in, out, uint32_t(n), s);
    else transposeKernel<W, int64_t><<<gridFor(n), kThreads, 0, stream>>>(in, out, n, s);
  };
  switch (elementBytes) {
    case 1: launch(uint8_t{}); break;
    case 2: launch(uint16_t{}); break;
    case 4: launch(uint32_t{}); break;
    default: launch(uint64_t{}); break;
  }
}

}  // namespace kiln::cuda::kernels
