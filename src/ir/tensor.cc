#include "ir/tensor.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/host_buffer.h"

namespace kiln::ir {

bool isStatic(const Shape& s) {
  for (const Dim& d : s)
    if (!d.known()) return false;
  return true;
}

std::vector<int64_t> staticDims(const Shape& s) {
  std::vector<int64_t> out;
  out.reserve(s.size());
  for (const Dim& d : s) {
    KILN_CHECK(d.known(), "shape ", toString(s), " has an unknown dimension");
    out.push_back(d.value);
  }
  return out;
}

Shape shapeOf(const std::vector<int64_t>& dims) { return Shape(dims.begin(), dims.end()); }

std::string toString(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += s[i].known() ? std::to_string(s[i].value) : (s[i].symbol.empty() ? "?" : s[i].symbol);
  }
  return out + "]";
}

std::string toString(const std::vector<int64_t>& dims) { return toString(shapeOf(dims)); }

int64_t numElements(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Tensor::Tensor(DType dtype, std::vector<int64_t> dims, const void* data) : dtype_(dtype), dims_(std::move(dims)) {
  for (int64_t d : dims_) KILN_CHECK(d >= 0, "tensor dimension ", d, " is negative");
  owner_ = allocHostBuffer(bytes(), "a tensor");
  data_ = const_cast<void*>(owner_.get());
  owned_ = true;
  // Copied or zeroed, never both: a model's weights are hundreds of MB. The
  // padding up to the next 64 bytes reads as zeros, as it did when the whole
  // buffer was zero-filled first (a vector load past the last element sees 0).
  const std::size_t n = bytes(), padded = n ? (n + 63) / 64 * 64 : 64;
  auto* p = static_cast<uint8_t*>(data_);
  if (data && n)
    std::memcpy(p, data, n);
  else if (n)
    std::memset(p, 0, n);
  std::memset(p + n, 0, padded - n);
}

Tensor::Tensor(DType dtype, std::vector<int64_t> dims) : Tensor(dtype, std::move(dims), nullptr) {}

Tensor Tensor::borrow(DType dtype, std::vector<int64_t> dims, const void* data, std::shared_ptr<const void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  t.data_ = const_cast<void*>(data);
  t.owner_ = std::move(owner);
  t.owned_ = false;
  return t;
}

void* Tensor::mutableData() {
  KILN_CHECK(owned_, "tensor storage is read-only (borrowed from a plan)");
  return data_;
}

template <typename Fn>
static void forEachAsDouble(const Tensor& t, Fn&& fn) {
  int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::kFLOAT: for (int64_t i = 0; i < n; ++i) fn(i, t.as<float>()[i]); break;
    case DType::kHALF: for (int64_t i = 0; i < n; ++i) fn(i, halfToFloat(t.as<uint16_t>()[i])); break;
    case DType::kBF16: for (int64_t i = 0; i < n; ++i) fn(i, bf16ToFloat(t.as<uint16_t>()[i])); break;
    case DType::kINT8: for (int64_t i = 0; i < n; ++i) fn(i, t.as<int8_t>()[i]); break;
    case DType::kUINT8: case DType::kBOOL: for (int64_t i = 0; i < n; ++i) fn(i, t.as<uint8_t>()[i]); break;
    case DType::kINT32: for (int64_t i = 0; i < n; ++i) fn(i, t.as<int32_t>()[i]); break;
    case DType::kINT64: for (int64_t i = 0; i < n; ++i) fn(i, static_cast<double>(t.as<int64_t>()[i])); break;
    case DType::kDOUBLE: for (int64_t i = 0; i < n; ++i) fn(i, t.as<double>()[i]); break;
    case DType::kINT16: for (int64_t i = 0; i < n; ++i) fn(i, t.as<int16_t>()[i]); break;
    case DType::kUINT16: for (int64_t i = 0; i < n; ++i) fn(i, t.as<uint16_t>()[i]); break;
    case DType::kUINT32: for (int64_t i = 0; i < n; ++i) fn(i, t.as<uint32_t>()[i]); break;
    case DType::kUINT64: for (int64_t i = 0; i < n; ++i) fn(i, static_cast<double>(t.as<uint64_t>()[i])); break;
    case DType::kFP8: case DType::kFP8E5M2: case DType::kFP8E4M3FNUZ: case DType::kFP8E5M2FNUZ: {
      Fp8Format f = fp8Format(t.dtype());
      for (int64_t i = 0; i < n; ++i) fn(i, fp8ToFloat(t.as<uint8_t>()[i], f));
      break;
    }
    default: fail("cannot read values of a ", dataTypeName(t.dtype()), " tensor");
  }
}

std::vector<int64_t> Tensor::toInt64() const {
  std::vector<int64_t> out(static_cast<std::size_t>(numel()));
  if (dtype_ == DType::kINT64) {
    if (!out.empty()) std::memcpy(out.data(), data_, bytes());
    return out;
  }
  forEachAsDouble(*this, [&](int64_t i, double v) { out[i] = static_cast<int64_t>(v); });
  return out;
}

std::vector<float> Tensor::toFloat() const {
  std::vector<float> out(static_cast<std::size_t>(numel()));
  forEachAsDouble(*this, [&](int64_t i, double v) { out[i] = static_cast<float>(v); });
  return out;
}

Tensor Tensor::castTo(DType to) const {
  Tensor out(to, dims_);
  if (to == dtype_) {
    if (bytes()) std::memcpy(out.data_, data_, bytes());
    return out;
  }
  void* o = out.data_;
  forEachAsDouble(*this, [&](int64_t i, double v) {
    switch (to) {
      case DType::kFLOAT: static_cast<float*>(o)[i] = static_cast<float>(v); break;
      case DType::kHALF: static_cast<uint16_t*>(o)[i] = floatToHalf(static_cast<float>(v)); break;
      case DType::kBF16: static_cast<uint16_t*>(o)[i] = floatToBf16(static_cast<float>(v)); break;
      case DType::kINT8: static_cast<int8_t*>(o)[i] = static_cast<int8_t>(v); break;
      case DType::kUINT8: static_cast<uint8_t*>(o)[i] = static_cast<uint8_t>(v); break;
      case DType::kBOOL: static_cast<uint8_t*>(o)[i] = v != 0; break;
      case DType::kINT32: static_cast<int32_t*>(o)[i] = static_cast<int32_t>(v); break;
      case DType::kINT64: static_cast<int64_t*>(o)[i] = static_cast<int64_t>(v); break;
      case DType::kDOUBLE: static_cast<double*>(o)[i] = v; break;
      case DType::kINT16: static_cast<int16_t*>(o)[i] = static_cast<int16_t>(v); break;
      case DType::kUINT16: static_cast<uint16_t*>(o)[i] = static_cast<uint16_t>(v); break;
      case DType::kUINT32: static_cast<uint32_t*>(o)[i] = static_cast<uint32_t>(v); break;
      case DType::kUINT64: static_cast<uint64_t*>(o)[i] = static_cast<uint64_t>(v); break;
      case DType::kFP8: case DType::kFP8E5M2: case DType::kFP8E4M3FNUZ: case DType::kFP8E5M2FNUZ:
        static_cast<uint8_t*>(o)[i] = floatToFp8(static_cast<float>(v), fp8Format(to), true);
        break;
      default: fail("cannot cast to ", dataTypeName(to));
    }
  });
  return out;
}

Tensor Tensor::fromInt64(const std::vector<int64_t>& values, std::vector<int64_t> dims) {
  Tensor t(DType::kINT64, std::move(dims));
  KILN_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "fromInt64: ", values.size(), " values for ",
             t.numel(), " elements");
  if (!values.empty()) std::memcpy(t.data_, values.data(), t.bytes());
  return t;
}

Tensor Tensor::fromFloat(const std::vector<float>& values, std::vector<int64_t> dims) {
  Tensor t(DType::kFLOAT, std::move(dims));
  KILN_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "fromFloat: ", values.size(), " values for ",
             t.numel(), " elements");
  if (!values.empty()) std::memcpy(t.data_, values.data(), t.bytes());
  return t;
}

}  // namespace kiln::ir
