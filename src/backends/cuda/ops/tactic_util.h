// Small helpers the CUDA tactics share.
#pragma once
#include <cuda_runtime.h>

#include <limits>
#include <vector>

#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln::cuda {

using backends::TensorView;

inline cudaStream_t streamOf(const backends::DeviceLaunch& launch) { return static_cast<cudaStream_t>(launch.stream); }

//! Every present input and every output of `node` is FP32 (the CUDA kernels' one dtype so far).
inline bool allFloat(const ir::Node& node) {
  for (const ir::Value* v : node.inputs)
    if (v && v->dtype != DType::kFLOAT) return false;
  for (const ir::Value* v : node.outputs)
    if (v && v->dtype != DType::kFLOAT) return false;
  return true;
}

//! A scalar FP32 constant input `i`, or `dflt` when the input is absent; false when it is not a constant.
inline bool constantScalar(const ir::Node& node, std::size_t i, float dflt, float* out) {
  if (i >= node.inputs.size() || !node.inputs[i]) {
    *out = dflt;
    return true;
  }
  const ir::Value* v = node.inputs[i];
  if (!v->isConstant() || v->dtype != DType::kFLOAT || v->constant->numel() != 1) return false;
  *out = v->constant->as<float>()[0];
  return true;
}

}  // namespace kiln::cuda
