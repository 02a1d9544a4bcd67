// The typed layer views of the layer API. Each one edits its node's
// attributes (or, for Shuffle and MatrixMultiply, the small node chain it owns)
// so that the graph always says what the layer says.
#pragma once
#include <algorithm>

#include "api/network_impl.h"
#include "builder/device_precision.h"
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

  // Precision constraints live on the node (builder/device_precision.h reads them).
  void setPrecision(DataType t) noexcept override {
    if (node_) node_->attrs[builder::kPrecisionAttr] = static_cast<int64_t>(t);
  }
  DataType getPrecision() const noexcept override {
    return precisionIsSet() ? static_cast<DataType>(node_->i(builder::kPrecisionAttr, 0)) : DataType::kFLOAT;
  }
  bool precisionIsSet() const noexcept override { return node_ && node_->has(builder::kPrecisionAttr); }
  void resetPrecision() noexcept override {
    if (node_) node_->attrs.erase(builder::kPrecisionAttr);
  }
  void setOutputType(int32_t i, DataType t) noexcept override {
    if (!node_ || i < 0 || i >= getNbOutputs()) return;
    std::vector<int64_t> types = node_->ints(builder::kOutputTypesAttr);
    types.resize(std::max<std::size_t>(types.size(), static_cast<std::size_t>(i) + 1), -1);
    types[static_cast<std::size_t>(i)] = static_cast<int64_t>(t);
    node_->attrs[builder::kOutputTypesAttr] = types;
  }
  DataType getOutputType(int32_t i) const noexcept override {
    if (outputTypeIsSet(i))
      return static_cast<DataType>(node_->ints(builder::kOutputTypesAttr)[static_cast<std::size_t>(i)]);
    return i >= 0 && i < getNbOutputs() && out_[i] ? out_[i]->dtype : DataType::kFLOAT;
  }
  bool outputTypeIsSet(int32_t i) const noexcept override {
    if (!node_ || i < 0) return false;
    std::vector<int64_t> types = node_->ints(builder::kOutputTypesAttr);
    return static_cast<std::size_t>(i) < types.size() && types[static_cast<std::size_t>(i)] >= 0;
  }
  void resetOutputType(int32_t i) noexcept override {
    if (!outputTypeIsSet(i)) return;
    std::vector<int64_t> types = node_->ints(builder::kOutputTypesAttr);
    types[static_cast<std::size_t>(i)] = -1;
    while (!types.empty() && types.back() < 0) types.pop_back();
    if (types.empty()) node_->attrs.erase(builder::kOutputTypesAttr);
    else node_->attrs[builder::kOutputTypesAttr] = types;
  }
};

//! Layer type a parsed ONNX op shows as (kONNX_NODE when none fits).
LayerType layerTypeOfOp(const std::string& op);

//! Dims <-> int64 vectors.
std::vector<int64_t> toVector(const Dims& d);
Dims toDims(const std::vector<int64_t>& v);

}  // namespace kiln::api
