// Every pass, one file each (passes/<name>.cc); pipeline.cc orders them.
#pragma once
#include "passes/pass.h"

namespace kiln::passes {
//! Removes nodes whose outputs reach no graph output.
bool eliminateDeadCode(ir::Graph& graph, PassContext& ctx);
//! Removes nodes that copy their input: Identity, inference Dropout, Cast to
//! the same type, identity Transpose, Reshape-like ops to the same shape.
bool eliminateIdentity(ir::Graph& graph, PassContext& ctx);
//! Evaluates nodes whose inputs are all constant (and Shape of a static
//! shape) and replaces them by constants: constant and shape folding.
bool foldConstants(ir::Graph& graph, PassContext& ctx);
//! Replaces each If whose condition is a constant by the branch it takes.
bool inlineConstantIf(ir::Graph& graph, PassContext& ctx);
//! Folds BatchNormalization with constant parameters into the preceding
//! Conv / Gemm's weights and bias.
bool foldBatchNorm(ir::Graph& graph, PassContext& ctx);
//! A Conv whose kernel tiles the input without overlap (kernel == stride, no
//! padding: ViT's patch embedding) becomes a MatMul over the patches.
bool patchifyConv(ir::Graph& graph, PassContext& ctx);
//! Mul(x, [N|1, C, 1, 1] scale) -> pointwise Conv: one KilnScaledConv (CPU builds).
bool fuseChannelScale(ir::Graph& graph, PassContext& ctx);
//! Erf- and tanh-GELU written out in elementwise ops become one Gelu node.
bool fuseGelu(ir::Graph& graph, PassContext& ctx);
//! Conv / Gemm / MatMul followed by a bias Add, a residual Add (Conv) and/or
//! an activation become one node carrying the bias, the residual input and
//! `kiln_act` attributes.
bool fuseBiasActivation(ir::Graph& graph, PassContext& ctx);
//! MatMul -> [scale] -> [Add mask] -> Softmax -> MatMul (and the SDPA form
//! with Q and K^T each scaled) becomes one KilnAttention node.
bool fuseAttention(ir::Graph& graph, PassContext& ctx);
//! Transposes that reorder rows move across the row-wise linear layers between
//! them and a KilnAttention (for fold_attention_views to take).
bool moveRowTransposes(ir::Graph& graph, PassContext& ctx);
//! An attention's three Q / K / V projections of one input become one MatMul
//! by the weights side by side, each operand a Gather of its output.
bool packQkvProjections(ir::Graph& graph, PassContext& ctx);
//! The Transposes / Gathers splitting and merging heads around a KilnAttention
//! become the attention's operand views (it reads and writes strided).
bool foldAttentionViews(ir::Graph& graph, PassContext& ctx);
//! Chains of elementwise float ops become one KilnFusedElementwise node.
bool fuseElementwiseChains(ir::Graph& graph, PassContext& ctx);
}  // namespace kiln::passes
