// Registration of the CUDA tactics, one function per op family (ops/<family>.cc).
#pragma once
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda {

using TacticList = std::vector<backends::DeviceTactic>;

void registerGemmTactics(TacticList& out);         // MatMul, Gemm: cuBLASLt
void registerConvTactics(TacticList& out);         // Conv: cuDNN
void registerConvGraphTactics(TacticList& out);    // Conv: cuDNN graph API (fused epilogue)
void registerConvDirectTactics(TacticList& out);   // Conv: Kiln's direct NHWC stem kernel (3x3, 3 channels)
void registerElementwiseTactics(TacticList& out);  // unary, binary (broadcasting), activations
void registerSoftmaxTactics(TacticList& out);      // Softmax
void registerPoolTactics(TacticList& out);         // MaxPool, AveragePool, GlobalAveragePool
void registerTensorTactics(TacticList& out);       // Concat, Transpose, Gather, Reshape and its aliases
void registerNormTactics(TacticList& out);         // LayerNormalization
void registerReduceTactics(TacticList& out);       // ReduceMean, ReduceSum
void registerCastTactics(TacticList& out);         // Cast
void registerResizeTactics(TacticList& out);       // Resize (nearest)
void registerPluginTactics(TacticList& out);       // KilnPlugin (a user's plugin, ir/plugin_runner.h)

//! The stream a plugin's enqueue gets: the launch's, or cudaStreamLegacy for
//! the null stream (never null, so plugins can tell CUDA from the CPU).
cudaStream_t pluginStream(const backends::DeviceLaunch& launch);
void registerLogicalTactics(TacticList& out);      // Equal/Less/Greater(OrEqual), And/Or/Xor, Not
void registerWhereTactics(TacticList& out);        // Where
void registerSplitTactics(TacticList& out);        // Split
void registerAttentionTactics(TacticList& out);    // KilnAttention (fused attention, attention.cu)
void registerAttentionGemmTactics(TacticList& out);  // KilnAttention unfused: cuBLASLt + softmax (attention_gemm.cc)
void registerLayoutTactics(TacticList& out);       // Transpose.tiled (batched 2-D: NCHW <-> NHWC)
void registerFusedElementwiseTactics(TacticList& out);  // KilnFusedElementwise (NVRTC: fused_elementwise.cc)

}  // namespace kiln::cuda

namespace kiln::cuda {
//! The unary parameters of a unary node (`fused` false: op `op` and its
//! attributes/constant inputs) or of a fused activation named `op` (`fused`
//! true: kiln_act_alpha/beta); false when the CUDA kernels lack it.
bool unaryParams(const std::string& op, const ir::Node& node, bool fused, kernels::UnaryParams* p);
}  // namespace kiln::cuda
