// The one place that orders the passes.
#include "ir/op_schema.h"
#include "passes/passes.h"

namespace kiln::passes {

const std::vector<Pass>& pipeline() {
  static const std::vector<Pass> passes = {
      {"eliminate_identity", eliminateIdentity},
      {"eliminate_dead_code", eliminateDeadCode},
      {"fold_constants", foldConstants},
      {"inline_constant_if", inlineConstantIf},   // conditions that just folded
      {"fold_constants", foldConstants},          // what the taken branch computes from constants
      {"eliminate_identity", eliminateIdentity},  // Reshapes to a now-static same shape
      {"eliminate_dead_code", eliminateDeadCode},
      {"fold_batchnorm", foldBatchNorm},
      {"patchify_conv", patchifyConv},  // after BN folds into the Conv; its bias Add fuses below
      // before fuse_bias_activation and the elementwise chains, which would take its scale and mask Add
      {"fuse_attention", fuseAttention},
      {"move_row_transposes", moveRowTransposes},    // batch-first MHA's swaps, next to the attention
      {"pack_qkv_projections", packQkvProjections},  // HF BERT's three projections: one GEMM, read through views
      {"fold_attention_views", foldAttentionViews},  // the head split / merge around each KilnAttention
      {"fuse_gelu", fuseGelu},  // before fuse_bias_activation, which folds the Gelu into a MatMul
      {"fuse_bias_activation", fuseBiasActivation},
      {"fuse_channel_scale", fuseChannelScale},  // after the Conv took its bias / residual; before the chains
      {"fuse_elementwise_chains", fuseElementwiseChains},
      {"eliminate_dead_code", eliminateDeadCode},
  };
  return passes;
}

void runPipeline(ir::Graph& graph, PassContext& ctx) {
  graph.topoSort();
  ir::inferGraph(graph);
  for (const Pass& pass : pipeline()) {
    if (!pass.run(graph, ctx)) continue;
    graph.topoSort();
    ir::inferGraph(graph);
    graph.removeUnusedValues();
  }
}

}  // namespace kiln::passes
