#include "core/dtype.h"

namespace kiln {

int32_t dataTypeSize(DataType t) noexcept {
  switch (t) {
    case DataType::kFLOAT: case DataType::kINT32: return 4;
    case DataType::kHALF: case DataType::kBF16: return 2;
    case DataType::kINT8: case DataType::kUINT8: case DataType::kBOOL: case DataType::kFP8: return 1;
    case DataType::kINT64: return 8;
  }
  return 0;
}

const char* dataTypeName(DataType t) noexcept {
  switch (t) {
    case DataType::kFLOAT: return "float32";
    case DataType::kHALF: return "float16";
    case DataType::kINT8: return "int8";
    case DataType::kINT32: return "int32";
    case DataType::kBOOL: return "bool";
    case DataType::kUINT8: return "uint8";
    case DataType::kFP8: return "fp8";
    case DataType::kBF16: return "bfloat16";
    case DataType::kINT64: return "int64";
  }
  return "unknown";
}

std::optional<DType> dtypeFromName(std::string_view name) {
  for (DType t : {DType::kFLOAT, DType::kHALF, DType::kINT8, DType::kINT32, DType::kBOOL, DType::kUINT8,
                  DType::kFP8, DType::kBF16, DType::kINT64})
    if (name == dataTypeName(t)) return t;
  return std::nullopt;
}

int32_t getInferLibVersion() noexcept { return 100; }  // 0.1.0

}  // namespace kiln
