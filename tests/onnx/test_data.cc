#include "test_data.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include <onnx/onnx_pb.h>

namespace kiln_conformance {

using TP = ::onnx::TensorProto;
using kiln::DataType;

int64_t HostTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::string onnxTypeName(int32_t t) {
  // The newer types by number: the system's onnx.proto may predate them.
  static const char* kNewer[] = {"float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4",
                                 "float4e2m1"};
  if (t >= 17 && t <= 23) return kNewer[t - 17];
  if (!::onnx::TensorProto_DataType_IsValid(t)) return "type" + std::to_string(t);
  std::string s = ::onnx::TensorProto_DataType_Name(static_cast<TP::DataType>(t));
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::optional<DataType> kilnTypeOf(int32_t t) {
  switch (t) {
    case TP::FLOAT: return DataType::kFLOAT;
    case TP::DOUBLE: return DataType::kDOUBLE;
    case TP::INT16: return DataType::kINT16;
    case TP::UINT16: return DataType::kUINT16;
    case TP::UINT32: return DataType::kUINT32;
    case TP::UINT64: return DataType::kUINT64;
    case 17: return DataType::kFP8;  // float8e4m3fn, by number (see onnxTypeName)
    case 18: return DataType::kFP8E4M3FNUZ;
    case 19: return DataType::kFP8E5M2;
    case 20: return DataType::kFP8E5M2FNUZ;
    case TP::FLOAT16: return DataType::kHALF;
    case TP::BFLOAT16: return DataType::kBF16;
    case TP::INT8: return DataType::kINT8;
    case TP::UINT8: return DataType::kUINT8;
    case TP::INT32: return DataType::kINT32;
    case TP::INT64: return DataType::kINT64;
    case TP::BOOL: return DataType::kBOOL;
    default: return std::nullopt;
  }
}

std::string dimsString(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

namespace {

int32_t elemSize(DataType t) {
  switch (t) {
    case DataType::kFLOAT:
    case DataType::kINT32:
    case DataType::kUINT32: return 4;
    case DataType::kHALF:
    case DataType::kBF16:
    case DataType::kINT16:
    case DataType::kUINT16: return 2;
    case DataType::kINT64:
    case DataType::kDOUBLE:
    case DataType::kUINT64: return 8;
    default: return 1;
  }
}

// IEEE half -> float, written out here (not Kiln's) so the oracle is independent.
double halfValue(uint16_t h) {
  int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exp == 0) return sign * std::ldexp(mant, -24);
  if (exp == 31) return mant ? NAN : sign * INFINITY;
  return sign * std::ldexp(mant + 1024, exp - 25);
}

double bf16Value(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// The float8 formats, decoded from their definitions (ONNX's Cast table):
// sign, exponent bits, mantissa bits and bias; FN: no infinity, S.1111.111 is
// NaN; UZ: no negative zero, 0x80 is the only NaN.
double fp8Value(uint8_t v, int expBits, int bias, bool fn, bool uz) {
  const int mantBits = 7 - expBits;
  const int exp = (v >> mantBits) & ((1 << expBits) - 1), mant = v & ((1 << mantBits) - 1);
  const double sign = (v & 0x80) ? -1.0 : 1.0;
  if (uz && v == 0x80) return NAN;
  if (!uz && fn && (v & 0x7f) == 0x7f) return NAN;
  if (!uz && !fn && exp == (1 << expBits) - 1) return mant ? NAN : sign * INFINITY;
  if (exp == 0) return sign * std::ldexp(mant, 1 - bias - mantBits);
  return sign * std::ldexp(mant + (1 << mantBits), exp - bias - mantBits);
}

template <typename T>
void put(std::vector<uint8_t>& bytes, int64_t i, T v) {
  std::memcpy(bytes.data() + i * sizeof(T), &v, sizeof(T));
}

//! Element i of a tensor in Kiln layout, as a double.
double valueAt(DataType t, const void* data, int64_t i) {
  auto p = static_cast<const uint8_t*>(data);
  switch (t) {
    case DataType::kFLOAT: { float v; std::memcpy(&v, p + 4 * i, 4); return v; }
    case DataType::kHALF: { uint16_t v; std::memcpy(&v, p + 2 * i, 2); return halfValue(v); }
    case DataType::kBF16: { uint16_t v; std::memcpy(&v, p + 2 * i, 2); return bf16Value(v); }
    case DataType::kINT32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); return v; }
    case DataType::kINT64: { int64_t v; std::memcpy(&v, p + 8 * i, 8); return static_cast<double>(v); }
    case DataType::kINT8: return static_cast<int8_t>(p[i]);
    case DataType::kDOUBLE: { double v; std::memcpy(&v, p + 8 * i, 8); return v; }
    case DataType::kINT16: { int16_t v; std::memcpy(&v, p + 2 * i, 2); return v; }
    case DataType::kUINT16: { uint16_t v; std::memcpy(&v, p + 2 * i, 2); return v; }
    case DataType::kUINT32: { uint32_t v; std::memcpy(&v, p + 4 * i, 4); return v; }
    case DataType::kUINT64: { uint64_t v; std::memcpy(&v, p + 8 * i, 8); return static_cast<double>(v); }
    case DataType::kFP8: return fp8Value(p[i], 4, 7, true, false);
    case DataType::kFP8E4M3FNUZ: return fp8Value(p[i], 4, 8, true, true);
    case DataType::kFP8E5M2: return fp8Value(p[i], 5, 15, false, false);
    case DataType::kFP8E5M2FNUZ: return fp8Value(p[i], 5, 16, true, true);
    default: return p[i];  // uint8, bool
  }
}

bool isFloatType(DataType t) {
  switch (t) {
    case DataType::kFLOAT: case DataType::kHALF: case DataType::kBF16: case DataType::kDOUBLE: case DataType::kFP8:
    case DataType::kFP8E5M2: case DataType::kFP8E4M3FNUZ: case DataType::kFP8E5M2FNUZ: return true;
    default: return false;
  }
}

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(7);
  os << v;
  return os.str();
}

//! Multi-index of flat element `i` in `dims`, as "[1,0,2]".
std::string indexOf(int64_t i, const std::vector<int64_t>& dims) {
  std::vector<int64_t> idx(dims.size());
  for (std::size_t k = dims.size(); k-- > 0;) {
    idx[k] = dims[k] ? i % dims[k] : 0;
    i = dims[k] ? i / dims[k] : 0;
  }
  return dimsString(idx);
}

}  // namespace

HostTensor readTensorFile(const std::string& path, int32_t declaredType) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TP t;
  if (!t.ParseFromString(bytes)) throw std::runtime_error("not a TensorProto: " + path);
  if (declaredType == TP::BFLOAT16 && t.data_type() == TP::UINT16) t.set_data_type(TP::BFLOAT16);
  HostTensor out;
  out.onnxType = t.data_type();
  out.name = t.name();
  out.dims.assign(t.dims().begin(), t.dims().end());
  auto kt = kilnTypeOf(t.data_type());
  if (!kt) throw std::runtime_error("test data of type " + onnxTypeName(t.data_type()) + " (Kiln has no such type)");
  if (t.data_location() == TP::EXTERNAL) throw std::runtime_error("test data with external data: " + path);
  out.kilnType = *kt;
  const int64_t n = out.numel();
  const int32_t size = elemSize(out.kilnType);
  out.bytes.assign(static_cast<std::size_t>(n * size), 0);

  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (static_cast<int64_t>(raw.size()) != n * size)
      throw std::runtime_error("raw_data size does not match the shape in " + path);
    if (n) {
      std::memcpy(out.bytes.data(), raw.data(), raw.size());
      if (out.kilnType == DataType::kBOOL)
        for (auto& b : out.bytes) b = b != 0;
    }
    return out;
  }

  auto need = [&](int64_t have) {
    if (have != n) throw std::runtime_error("value count does not match the shape in " + path);
  };
  switch (t.data_type()) {
    case TP::FLOAT: need(t.float_data_size()); for (int64_t i = 0; i < n; ++i) put(out.bytes, i, t.float_data(i)); break;
    case TP::DOUBLE: need(t.double_data_size()); for (int64_t i = 0; i < n; ++i) put(out.bytes, i, t.double_data(i)); break;
    case TP::UINT32:
      need(t.uint64_data_size());
      for (int64_t i = 0; i < n; ++i) put(out.bytes, i, static_cast<uint32_t>(t.uint64_data(i)));
      break;
    case TP::UINT64: need(t.uint64_data_size()); for (int64_t i = 0; i < n; ++i) put(out.bytes, i, t.uint64_data(i)); break;
    case TP::INT16:
    case TP::UINT16:
      need(t.int32_data_size());
      for (int64_t i = 0; i < n; ++i) put(out.bytes, i, static_cast<uint16_t>(t.int32_data(i)));
      break;
    case TP::INT64: need(t.int64_data_size()); for (int64_t i = 0; i < n; ++i) put(out.bytes, i, t.int64_data(i)); break;
    case TP::INT32: need(t.int32_data_size()); for (int64_t i = 0; i < n; ++i) put(out.bytes, i, t.int32_data(i)); break;
    case TP::FLOAT16:
    case TP::BFLOAT16:  // 16-bit patterns in the low bits of int32_data
      need(t.int32_data_size());
      for (int64_t i = 0; i < n; ++i) put(out.bytes, i, static_cast<uint16_t>(t.int32_data(i)));
      break;
    default:  // int8, uint8, bool, float8 (bit patterns)
      need(t.int32_data_size());
      for (int64_t i = 0; i < n; ++i)
        out.bytes[i] = out.kilnType == DataType::kBOOL ? t.int32_data(i) != 0 : static_cast<uint8_t>(t.int32_data(i));
      break;
  }
  return out;
}

std::string compareOutput(const std::string& name, DataType kilnType, const std::vector<int64_t>& dims,
                          const void* data, const HostTensor& expected, Tolerance tol) {
  const std::string what = "output '" + name + "'";
  if (kilnType != expected.kilnType)
    return what + ": type " + kiln::dataTypeName(kilnType) + ", expected " + onnxTypeName(expected.onnxType);
  if (dims != expected.dims) return what + ": shape " + dimsString(dims) + ", expected " + dimsString(expected.dims);
  const int64_t n = expected.numel();
  const bool fp = isFloatType(kilnType);
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < n; ++i) {
    double got = valueAt(kilnType, data, i), want = valueAt(kilnType, expected.bytes.data(), i);
    bool ok;
    if (!fp) ok = got == want;
    else if (std::isnan(want) || std::isnan(got)) ok = std::isnan(want) && std::isnan(got);
    else if (std::isinf(want) || std::isinf(got)) ok = got == want;
    else ok = std::fabs(got - want) <= tol.atol + tol.rtol * std::fabs(want);
    if (!ok && bad++ == 0) first = i;
  }
  if (!bad) return "";
  return what + ": " + std::to_string(bad) + " of " + std::to_string(n) + " values differ, first at " +
         indexOf(first, dims) + ": " + fmt(valueAt(kilnType, data, first)) + " vs expected " +
         fmt(valueAt(kilnType, expected.bytes.data(), first));
}

}  // namespace kiln_conformance
