// The direct NHWC stem convolution kernel (conv_direct.cu) behind the
// Conv.cuda_direct tactic (conv_direct.cc), as a plain launcher like kernels.h's.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {

//! One 2-D convolution, group 1: x [n, h, w, c], w [k, r, s, c] (KRSC), y [n, oh, ow, k].
struct DirectConv {
  int32_t n = 0, c = 0, h = 0, w = 0;
  int32_t k = 0, oh = 0, ow = 0;
  int32_t r = 0, s = 0;
  int32_t strideH = 1, strideW = 1, padTop = 0, padLeft = 0, dilH = 1, dilW = 1;
};

//! The most output channels the stem kernel computes (all of them, one pixel a thread).
constexpr int32_t kStemChannels = 16;

//! Whether the stem kernel takes `p`: a 3x3 window over 3 channels, at most kStemChannels outputs.
bool directConvStemFits(const DirectConv& p);

//! y = act(conv(x, w) + bias[k] + residual): the weights (KRSC) and bias (or
//! null) as host FP32, passed by value; residual (y's shape) may be null;
//! x, residual and y of one type `elem`, FP32 accumulation.
void directConvStem(const void* x, const float* weightsKrsc, const float* bias, const void* residual, void* y,
                    const DirectConv& p, UnaryParams act, Elem elem, cudaStream_t stream);

}  // namespace kiln::cuda::kernels
