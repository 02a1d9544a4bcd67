// Conv.cuda_direct's kernel: a direct convolution over NHWC for a network's
// stem, the 3x3 convolution over the 3 channels of an RGB image (at most 16
// output channels), where cuDNN's implicit-GEMM engines pad the 27-long
// reduction to their tensor-core tile. One thread computes one output pixel:
// its window is unrolled, so its 27 input loads are independent and issued
// together, and the weights and bias travel in the kernel's parameters, which
// sit in the constant bank, so every FMA reads its weight as an operand. FP32
// accumulation; bias, residual and the activation before the one store
// (16-byte words of channels when k = 16).
//
// Measured on YOLO-style b16's 3 -> 16 3x3/2 stem + SiLU (FP16, 91 MB moved)
// on an H200: 0.133 ms, against cuDNN's best engine at 0.130 (the builder
// keeps cuDNN there). Two general forms came first and were slower: x read
// tap by tap from global memory with weights in shared memory (0.153 ms), and
// x staged row by row in shared memory (0.240 ms: the inner loop was bound by
// shared-memory reads, four 16-byte weight reads and one input read a 16 FMAs).
#include <cstdint>

#include "backends/cuda/ops/activation.cuh"
#include "backends/cuda/ops/conv_direct_kernels.h"
#include "backends/cuda/ops/element_type.cuh"

namespace kiln::cuda::kernels {
namespace {

//! The stem kernel's weights [tap][16] and bias [16] (zero past k), FP32, as a kernel parameter.
template <int Taps>
struct StemWeights {
  float w[Taps * kStemChannels];
  float bias[kStemChannels];
};

template <typename T, int R, int S, int C, typename Idx>
__global__ void __launch_bounds__(128)
    directConvStemKernel(const T* __restrict__ x, const StemWeights<R * S * C> wts, const T* __restrict__ residual,
                         T* __restrict__ y, DirectConv p, UnaryParams act, bool wordStores) {
  constexpr int KB = kStemChannels;
  const Idx pixels = Idx(p.n) * Idx(p.oh) * Idx(p.ow), plane = Idx(p.h) * Idx(p.w) * C;
  for (Idx pix = blockIdx.x * Idx(blockDim.x) + threadIdx.x; pix < pixels; pix += Idx(gridDim.x) * blockDim.x) {
    const int ox = int(pix % Idx(p.ow)), oy = int(pix / Idx(p.ow) % Idx(p.oh));
    const T* xb = x + pix / (Idx(p.ow) * Idx(p.oh)) * plane;
    float xv[R * S * C];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int iy = oy * p.strideH - p.padTop + r * p.dilH;
#pragma unroll
      for (int s = 0; s < S; ++s) {
        const int ix = ox * p.strideW - p.padLeft + s * p.dilW;
        const bool inside = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
        const T* xp = xb + (Idx(inside ? iy : 0) * Idx(p.w) + Idx(inside ? ix : 0)) * C;
#pragma unroll
        for (int c = 0; c < C; ++c) xv[(r * S + s) * C + c] = inside ? toFloat(xp[c]) : 0.f;
      }
    }
    float acc[KB];
#pragma unroll
    for (int j = 0; j < KB; ++j) acc[j] = wts.bias[j];
#pragma unroll
    for (int t = 0; t < R * S * C; ++t)
#pragma unroll
      for (int j = 0; j < KB; ++j) acc[j] = fmaf(xv[t], wts.w[t * KB + j], acc[j]);
    const Idx at = pix * Idx(p.k);
    T out[KB];
#pragma unroll
    for (int j = 0; j < KB; ++j) {
      float v = acc[j];
      if (residual && j < p.k) v += toFloat(residual[at + j]);
      out[j] = fromFloat<T>(applyUnary(act, v));
    }
    if (wordStores) {  // k == 16, y 16-byte aligned
      constexpr int V = kVec16<T>;
      using W = Vec<T, V>;
#pragma unroll
      for (int j = 0; j < KB / V; ++j) {
        W word;
#pragma unroll
        for (int e = 0; e < V; ++e) word.v[e] = out[j * V + e];
        reinterpret_cast<W*>(y + at)[j] = word;
      }
    } else {
#pragma unroll
      for (int j = 0; j < KB; ++j)
        if (j < p.k) y[at + j] = out[j];
    }
  }
}

}  // namespace

bool directConvStemFits(const DirectConv& p) {
  return p.r == 3 && p.s == 3 && p.c == 3 && p.k <= kStemChannels;
}

void directConvStem(const void* x, const float* weightsKrsc, const float* bias, const void* residual, void* y,
                    const DirectConv& p, UnaryParams act, Elem elem, cudaStream_t stream) {
  constexpr int R = 3, S = 3, C = 3, Taps = R * S * C;
  const int64_t pixels = int64_t(p.n) * p.oh * p.ow;
  if (pixels <= 0 || p.k <= 0) return;
  StemWeights<Taps> wts{};
  for (int k = 0; k < p.k; ++k) {
    for (int t = 0; t < Taps; ++t) wts.w[t * kStemChannels + k] = weightsKrsc[k * Taps + t];
    wts.bias[k] = bias ? bias[k] : 0.f;
  }
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const bool words = p.k == kStemChannels && aligned16(y);
    const auto* xt = static_cast<const T*>(x);
    const auto* rt = static_cast<const T*>(residual);
    auto* yt = static_cast<T*>(y);
    if (fitsIn32(pixels * p.k) && fitsIn32(int64_t(p.n) * p.h * p.w * C))
      directConvStemKernel<T, R, S, C, uint32_t><<<gridFor(pixels, 128), 128, 0, stream>>>(xt, wts, rt, yt, p, act, words);
    else
      directConvStemKernel<T, R, S, C, int64_t><<<gridFor(pixels, 128), 128, 0, stream>>>(xt, wts, rt, yt, p, act, words);
  });
}

}  // namespace kiln::cuda::kernels
