// The host interpreter that If, Loop and Scan kernels run their subgraphs
// with (ops/control_flow.cc). A SubgraphSession owns a private copy of one
// subgraph for the duration of one kernel run; each run() of it (one Loop or
// Scan iteration, one If) binds the inputs, then for each node in order
// re-infers its shapes from the now-known values and computes it with
// evaluateNode, i.e. with the same CPU tactics as the outer graph (the
// highest-priority one that supports the node; nested If/Loop/Scan recurse).
//
// Every value of the copy becomes a constant as it is computed, so shape
// inference inside the body sees exact shapes and data (a Reshape whose
// target shape the body computes, a loop-carried value that grows).
// Allocation: per node per iteration (outputs, kernel objects), never per
// element; kernels that need prepacked weights are not used inside
// subgraphs. Documented in docs/architecture.md.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"

namespace kiln::cpu {

class SubgraphSession {
 public:
  SubgraphSession(const ir::Graph& graph, std::string where);
  //! Runs the subgraph once on `inputs` (one per subgraph input, in order)
  //! and returns its outputs. Throws kiln::Error naming the node that failed.
  std::vector<std::shared_ptr<const ir::Tensor>> run(const std::vector<std::shared_ptr<const ir::Tensor>>& inputs,
                                                     ThreadPool* pool);

 private:
  std::unique_ptr<ir::Graph> graph_;
  std::string where_;
};

//! A tensor borrowing the memory of `view` (no copy; `view` must outlive it).
std::shared_ptr<const ir::Tensor> borrowView(const TensorView& view);
//! Copies `t` into `out` after checking that the shapes agree; `what` names the value in the error.
void copyToView(const ir::Tensor& t, const TensorView& out, const std::string& what);
//! True when every node of `g` (and of its nested subgraphs) has a CPU tactic.
bool allOpsHaveKernels(const ir::Graph& g);

}  // namespace kiln::cpu
