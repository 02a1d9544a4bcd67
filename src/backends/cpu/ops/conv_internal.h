// The Conv tactics beyond the reference loops (conv.cc registers them all).
#pragma once
#include "backends/cpu/kernel.h"
#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/ukernels/im2col.h"

namespace kiln::cpu {
//! The im2col geometry of a conv's window geometry (the im2col GEMM tactics).
inline im2col::Geometry im2colGeometry(const Geometry3& g) {
  im2col::Geometry ig;
  for (int i = 0; i < 3; ++i) {
    ig.in[i] = g.in[i];
    ig.out[i] = g.out[i];
    ig.kernel[i] = g.kernel[i];
    ig.stride[i] = g.stride[i];
    ig.dil[i] = g.dil[i];
    ig.pad[i] = g.pad[i];
  }
  return ig;
}
//! A 1x1 stride-1 unpadded conv: its input already is its im2col matrix.
inline bool isPointwise(const Geometry3& g) {
  return g.kernelSize() == 1 && g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1 && g.pad[0] == 0 &&
         g.pad[1] == 0 && g.pad[2] == 0 && g.outSize() == g.inSize();
}

//! "Conv.im2col_gemm": weights packed at build time, im2col into GEMM panels.
Tactic convIm2colGemmTactic();
//! "KilnScaledConv.im2col_gemm": the same for a pointwise KilnScaledConv, the scale applied while packing B.
Tactic scaledConvIm2colGemmTactic();
//! "Conv.im2col_gemm_fp16": the same on the FP16 GEMM, for kFP16Attr layers on AVX512-FP16 CPUs.
Tactic convIm2colGemmFP16Tactic();
//! "Conv.depthwise": direct loops for group == C == K / multiplier.
Tactic convDepthwiseTactic();
//! "Conv.winograd": F(4x4, 3x3) for 3x3 stride-1 group-1 2-D convs, weights transformed at build time.
Tactic convWinogradTactic();
//! "ConvTranspose.gemm": GEMM into columns, then col2im.
Tactic convTransposeGemmTactic();
//! "Conv.gemv": 1x1 conv of one pixel (squeeze-excitation), a dot product per output channel.
Tactic convGemvTactic();
}  // namespace kiln::cpu
