// Pieces of the nn schema family shared between its files (nn.cc registers
// everything; nn_pool.cc holds the pools and Resize).
#pragma once
#include "ir/op_schema.h"

namespace kiln::ir {

//! MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Resize.
void registerPoolResizeSchemas(SchemaRegistry& r);
//! NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss (nn_loss.cc).
void registerLossSchemas(SchemaRegistry& r);
//! GridSample, AffineGrid (nn_sample.cc).
void registerSampleSchemas(SchemaRegistry& r);
//! InstanceNormalization, GroupNormalization, LRN, MeanVarianceNormalization,
//! LpNormalization (nn_norm.cc).
void registerExtraNormSchemas(SchemaRegistry& r);
//! DeformConv, Col2Im, MaxUnpool (nn_conv_extra.cc).
void registerConvExtraSchemas(SchemaRegistry& r);
//! QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul,
//! MatMulInteger, ConvInteger, QLinearConv (nn_quant.cc).
void registerQuantSchemas(SchemaRegistry& r);

//! Checks that input `i` is float32 (the nn ops compute in float32 only).
void requireFloat(const InferContext& ctx, std::size_t i, const char* what);
//! Checks that input `i` is float32, float16 or bfloat16 and, for i > 0, of
//! input 0's type (ONNX's T): the schemas of the ops the CUDA backend also runs
//! in FP16/BF16 (builder/device_precision.h). Their output has input 0's type;
//! the CPU tactics decline anything but float32.
void requireFloating(const InferContext& ctx, std::size_t i, const char* what);

//! The weight shape of a node whose weight (input `index`) a CPU tactic may
//! have replaced by a packed constant: then the node carries the original
//! shape in `kiln_weight_shape` and `kiln_packed` names the layout.
Shape logicalWeightShape(const InferContext& ctx, std::size_t index);

}  // namespace kiln::ir
