#include <algorithm>
#include <cstring>

#include "api/api_util.h"
#include "api/layers.h"

namespace kiln::api {

std::vector<int64_t> toVector(const Dims& d) {
  std::vector<int64_t> v;
  for (int i = 0; i < std::clamp(d.nbDims, 0, Dims::MAX_DIMS); ++i) v.push_back(d.d[i]);
  return v;
}

Dims toDims(const std::vector<int64_t>& v) {
  Dims d;
  d.nbDims = static_cast<int32_t>(std::min<std::size_t>(v.size(), Dims::MAX_DIMS));
  for (int i = 0; i < d.nbDims; ++i) d.d[i] = v[i];
  return d;
}

ir::Tensor tensorFromWeights(const Weights& w, const std::vector<int64_t>& dims, const char* what) {
  int64_t n = ir::numElements(dims);
  KILN_CHECK(w.count == n, what, ": weights have ", w.count, " values, expected ", n, " for shape ",
             ir::toString(dims));
  KILN_CHECK(n == 0 || w.values, what, ": weights pointer is null");
  return ir::Tensor(w.type, dims, w.values);
}

LayerType layerTypeOfOp(const std::string& op) {
  static const std::pair<const char*, LayerType> table[] = {
      {"Conv", LayerType::kCONVOLUTION},       {"ConvTranspose", LayerType::kDECONVOLUTION},
      {"Relu", LayerType::kACTIVATION},        {"Sigmoid", LayerType::kACTIVATION},
      {"Tanh", LayerType::kACTIVATION},        {"LeakyRelu", LayerType::kACTIVATION},
      {"Clip", LayerType::kACTIVATION},        {"HardSigmoid", LayerType::kACTIVATION},
      {"Gelu", LayerType::kACTIVATION},        {"Elu", LayerType::kACTIVATION},
      {"MaxPool", LayerType::kPOOLING},        {"AveragePool", LayerType::kPOOLING},
      {"GlobalAveragePool", LayerType::kPOOLING}, {"GlobalMaxPool", LayerType::kPOOLING},
      {"Softmax", LayerType::kSOFTMAX},        {"Concat", LayerType::kCONCATENATION},
      {"Add", LayerType::kELEMENTWISE},        {"Sub", LayerType::kELEMENTWISE},
      {"Mul", LayerType::kELEMENTWISE},        {"Div", LayerType::kELEMENTWISE},
      {"Pow", LayerType::kELEMENTWISE},        {"Max", LayerType::kELEMENTWISE},
      {"Min", LayerType::kELEMENTWISE},        {"Exp", LayerType::kUNARY},
      {"Log", LayerType::kUNARY},              {"Sqrt", LayerType::kUNARY},
      {"Abs", LayerType::kUNARY},              {"Neg", LayerType::kUNARY},
      {"Erf", LayerType::kUNARY},              {"Reciprocal", LayerType::kUNARY},
      {"Pad", LayerType::kPADDING},            {"Reshape", LayerType::kSHUFFLE},
      {"Transpose", LayerType::kSHUFFLE},      {"Flatten", LayerType::kSHUFFLE},
      {"Squeeze", LayerType::kSHUFFLE},        {"Unsqueeze", LayerType::kSHUFFLE},
      {"ReduceMean", LayerType::kREDUCE},      {"ReduceSum", LayerType::kREDUCE},
      {"ReduceMax", LayerType::kREDUCE},       {"ReduceMin", LayerType::kREDUCE},
      {"Gather", LayerType::kGATHER},          {"MatMul", LayerType::kMATRIX_MULTIPLY},
      {"Gemm", LayerType::kMATRIX_MULTIPLY},   {"Identity", LayerType::kIDENTITY},
      {"Slice", LayerType::kSLICE},            {"Shape", LayerType::kSHAPE},
      {"Resize", LayerType::kRESIZE},          {"Where", LayerType::kSELECT},
      {"ConstantOfShape", LayerType::kFILL},   {"LayerNormalization", LayerType::kNORMALIZATION},
      {"BatchNormalization", LayerType::kSCALE}, {"Cast", LayerType::kCAST},
      {"KilnPlugin", LayerType::kPLUGIN_V3},
  };
  for (auto& [name, type] : table)
    if (op == name) return type;
  return LayerType::kONNX_NODE;
}

void TensorImpl::setName(const char* name) noexcept {
  if (!name || !*name) return;
  if (net_->graph().findValue(name) && value_->name != name) {
    net_->error(strCat("ITensor::setName: a tensor named \"", name, "\" already exists"));
    return;
  }
  net_->graph().rename(value_, name);
}

Dims TensorImpl::getDimensions() const noexcept {
  net_->refreshShapes();
  Dims d;
  d.nbDims = static_cast<int32_t>(std::min<std::size_t>(value_->shape.size(), Dims::MAX_DIMS));
  for (int i = 0; i < d.nbDims; ++i) d.d[i] = value_->shape[i].value;
  return d;
}

void TensorImpl::setDimensions(Dims dims) noexcept {
  if (!isNetworkInput()) {
    net_->error(strCat("ITensor::setDimensions: \"", value_->name, "\" is not a network input"));
    return;
  }
  ir::Shape s;
  for (int64_t v : toVector(dims)) s.push_back(v >= 0 ? ir::Dim(v) : ir::Dim());
  value_->shape = std::move(s);
}

bool TensorImpl::isNetworkInput() const noexcept { return net_->graph().isGraphInput(value_); }
bool TensorImpl::isNetworkOutput() const noexcept { return net_->graph().isGraphOutput(value_); }

ITensor* NetworkImpl::tensorFor(ir::Value* v) const {
  if (!v) return nullptr;
  auto& slot = tensors_[v];
  if (!slot) slot = std::make_unique<TensorImpl>(const_cast<NetworkImpl*>(this), v);
  return slot.get();
}

void NetworkImpl::refreshShapes() const {
  try {
    auto& g = const_cast<ir::Graph&>(graph_);
    for (auto& n : g.nodes()) ir::inferNode(*n);
  } catch (const std::exception& e) {
    error(strCat("shape inference: ", e.what()));
  }
}

std::string NetworkImpl::defaultLayerName(const char* kind) const {
  return strCat("(Unnamed Layer* ", layers_.size(), ") [", kind, "]");
}

void NetworkImpl::error(const std::string& msg) const { logMessage(logger_, ILogger::Severity::kERROR, msg); }

ITensor* NetworkImpl::addInput(const char* name, DataType type, Dims dimensions) noexcept {
  return guarded(logger_, "addInput", static_cast<ITensor*>(nullptr), [&]() -> ITensor* {
    KILN_CHECK(name && *name, "an input needs a name");
    KILN_CHECK(!graph_.findValue(name), "a tensor named \"", name, "\" already exists");
    KILN_CHECK(dimensions.nbDims >= 0 && dimensions.nbDims <= Dims::MAX_DIMS, "input \"", name, "\" has rank ",
               dimensions.nbDims);
    ir::Shape shape;
    for (int64_t v : toVector(dimensions)) {
      KILN_CHECK(v >= -1, "input \"", name, "\" has dimension ", v, " (use -1 for a dynamic dimension)");
      shape.push_back(v >= 0 ? ir::Dim(v) : ir::Dim());
    }
    ir::Value* v = graph_.addValue(name, type, shape);
    graph_.inputs.push_back(v);
    return tensorFor(v);
  });
}

void NetworkImpl::markOutput(ITensor& tensor) noexcept {
  ir::Value* v = static_cast<TensorImpl&>(tensor).value();
  if (!graph_.isGraphOutput(v)) graph_.outputs.push_back(v);
}

void NetworkImpl::unmarkOutput(ITensor& tensor) noexcept {
  ir::Value* v = static_cast<TensorImpl&>(tensor).value();
  graph_.outputs.erase(std::remove(graph_.outputs.begin(), graph_.outputs.end(), v), graph_.outputs.end());
}

void NetworkImpl::syncLayers() const {
  for (auto& n : graph_.nodes()) {
    if (layerOfNode_.count(n.get())) continue;
    auto layer = std::make_unique<LayerBase<ILayer>>();
    layer->node_ = n.get();
    layer->type_ = layerTypeOfOp(n->op);
    layer->name_ = n->name;
    layer->in_ = n->inputs;
    layer->out_ = n->outputs;
    const_cast<NetworkImpl*>(this)->adopt(std::move(layer));
  }
}

int32_t NetworkImpl::getNbLayers() const noexcept {
  syncLayers();
  return static_cast<int32_t>(layers_.size());
}

ILayer* NetworkImpl::getLayer(int32_t index) const noexcept {
  syncLayers();
  return index >= 0 && index < static_cast<int32_t>(layers_.size()) ? layers_[index]->asLayer() : nullptr;
}

ITensor* NetworkImpl::getInput(int32_t index) const noexcept {
  return index >= 0 && index < getNbInputs() ? tensorFor(graph_.inputs[index]) : nullptr;
}

ITensor* NetworkImpl::getOutput(int32_t index) const noexcept {
  return index >= 0 && index < getNbOutputs() ? tensorFor(graph_.outputs[index]) : nullptr;
}

ir::Graph& graphOf(INetworkDefinition& network) { return static_cast<NetworkImpl&>(network).graph(); }
ILogger* loggerOf(INetworkDefinition& network) { return static_cast<NetworkImpl&>(network).logger(); }

}  // namespace kiln::api
