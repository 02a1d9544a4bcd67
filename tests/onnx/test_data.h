// Test data of ONNX backend cases: TensorProto files (input_N.pb, output_N.pb)
// decoded into host tensors, and the comparison of Kiln's outputs with the
// expected ones. Written apart from Kiln's own TensorProto reader on purpose:
// the oracle side must not share code with the system under test.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/types.h"

namespace kiln_conformance {

struct HostTensor {
  int32_t onnxType = 0;  //!< onnx::TensorProto::DataType
  std::string name;
  std::vector<int64_t> dims;
  //! The elements in Kiln's layout of `kilnType`.
  std::vector<uint8_t> bytes;
  kiln::DataType kilnType = kiln::DataType::kFLOAT;
  int64_t numel() const;
};

//! Lower-case ONNX name of an element type ("float", "int64", "float8e4m3fn"...).
std::string onnxTypeName(int32_t onnxType);
//! The Kiln type holding `onnxType`, nullopt when Kiln has none.
std::optional<kiln::DataType> kilnTypeOf(int32_t onnxType);

//! Reads a serialized TensorProto; throws std::runtime_error saying why not.
//! `declaredType` is the model's type for the value (0: unknown): ONNX stores
//! bfloat16 test data as UINT16 bit patterns, which are read as BFLOAT16 when
//! the model declares that.
HostTensor readTensorFile(const std::string& path, int32_t declaredType = 0);

struct Tolerance {
  double rtol = 1e-3;
  double atol = 1e-7;
};

//! Compares Kiln's output (`kilnType`, `dims`, `data`) with `expected`:
//! dtype, shape, then |got - want| <= atol + rtol * |want| per element (NaN
//! must meet NaN, infinities must match exactly), as numpy's assert_allclose in
//! ONNX's runner. Returns "" when equal, else a one-line reason.
std::string compareOutput(const std::string& name, kiln::DataType kilnType, const std::vector<int64_t>& dims,
                          const void* data, const HostTensor& expected, Tolerance tol);

std::string dimsString(const std::vector<int64_t>& dims);

}  // namespace kiln_conformance
