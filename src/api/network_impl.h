// INetworkDefinition over an ir::Graph. Layers added through the API and
// nodes added by the ONNX parser both live in the graph as ONNX-named nodes;
// ILayer objects are thin views created on demand.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "kiln/network.h"

namespace kiln::api {

class NetworkImpl;

class TensorImpl final : public ITensor {
 public:
  TensorImpl(NetworkImpl* net, ir::Value* value) : net_(net), value_(value) {}
  void setName(const char* name) noexcept override;
  const char* getName() const noexcept override { return value_->name.c_str(); }
  Dims getDimensions() const noexcept override;
  void setDimensions(Dims dims) noexcept override;
  DataType getType() const noexcept override { return value_->dtype; }
  void setType(DataType type) noexcept override { value_->dtype = type; }
  bool isNetworkInput() const noexcept override;
  bool isNetworkOutput() const noexcept override;
  ir::Value* value() const { return value_; }

 private:
  NetworkImpl* net_;
  ir::Value* value_;
};

//! Common state of every layer view: its node (null for constants), the
//! tensors the user sees as its inputs and outputs.
class LayerState {
 public:
  virtual ~LayerState() = default;
  ILayer* asLayer() { return layer_; }
  ir::Node* node() const { return node_; }

  // Plain state, set by the layer factories in layers.cc.
  NetworkImpl* net_ = nullptr;
  ILayer* layer_ = nullptr;
  ir::Node* node_ = nullptr;
  LayerType type_ = LayerType::kONNX_NODE;
  std::string name_;
  std::vector<ir::Value*> in_, out_;
};

class NetworkImpl final : public INetworkDefinition {
 public:
  explicit NetworkImpl(ILogger* logger) : logger_(logger) {}

  ir::Graph& graph() { return graph_; }
  ILogger* logger() const { return logger_; }
  ITensor* tensorFor(ir::Value* v) const;
  //! Re-infers every node's shapes (for getDimensions); logs the first failure.
  void refreshShapes() const;
  //! Registers a layer view made by a layer factory (layers.cc).
  template <typename L>
  L* adopt(std::unique_ptr<L> layer) {
    L* raw = layer.get();
    raw->net_ = this;
    raw->layer_ = raw;
    if (raw->node_) layerOfNode_[raw->node_] = raw;
    layers_.push_back(std::move(layer));
    return raw;
  }
  //! A name for the next unnamed layer, TensorRT style: "(Unnamed Layer* 3) [Convolution]".
  std::string defaultLayerName(const char* kind) const;
  //! Logs an API misuse at kERROR.
  void error(const std::string& msg) const;

  ITensor* addInput(const char* name, DataType type, Dims dimensions) noexcept override;
  void markOutput(ITensor& tensor) noexcept override;
  void unmarkOutput(ITensor& tensor) noexcept override;
  IConvolutionLayer* addConvolutionNd(ITensor& input, int64_t nbOutputMaps, Dims kernelSize, Weights kernelWeights,
                                      Weights biasWeights) noexcept override;
  IActivationLayer* addActivation(ITensor& input, ActivationType type) noexcept override;
  IPoolingLayer* addPoolingNd(ITensor& input, PoolingType type, Dims windowSize) noexcept override;
  IElementWiseLayer* addElementWise(ITensor& input1, ITensor& input2, ElementWiseOperation op) noexcept override;
  IUnaryLayer* addUnary(ITensor& input, UnaryOperation operation) noexcept override;
  IMatrixMultiplyLayer* addMatrixMultiply(ITensor& input0, MatrixOperation op0, ITensor& input1,
                                          MatrixOperation op1) noexcept override;
  IShuffleLayer* addShuffle(ITensor& input) noexcept override;
  IConcatenationLayer* addConcatenation(ITensor* const* inputs, int32_t nbInputs) noexcept override;
  ISoftMaxLayer* addSoftMax(ITensor& input) noexcept override;
  IReduceLayer* addReduce(ITensor& input, ReduceOperation operation, uint32_t reduceAxes,
                          bool keepDimensions) noexcept override;
  IConstantLayer* addConstant(Dims dimensions, Weights weights) noexcept override;
  IPluginV3Layer* addPluginV3(ITensor* const* inputs, int32_t nbInputs, ITensor* const* shapeInputs,
                              int32_t nbShapeInputs, IPluginV3& plugin) noexcept override;

  int32_t getNbLayers() const noexcept override;
  ILayer* getLayer(int32_t index) const noexcept override;
  int32_t getNbInputs() const noexcept override { return static_cast<int32_t>(graph_.inputs.size()); }
  ITensor* getInput(int32_t index) const noexcept override;
  int32_t getNbOutputs() const noexcept override { return static_cast<int32_t>(graph_.outputs.size()); }
  ITensor* getOutput(int32_t index) const noexcept override;
  void setName(const char* name) noexcept override { graph_.name = name ? name : ""; }
  const char* getName() const noexcept override { return graph_.name.c_str(); }

 private:
  //! Wraps nodes the parser added, so getLayer sees them in graph order.
  void syncLayers() const;

  ILogger* logger_;
  ir::Graph graph_;
  mutable std::unordered_map<const ir::Value*, std::unique_ptr<TensorImpl>> tensors_;
  mutable std::vector<std::unique_ptr<LayerState>> layers_;
  mutable std::unordered_map<const ir::Node*, LayerState*> layerOfNode_;
};

//! The graph behind a network made by this library (the parser fills it).
ir::Graph& graphOf(INetworkDefinition& network);
ILogger* loggerOf(INetworkDefinition& network);

//! Weights -> an ir::Tensor of `dims` (copied); throws when the count is wrong.
ir::Tensor tensorFromWeights(const Weights& w, const std::vector<int64_t>& dims, const char* what);

}  // namespace kiln::api
