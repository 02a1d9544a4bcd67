// A pass rewrites an ir::Graph and says whether it changed anything.
// One pass per file; passes/pipeline.cc is the only place that orders them.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

struct PassContext {
  //! Computes a node's outputs from constant inputs (the builder plugs in the
  //! CPU backend; passes know no backend). Null disables constant folding.
  std::function<std::vector<ir::Tensor>(const ir::Node&, const std::vector<const ir::Tensor*>&)> evaluate;
  //! Folded constants larger than this many bytes are not materialized.
  std::size_t maxFoldBytes = 64u << 20;
  //! Enables fusions that only the CPU backend implements; false in device
  //! builds, which take the device-only ones instead (MatMul + residual Add).
  bool cpuFusions = true;
  //! Enables the elementwise chain fusion (KilnFusedElementwise): on for the
  //! CPU, and for a device build only when its backend has a tactic for it.
  bool elementwiseChains = true;
  //! Enables the attention fusion (KilnAttention): on for the CPU, and for a
  //! device build only when its backend has a KilnAttention tactic.
  bool attentionFusion = true;
  //! Enables patchify_conv (non-overlapping Convs as MatMuls over patches).
  bool patchifyConv = true;
  //! Enables fuse_channel_scale (CPU, FP32 builds: under kBF16 / kFP16 the 1x1
  //! Conv would take a reduced-precision tactic, faster than the FP32 scaled GEMM).
  bool channelScale = true;
  //! "<pass>: <what changed>" lines, shown by --verbose.
  std::vector<std::string> log;
};

struct Pass {
  const char* name;
  bool (*run)(ir::Graph& graph, PassContext& ctx);
};

//! The passes in the order the builder runs them.
const std::vector<Pass>& pipeline();
//! Runs the pipeline (fixed order, shapes re-inferred after each changing pass).
void runPipeline(ir::Graph& graph, PassContext& ctx);

}  // namespace kiln::passes
