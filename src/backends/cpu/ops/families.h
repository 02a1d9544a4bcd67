// The CPU kernel families; each register function lives in ops/<family>.cc.
#pragma once
#include "backends/cpu/kernel.h"

namespace kiln::cpu {
void registerConvKernels(TacticRegistry& r);         // Conv, ConvTranspose
void registerGemmKernels(TacticRegistry& r);         // Gemm, MatMul
void registerNormKernels(TacticRegistry& r);         // BatchNormalization, LayerNormalization, Softmax
void registerPoolKernels(TacticRegistry& r);         // MaxPool, AveragePool, Global*Pool
void registerResizeKernels(TacticRegistry& r);       // Resize
void registerElementwiseKernels(TacticRegistry& r);  // unary, binary, Where, Cast, Clip, KilnFusedElementwise
void registerReduceKernels(TacticRegistry& r);       // Reduce*, ArgMax/ArgMin
void registerTensorKernels(TacticRegistry& r);       // data movement and shape ops
void registerMathKernels(TacticRegistry& r);         // CumSum, TopK, Hardmax, Einsum, Det
void registerSignalKernels(TacticRegistry& r);       // DFT, STFT, MelWeightMatrix
void registerPluginKernels(TacticRegistry& r);       // KilnPlugin (a user's plugin, ir/plugin.h)
}  // namespace kiln::cpu
