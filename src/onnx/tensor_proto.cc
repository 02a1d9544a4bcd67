#include "onnx/tensor_proto.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "onnx/import_context.h"

namespace kiln::onnx {

namespace fs = std::filesystem;
using TP = ::onnx::TensorProto;

std::optional<DType> dtypeFromOnnx(int32_t t) {
  switch (t) {
    case TP::FLOAT: return DType::kFLOAT;
    case TP::FLOAT16: return DType::kHALF;
    case TP::BFLOAT16: return DType::kBF16;
    case TP::INT8: return DType::kINT8;
    case TP::UINT8: return DType::kUINT8;
    case TP::INT32: return DType::kINT32;
    case TP::INT64: return DType::kINT64;
    case TP::BOOL: return DType::kBOOL;
    case TP::DOUBLE: return DType::kDOUBLE;
    case TP::INT16: return DType::kINT16;
    case TP::UINT16: return DType::kUINT16;
    case TP::UINT32: return DType::kUINT32;
    case TP::UINT64: return DType::kUINT64;
    // The float8 types by number: the system's onnx.proto may predate them.
    case 17: return DType::kFP8;  // FLOAT8E4M3FN
    case 18: return DType::kFP8E4M3FNUZ;
    case 19: return DType::kFP8E5M2;
    case 20: return DType::kFP8E5M2FNUZ;
    default: return std::nullopt;
  }
}

std::string onnxTypeName(int32_t t) {
  static const char* kNewer[] = {"FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4",
                                 "FLOAT4E2M1"};
  if (t >= 17 && t <= 23) return kNewer[t - 17];
  if (::onnx::TensorProto_DataType_IsValid(t))
    return ::onnx::TensorProto_DataType_Name(static_cast<::onnx::TensorProto_DataType>(t));
  return strCat("type ", t);
}

DType requireDtype(int32_t onnxType, const std::string& what) {
  auto dt = dtypeFromOnnx(onnxType);
  KILN_IMPORT_CHECK(dt, ErrorCode::kUNSUPPORTED_NODE_DATATYPE, what, ": data type ", onnxTypeName(onnxType),
                    " is not supported (Kiln supports FLOAT, DOUBLE, FLOAT16, BFLOAT16, FLOAT8E4M3FN, FLOAT8E4M3FNUZ, "
                    "FLOAT8E5M2, FLOAT8E5M2FNUZ, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, BOOL)");
  return *dt;
}

namespace {

//! Element count of `dims`, failing on negative dims or overflow.
int64_t checkedNumel(const std::vector<int64_t>& dims, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    KILN_IMPORT_CHECK(d >= 0, ErrorCode::kINVALID_VALUE, what, ": negative dimension ", d);
    KILN_IMPORT_CHECK(d == 0 || n <= std::numeric_limits<int64_t>::max() / 16 / d, ErrorCode::kINVALID_VALUE,
                      what, ": shape ", ir::toString(dims), " is too large");
    n *= d;
  }
  return n;
}

//! Rejects locations that could read outside the model's directory (as the
//! ONNX checker does since 1.16).
fs::path externalPath(const std::string& location, const std::string& modelDir, const std::string& what) {
  KILN_IMPORT_CHECK(!location.empty(), ErrorCode::kINVALID_VALUE, what, ": external data has no 'location'");
  fs::path rel(location);
  KILN_IMPORT_CHECK(!rel.is_absolute(), ErrorCode::kINVALID_VALUE, what, ": external data location \"", location,
                    "\" must be relative to the model's directory");
  for (const auto& part : rel)
    KILN_IMPORT_CHECK(part != "..", ErrorCode::kINVALID_VALUE, what, ": external data location \"", location,
                      "\" leaves the model's directory");
  return modelDir.empty() ? rel : fs::path(modelDir) / rel;
}

ir::Tensor readExternal(const TP& t, DType dtype, std::vector<int64_t> dims, int64_t bytes,
                        const std::string& modelDir, const std::string& what) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::stoll(kv.value());
      else if (kv.key() == "length") length = std::stoll(kv.value());
    } catch (const std::exception&) {
      KILN_IMPORT_FAIL(ErrorCode::kINVALID_VALUE, what, ": external data '", kv.key(), "' is not a number: \"",
                       kv.value(), "\"");
    }
  }
  fs::path path = externalPath(location, modelDir, what);
  KILN_IMPORT_CHECK(offset >= 0, ErrorCode::kINVALID_VALUE, what, ": negative external data offset ", offset);
  KILN_IMPORT_CHECK(length < 0 || length == bytes, ErrorCode::kINVALID_VALUE, what, ": external data length ",
                    length, " does not match its shape ", ir::toString(dims), " (", bytes, " bytes)");
  std::error_code ec;
  auto fileSize = fs::file_size(path, ec);
  KILN_IMPORT_CHECK(!ec, ErrorCode::kINVALID_VALUE, what, ": cannot open external data file \"", path.string(),
                    "\": ", ec.message());
  KILN_IMPORT_CHECK(static_cast<uint64_t>(offset) + static_cast<uint64_t>(bytes) <= fileSize,
                    ErrorCode::kINVALID_VALUE, what, ": external data file \"", path.string(), "\" has ", fileSize,
                    " bytes, the tensor needs ", bytes, " bytes at offset ", offset);
  ir::Tensor out(dtype, std::move(dims));
  std::ifstream in(path, std::ios::binary);
  in.seekg(offset);
  if (bytes) in.read(static_cast<char*>(out.mutableData()), bytes);
  KILN_IMPORT_CHECK(in.good() || bytes == 0, ErrorCode::kINVALID_VALUE, what, ": cannot read external data file \"",
                    path.string(), "\"");
  return out;
}

//! Copies `count` values of a typed repeated field into `out`, converting each.
template <typename Dst, typename Field>
void copyField(const Field& field, ir::Tensor& out) {
  Dst* dst = out.mutableAs<Dst>();
  for (int i = 0; i < field.size(); ++i) dst[i] = static_cast<Dst>(field.Get(i));
}

}  // namespace

ir::Tensor tensorFromProto(const TP& t, const std::string& modelDir, const std::string& what) {
  KILN_IMPORT_CHECK(t.segment().begin() == 0 && t.segment().end() == 0, ErrorCode::kUNSUPPORTED_GRAPH, what,
                    ": segmented tensors are not supported");
  DType dtype = requireDtype(t.data_type(), what);
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  int64_t numel = checkedNumel(dims, what);
  int64_t bytes = numel * dtypeSize(dtype);

  if (t.data_location() == TP::EXTERNAL) return readExternal(t, dtype, std::move(dims), bytes, modelDir, what);

  if (t.has_raw_data()) {
    KILN_IMPORT_CHECK(static_cast<int64_t>(t.raw_data().size()) == bytes, ErrorCode::kINVALID_VALUE, what,
                      ": raw_data has ", t.raw_data().size(), " bytes, shape ", ir::toString(dims), " of ",
                      onnxTypeName(t.data_type()), " needs ", bytes);
    ir::Tensor out(dtype, std::move(dims), t.raw_data().data());
    if (dtype == DType::kBOOL)  // any non-zero byte is true; Kiln's bools are 0/1
      for (int64_t i = 0; i < numel; ++i) out.mutableAs<uint8_t>()[i] = out.as<uint8_t>()[i] != 0;
    return out;
  }

  // Typed fields: which one holds the data depends on the type (see onnx.proto).
  int64_t count = 0;
  switch (dtype) {
    case DType::kFLOAT: count = t.float_data_size(); break;
    case DType::kINT64: count = t.int64_data_size(); break;
    case DType::kDOUBLE: count = t.double_data_size(); break;
    case DType::kUINT32: case DType::kUINT64: count = t.uint64_data_size(); break;
    default: count = t.int32_data_size(); break;
  }
  KILN_IMPORT_CHECK(count == numel, ErrorCode::kINVALID_VALUE, what, ": has ", count, " values, shape ",
                    ir::toString(dims), " needs ", numel);
  ir::Tensor out(dtype, std::move(dims));
  switch (dtype) {
    case DType::kFLOAT: copyField<float>(t.float_data(), out); break;
    case DType::kINT64: copyField<int64_t>(t.int64_data(), out); break;
    case DType::kINT32: copyField<int32_t>(t.int32_data(), out); break;
    case DType::kINT8: copyField<int8_t>(t.int32_data(), out); break;
    case DType::kDOUBLE: copyField<double>(t.double_data(), out); break;
    case DType::kINT16: copyField<int16_t>(t.int32_data(), out); break;
    case DType::kUINT16: copyField<uint16_t>(t.int32_data(), out); break;
    case DType::kUINT32: copyField<uint32_t>(t.uint64_data(), out); break;
    case DType::kUINT64: copyField<uint64_t>(t.uint64_data(), out); break;
    case DType::kFP8: case DType::kFP8E5M2: case DType::kFP8E4M3FNUZ: case DType::kFP8E5M2FNUZ:
      copyField<uint8_t>(t.int32_data(), out);  // the 8-bit patterns, one per int32
      break;
    case DType::kUINT8: copyField<uint8_t>(t.int32_data(), out); break;
    case DType::kHALF:  // float16 / bfloat16 bits are stored in the low 16 bits of int32_data
    case DType::kBF16: copyField<uint16_t>(t.int32_data(), out); break;
    case DType::kBOOL: {
      uint8_t* dst = out.mutableAs<uint8_t>();
      for (int i = 0; i < t.int32_data_size(); ++i) dst[i] = t.int32_data(i) != 0;
      break;
    }
    default: KILN_IMPORT_FAIL(ErrorCode::kINTERNAL_ERROR, what, ": unhandled data type");
  }
  return out;
}

}  // namespace kiln::onnx
