// The op families; each register function lives in ops/<family>.cc.
#pragma once
#include "ir/op_schema.h"

namespace kiln::ir {
//! Conv, ConvTranspose, Gemm, MatMul, BatchNormalization, LayerNormalization,
//! MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Softmax, Resize, and
//! (nn_*.cc) LpPool, MaxUnpool, the losses, GridSample, AffineGrid, Instance/Group/
//! Lp/MeanVariance normalization, LRN, DeformConv, Col2Im, the quantization ops.
void registerNnSchemas(SchemaRegistry& r);
//! Unary and binary math, comparisons, logic, Where, Cast, Clip, activations.
void registerElementwiseSchemas(SchemaRegistry& r);
//! ReduceMean/Sum/Max/Min/Prod, ArgMax/ArgMin.
void registerReduceSchemas(SchemaRegistry& r);
//! Reshape, Flatten, Transpose, Concat, Split, Slice, Gather, GatherElements,
//! Squeeze, Unsqueeze, Shape, Size, ConstantOfShape, Expand, Tile, Pad, Identity,
//! Dropout, Range, DepthToSpace, SpaceToDepth, Trilu, ScatterElements, ScatterND,
//! GatherND, ReverseSequence, OneHot, EyeLike, the window functions (ops/tensor*.cc).
void registerTensorSchemas(SchemaRegistry& r);
//! NonMaxSuppression, RoiAlign (ops/detection.cc).
void registerDetectionSchemas(SchemaRegistry& r);
//! CumSum, TopK, Hardmax, Einsum, Det (ops/math.cc).
void registerMathSchemas(SchemaRegistry& r);
//! DFT, STFT, MelWeightMatrix (ops/signal.cc).
void registerSignalSchemas(SchemaRegistry& r);
//! Kiln's internal ops made by passes (KilnFusedElementwise, ...).
void registerKilnSchemas(SchemaRegistry& r);
//! KilnPlugin: a layer computed by a user's plugin (ops/plugin.cc, ir/plugin.h).
void registerPluginSchemas(SchemaRegistry& r);
//! If, Loop, Scan: ops with subgraphs (ops/control_flow.cc, ir/control_flow.h).
void registerControlFlowSchemas(SchemaRegistry& r);
//! RNN, GRU, LSTM (ops/rnn.cc).
void registerRnnSchemas(SchemaRegistry& r);
//! TfIdfVectorizer (ops/text.cc).
void registerTextSchemas(SchemaRegistry& r);
}  // namespace kiln::ir
