// The Conv tactics beyond the reference loops (conv.cc registers them all).
#pragma once
#include "backends/cpu/kernel.h"

namespace kiln::cpu {
//! "Conv.im2col_gemm": weights packed at build time, im2col into GEMM panels.
Tactic convIm2colGemmTactic();
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
