// kiln::DataType <-> DLPack dtypes (what nanobind's ndarray reports for numpy
// arrays, DLPack tensors and buffer-protocol objects).
#pragma once
#include <nanobind/ndarray.h>

#include <optional>
#include <string>

#include "kiln/types.h"

namespace kiln::py {

inline std::optional<DataType> dataTypeOf(nb::dlpack::dtype t) {
  using C = nb::dlpack::dtype_code;
  if (t.lanes != 1) return std::nullopt;
  auto is = [&](C code, int bits) { return t.code == static_cast<uint8_t>(code) && t.bits == bits; };
  if (is(C::Float, 32)) return DataType::kFLOAT;
  if (is(C::Float, 16)) return DataType::kHALF;
  if (is(C::Bfloat, 16)) return DataType::kBF16;
  if (is(C::Int, 8)) return DataType::kINT8;
  if (is(C::Int, 32)) return DataType::kINT32;
  if (is(C::Int, 64)) return DataType::kINT64;
  if (is(C::UInt, 8)) return DataType::kUINT8;
  if (is(C::Bool, 8)) return DataType::kBOOL;
  return std::nullopt;
}

//! The dtype of an engine input/output array: dataTypeOf's, plus Kiln's wider
//! IO types (float64, int16, uint16, uint32, uint64), which engines built from
//! ONNX models of those types take and give. Weights stay with dataTypeOf:
//! tensorrt refuses float64 weights, and so does kiln.Weights.
inline std::optional<DataType> ioDataTypeOf(nb::dlpack::dtype t) {
  if (std::optional<DataType> common = dataTypeOf(t)) return common;
  using C = nb::dlpack::dtype_code;
  if (t.lanes != 1) return std::nullopt;
  auto is = [&](C code, int bits) { return t.code == static_cast<uint8_t>(code) && t.bits == bits; };
  if (is(C::Float, 64)) return DataType::kDOUBLE;
  if (is(C::Int, 16)) return DataType::kINT16;
  if (is(C::UInt, 16)) return DataType::kUINT16;
  if (is(C::UInt, 32)) return DataType::kUINT32;
  if (is(C::UInt, 64)) return DataType::kUINT64;
  return std::nullopt;
}

//! numpy-style name of a DLPack dtype ("float64", "int16", ...).
inline std::string dlpackName(nb::dlpack::dtype t) {
  using C = nb::dlpack::dtype_code;
  const char* base = "unknown";
  switch (static_cast<C>(t.code)) {
    case C::Int: base = "int"; break;
    case C::UInt: base = "uint"; break;
    case C::Float: base = "float"; break;
    case C::Bfloat: base = "bfloat"; break;
    case C::Complex: base = "complex"; break;
    case C::Bool: return "bool";
    default: break;
  }
  return std::string(base) + std::to_string(t.bits);
}

//! numpy-style name of a kiln::DataType (the public API's own table).
inline std::string dataTypeString(DataType t) { return dataTypeName(t); }

}  // namespace kiln::py
