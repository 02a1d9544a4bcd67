// How If, Loop and Scan nodes lay out their inputs, outputs and subgraphs in
// the IR. Shared by their schemas (ir/ops/control_flow.cc), the ONNX
// importer and the CPU kernels, so that all three count the same way.
//
// ONNX lets a subgraph read any value of an enclosing graph by name. Kiln's
// subgraphs are self-contained instead: the importer turns each such
// reference into a *capture*, an extra trailing input of the node and the
// same-position trailing input of every subgraph of the node. The node's
// attribute `kiln_captures` says how many trailing inputs are captures.
//
//   If:   inputs  cond, captures...             branches' inputs: captures...
//         outputs = each branch's outputs
//   Loop: inputs  M?, cond?, v_initial[N], captures...
//         body:   inputs iter, cond, v[N], captures...; outputs cond, v[N], scan[S]
//         outputs v_final[N], scan_outputs[S] (stacked along a new axis 0)
//   Scan: inputs  state_initial[N], scan_inputs[M], captures...   (opset 9+ form)
//         body:   inputs state[N], slice[M], captures...; outputs state[N], slice_out[K]
//         outputs state_final[N], scan_outputs[K]
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "ir/graph.h"

namespace kiln::ir::control_flow {

constexpr const char* kCapturesAttr = "kiln_captures";

//! Number of trailing capture inputs of `node` (0 when the attribute is absent).
std::size_t captures(const Node& node);

//! The subgraph attribute `attr` of `node`; throws naming the node when absent.
Graph& subgraph(const Node& node, const char* attr);

struct LoopArity {
  std::size_t carried = 0;      //!< N: loop-carried values
  std::size_t scanOutputs = 0;  //!< S
  std::size_t captures = 0;     //!< K
};
//! Checks the body against the node and returns the counts; throws naming the node.
LoopArity loopArity(const Node& node);

struct ScanArity {
  std::size_t states = 0;       //!< N
  std::size_t scanInputs = 0;   //!< M (attribute num_scan_inputs)
  std::size_t scanOutputs = 0;  //!< K
  std::size_t captures = 0;
};
ScanArity scanArity(const Node& node);

//! The number of iterations a Loop runs when it is known before running it:
//! M is a constant and the condition cannot stop the loop early (the initial
//! condition is absent or a constant true, and the body passes its condition
//! input through unchanged or returns a constant true), or the initial
//! condition is a constant false (0 iterations). nullopt otherwise.
std::optional<int64_t> loopTripCount(const Node& node);

}  // namespace kiln::ir::control_flow
