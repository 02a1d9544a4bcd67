// Resolves every value's shape for concrete input shapes: the step that
// dynamic shapes need both at build time (a graph per profile's min/opt/max)
// and at run time (IExecutionContext::setInputShape).
//
// Shape inference alone can't see through Shape -> Gather -> Concat -> Reshape
// chains, so small integer nodes whose inputs are all known are evaluated on
// the host as they are reached, and their results become constants of the
// graph being resolved (always a clone: the engine's own graph stays symbolic).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

using NodeEvaluator = std::function<std::vector<Tensor>(const Node&, const std::vector<const Tensor*>&)>;

struct ResolveResult {
  //! Nodes computed on the host (their outputs are now constants of the graph).
  std::vector<const Node*> hostEvaluated;
};

//! Sets the graph's inputs to `inputShapes` (every input with an unknown dim
//! must be named; known dims must match) and infers all nodes in order. Throws
//! kiln::Error naming the node when a shape can't be resolved.
//! `actualShapes` gives the run-time dims of data-dependent outputs (by value
//! name), which replace their inferred upper bounds before later nodes are inferred.
//! `inputValues` gives the values of shape-tensor inputs (int32/int64 inputs whose
//! values decide shapes, IOptimizationProfile::setShapeValues); they become
//! constants of the graph being resolved.
ResolveResult resolveShapes(Graph& graph, const std::map<std::string, std::vector<int64_t>>& inputShapes,
                            const NodeEvaluator& evaluate, int64_t maxHostElements = 4096,
                            const std::map<std::string, std::vector<int64_t>>* actualShapes = nullptr,
                            const std::map<std::string, std::vector<int64_t>>* inputValues = nullptr);

}  // namespace kiln::ir
