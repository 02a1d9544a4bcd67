// The typed layer views of the layer API. Each one edits its node's
// attributes (or, for Shuffle and MatrixMultiply, the small node chain it owns)
// so that the graph always says what the layer says.
#pragma once
#include "api/network_impl.h"
#include "ir/op_schema.h"

namespace kiln::api {

template <class I>
class LayerBase : public LayerState, public I {
 public:
  LayerType getType() const noexcept override { return type_; }
  void setName(const char* name) noexcept override {
    name_ = name ? name : "";
    if (node_) node_->name = name_;
  }
  const char* getName() const noexcept override { return name_.c_str(); }
  int32_t getNbInputs() const noexcept override { return static_cast<int32_t>(in_.size()); }
  ITensor* getInput(int32_t i) const noexcept override {
    return i >= 0 && i < getNbInputs() && in_[i] ? net_->tensorFor(in_[i]) : nullptr;
  }
  int32_t getNbOutputs() const noexcept override { return static_cast<int32_t>(out_.size()); }
  ITensor* getOutput(int32_t i) const noexcept override {
    return i >= 0 && i < getNbOutputs() ? net_->tensorFor(out_[i]) : nullptr;
  }
  const char* getOpType() const noexcept override { return node_ ? node_->op.c_str() : "Constant"; }
};

//! Layer type a parsed ONNX op shows as (kONNX_NODE when none fits).
LayerType layerTypeOfOp(const std::string& op);

//! Dims <-> int64 vectors.
std::vector<int64_t> toVector(const Dims& d);
Dims toDims(const std::vector<int64_t>& v);

}  // namespace kiln::api
