// Kiln's CUDA kernels, FP32. Grid-stride loops throughout, so any n runs with
// a capped grid; indexing is 64-bit. Not yet run on a GPU (see backend.h).
#include <cfloat>
#include <type_traits>

#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float applyUnary(const UnaryParams& p, float x) {
  switch (p.op) {
    case Unary::kIdentity: return x;
    case Unary::kRelu: return x > 0.f ? x : 0.f;
    case Unary::kLeakyRelu: return x >= 0.f ? x : p.alpha * x;
    case Unary::kSigmoid: return 1.f / (1.f + expf(-x));
    case Unary::kTanh: return tanhf(x);
    case Unary::kGeluErf: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case Unary::kGeluTanh: return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case Unary::kErf: return erff(x);
    case Unary::kExp: return expf(x);
    case Unary::kLog: return logf(x);
    case Unary::kSqrt: return sqrtf(x);
    case Unary::kReciprocal: return 1.f / x;
    case Unary::kNeg: return -x;
    case Unary::kAbs: return fabsf(x);
    case Unary::kClip: return fminf(fmaxf(x, p.alpha), p.beta);
    case Unary::kHardSigmoid: return fmaxf(0.f, fminf(1.f, p.alpha * x + p.beta));
    case Unary::kHardSwish: return x * fmaxf(0.f, fminf(1.f, x / 6.f + 0.5f));
    case Unary::kSilu: return x / (1.f + expf(-x));
    case Unary::kSoftplus: return x > 20.f ? x : log1pf(expf(x));
  }
  return x;
}

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

__global__ void unaryKernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, UnaryParams p) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = applyUnary(p, x[i]);
}

__global__ void binaryFlatKernel(const float* a, const float* b, float* y, int64_t n, Binary op, UnaryParams then) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = applyUnary(then, applyBinary(op, a[i], b[i]));
}

__global__ void binaryBroadcastKernel(const float* a, const float* b, float* y, int64_t n, BroadcastShape s,
                                      Binary op, UnaryParams then) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rest = i, ia = 0, ib = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      int64_t coord = rest % s.dims[d];
      rest /= s.dims[d];
      ia += coord * s.aStrides[d];
      ib += coord * s.bStrides[d];
    }
    y[i] = applyUnary(then, applyBinary(op, a[ia], b[ib]));
  }
}

// One block per (outer, inner) row: max, sum of exp, then write; the row is
// read three times from global memory (L2-resident for the sizes that matter here).
__global__ void softmaxKernel(const float* x, float* y, int64_t axis, int64_t inner, bool logSoftmax) {
  __shared__ float scratch[kThreads];
  int64_t row = blockIdx.x;
  int64_t o = row / inner, in = row % inner;
  const float* xr = x + o * axis * inner + in;
  float* yr = y + o * axis * inner + in;
  float m = -FLT_MAX;
  for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) m = fmaxf(m, xr[k * inner]);
  scratch[threadIdx.x] = m;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) scratch[threadIdx.x] = fmaxf(scratch[threadIdx.x], scratch[threadIdx.x + step]);
    __syncthreads();
  }
  m = scratch[0];
  __syncthreads();
  float sum = 0.f;
  for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) sum += expf(xr[k * inner] - m);
  scratch[threadIdx.x] = sum;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) scratch[threadIdx.x] += scratch[threadIdx.x + step];
    __syncthreads();
  }
  sum = scratch[0];
  float logSum = logf(sum);
  for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) {
    float v = xr[k * inner] - m;
    yr[k * inner] = logSoftmax ? v - logSum : expf(v) / sum;
  }
}

__global__ void pool2dKernel(const float* x, float* y, Pool2d p) {
  int64_t total = p.n * p.c * p.oh * p.ow;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t ox = i % p.ow, oy = i / p.ow % p.oh, plane = i / (p.ow * p.oh);
    const float* xp = x + plane * p.h * p.w;
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
          float v = xp[iy * p.w + ix];
          acc = p.max ? fmaxf(acc, v) : acc + v;
          ++count;
        } else if (p.countIncludePad && inPadded) {
          ++count;
        }
      }
    }
    y[i] = p.max ? acc : (count ? acc / count : 0.f);
  }
}

__global__ void rowMeanKernel(const float* x, float* y, int64_t hw) {
  __shared__ float scratch[kThreads];
  const float* xr = x + blockIdx.x * hw;
  float sum = 0.f;
  for (int64_t k = threadIdx.x; k < hw; k += blockDim.x) sum += xr[k];
  scratch[threadIdx.x] = sum;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) scratch[threadIdx.x] += scratch[threadIdx.x + step];
    __syncthreads();
  }
  if (threadIdx.x == 0) y[blockIdx.x] = scratch[0] / float(hw);
}

template <typename T>
__global__ void transposeKernel(const T* x, T* y, int64_t n, TransposeShape s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rest = i, src = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      src += rest % s.dims[d] * s.inStrides[d];
      rest /= s.dims[d];
    }
    y[i] = x[src];
  }
}

__global__ void channelBiasActKernel(float* y, const float* bias, const float* residual, int64_t total, int64_t c,
                                     int64_t hw, UnaryParams act) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    float v = y[i];
    if (bias) v += bias[i / hw % c];
    if (residual) v += residual[i];
    y[i] = applyUnary(act, v);
  }
}

template <typename T, typename I>
__global__ void gatherKernel(const T* data, const I* idx, T* y, int64_t outer, int64_t dim, int64_t count,
                             int64_t inner) {
  int64_t total = outer * count * inner;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t in = i % inner, k = i / inner % count, o = i / (inner * count);
    int64_t j = int64_t(idx[k]);
    if (j < 0) j += dim;
    y[i] = j >= 0 && j < dim ? data[(o * dim + j) * inner + in] : T(0);
  }
}

template <typename T>
void launchGather(const void* data, const void* idx, bool idx64, void* y, int64_t outer, int64_t dim, int64_t count,
                  int64_t inner, cudaStream_t stream) {
  int64_t n = outer * count * inner;
  if (idx64)
    gatherKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(data), static_cast<const int64_t*>(idx),
                                                      static_cast<T*>(y), outer, dim, count, inner);
  else
    gatherKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(data), static_cast<const int32_t*>(idx),
                                                      static_cast<T*>(y), outer, dim, count, inner);
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
__global__ void layerNormKernel(const float* x, const float* scale, const float* bias, float* y, int64_t cols,
                                float eps) {
  __shared__ float scratch[kThreads];
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  float sum = 0.f;
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x) sum += xr[k];
  float mean = blockSum(sum, scratch) / float(cols);
  float sq = 0.f;
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x) sq += (xr[k] - mean) * (xr[k] - mean);
  float inv = rsqrtf(blockSum(sq, scratch) / float(cols) + eps);
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x)
    yr[k] = (xr[k] - mean) * inv * scale[k] + (bias ? bias[k] : 0.f);
}

template <typename From, typename To>
__global__ void castKernel(const From* x, To* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if constexpr (std::is_same<To, bool>::value)
      y[i] = x[i] != From(0);
    else
      y[i] = To(x[i]);
  }
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
  }
}

__global__ void reduceMiddleKernel(const float* x, float* y, int64_t reduce, int64_t inner, bool mean) {
  __shared__ float scratch[kThreads];
  int64_t row = blockIdx.x, o = row / inner, in = row % inner;
  const float* xr = x + o * reduce * inner + in;
  float sum = 0.f;
  for (int64_t k = threadIdx.x; k < reduce; k += blockDim.x) sum += xr[k * inner];
  float total = blockSum(sum, scratch);
  if (threadIdx.x == 0) y[row] = mean ? total / float(reduce) : total;
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

void layerNorm(const float* x, const float* scale, const float* bias, float* y, int64_t rows, int64_t cols, float eps,
               cudaStream_t stream) {
  if (rows > 0 && cols > 0) layerNormKernel<<<rows, kThreads, 0, stream>>>(x, scale, bias, y, cols, eps);
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
  }
}

void reduceMiddle(const float* x, float* y, int64_t outer, int64_t reduce, int64_t inner, bool mean,
                  cudaStream_t stream) {
  int64_t rows = outer * inner;
  if (rows > 0) reduceMiddleKernel<<<rows, kThreads, 0, stream>>>(x, y, reduce, inner, mean);
}

void channelBiasAct(float* y, const float* bias, const float* residual, int64_t n, int64_t c, int64_t hw,
                    UnaryParams act, cudaStream_t stream) {
  int64_t total = n * c * hw;
  if (total > 0) channelBiasActKernel<<<gridFor(total), kThreads, 0, stream>>>(y, bias, residual, total, c, hw, act);
}

int64_t gridFor(int64_t n, int threads) {
  int64_t blocks = (n + threads - 1) / threads;
  return blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks);
}

void unary(const float* x, float* y, int64_t n, UnaryParams p, cudaStream_t stream) {
  if (n > 0) unaryKernel<<<gridFor(n), kThreads, 0, stream>>>(x, y, n, p);
}

void binary(const float* a, const float* b, float* y, const BroadcastShape& s, Binary op, UnaryParams then,
            cudaStream_t stream) {
  int64_t n = 1;
  for (int d = 0; d < s.rank; ++d) n *= s.dims[d];
  if (n <= 0) return;
  if (s.sameShape)
    binaryFlatKernel<<<gridFor(n), kThreads, 0, stream>>>(a, b, y, n, op, then);
  else
    binaryBroadcastKernel<<<gridFor(n), kThreads, 0, stream>>>(a, b, y, n, s, op, then);
}

void softmax(const float* x, float* y, int64_t outer, int64_t axis, int64_t inner, bool logSoftmax,
             cudaStream_t stream) {
  int64_t rows = outer * inner;
  if (rows > 0 && axis > 0) softmaxKernel<<<rows, kThreads, 0, stream>>>(x, y, axis, inner, logSoftmax);
}

void pool2d(const float* x, float* y, const Pool2d& p, cudaStream_t stream) {
  int64_t n = p.n * p.c * p.oh * p.ow;
  if (n > 0) pool2dKernel<<<gridFor(n), kThreads, 0, stream>>>(x, y, p);
}

void rowMean(const float* x, float* y, int64_t rows, int64_t hw, cudaStream_t stream) {
  if (rows > 0) rowMeanKernel<<<rows, kThreads, 0, stream>>>(x, y, hw);
}

void transpose(const void* x, void* y, int32_t elementBytes, const TransposeShape& s, cudaStream_t stream) {
  int64_t n = 1;
  for (int d = 0; d < s.rank; ++d) n *= s.dims[d];
  if (n <= 0) return;
  switch (elementBytes) {
    case 1: transposeKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), n, s); break;
    case 2: transposeKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n, s); break;
    case 4: transposeKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y), n, s); break;
    default: transposeKernel<<<gridFor(n), kThreads, 0, stream>>>(static_cast<const uint64_t*>(x), static_cast<uint64_t*>(y), n, s); break;
  }
}

}  // namespace kiln::cuda::kernels
