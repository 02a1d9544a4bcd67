// Kiln's CUDA kernels. Floating data is float, __half or __nv_bfloat16 (a
// template parameter T, picked once per launch by dispatchElem: see
// element_type.cuh), with FP32 arithmetic inside. Grid-stride loops
// throughout, so any n runs with a capped grid; indexing is 64-bit.
#include <cfloat>
#include <type_traits>

#include "backends/cuda/ops/activation.cuh"
#include "backends/cuda/ops/element_type.cuh"
#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;

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
    y[i] = j >= 0 && j < int64_t(dim) ? data[(o * dim + Idx(j)) * inner + in] : T{};
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
// as the CPU reference). For rows longer than norm.cu's warp kernel holds.
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

// kCastVec elements per thread and access (an engine's FP32 <-> FP16 IO casts:
// 16-byte loads, 8-byte stores); the launcher checks both pointers' alignment.
constexpr int kCastVec = 4;
template <typename From, typename To>
__global__ void castVecKernel(const From* x, To* y, int64_t n) {
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, step = int64_t(gridDim.x) * blockDim.x;
  const int64_t vectors = n / kCastVec;
  for (int64_t i = first; i < vectors; i += step) {
    const Vec<From, kCastVec> in = reinterpret_cast<const Vec<From, kCastVec>*>(x)[i];
    Vec<To, kCastVec> out;
#pragma unroll
    for (int j = 0; j < kCastVec; ++j) out.v[j] = convertElement<From, To>(in.v[j]);
    reinterpret_cast<Vec<To, kCastVec>*>(y)[i] = out;
  }
  for (int64_t i = vectors * kCastVec + first; i < n; i += step) y[i] = convertElement<From, To>(x[i]);
}

template <typename From, typename To>
void launchCast(const From* x, To* y, int64_t n, cudaStream_t s) {
  const bool vector = reinterpret_cast<uintptr_t>(x) % (kCastVec * sizeof(From)) == 0 &&
                      reinterpret_cast<uintptr_t>(y) % (kCastVec * sizeof(To)) == 0;
  if (vector) castVecKernel<<<gridFor((n + kCastVec - 1) / kCastVec), kThreads, 0, s>>>(x, y, n);
  else castKernel<<<gridFor(n), kThreads, 0, s>>>(x, y, n);
}

template <typename From>
void castFrom(const From* x, void* y, CastType to, int64_t n, cudaStream_t s) {
  switch (to) {
    case CastType::kFloat: launchCast(x, static_cast<float*>(y), n, s); break;
    case CastType::kInt32: launchCast(x, static_cast<int32_t*>(y), n, s); break;
    case CastType::kInt64: launchCast(x, static_cast<int64_t*>(y), n, s); break;
    case CastType::kBool: launchCast(x, static_cast<bool*>(y), n, s); break;
    case CastType::kUInt8: launchCast(x, static_cast<uint8_t*>(y), n, s); break;
    case CastType::kInt8: launchCast(x, static_cast<int8_t*>(y), n, s); break;
    case CastType::kHalf: launchCast(x, static_cast<__half*>(y), n, s); break;
    case CastType::kBF16: launchCast(x, static_cast<__nv_bfloat16*>(y), n, s); break;
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

// The output as [rows, inner]: `inner` words of the trailing axes Resize copies
// unchanged (channels, in NHWC), so a thread moves one word (up to 16 bytes) and
// maps only the leading `mapped` axes; 32-bit indexing where it fits. Element by
// element with 64-bit division, YOLO's FP16 NHWC upsample ran at a tenth of the
// copy bandwidth.
template <typename W, typename I>
__global__ void resizeNearestKernel(const W* x, W* y, I rows, I inner, ResizeParams p, int mapped) {
  const I n = rows * inner;
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    I r = i / inner, src = i - r * inner, stride = inner;
    for (int d = mapped - 1; d >= 0; --d) {
      const I len = I(p.outDims[d]), o = r % len;
      r /= len;
      src += I(resizeNearestIndex(p, d, int64_t(o))) * stride;
      stride *= I(p.inDims[d]);
    }
    y[i] = x[src];
  }
}

template <typename W>
void launchResizeNearest(const void* x, void* y, int64_t rows, int64_t inner, int64_t inWords, const ResizeParams& p,
                         int mapped, cudaStream_t stream) {
  const int64_t n = rows * inner;
  if (fitsIn32(n) && fitsIn32(inWords))
    resizeNearestKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const W*>(x), static_cast<W*>(y),
                                                             uint32_t(rows), uint32_t(inner), p, mapped);
  else
    resizeNearestKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const W*>(x), static_cast<W*>(y), rows, inner,
                                                             p, mapped);
}

// Whether output index o of axis d reads input index o for every o. A length-1
// axis always does; scale 1 maps o to o in every transform except
// tf_half_pixel_for_nn, whose o + 0.5 rounds up under round_prefer_ceil and ceil.
bool copiesAxis(const ResizeParams& p, int d) {
  if (p.inDims[d] != p.outDims[d]) return false;
  if (p.inDims[d] == 1) return true;
  return p.scales[d] == 1.f && !(p.coord == ResizeCoord::kTfHalfPixelForNN &&
                                 (p.nearest == ResizeNearest::kRoundPreferCeil || p.nearest == ResizeNearest::kCeil));
}

}  // namespace

void resizeNearest(const void* x, void* y, int32_t elementBytes, const ResizeParams& p, cudaStream_t stream) {
  int64_t n = 1, inN = 1, inner = 1;
  for (int d = 0; d < p.rank; ++d) n *= p.outDims[d], inN *= p.inDims[d];
  if (n <= 0) return;
  int mapped = p.rank;
  while (mapped > 0 && copiesAxis(p, mapped - 1)) inner *= p.outDims[--mapped];
  const int32_t w = widestWord(elementBytes, {static_cast<uint64_t>(inner * elementBytes), reinterpret_cast<uintptr_t>(x),
                                              reinterpret_cast<uintptr_t>(y)});
  const int64_t rows = n / inner, words = inner * elementBytes / w, inWords = inN * elementBytes / w;
  switch (w) {
    case 1: launchResizeNearest<uint8_t>(x, y, rows, words, inWords, p, mapped, stream); break;
    case 2: launchResizeNearest<uint16_t>(x, y, rows, words, inWords, p, mapped, stream); break;
    case 4: launchResizeNearest<uint32_t>(x, y, rows, words, inWords, p, mapped, stream); break;
    case 8: launchResizeNearest<uint64_t>(x, y, rows, words, inWords, p, mapped, stream); break;
    default: launchResizeNearest<uint4>(x, y, rows, words, inWords, p, mapped, stream); break;
  }
}

void gather(const void* data, const void* indices, bool indices64, void* y, int64_t outer, int64_t dim,
            int64_t count, int64_t inner, int32_t elementBytes, cudaStream_t stream) {
  if (outer * count * inner <= 0) return;
  // Each gathered slice is `inner` contiguous elements: moved in the widest word
  // (up to 16 bytes) that divides it and both pointers (ViT's q/k/v split: one
  // index, slices of megabytes).
  const int32_t w = widestWord(elementBytes, {static_cast<uint64_t>(inner * elementBytes), reinterpret_cast<uintptr_t>(data),
                                               reinterpret_cast<uintptr_t>(y)});
  inner = inner * elementBytes / w;
  switch (w) {
    case 1: launchGather<uint8_t>(data, indices, indices64, y, outer, dim, count, inner, stream); break;
    case 2: launchGather<uint16_t>(data, indices, indices64, y, outer, dim, count, inner, stream); break;
    case 4: launchGather<uint32_t>(data, indices, indices64, y, outer, dim, count, inner, stream); break;
    case 8: launchGather<uint64_t>(data, indices, indices64, y, outer, dim, count, inner, stream); break;
    default: launchGather<uint4>(data, indices, indices64, y, outer, dim, count, inner, stream); break;
  }
}

void layerNormBlock(const void* x, const void* scale, const void* bias, void* y, int64_t rows, int64_t cols,
                    float eps, Elem elem, cudaStream_t stream) {
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

}  // namespace kiln::cuda::kernels
