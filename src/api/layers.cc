// The layer API: each add* creates ONNX-named nodes in the graph and a typed
// view whose setters keep the node in step.
#include <numeric>

#include "api/api_util.h"
#include "api/layers.h"

namespace kiln::api {

namespace {

ir::Value* valueOf(ITensor& t) { return static_cast<TensorImpl&>(t).value(); }

ir::Value* int64Constant(ir::Graph& g, const std::string& name, const std::vector<int64_t>& values) {
  return g.addConstant(name, ir::Tensor::fromInt64(values, {static_cast<int64_t>(values.size())}));
}

//! Spatial padding/stride/dilation state shared by convolution and pooling.
template <class I>
class WindowLayer : public LayerBase<I> {
 public:
  void setStrideNd(Dims s) noexcept override { this->node_->attrs["strides"] = toVector(s); }
  Dims getStrideNd() const noexcept override { return toDims(this->node_->ints("strides")); }
  void setPaddingNd(Dims p) noexcept override {
    pre_ = post_ = toVector(p);
    sync();
  }
  void setPrePadding(Dims p) noexcept override {
    pre_ = toVector(p);
    sync();
  }
  void setPostPadding(Dims p) noexcept override {
    post_ = toVector(p);
    sync();
  }
  void setPaddingMode(PaddingMode mode) noexcept override {
    mode_ = mode;
    sync();
  }

 protected:
  void sync() {
    auto& attrs = this->node_->attrs;
    attrs.erase("auto_pad");
    attrs.erase("ceil_mode");
    if (mode_ == PaddingMode::kSAME_UPPER || mode_ == PaddingMode::kSAME_LOWER) {
      attrs.erase("pads");
      attrs["auto_pad"] = std::string(mode_ == PaddingMode::kSAME_UPPER ? "SAME_UPPER" : "SAME_LOWER");
      return;
    }
    std::size_t rank = std::max(pre_.size(), post_.size());
    std::vector<int64_t> pads(2 * rank, 0);
    for (std::size_t i = 0; i < rank; ++i) {
      pads[i] = i < pre_.size() ? pre_[i] : 0;
      pads[rank + i] = i < post_.size() ? post_[i] : 0;
    }
    attrs["pads"] = pads;
    if (mode_ == PaddingMode::kEXPLICIT_ROUND_UP) attrs["ceil_mode"] = int64_t{1};
  }
  std::vector<int64_t> pre_, post_;
  PaddingMode mode_ = PaddingMode::kEXPLICIT_ROUND_DOWN;
};

class ConvolutionLayer final : public WindowLayer<IConvolutionLayer> {
 public:
  Dims getPrePadding() const noexcept override { return toDims(pre_); }
  Dims getPostPadding() const noexcept override { return toDims(post_); }
  void setDilationNd(Dims d) noexcept override { node_->attrs["dilations"] = toVector(d); }
  Dims getDilationNd() const noexcept override { return toDims(node_->ints("dilations")); }
  void setNbGroups(int64_t g) noexcept override { node_->attrs["group"] = g; }
  int64_t getNbGroups() const noexcept override { return node_->i("group", 1); }
  int64_t getNbOutputMaps() const noexcept override { return outputMaps_; }
  Dims getKernelSizeNd() const noexcept override { return toDims(node_->ints("kernel_shape")); }
  int64_t outputMaps_ = 0;
};

class PoolingLayer final : public WindowLayer<IPoolingLayer> {
 public:
  void setAverageCountExcludesPadding(bool exclusive) noexcept override {
    if (type == PoolingType::kAVERAGE) node_->attrs["count_include_pad"] = int64_t{exclusive ? 0 : 1};
  }
  PoolingType getPoolingType() const noexcept override { return type; }
  PoolingType type = PoolingType::kMAX;
};

class ActivationLayer final : public LayerBase<IActivationLayer> {
 public:
  void setActivationType(ActivationType t) noexcept override {
    act_ = t;
    sync();
  }
  ActivationType getActivationType() const noexcept override { return act_; }
  void setAlpha(float a) noexcept override {
    alpha_ = a;
    sync();
  }
  void setBeta(float b) noexcept override {
    beta_ = b;
    sync();
  }
  float getAlpha() const noexcept override { return alpha_; }
  float getBeta() const noexcept override { return beta_; }

  //! Rewrites the node for the current type and parameters (TensorRT's meaning of alpha/beta).
  void sync() {
    ir::Graph& g = net_->graph();
    node_->attrs.clear();
    node_->inputs.resize(1);
    switch (act_) {
      case ActivationType::kRELU: node_->op = "Relu"; break;
      case ActivationType::kSIGMOID: node_->op = "Sigmoid"; break;
      case ActivationType::kTANH: node_->op = "Tanh"; break;
      case ActivationType::kLEAKY_RELU: node_->op = "LeakyRelu"; node_->attrs["alpha"] = alpha_; break;
      case ActivationType::kELU: node_->op = "Elu"; node_->attrs["alpha"] = alpha_; break;
      case ActivationType::kSELU:
        node_->op = "Selu";
        node_->attrs["alpha"] = alpha_;
        node_->attrs["gamma"] = beta_;
        break;
      case ActivationType::kSOFTSIGN: node_->op = "Softsign"; break;
      case ActivationType::kSOFTPLUS: node_->op = "Softplus"; break;
      case ActivationType::kCLIP:
        node_->op = "Clip";
        node_->inputs.push_back(g.addConstant(name_ + "_min", ir::Tensor::fromFloat({alpha_}, {})));
        node_->inputs.push_back(g.addConstant(name_ + "_max", ir::Tensor::fromFloat({beta_}, {})));
        break;
      case ActivationType::kHARD_SIGMOID:
        node_->op = "HardSigmoid";
        node_->attrs["alpha"] = alpha_;
        node_->attrs["beta"] = beta_;
        break;
      case ActivationType::kTHRESHOLDED_RELU: node_->op = "ThresholdedRelu"; node_->attrs["alpha"] = alpha_; break;
      case ActivationType::kGELU_ERF: node_->op = "Gelu"; break;
      case ActivationType::kGELU_TANH: node_->op = "Gelu"; node_->attrs["approximate"] = std::string("tanh"); break;
      case ActivationType::kSCALED_TANH: node_->op = "ScaledTanh"; break;  // no schema: the build names it
    }
  }
  ActivationType act_ = ActivationType::kRELU;
  float alpha_ = 0.f, beta_ = 0.f;
};

class ElementWiseLayer final : public LayerBase<IElementWiseLayer> {
 public:
  ElementWiseOperation getOperation() const noexcept override { return op; }
  ElementWiseOperation op = ElementWiseOperation::kSUM;
};

class UnaryLayer final : public LayerBase<IUnaryLayer> {
 public:
  UnaryOperation getOperation() const noexcept override { return op; }
  UnaryOperation op = UnaryOperation::kEXP;
};

class MatrixMultiplyLayer final : public LayerBase<IMatrixMultiplyLayer> {};
class ConstantLayer final : public LayerBase<IConstantLayer> {};

class ConcatenationLayer final : public LayerBase<IConcatenationLayer> {
 public:
  void setAxis(int32_t axis) noexcept override { node_->attrs["axis"] = int64_t{axis}; }
  int32_t getAxis() const noexcept override { return static_cast<int32_t>(node_->i("axis", 0)); }
};

class SoftMaxLayer final : public LayerBase<ISoftMaxLayer> {
 public:
  void setAxes(uint32_t axes) noexcept override {
    if (axes == 0 || (axes & (axes - 1))) {
      net_->error(strCat("ISoftMaxLayer::setAxes: ", axes, " must have exactly one bit set"));
      return;
    }
    int64_t axis = 0;
    while (!(axes & (1u << axis))) ++axis;
    node_->attrs["axis"] = axis;
  }
  uint32_t getAxes() const noexcept override { return 1u << node_->i("axis", 0); }
};

class ReduceLayer final : public LayerBase<IReduceLayer> {
 public:
  ReduceOperation getOperation() const noexcept override { return op; }
  uint32_t getReduceAxes() const noexcept override { return axes; }
  bool getKeepDimensions() const noexcept override { return node_->i("keepdims", 1) != 0; }
  ReduceOperation op = ReduceOperation::kSUM;
  uint32_t axes = 0;
};

//! Shuffle = transpose, reshape, transpose: the layer owns that node chain and
//! rebuilds it whenever a setter changes it.
class ShuffleLayer final : public LayerBase<IShuffleLayer> {
 public:
  void setFirstTranspose(Permutation p) noexcept override {
    first_ = p;
    hasFirst_ = true;
    rebuild();
  }
  void setReshapeDimensions(Dims d) noexcept override {
    reshape_ = toVector(d);
    hasReshape_ = true;
    rebuild();
  }
  void setSecondTranspose(Permutation p) noexcept override {
    second_ = p;
    hasSecond_ = true;
    rebuild();
  }
  void setZeroIsPlaceholder(bool z) noexcept override {
    zeroIsPlaceholder_ = z;
    rebuild();
  }

  void rebuild() {
    ir::Graph& g = net_->graph();
    for (ir::Node* n : chain_) g.removeNode(n);
    chain_.clear();
    net_->refreshShapes();
    ir::Value* cur = in_[0];
    auto rankOf = [&](ir::Value* v) { return static_cast<int>(v->shape.size()); };
    struct Step { const char* op; };
    std::vector<std::pair<std::string, std::vector<int64_t>>> steps;
    if (hasFirst_) steps.push_back({"Transpose", std::vector<int64_t>(first_.order, first_.order + rankOf(cur))});
    if (hasReshape_) steps.push_back({"Reshape", reshape_});
    if (hasSecond_) {
      int rank = hasReshape_ ? static_cast<int>(reshape_.size()) : rankOf(cur);
      steps.push_back({"Transpose", std::vector<int64_t>(second_.order, second_.order + rank)});
    }
    if (steps.empty()) steps.push_back({"Identity", {}});
    for (std::size_t i = 0; i < steps.size(); ++i) {
      bool last = i + 1 == steps.size();
      ir::Value* out = last ? out_[0] : g.addValue(name_ + "_step");
      std::vector<ir::Value*> ins{cur};
      if (steps[i].first == "Reshape") ins.push_back(int64Constant(g, name_ + "_shape", steps[i].second));
      ir::Node* n = g.addNode(steps[i].first, last ? name_ : strCat(name_, "/", steps[i].first), ins, {out});
      if (steps[i].first == "Transpose") n->attrs["perm"] = steps[i].second;
      if (steps[i].first == "Reshape") n->attrs["allowzero"] = int64_t{zeroIsPlaceholder_ ? 0 : 1};
      chain_.push_back(n);
      cur = out;
    }
    node_ = chain_.back();
  }
  std::vector<ir::Node*> chain_;
  Permutation first_{}, second_{};
  bool hasFirst_ = false, hasSecond_ = false, hasReshape_ = false, zeroIsPlaceholder_ = true;
  std::vector<int64_t> reshape_;
};

//! Creates a layer whose single node is `op` reading `inputs`, with one new output.
template <class L>
std::unique_ptr<L> makeLayer(NetworkImpl& net, LayerType type, const char* kind, const std::string& op,
                             std::vector<ir::Value*> inputs) {
  auto layer = std::make_unique<L>();
  layer->name_ = net.defaultLayerName(kind);
  ir::Value* out = net.graph().addValue(layer->name_ + "_output");
  layer->node_ = net.graph().addNode(op, layer->name_, inputs, {out});
  layer->type_ = type;
  layer->in_ = std::move(inputs);
  layer->out_ = {out};
  return layer;
}

}  // namespace

IConvolutionLayer* NetworkImpl::addConvolutionNd(ITensor& input, int64_t nbOutputMaps, Dims kernelSize,
                                                 Weights kernelWeights, Weights biasWeights) noexcept {
  return guarded(logger_, "addConvolutionNd", static_cast<IConvolutionLayer*>(nullptr), [&]() -> IConvolutionLayer* {
    std::vector<int64_t> ks = toVector(kernelSize);
    KILN_CHECK(nbOutputMaps > 0 && !ks.empty(), "needs nbOutputMaps > 0 and a kernel size");
    int64_t perMap = nbOutputMaps * std::accumulate(ks.begin(), ks.end(), int64_t{1}, std::multiplies<>());
    KILN_CHECK(perMap > 0 && kernelWeights.count % perMap == 0, "kernel weights have ", kernelWeights.count,
               " values, not a multiple of nbOutputMaps x kernel size = ", perMap);
    std::vector<int64_t> wdims{nbOutputMaps, kernelWeights.count / perMap};
    wdims.insert(wdims.end(), ks.begin(), ks.end());
    std::string name = defaultLayerName("Convolution");
    std::vector<ir::Value*> ins{valueOf(input), graph_.addConstant(name + "_kernel", tensorFromWeights(kernelWeights, wdims, "convolution kernel"))};
    if (biasWeights.count > 0)
      ins.push_back(graph_.addConstant(name + "_bias", tensorFromWeights(biasWeights, {nbOutputMaps}, "convolution bias")));
    auto layer = makeLayer<ConvolutionLayer>(*this, LayerType::kCONVOLUTION, "Convolution", "Conv", ins);
    layer->node_->attrs["kernel_shape"] = ks;
    layer->outputMaps_ = nbOutputMaps;
    return adopt(std::move(layer));
  });
}

IActivationLayer* NetworkImpl::addActivation(ITensor& input, ActivationType type) noexcept {
  return guarded(logger_, "addActivation", static_cast<IActivationLayer*>(nullptr), [&]() -> IActivationLayer* {
    auto layer = makeLayer<ActivationLayer>(*this, LayerType::kACTIVATION, "Activation", "Relu", {valueOf(input)});
    layer->net_ = this;
    layer->act_ = type;
    if (type == ActivationType::kLEAKY_RELU) layer->alpha_ = 0.01f;
    layer->sync();
    return adopt(std::move(layer));
  });
}

IPoolingLayer* NetworkImpl::addPoolingNd(ITensor& input, PoolingType type, Dims windowSize) noexcept {
  return guarded(logger_, "addPoolingNd", static_cast<IPoolingLayer*>(nullptr), [&]() -> IPoolingLayer* {
    auto layer = makeLayer<PoolingLayer>(*this, LayerType::kPOOLING, "Pooling",
                                         type == PoolingType::kMAX ? "MaxPool" : "AveragePool", {valueOf(input)});
    layer->type = type;
    layer->node_->attrs["kernel_shape"] = toVector(windowSize);
    if (type == PoolingType::kAVERAGE) layer->node_->attrs["count_include_pad"] = int64_t{0};
    return adopt(std::move(layer));
  });
}

IElementWiseLayer* NetworkImpl::addElementWise(ITensor& a, ITensor& b, ElementWiseOperation op) noexcept {
  return guarded(logger_, "addElementWise", static_cast<IElementWiseLayer*>(nullptr), [&]() -> IElementWiseLayer* {
    static const char* names[] = {"Add", "Mul", "Max", "Min", "Sub", "Div", "Pow", "Div",
                                  "And", "Or",  "Xor", "Equal", "Greater", "Less"};
    int idx = static_cast<int>(op);
    KILN_CHECK(idx >= 0 && idx < 14, "unknown ElementWiseOperation ", idx);
    auto layer = makeLayer<ElementWiseLayer>(*this, LayerType::kELEMENTWISE, "ElementWise", names[idx],
                                             {valueOf(a), valueOf(b)});
    layer->op = op;
    if (op == ElementWiseOperation::kFLOOR_DIV) {  // Div then Floor, the layer's output stays the same tensor
      ir::Value* quotient = graph_.addValue(layer->name_ + "_quotient");
      layer->node_->outputs[0] = quotient;
      quotient->producer = layer->node_;
      layer->node_ = graph_.addNode("Floor", layer->name_ + "/floor", {quotient}, {layer->out_[0]});
    }
    return adopt(std::move(layer));
  });
}

IUnaryLayer* NetworkImpl::addUnary(ITensor& input, UnaryOperation operation) noexcept {
  return guarded(logger_, "addUnary", static_cast<IUnaryLayer*>(nullptr), [&]() -> IUnaryLayer* {
    static const char* names[] = {"Exp",  "Log",   "Sqrt",  "Reciprocal", "Abs",   "Neg",   "Sin",   "Cos",
                                  "Tan",  "Sinh",  "Cosh",  "Asin",       "Acos",  "Atan",  "Asinh", "Acosh",
                                  "Atanh", "Ceil", "Floor", "Erf",        "Not",   "Sign",  "Round"};
    int idx = static_cast<int>(operation);
    KILN_CHECK(idx >= 0 && idx < 23, "unknown UnaryOperation ", idx);
    auto layer = makeLayer<UnaryLayer>(*this, LayerType::kUNARY, "Unary", names[idx], {valueOf(input)});
    layer->op = operation;
    return adopt(std::move(layer));
  });
}

IMatrixMultiplyLayer* NetworkImpl::addMatrixMultiply(ITensor& a, MatrixOperation opA, ITensor& b,
                                                     MatrixOperation opB) noexcept {
  return guarded(logger_, "addMatrixMultiply", static_cast<IMatrixMultiplyLayer*>(nullptr),
                 [&]() -> IMatrixMultiplyLayer* {
    refreshShapes();
    std::string name = defaultLayerName("MatrixMultiply");
    auto transposed = [&](ir::Value* v, MatrixOperation op, const char* which) -> ir::Value* {
      if (op != MatrixOperation::kTRANSPOSE) return v;
      int64_t rank = static_cast<int64_t>(v->shape.size());
      KILN_CHECK(rank >= 2, "operand ", which, " has rank ", rank, "; kTRANSPOSE needs rank >= 2");
      std::vector<int64_t> perm(rank);
      std::iota(perm.begin(), perm.end(), 0);
      std::swap(perm[rank - 1], perm[rank - 2]);
      ir::Value* out = graph_.addValue(strCat(name, "_", which, "_T"));
      graph_.addNode("Transpose", strCat(name, "/transpose_", which), {v}, {out})->attrs["perm"] = perm;
      return out;
    };
    ir::Value* va = transposed(valueOf(a), opA, "a");
    ir::Value* vb = transposed(valueOf(b), opB, "b");
    auto layer = makeLayer<MatrixMultiplyLayer>(*this, LayerType::kMATRIX_MULTIPLY, "MatrixMultiply", "MatMul", {va, vb});
    layer->in_ = {valueOf(a), valueOf(b)};
    return adopt(std::move(layer));
  });
}

IShuffleLayer* NetworkImpl::addShuffle(ITensor& input) noexcept {
  return guarded(logger_, "addShuffle", static_cast<IShuffleLayer*>(nullptr), [&]() -> IShuffleLayer* {
    auto layer = std::make_unique<ShuffleLayer>();
    layer->net_ = this;
    layer->name_ = defaultLayerName("Shuffle");
    layer->type_ = LayerType::kSHUFFLE;
    layer->in_ = {valueOf(input)};
    layer->out_ = {graph_.addValue(layer->name_ + "_output")};
    layer->rebuild();
    return adopt(std::move(layer));
  });
}

IConcatenationLayer* NetworkImpl::addConcatenation(ITensor* const* inputs, int32_t nbInputs) noexcept {
  return guarded(logger_, "addConcatenation", static_cast<IConcatenationLayer*>(nullptr), [&]() -> IConcatenationLayer* {
    KILN_CHECK(inputs && nbInputs > 0, "needs at least one input");
    std::vector<ir::Value*> ins;
    for (int i = 0; i < nbInputs; ++i) {
      KILN_CHECK(inputs[i], "input ", i, " is null");
      ins.push_back(valueOf(*inputs[i]));
    }
    refreshShapes();
    auto layer = makeLayer<ConcatenationLayer>(*this, LayerType::kCONCATENATION, "Concatenation", "Concat", ins);
    int64_t rank = static_cast<int64_t>(ins[0]->shape.size());
    layer->node_->attrs["axis"] = rank >= 3 ? rank - 3 : int64_t{0};  // TensorRT's default: the channel axis
    return adopt(std::move(layer));
  });
}

ISoftMaxLayer* NetworkImpl::addSoftMax(ITensor& input) noexcept {
  return guarded(logger_, "addSoftMax", static_cast<ISoftMaxLayer*>(nullptr), [&]() -> ISoftMaxLayer* {
    refreshShapes();
    auto layer = makeLayer<SoftMaxLayer>(*this, LayerType::kSOFTMAX, "SoftMax", "Softmax", {valueOf(input)});
    int64_t rank = static_cast<int64_t>(valueOf(input)->shape.size());
    layer->node_->attrs["axis"] = rank >= 3 ? rank - 3 : int64_t{0};  // TensorRT's default: the channel axis
    return adopt(std::move(layer));
  });
}

IReduceLayer* NetworkImpl::addReduce(ITensor& input, ReduceOperation operation, uint32_t reduceAxes,
                                     bool keepDimensions) noexcept {
  return guarded(logger_, "addReduce", static_cast<IReduceLayer*>(nullptr), [&]() -> IReduceLayer* {
    static const char* names[] = {"ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin", "ReduceMean"};
    int idx = static_cast<int>(operation);
    KILN_CHECK(idx >= 0 && idx < 5, "unknown ReduceOperation ", idx);
    KILN_CHECK(reduceAxes != 0, "reduceAxes is empty");
    std::vector<int64_t> axes;
    for (int64_t a = 0; a < 32; ++a)
      if (reduceAxes & (1u << a)) axes.push_back(a);
    std::string name = defaultLayerName("Reduce");
    ir::Value* axesValue = int64Constant(graph_, name + "_axes", axes);
    auto layer = makeLayer<ReduceLayer>(*this, LayerType::kREDUCE, "Reduce", names[idx], {valueOf(input), axesValue});
    layer->node_->attrs["keepdims"] = int64_t{keepDimensions ? 1 : 0};
    layer->in_ = {valueOf(input)};
    layer->op = operation;
    layer->axes = reduceAxes;
    return adopt(std::move(layer));
  });
}

IConstantLayer* NetworkImpl::addConstant(Dims dimensions, Weights weights) noexcept {
  return guarded(logger_, "addConstant", static_cast<IConstantLayer*>(nullptr), [&]() -> IConstantLayer* {
    auto layer = std::make_unique<ConstantLayer>();
    layer->name_ = defaultLayerName("Constant");
    layer->type_ = LayerType::kCONSTANT;
    std::vector<int64_t> dims = toVector(dimensions);
    for (int64_t d : dims) KILN_CHECK(d >= 0, "constant dimension ", d, " is negative");
    layer->out_ = {graph_.addConstant(layer->name_ + "_output", tensorFromWeights(weights, dims, "constant"))};
    return adopt(std::move(layer));
  });
}

}  // namespace kiln::api
