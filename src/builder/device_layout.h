// The device layout pass (CUDA builds, after the device precision pass,
// before tactic choice): which layers run channels-last (NHWC), and the graph
// rewritten so that a conv net becomes one NHWC region.
//
//  - A 2-D Conv in FP16/BF16 (in FP32 too under LayoutOptions::fp32, for TF32
//    tensor cores) whose weight is a constant, and which some device tactic
//    supports in the NHWC form (`supported`, asked with `channelsLastTrial`),
//    gets `kiln_layout` = "NHWC" (ir/ops/spatial.h): x, y and the residual
//    are [N, H, W, C], the weight is reordered now, at build time, to KRSC.
//    Transposes are inserted at its boundaries: NCHW -> NHWC before x and the
//    residual, NHWC -> NCHW after y, so every other layer still sees NCHW.
//  - Then, to a fixpoint: two Transposes in a row become one (none when the
//    perms cancel), and an NHWC -> NCHW Transpose is pushed below the layers
//    that do not care about the layout: unary elementwise ops and Cast,
//    binary elementwise ops whose other operands are transposed alike or are
//    constants (permuted here; per-channel biases and scalars included),
//    Concat and Split (their axis moved), Resize without `axes` (its roi,
//    scales and sizes reordered), and MaxPool / AveragePool /
//    GlobalAveragePool where a device tactic supports their NHWC form; never
//    past a layer that writes a network output (the Transpose could not
//    cancel there). A ResNet is then NHWC from the first Transpose (after the
//    input) to the one before its head.
//  - Network inputs and outputs keep their names, shapes and layouts.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::builder {

struct LayoutOptions {
  bool fp32 = false;  //!< FP32 convs channels-last too (cuDNN runs them with TF32 where kiln_tf32 allows)
};

//! Whether some device tactic supports node `index` (of graph.nodeList(),
//! before this pass rewrites anything) in its channels-last form.
using LayoutSupport = std::function<bool(std::size_t index)>;

struct LayoutResult {
  int channelsLastLayers = 0;    //!< Conv and pool layers now NHWC
  int transposesRemaining = 0;   //!< Transposes the pass inserted that are still there
  std::vector<std::string> log;  //!< one line per NHWC layer, for --verbose
};

//! A node's channels-last form, detached from the graph: the node with
//! kiln_layout NHWC reading and writing values of the permuted shapes (the
//! weight's shape KRSC; constants keep their data), for `supports` to judge.
struct LayoutTrial {
  ir::Node node;
  std::vector<std::unique_ptr<ir::Value>> values;
};
LayoutTrial channelsLastTrial(const ir::Node& node);

//! Whether the pass would consider `node` (before asking the tactics).
bool channelsLastCandidate(const ir::Node& node, const LayoutOptions& options);

//! Runs the pass on `graph` (topologically sorted, shapes inferred, after
//! assignDevicePrecision).
LayoutResult assignDeviceLayouts(ir::Graph& graph, const LayoutOptions& options, const LayoutSupport& supported);

}  // namespace kiln::builder
