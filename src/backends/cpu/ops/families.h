// The CPU kernel families; each register function lives in ops/<family>.cc.
#pragma once
#include "backends/cpu/kernel.h"

namespace kiln::cpu {
void registerConvKernels(TacticRegistry& r);         // Conv, ConvTranspose
void registerGemmKernels(TacticRegistry& r);         // Gemm, MatMul
void registerNormKernels(TacticRegistry& r);         // BatchNormalization, LayerNormalization, Softmax
void registerPoolKernels(TacticRegistry& r);         // MaxPool, AveragePool, LpPool, MaxUnpool, Global*Pool
void registerResizeKernels(TacticRegistry& r);       // Resize (nearest, linear; calls the next)
void registerResizeFilterKernels(TacticRegistry& r); // Resize cubic and antialiased (resize_filter.cc)
void registerElementwiseKernels(TacticRegistry& r);  // unary, binary, Where, Cast, Clip, KilnFusedElementwise
void registerReduceKernels(TacticRegistry& r);       // Reduce*, ArgMax/ArgMin
void registerTensorKernels(TacticRegistry& r);       // data movement and shape ops
void registerMathKernels(TacticRegistry& r);         // CumSum, TopK, Hardmax, Einsum, Det
void registerSignalKernels(TacticRegistry& r);       // DFT, STFT, MelWeightMatrix
void registerPluginKernels(TacticRegistry& r);       // KilnPlugin (a user's plugin, ir/plugin.h)
void registerControlFlowKernels(TacticRegistry& r);  // If, Loop, Scan (subgraphs, ops/control_flow_interp.h)
void registerRnnKernels(TacticRegistry& r);          // RNN, GRU, LSTM (reference)
void registerDetectionKernels(TacticRegistry& r);    // NonMaxSuppression, RoiAlign
void registerLossKernels(TacticRegistry& r);         // NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
void registerGridSampleKernels(TacticRegistry& r);   // GridSample, AffineGrid
void registerNormExtraKernels(TacticRegistry& r);    // Instance/GroupNormalization, LRN, MVN, LpNormalization
void registerQuantKernels(TacticRegistry& r);        // Quantize/DequantizeLinear, QLinear*, *Integer
void registerConvExtraKernels(TacticRegistry& r);    // DeformConv, Col2Im
void registerTextKernels(TacticRegistry& r);         // TfIdfVectorizer
void registerAttentionKernels(TacticRegistry& r);    // KilnAttention (made by passes/fuse_attention)
}  // namespace kiln::cpu
