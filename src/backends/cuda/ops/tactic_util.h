// Small helpers the CUDA tactics share.
#pragma once
#include <cuda_runtime.h>

#include <initializer_list>
#include <limits>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/ops/kernels.h"
#include "ir/graph.h"

namespace kiln::cuda {

using backends::TensorView;

inline cudaStream_t streamOf(const backends::DeviceLaunch& launch) { return static_cast<cudaStream_t>(launch.stream); }

//! Every present input and every output of `node` is FP32 (what cuBLASLt-free FP32-only paths check).
inline bool allFloat(const ir::Node& node) {
  for (const ir::Value* v : node.inputs)
    if (v && v->dtype != DType::kFLOAT) return false;
  for (const ir::Value* v : node.outputs)
    if (v && v->dtype != DType::kFLOAT) return false;
  return true;
}

//! The kernels' element type for a floating dtype; false for other dtypes.
inline bool floatElem(DType t, kernels::Elem* out) {
  switch (t) {
    case DType::kFLOAT: *out = kernels::Elem::kFloat; return true;
    case DType::kHALF: *out = kernels::Elem::kHalf; return true;
    case DType::kBF16: *out = kernels::Elem::kBF16; return true;
    default: return false;
  }
}

//! Every present input and every output of `node` has one floating type
//! (FP32, FP16 or BF16), returned in `elem`: what the type-templated kernels
//! (element_type.cuh) need. Inputs in `skip` (indices) are not checked.
inline bool uniformFloat(const ir::Node& node, kernels::Elem* elem, std::initializer_list<std::size_t> skip = {}) {
  const ir::Value* first = nullptr;
  auto skipped = [&](std::size_t i) {
    for (std::size_t s : skip)
      if (s == i) return true;
    return false;
  };
  for (std::size_t i = 0; i < node.inputs.size(); ++i)
    if (node.inputs[i] && !skipped(i) && !first) first = node.inputs[i];
  for (const ir::Value* v : node.outputs)
    if (v && !first) first = v;
  if (!first || !floatElem(first->dtype, elem)) return false;
  for (std::size_t i = 0; i < node.inputs.size(); ++i)
    if (node.inputs[i] && !skipped(i) && node.inputs[i]->dtype != first->dtype) return false;
  for (const ir::Value* v : node.outputs)
    if (v && v->dtype != first->dtype) return false;
  return true;
}

//! A scalar floating (FP32/FP16/BF16) constant input `i` as float, or `dflt`
//! when the input is absent; false when it is not a constant.
inline bool constantScalar(const ir::Node& node, std::size_t i, float dflt, float* out) {
  if (i >= node.inputs.size() || !node.inputs[i]) {
    *out = dflt;
    return true;
  }
  const ir::Value* v = node.inputs[i];
  kernels::Elem e;
  if (!v->isConstant() || !floatElem(v->constant->dtype(), &e) || v->constant->numel() != 1) return false;
  *out = v->constant->toFloat()[0];
  return true;
}

//! The attribute the device precision pass sets on layers left in FP32 under
//! BuilderFlag::kTF32 (builder/device_precision.h): TF32 tensor-core math allowed.
inline bool tf32Allowed(const ir::Node& node) { return node.i("kiln_tf32", 0) != 0; }

}  // namespace kiln::cuda
