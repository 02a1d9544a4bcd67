// ONNX TensorProto and element types -> ir::Tensor / kiln::DType.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <onnx/onnx_pb.h>

#include "ir/tensor.h"

namespace kiln::onnx {

//! The Kiln dtype of an ONNX TensorProto::DataType, or nullopt when Kiln has none.
std::optional<DType> dtypeFromOnnx(int32_t onnxType);
//! "FLOAT", "DOUBLE", ... ("type 42" for values ONNX does not define).
std::string onnxTypeName(int32_t onnxType);
//! The dtype of `onnxType`; fails with kUNSUPPORTED_NODE_DATATYPE naming `what`.
DType requireDtype(int32_t onnxType, const std::string& what);

//! Converts a TensorProto (an initializer or an attribute). `what` names it in
//! errors (`initializer "conv1.weight"`); external data is read relative to
//! `modelDir`. Sizes are checked against the data before anything is allocated.
ir::Tensor tensorFromProto(const ::onnx::TensorProto& t, const std::string& modelDir, const std::string& what);

}  // namespace kiln::onnx
