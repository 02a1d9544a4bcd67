// ir::Tensor: a dense constant (weights, folded values) with 64-byte-aligned
// storage; ir::Shape: dimensions that may be symbolic.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace kiln::ir {

//! One dimension: a known size, or unknown (-1) with an optional symbol name
//! ("width", "batch") kept from the model so dynamic shapes stay readable.
struct Dim {
  int64_t value = -1;
  std::string symbol;
  Dim() = default;
  Dim(int64_t v) : value(v) {}  // NOLINT: implicit on purpose, Shape{1, 3, 32, 32}
  explicit Dim(std::string sym) : value(-1), symbol(std::move(sym)) {}
  bool known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && (known() || symbol == o.symbol); }
};
using Shape = std::vector<Dim>;

bool isStatic(const Shape& s);
//! The sizes of a static shape; throws kiln::Error when a dimension is unknown.
std::vector<int64_t> staticDims(const Shape& s);
Shape shapeOf(const std::vector<int64_t>& dims);
std::string toString(const Shape& s);
std::string toString(const std::vector<int64_t>& dims);
int64_t numElements(const std::vector<int64_t>& dims);

class Tensor {
 public:
  Tensor() = default;
  //! Allocates zero-filled storage.
  Tensor(DType dtype, std::vector<int64_t> dims);
  //! Copies `bytes` bytes from `data` (zero-fills where `data` is null).
  Tensor(DType dtype, std::vector<int64_t> dims, const void* data);
  //! Points into memory owned by `owner` (a loaded plan); no copy.
  static Tensor borrow(DType dtype, std::vector<int64_t> dims, const void* data, std::shared_ptr<const void> owner);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& dims() const { return dims_; }
  int64_t numel() const { return numElements(dims_); }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * dtypeSize(dtype_); }
  const void* data() const { return data_; }
  //! Writable only for tensors that own their storage.
  void* mutableData();
  template <typename T>
  const T* as() const { return static_cast<const T*>(data_); }
  template <typename T>
  T* mutableAs() { return static_cast<T*>(mutableData()); }

  //! Values of an integer (int32/int64/uint8/int8/bool) tensor as int64.
  std::vector<int64_t> toInt64() const;
  //! Values of a float/half/bf16/integer tensor as float.
  std::vector<float> toFloat() const;
  //! A copy of this tensor converted to float32 (any numeric dtype).
  Tensor castTo(DType to) const;

  static Tensor fromInt64(const std::vector<int64_t>& values, std::vector<int64_t> dims);
  static Tensor fromFloat(const std::vector<float>& values, std::vector<int64_t> dims);

 private:
  DType dtype_ = DType::kFLOAT;
  std::vector<int64_t> dims_;
  std::shared_ptr<const void> owner_;
  void* data_ = nullptr;
  bool owned_ = false;
};

}  // namespace kiln::ir
