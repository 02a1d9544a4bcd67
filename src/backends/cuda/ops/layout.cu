// The channels-last kernels (layout_kernels.h).
#include <cfloat>
#include <cstdint>
#include <type_traits>

#include "backends/cuda/ops/activation.cuh"
#include "backends/cuda/ops/element_type.cuh"
#include "backends/cuda/ops/kernels.h"
#include "backends/cuda/ops/layout_kernels.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kTile = 32, kRowsPerPass = 8, kThreads = 256;

// Idx: uint32_t where every offset fits (kernels.h's fitsIn32), else int64_t:
// 64-bit division is emulated on the GPU, and these kernels divide per
// element (the channel of element i is i % c).

// One 32 x 32 tile of one batch per block (blockDim 32 x 8): read along cols,
// written along rows; the +1 column keeps the shared-memory reads of a column
// free of bank conflicts.
template <typename E>
__global__ void batchedTransposeKernel(const E* x, E* y, int64_t batch, int64_t rows, int64_t cols) {
  __shared__ E tile[kTile][kTile + 1];
  const int64_t c0 = int64_t(blockIdx.x) * kTile, r0 = int64_t(blockIdx.y) * kTile;
  for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    const E* xb = x + b * rows * cols;
    E* yb = y + b * rows * cols;
    for (int k = threadIdx.y; k < kTile; k += kRowsPerPass) {
      const int64_t r = r0 + k, c = c0 + threadIdx.x;
      if (r < rows && c < cols) tile[k][threadIdx.x] = xb[r * cols + c];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < kTile; k += kRowsPerPass) {
      const int64_t c = c0 + k, r = r0 + threadIdx.x;
      if (r < rows && c < cols) yb[c * rows + r] = tile[threadIdx.x][k];
    }
    __syncthreads();
  }
}

template <typename E>
void launchTranspose(const void* x, void* y, int64_t batch, int64_t rows, int64_t cols, cudaStream_t stream) {
  const dim3 block(kTile, kRowsPerPass);
  const dim3 grid(unsigned((cols + kTile - 1) / kTile), unsigned((rows + kTile - 1) / kTile),
                  unsigned(batch < 65535 ? batch : 65535));
  batchedTransposeKernel<E><<<grid, block, 0, stream>>>(static_cast<const E*>(x), static_cast<E*>(y), batch, rows,
                                                        cols);
}

// V consecutive elements of one row per thread (c % V == 0), loaded as one
// 16-byte vector (element_type.cuh's Vec) where V * sizeof(T) == 16.
template <typename T, int V, typename Idx>
__global__ void channelLastBiasActKernel(T* y, const T* bias, const T* residual, Idx vectors, Idx cv,
                                         UnaryParams act) {
  using W = Vec<T, V>;
  for (Idx i = blockIdx.x * Idx(blockDim.x) + threadIdx.x; i < vectors; i += Idx(gridDim.x) * blockDim.x) {
    W out = reinterpret_cast<W*>(y)[i];
    W b, r;
    if (bias) b = reinterpret_cast<const W*>(bias)[i % cv];
    if (residual) r = reinterpret_cast<const W*>(residual)[i];
#pragma unroll
    for (int k = 0; k < V; ++k) {
      float v = toFloat(out.v[k]);
      if (bias) v += toFloat(b.v[k]);
      if (residual) v += toFloat(r.v[k]);
      out.v[k] = fromFloat<T>(applyUnary(act, v));
    }
    reinterpret_cast<W*>(y)[i] = out;
  }
}


// V consecutive channels of one output pixel per thread (c % V == 0; V = 1,
// or a 16-byte vector): neighbouring threads read neighbouring channels, and
// the window's index arithmetic is paid once per V channels. The per-element
// form spent 0.69 ms on ResNet-50's stem MaxPool at batch 128 FP16 on an H200
// (256 MB moved: ~0.07 ms of bandwidth).
template <typename T, int V, typename Idx>
__global__ void pool2dNhwcKernel(const T* x, T* y, Pool2d p) {
  using W = Vec<T, V>;
  const Idx cv = Idx(p.c / V), ow = Idx(p.ow), oh = Idx(p.oh);
  const Idx total = Idx(p.n) * oh * ow * cv;
  const Idx w = Idx(p.w), h = Idx(p.h);
  for (Idx i = blockIdx.x * Idx(blockDim.x) + threadIdx.x; i < total; i += Idx(gridDim.x) * blockDim.x) {
    const Idx chv = i % cv, pix = i / cv;
    const Idx ox = pix % ow, oy = pix / ow % oh, b = pix / (ow * oh);
    const W* xb = reinterpret_cast<const W*>(x) + Idx(b * h * w) * cv + chv;
    float acc[V];
#pragma unroll
    for (int k = 0; k < V; ++k) acc[k] = p.max ? -INFINITY : 0.f;  // as the CPU reference, for a window with no tap
    int count = 0;
    for (int ky = 0; ky < p.kh; ++ky) {
      const int iy = int(oy) * p.sh - p.padTop + ky * p.dh;
      for (int kx = 0; kx < p.kw; ++kx) {
        const int ix = int(ox) * p.sw - p.padLeft + kx * p.dw;
        const bool inside = iy >= 0 && iy < int(h) && ix >= 0 && ix < int(w);
        // count_include_pad counts the explicit padding, not what ceil_mode adds beyond it.
        const bool inPadded = iy < int(h) + p.padBottom && ix < int(w) + p.padRight;
        if (inside) {
          const W v = xb[(Idx(iy) * w + Idx(ix)) * cv];
#pragma unroll
          for (int k = 0; k < V; ++k) {
            const float f = toFloat(v.v[k]);
            acc[k] = p.max ? fmaxf(acc[k], f) : acc[k] + f;
          }
          ++count;
        } else if (p.countIncludePad && inPadded) {
          ++count;
        }
      }
    }
    W out;
#pragma unroll
    for (int k = 0; k < V; ++k) out.v[k] = fromFloat<T>(p.max ? acc[k] : (count ? acc[k] / count : 0.f));
    reinterpret_cast<W*>(y)[i] = out;
  }
}

// One thread per (batch, channel): neighbouring threads read neighbouring channels.
template <typename T, typename Idx>
__global__ void meanOverMiddleKernel(const T* x, T* y, Idx batch, int64_t hw, Idx c) {
  const Idx total = batch * c;
  for (Idx i = blockIdx.x * Idx(blockDim.x) + threadIdx.x; i < total; i += Idx(gridDim.x) * blockDim.x) {
    const int64_t b = i / c, ch = i % c;
    const T* xb = x + b * hw * c + ch;
    float sum = 0.f;
    for (int64_t k = 0; k < hw; ++k) sum += load(xb, k * c);
    store(y, i, sum / float(hw));
  }
}

}  // namespace

void batchedTranspose(const void* x, void* y, int64_t batch, int64_t rows, int64_t cols, int32_t elementBytes,
                      cudaStream_t stream) {
  if (batch <= 0 || rows <= 0 || cols <= 0) return;
  switch (elementBytes) {
    case 1: launchTranspose<uint8_t>(x, y, batch, rows, cols, stream); break;
    case 2: launchTranspose<uint16_t>(x, y, batch, rows, cols, stream); break;
    case 4: launchTranspose<uint32_t>(x, y, batch, rows, cols, stream); break;
    default: launchTranspose<uint64_t>(x, y, batch, rows, cols, stream); break;
  }
}

void channelLastBiasAct(void* y, const void* bias, const void* residual, int64_t rows, int64_t c, UnaryParams act,
                        Elem elem, cudaStream_t stream) {
  if (rows <= 0 || c <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int V = 16 / sizeof(T);
    const bool vec =
        c % V == 0 && aligned16(y) && (!bias || aligned16(bias)) && (!residual || aligned16(residual));
    auto* yt = static_cast<T*>(y);
    auto* bt = static_cast<const T*>(bias);
    auto* rt = static_cast<const T*>(residual);
    const int64_t n = rows * c;
    auto launch = [&](auto idx) {
      using Idx = decltype(idx);
      if (vec)
        channelLastBiasActKernel<T, V, Idx><<<gridFor(n / V), kThreads, 0, stream>>>(yt, bt, rt, Idx(n / V), Idx(c / V), act);
      else
        channelLastBiasActKernel<T, 1, Idx><<<gridFor(n), kThreads, 0, stream>>>(yt, bt, rt, Idx(n), Idx(c), act);
    };
    if (fitsIn32(n)) launch(uint32_t{0});
    else launch(int64_t{0});
  });
}

void pool2dNhwc(const void* x, void* y, const Pool2d& p, Elem elem, cudaStream_t stream) {
  const int64_t n = p.n * p.c * p.oh * p.ow;
  if (n <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int V = kVec16<T>;
    const bool vec = p.c % V == 0 && aligned16(x) && aligned16(y);
    auto launch = [&](auto idx, auto width) {
      using Idx = decltype(idx);
      constexpr int W = decltype(width)::value;
      pool2dNhwcKernel<T, W, Idx>
          <<<gridFor(n / W), kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), p);
    };
    if (vec && fitsIn32(n)) launch(uint32_t{0}, std::integral_constant<int, V>{});
    else if (vec) launch(int64_t{0}, std::integral_constant<int, V>{});
    else if (fitsIn32(n)) launch(uint32_t{0}, std::integral_constant<int, 1>{});
    else launch(int64_t{0}, std::integral_constant<int, 1>{});
  });
}

void meanOverMiddle(const void* x, void* y, int64_t batch, int64_t hw, int64_t c, Elem elem, cudaStream_t stream) {
  if (batch <= 0 || c <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto* xt = static_cast<const T*>(x);
    auto* yt = static_cast<T*>(y);
    if (fitsIn32(batch * c))
      meanOverMiddleKernel<T, uint32_t><<<gridFor(batch * c), kThreads, 0, stream>>>(xt, yt, uint32_t(batch), hw,
                                                                                     uint32_t(c));
    else
      meanOverMiddleKernel<T, int64_t><<<gridFor(batch * c), kThreads, 0, stream>>>(xt, yt, batch, hw, c);
  });
}

}  // namespace kiln::cuda::kernels
