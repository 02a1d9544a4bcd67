// LayerNormalization (kernels.h: layerNorm). Rows of at most 1024 elements
// (BERT's and ViT's 768) run one warp per row with the row held in registers:
// read once, written once, the mean and then the variance of the held values
// (two passes in registers, as the CPU reference) reduced with shuffles, FP32
// statistics whatever the storage type. Where every pointer is 16-byte
// aligned and the row a whole number of vectors, each lane moves 16 bytes
// at a time. Longer rows take kernels.cu's block-per-row kernel.
#include <cstdint>

#include "backends/cuda/ops/element_type.cuh"
#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;  // 8 rows per block
constexpr int kMaxWarpCols = 1024;

__device__ __forceinline__ float warpSum(float v) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Lane l holds the row's vectors l, l + 32, ..., l + 32 * (C - 1) (V elements each).
template <typename T, int V, int C>
__global__ void layerNormWarpKernel(const T* x, const T* scale, const T* bias, T* y, int64_t rows, int cols,
                                    float eps) {
  const int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;  // whole warps leave together: rows are per warp
  const T* xr = x + row * cols;
  T* yr = y + row * cols;
  float v[C][V] = {};
  float sum = 0.f;
#pragma unroll
  for (int c = 0; c < C; ++c) {
    const int k = (lane + 32 * c) * V;
    if (k < cols) {
      const Vec<T, V> in = *reinterpret_cast<const Vec<T, V>*>(xr + k);
#pragma unroll
      for (int j = 0; j < V; ++j) v[c][j] = toFloat(in.v[j]), sum += v[c][j];
    }
  }
  const float mean = warpSum(sum) / float(cols);
  float sq = 0.f;
#pragma unroll
  for (int c = 0; c < C; ++c)
    if ((lane + 32 * c) * V < cols) {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const float d = v[c][j] - mean;
        sq += d * d;
      }
    }
  const float inv = rsqrtf(warpSum(sq) / float(cols) + eps);
#pragma unroll
  for (int c = 0; c < C; ++c) {
    const int k = (lane + 32 * c) * V;
    if (k < cols) {
      const Vec<T, V> s = *reinterpret_cast<const Vec<T, V>*>(scale + k);
      Vec<T, V> b{};
      if (bias) b = *reinterpret_cast<const Vec<T, V>*>(bias + k);
      Vec<T, V> out;
#pragma unroll
      for (int j = 0; j < V; ++j)
        out.v[j] = fromFloat<T>((v[c][j] - mean) * inv * toFloat(s.v[j]) + (bias ? toFloat(b.v[j]) : 0.f));
      *reinterpret_cast<Vec<T, V>*>(yr + k) = out;
    }
  }
}

template <typename T, int V>
void launchWarp(const T* x, const T* scale, const T* bias, T* y, int64_t rows, int cols, float eps,
                cudaStream_t stream) {
  const int64_t blocks = (rows * 32 + kThreads - 1) / kThreads;
  const int chunks = (cols + 32 * V - 1) / (32 * V);  // per lane; cols <= 1024 keeps V * chunks <= 32
  auto go = [&](auto c) {
    constexpr int C = decltype(c)::value;
    if constexpr (V * C <= 32)
      layerNormWarpKernel<T, V, C><<<blocks, kThreads, 0, stream>>>(x, scale, bias, y, rows, cols, eps);
  };
  if (chunks <= 1) go(std::integral_constant<int, 1>{});
  else if (chunks <= 2) go(std::integral_constant<int, 2>{});
  else if (chunks <= 4) go(std::integral_constant<int, 4>{});
  else if (chunks <= 8) go(std::integral_constant<int, 8>{});
  else if (chunks <= 16) go(std::integral_constant<int, 16>{});
  else go(std::integral_constant<int, 32>{});
}

}  // namespace

void layerNorm(const void* x, const void* scale, const void* bias, void* y, int64_t rows, int64_t cols, float eps,
               Elem elem, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  if (cols > kMaxWarpCols) {
    layerNormBlock(x, scale, bias, y, rows, cols, eps, elem, stream);
    return;
  }
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int V = kVec16<T>;
    const T *tx = static_cast<const T*>(x), *ts = static_cast<const T*>(scale), *tb = static_cast<const T*>(bias);
    T* ty = static_cast<T*>(y);
    const int c = static_cast<int>(cols);
    if (c % V == 0 && aligned16(x) && aligned16(y) && aligned16(scale) && (!bias || aligned16(bias)))
      launchWarp<T, V>(tx, ts, tb, ty, rows, c, eps, stream);
    else
      launchWarp<T, 1>(tx, ts, tb, ty, rows, c, eps, stream);
  });
}

}  // namespace kiln::cuda::kernels
