// Helpers for the data-movement op tests: build a one-node graph, infer it
// with its schema, run it with the CPU reference kernel, and compare with
// values the test computes itself.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"
#include "core/error.h"
#include "ir/op_schema.h"

namespace kiln::ir {
// gtest prints shapes as [2,N,?] instead of raw bytes.
inline void PrintTo(const Dim& d, std::ostream* os) { *os << toString(Shape{d}); }
}  // namespace kiln::ir

namespace kiln::test {

template <typename T>
constexpr DType dtypeOf() {
  if constexpr (std::is_same_v<T, float>) return DType::kFLOAT;
  else if constexpr (std::is_same_v<T, int32_t>) return DType::kINT32;
  else if constexpr (std::is_same_v<T, int64_t>) return DType::kINT64;
  else if constexpr (std::is_same_v<T, int8_t>) return DType::kINT8;
  else if constexpr (std::is_same_v<T, uint16_t>) return DType::kHALF;  // raw 2-byte elements
  else return DType::kUINT8;
}

template <typename T>
ir::Tensor makeTensor(std::vector<int64_t> dims, const std::vector<T>& values) {
  ir::Tensor t(dtypeOf<T>(), std::move(dims));
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.numel()) << "makeTensor: wrong number of values";
  if (!values.empty()) std::memcpy(t.mutableData(), values.data(), t.bytes());
  return t;
}

//! A tensor holding start, start + 1, ... (wrapping for small types).
template <typename T>
ir::Tensor iota(std::vector<int64_t> dims, int64_t start = 0) {
  ir::Tensor t(dtypeOf<T>(), std::move(dims));
  T* p = t.mutableAs<T>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(start + i);
  return t;
}

template <typename T>
std::vector<T> valuesOf(const ir::Tensor& t) {
  const T* p = t.as<T>();
  return std::vector<T>(p, p + t.numel());
}

inline ir::Tensor ints(const std::vector<int64_t>& values) {
  return ir::Tensor::fromInt64(values, {static_cast<int64_t>(values.size())});
}
inline ir::Tensor int32s(const std::vector<int32_t>& values) {
  return makeTensor<int32_t>({static_cast<int64_t>(values.size())}, values);
}
template <typename T>
ir::Tensor scalar(T v) {
  return makeTensor<T>({}, {v});
}

inline std::vector<int64_t> stridesOf(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size());
  int64_t acc = 1;
  for (std::size_t k = dims.size(); k-- > 0;) {
    s[k] = acc;
    acc *= dims[k];
  }
  return s;
}
inline std::vector<int64_t> unravel(int64_t i, const std::vector<int64_t>& dims) {
  std::vector<int64_t> idx(dims.size());
  for (std::size_t k = dims.size(); k-- > 0;) {
    idx[k] = i % dims[k];
    i /= dims[k];
  }
  return idx;
}
inline int64_t ravel(const std::vector<int64_t>& idx, const std::vector<int64_t>& dims) {
  int64_t off = 0;
  for (std::size_t k = 0; k < dims.size(); ++k) off = off * dims[k] + idx[k];
  return off;
}

//! Same dtype, dims and bytes; reports the first differing element.
inline void expectSameTensor(const ir::Tensor& actual, const ir::Tensor& expected) {
  ASSERT_EQ(actual.dtype(), expected.dtype());
  ASSERT_EQ(actual.dims(), expected.dims()) << ir::toString(actual.dims()) << " vs " << ir::toString(expected.dims());
  std::size_t es = static_cast<std::size_t>(dtypeSize(actual.dtype()));
  auto* a = static_cast<const unsigned char*>(actual.data());
  auto* e = static_cast<const unsigned char*>(expected.data());
  for (int64_t i = 0; i < actual.numel(); ++i)
    if (std::memcmp(a + i * es, e + i * es, es) != 0) {
      ADD_FAILURE() << "element " << i << " (index " << ir::toString(unravel(i, actual.dims())) << ") differs";
      return;
    }
}

//! Expects fn() to throw kiln::Error whose message names the node and holds `part`.
template <typename Fn>
void expectNodeError(Fn&& fn, const std::string& nodeName, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "expected a kiln::Error containing '" << part << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("\"" + nodeName + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  }
}

//! One node in its own graph. Inputs are runtime inputs (with data for run()),
//! constants (visible to inference), symbolic (inference only) or absent.
class OpTest {
 public:
  explicit OpTest(std::string op, std::string name = "n") : op_(std::move(op)), name_(std::move(name)) {}

  OpTest& input(const ir::Tensor& t) {
    ir::Value* v = graph_.addValue("in", t.dtype(), ir::shapeOf(t.dims()));
    graph_.inputs.push_back(v);
    inputs_.push_back(v);
    data_.push_back(std::make_shared<ir::Tensor>(t));
    return *this;
  }
  OpTest& constant(const ir::Tensor& t) {
    inputs_.push_back(graph_.addConstant("const", t));
    data_.push_back(std::make_shared<ir::Tensor>(t));
    return *this;
  }
  OpTest& symbolic(DType dtype, ir::Shape shape) {
    inputs_.push_back(graph_.addValue("sym", dtype, std::move(shape)));
    data_.push_back(nullptr);
    return *this;
  }
  OpTest& absent() {
    inputs_.push_back(nullptr);
    data_.push_back(nullptr);
    return *this;
  }
  template <typename V>
  OpTest& attr(const std::string& name, V value) {
    attrs_[name] = ir::Attribute(std::move(value));
    return *this;
  }
  OpTest& outputs(int n) {
    numOutputs_ = n;
    return *this;
  }

  //! Builds the node (once) and runs its schema's inference.
  ir::Node& infer() {
    if (!node_) {
      std::vector<ir::Value*> outs;
      for (int i = 0; i < numOutputs_; ++i) outs.push_back(graph_.addValue("out"));
      node_ = graph_.addNode(op_, name_, inputs_, outs);
      node_->attrs = attrs_;
    }
    ir::inferNode(*node_);
    return *node_;
  }
  const ir::Value& out(int i = 0) { return *infer().outputs[i]; }
  ir::Shape shape(int i = 0) { return out(i).shape; }

  //! Infers, then evaluates with the op's reference tactic.
  std::vector<ir::Tensor> run(ThreadPool* pool = nullptr) {
    ir::Node& n = infer();
    std::vector<const ir::Tensor*> feeds;
    for (auto& d : data_) feeds.push_back(d.get());
    return cpu::evaluateNode(n, feeds, pool, op_ + ".ref");
  }
  ir::Tensor run1(ThreadPool* pool = nullptr) { return run(pool).at(0); }

 private:
  std::string op_, name_;
  ir::Graph graph_;
  std::vector<ir::Value*> inputs_;
  std::vector<std::shared_ptr<ir::Tensor>> data_;
  std::map<std::string, ir::Attribute> attrs_;
  int numOutputs_ = 1;
  ir::Node* node_ = nullptr;
};

inline ir::Shape sym(std::initializer_list<ir::Dim> dims) { return ir::Shape(dims); }
inline ir::Dim named(const char* s) { return ir::Dim(std::string(s)); }

//! Reference transpose: out[i] = in[perm-mapped index], any element size.
inline ir::Tensor refTranspose(const ir::Tensor& in, const std::vector<int64_t>& perm) {
  std::vector<int64_t> outDims;
  for (int64_t p : perm) outDims.push_back(in.dims()[p]);
  ir::Tensor out(in.dtype(), outDims);
  std::size_t es = static_cast<std::size_t>(dtypeSize(in.dtype()));
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> o = unravel(i, outDims), src(perm.size());
    for (std::size_t k = 0; k < perm.size(); ++k) src[perm[k]] = o[k];
    std::memcpy(static_cast<char*>(out.mutableData()) + i * es,
                static_cast<const char*>(in.data()) + ravel(src, in.dims()) * es, es);
  }
  return out;
}

}  // namespace kiln::test
