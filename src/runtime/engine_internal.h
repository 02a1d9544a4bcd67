// Helpers engine.cc and execution_context.cc share (not part of the runtime's interface).
#pragma once
#include <cstdint>
#include <vector>

#include "backends/cpu/kernel.h"
#include "core/dtype.h"
#include "ir/graph.h"

namespace kiln::runtime {

//! The shape resolver's constant evaluator: one node on the CPU.
inline std::vector<ir::Tensor> evaluateOnCpu(const ir::Node& n, const std::vector<const ir::Tensor*>& ins) {
  return cpu::evaluateNode(n, ins);
}

inline int64_t bytesOf(const std::vector<int64_t>& dims, DType t) { return ir::numElements(dims) * dtypeSize(t); }

}  // namespace kiln::runtime
