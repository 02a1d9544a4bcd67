// The layer API: typed layer classes (tensorrt's properties) and the
// INetworkDefinition.add_* methods. Weights come from numpy arrays or
// kiln.Weights; Kiln copies them when the layer is added.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <numeric>

#include "net_state.h"

namespace kiln::py {

namespace {

using Conv = PyTyped<IConvolutionLayer>;
using Act = PyTyped<IActivationLayer>;
using Pool = PyTyped<IPoolingLayer>;
using Elt = PyTyped<IElementWiseLayer>;
using Unary = PyTyped<IUnaryLayer>;
using MatMul = PyTyped<IMatrixMultiplyLayer>;
using Shuffle = PyTyped<IShuffleLayer>;
using Concat = PyTyped<IConcatenationLayer>;
using Softmax = PyTyped<ISoftMaxLayer>;
using Reduce = PyTyped<IReduceLayer>;
using Constant = PyTyped<IConstantLayer>;

Permutation toPermutation(const std::vector<int64_t>& order, const char* what) {
  if (order.size() > static_cast<std::size_t>(Dims::MAX_DIMS))
    valueError(std::string(what) + ": a permutation has at most 8 entries");
  Permutation p;
  for (int i = 0; i < Dims::MAX_DIMS; ++i) p.order[i] = i;
  for (std::size_t i = 0; i < order.size(); ++i) p.order[i] = static_cast<int32_t>(order[i]);
  return p;
}

std::vector<int64_t> identityPermutation() {
  std::vector<int64_t> v(Dims::MAX_DIMS);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::vector<int64_t> recallOr(const PyLayer& l, const char* key, std::vector<int64_t> fallback) {
  const std::vector<int64_t>* v = l.st->recall(l.l, key);
  return v ? *v : fallback;
}

//! The tensor argument must belong to the network it is added to.
ITensor& tensorOf(const PyNetwork& n, const PyTensor& t, const char* what) {
  if (t.st != n.st.ptr) valueError(std::string(what) + ": the input tensor belongs to another network");
  return *t.t;
}

template <class L>
nb::object typed(const NetPtr& st, L* layer) {
  return nb::cast(PyTyped<L>{{st, layer}});
}

template <class L>
nb::object added(const PyNetwork& n, L* layer, const ErrorScope& scope, const char* what) {
  if (!layer) raise(scope, what);
  return typed(n.st.ptr, layer);
}

}  // namespace

nb::object wrapLayer(const NetPtr& st, ILayer* l) {
  if (auto* p = dynamic_cast<IConvolutionLayer*>(l)) return typed(st, p);
  if (auto* p = dynamic_cast<IActivationLayer*>(l)) return typed(st, p);
  if (auto* p = dynamic_cast<IPoolingLayer*>(l)) return typed(st, p);
  if (auto* p = dynamic_cast<IElementWiseLayer*>(l)) return typed(st, p);
  if (auto* p = dynamic_cast<IUnaryLayer*>(l)) return typed(st, p);
  if (auto* p = dynamic_cast<IMatrixMultiplyLayer*>(l)) return typed(st, p);
  if (auto* p = dynamic_cast<IShuffleLayer*>(l)) return typed(st, p);
  if (auto* p = dynamic_cast<IConcatenationLayer*>(l)) return typed(st, p);
  if (auto* p = dynamic_cast<ISoftMaxLayer*>(l)) return typed(st, p);
  if (auto* p = dynamic_cast<IReduceLayer*>(l)) return typed(st, p);
  if (auto* p = dynamic_cast<IConstantLayer*>(l)) return typed(st, p);
  return nb::cast(PyLayer{st, l});
}

void bindLayers(nb::module_& m) {
  nb::enum_<ActivationType>(m, "ActivationType", nb::is_arithmetic())
      .value("RELU", ActivationType::kRELU)
      .value("SIGMOID", ActivationType::kSIGMOID)
      .value("TANH", ActivationType::kTANH)
      .value("LEAKY_RELU", ActivationType::kLEAKY_RELU)
      .value("ELU", ActivationType::kELU)
      .value("SELU", ActivationType::kSELU)
      .value("SOFTSIGN", ActivationType::kSOFTSIGN)
      .value("SOFTPLUS", ActivationType::kSOFTPLUS)
      .value("CLIP", ActivationType::kCLIP)
      .value("HARD_SIGMOID", ActivationType::kHARD_SIGMOID)
      .value("SCALED_TANH", ActivationType::kSCALED_TANH)
      .value("THRESHOLDED_RELU", ActivationType::kTHRESHOLDED_RELU)
      .value("GELU_ERF", ActivationType::kGELU_ERF)
      .value("GELU_TANH", ActivationType::kGELU_TANH);
  nb::enum_<PaddingMode>(m, "PaddingMode", nb::is_arithmetic())
      .value("EXPLICIT_ROUND_DOWN", PaddingMode::kEXPLICIT_ROUND_DOWN)
      .value("EXPLICIT_ROUND_UP", PaddingMode::kEXPLICIT_ROUND_UP)
      .value("SAME_UPPER", PaddingMode::kSAME_UPPER)
      .value("SAME_LOWER", PaddingMode::kSAME_LOWER);
  nb::enum_<PoolingType>(m, "PoolingType", nb::is_arithmetic())
      .value("MAX", PoolingType::kMAX)
      .value("AVERAGE", PoolingType::kAVERAGE);
  nb::enum_<ElementWiseOperation>(m, "ElementWiseOperation", nb::is_arithmetic())
      .value("SUM", ElementWiseOperation::kSUM)
      .value("PROD", ElementWiseOperation::kPROD)
      .value("MAX", ElementWiseOperation::kMAX)
      .value("MIN", ElementWiseOperation::kMIN)
      .value("SUB", ElementWiseOperation::kSUB)
      .value("DIV", ElementWiseOperation::kDIV)
      .value("POW", ElementWiseOperation::kPOW)
      .value("FLOOR_DIV", ElementWiseOperation::kFLOOR_DIV)
      .value("AND", ElementWiseOperation::kAND)
      .value("OR", ElementWiseOperation::kOR)
      .value("XOR", ElementWiseOperation::kXOR)
      .value("EQUAL", ElementWiseOperation::kEQUAL)
      .value("GREATER", ElementWiseOperation::kGREATER)
      .value("LESS", ElementWiseOperation::kLESS);
  nb::enum_<UnaryOperation>(m, "UnaryOperation", nb::is_arithmetic())
      .value("EXP", UnaryOperation::kEXP)
      .value("LOG", UnaryOperation::kLOG)
      .value("SQRT", UnaryOperation::kSQRT)
      .value("RECIP", UnaryOperation::kRECIP)
      .value("ABS", UnaryOperation::kABS)
      .value("NEG", UnaryOperation::kNEG)
      .value("SIN", UnaryOperation::kSIN)
      .value("COS", UnaryOperation::kCOS)
      .value("TAN", UnaryOperation::kTAN)
      .value("SINH", UnaryOperation::kSINH)
      .value("COSH", UnaryOperation::kCOSH)
      .value("ASIN", UnaryOperation::kASIN)
      .value("ACOS", UnaryOperation::kACOS)
      .value("ATAN", UnaryOperation::kATAN)
      .value("ASINH", UnaryOperation::kASINH)
      .value("ACOSH", UnaryOperation::kACOSH)
      .value("ATANH", UnaryOperation::kATANH)
      .value("CEIL", UnaryOperation::kCEIL)
      .value("FLOOR", UnaryOperation::kFLOOR)
      .value("ERF", UnaryOperation::kERF)
      .value("NOT", UnaryOperation::kNOT)
      .value("SIGN", UnaryOperation::kSIGN)
      .value("ROUND", UnaryOperation::kROUND);
  nb::enum_<MatrixOperation>(m, "MatrixOperation", nb::is_arithmetic())
      .value("NONE", MatrixOperation::kNONE)
      .value("TRANSPOSE", MatrixOperation::kTRANSPOSE)
      .value("VECTOR", MatrixOperation::kVECTOR);
  nb::enum_<ReduceOperation>(m, "ReduceOperation", nb::is_arithmetic())
      .value("SUM", ReduceOperation::kSUM)
      .value("PROD", ReduceOperation::kPROD)
      .value("MAX", ReduceOperation::kMAX)
      .value("MIN", ReduceOperation::kMIN)
      .value("AVG", ReduceOperation::kAVG);

  nb::class_<Conv, PyLayer>(m, "IConvolutionLayer")
      .def_prop_ro("num_output_maps", [](const Conv& l) { return l.typed()->getNbOutputMaps(); })
      .def_prop_ro("kernel_size_nd", [](const Conv& l) { return l.typed()->getKernelSizeNd(); })
      .def_prop_rw(
          "stride_nd", [](const Conv& l) { return l.typed()->getStrideNd(); },
          [](Conv& l, const Dims& d) { l.typed()->setStrideNd(d); })
      .def_prop_rw(
          "padding_nd", [](const Conv& l) { return l.typed()->getPrePadding(); },
          [](Conv& l, const Dims& d) { l.typed()->setPaddingNd(d); })
      .def_prop_rw(
          "pre_padding", [](const Conv& l) { return l.typed()->getPrePadding(); },
          [](Conv& l, const Dims& d) { l.typed()->setPrePadding(d); })
      .def_prop_rw(
          "post_padding", [](const Conv& l) { return l.typed()->getPostPadding(); },
          [](Conv& l, const Dims& d) { l.typed()->setPostPadding(d); })
      .def_prop_rw(
          "padding_mode",
          [](const Conv& l) { return static_cast<PaddingMode>(recallOr(l, "padding_mode", {0})[0]); },
          [](Conv& l, PaddingMode p) {
            l.typed()->setPaddingMode(p);
            l.st->remember(l.l, "padding_mode", {static_cast<int64_t>(p)});
          })
      .def_prop_rw(
          "dilation_nd", [](const Conv& l) { return l.typed()->getDilationNd(); },
          [](Conv& l, const Dims& d) { l.typed()->setDilationNd(d); })
      .def_prop_rw(
          "num_groups", [](const Conv& l) { return l.typed()->getNbGroups(); },
          [](Conv& l, int64_t g) { l.typed()->setNbGroups(g); });

  nb::class_<Pool, PyLayer>(m, "IPoolingLayer")
      .def_prop_ro("type", [](const Pool& l) { return l.typed()->getPoolingType(); })
      .def_prop_ro("window_size_nd", [](const Pool& l) { return dimsFrom(recallOr(l, "window", {}), "window"); })
      .def_prop_rw(
          "stride_nd", [](const Pool& l) { return l.typed()->getStrideNd(); },
          [](Pool& l, const Dims& d) { l.typed()->setStrideNd(d); })
      .def_prop_rw(
          "padding_nd", [](const Pool& l) { return dimsFrom(recallOr(l, "pre", {}), "padding"); },
          [](Pool& l, const Dims& d) {
            l.typed()->setPaddingNd(d);
            l.st->remember(l.l, "pre", dimsToVector(d));
            l.st->remember(l.l, "post", dimsToVector(d));
          })
      .def_prop_rw(
          "pre_padding", [](const Pool& l) { return dimsFrom(recallOr(l, "pre", {}), "padding"); },
          [](Pool& l, const Dims& d) {
            l.typed()->setPrePadding(d);
            l.st->remember(l.l, "pre", dimsToVector(d));
          })
      .def_prop_rw(
          "post_padding", [](const Pool& l) { return dimsFrom(recallOr(l, "post", {}), "padding"); },
          [](Pool& l, const Dims& d) {
            l.typed()->setPostPadding(d);
            l.st->remember(l.l, "post", dimsToVector(d));
          })
      .def_prop_rw(
          "padding_mode",
          [](const Pool& l) { return static_cast<PaddingMode>(recallOr(l, "padding_mode", {0})[0]); },
          [](Pool& l, PaddingMode p) {
            l.typed()->setPaddingMode(p);
            l.st->remember(l.l, "padding_mode", {static_cast<int64_t>(p)});
          })
      .def_prop_rw(
          "average_count_excludes_padding",
          [](const Pool& l) { return recallOr(l, "excl", {1})[0] != 0; },
          [](Pool& l, bool e) {
            l.typed()->setAverageCountExcludesPadding(e);
            l.st->remember(l.l, "excl", {e ? 1 : 0});
          });

  nb::class_<Act, PyLayer>(m, "IActivationLayer")
      .def_prop_rw(
          "type", [](const Act& l) { return l.typed()->getActivationType(); },
          [](Act& l, ActivationType t) { l.typed()->setActivationType(t); })
      .def_prop_rw(
          "alpha", [](const Act& l) { return l.typed()->getAlpha(); }, [](Act& l, float a) { l.typed()->setAlpha(a); })
      .def_prop_rw(
          "beta", [](const Act& l) { return l.typed()->getBeta(); }, [](Act& l, float b) { l.typed()->setBeta(b); });

  nb::class_<Elt, PyLayer>(m, "IElementWiseLayer").def_prop_ro("op", [](const Elt& l) {
    return l.typed()->getOperation();
  });
  nb::class_<Unary, PyLayer>(m, "IUnaryLayer").def_prop_ro("op", [](const Unary& l) {
    return l.typed()->getOperation();
  });
  nb::class_<MatMul, PyLayer>(m, "IMatrixMultiplyLayer")
      .def_prop_ro("op0", [](const MatMul& l) { return static_cast<MatrixOperation>(recallOr(l, "op0", {0})[0]); })
      .def_prop_ro("op1", [](const MatMul& l) { return static_cast<MatrixOperation>(recallOr(l, "op1", {0})[0]); });

  nb::class_<Shuffle, PyLayer>(m, "IShuffleLayer")
      .def_prop_rw(
          "first_transpose", [](const Shuffle& l) { return recallOr(l, "first", identityPermutation()); },
          [](Shuffle& l, const std::vector<int64_t>& p) {
            l.typed()->setFirstTranspose(toPermutation(p, "first_transpose"));
            l.st->remember(l.l, "first", p);
          })
      .def_prop_rw(
          "reshape_dims", [](const Shuffle& l) { return dimsFrom(recallOr(l, "reshape", {}), "reshape_dims"); },
          [](Shuffle& l, const Dims& d) {
            checked("IShuffleLayer.reshape_dims", [&] { l.typed()->setReshapeDimensions(d); });
            l.st->remember(l.l, "reshape", dimsToVector(d));
          })
      .def_prop_rw(
          "second_transpose", [](const Shuffle& l) { return recallOr(l, "second", identityPermutation()); },
          [](Shuffle& l, const std::vector<int64_t>& p) {
            l.typed()->setSecondTranspose(toPermutation(p, "second_transpose"));
            l.st->remember(l.l, "second", p);
          })
      .def_prop_rw(
          "zero_is_placeholder", [](const Shuffle& l) { return recallOr(l, "zero", {1})[0] != 0; },
          [](Shuffle& l, bool z) {
            l.typed()->setZeroIsPlaceholder(z);
            l.st->remember(l.l, "zero", {z ? 1 : 0});
          });

  nb::class_<Concat, PyLayer>(m, "IConcatenationLayer")
      .def_prop_rw(
          "axis", [](const Concat& l) { return l.typed()->getAxis(); },
          [](Concat& l, int32_t a) { checked("IConcatenationLayer.axis", [&] { l.typed()->setAxis(a); }); });
  nb::class_<Softmax, PyLayer>(m, "ISoftMaxLayer")
      .def_prop_rw(
          "axes", [](const Softmax& l) { return l.typed()->getAxes(); },
          [](Softmax& l, uint32_t a) { checked("ISoftMaxLayer.axes", [&] { l.typed()->setAxes(a); }); },
          "Bit mask of the reduced axis (1 << axis), as in tensorrt.");
  nb::class_<Reduce, PyLayer>(m, "IReduceLayer")
      .def_prop_ro("op", [](const Reduce& l) { return l.typed()->getOperation(); })
      .def_prop_ro("axes", [](const Reduce& l) { return l.typed()->getReduceAxes(); })
      .def_prop_ro("keep_dims", [](const Reduce& l) { return l.typed()->getKeepDimensions(); });
  nb::class_<Constant, PyLayer>(m, "IConstantLayer").def_prop_ro("shape", [](const Constant& l) {
    return dimsFrom(recallOr(l, "shape", {}), "shape");
  });
}

void bindNetworkAdders(nb::class_<PyNetwork>& cls) {
  cls.def(
         "add_convolution_nd",
         [](PyNetwork& n, const PyTensor& input, int64_t numOutputMaps, const Dims& kernelShape, nb::handle kernel,
            nb::handle bias) {
           ITensor& in = tensorOf(n, input, "add_convolution_nd");
           Weights k = toWeights(kernel, "add_convolution_nd kernel");
           Weights b = toWeights(bias, "add_convolution_nd bias");
           ErrorScope scope;
           return added(n, n.get()->addConvolutionNd(in, numOutputMaps, kernelShape, k, b), scope,
                        "add_convolution_nd");
         },
         nb::arg("input"), nb::arg("num_output_maps"), nb::arg("kernel_shape"), nb::arg("kernel"),
         nb::arg("bias").none() = nb::none(),
         nb::sig("def add_convolution_nd(self, input: ITensor, num_output_maps: int, kernel_shape: Dims, "
                 "kernel: Weights | numpy.typing.ArrayLike, bias: Weights | numpy.typing.ArrayLike | None = None) "
                 "-> IConvolutionLayer"))
      .def(
          "add_activation",
          [](PyNetwork& n, const PyTensor& input, ActivationType type) {
            ErrorScope scope;
            return added(n, n.get()->addActivation(tensorOf(n, input, "add_activation"), type), scope,
                         "add_activation");
          },
          nb::arg("input"), nb::arg("type"),
          nb::sig("def add_activation(self, input: ITensor, type: ActivationType) -> IActivationLayer"))
      .def(
          "add_pooling_nd",
          [](PyNetwork& n, const PyTensor& input, PoolingType type, const Dims& window) {
            ErrorScope scope;
            IPoolingLayer* l = n.get()->addPoolingNd(tensorOf(n, input, "add_pooling_nd"), type, window);
            if (l) n.st.ptr->remember(static_cast<ILayer*>(l), "window", dimsToVector(window));
            return added(n, l, scope, "add_pooling_nd");
          },
          nb::arg("input"), nb::arg("type"), nb::arg("window_size"),
          nb::sig("def add_pooling_nd(self, input: ITensor, type: PoolingType, window_size: Dims) -> IPoolingLayer"))
      .def(
          "add_elementwise",
          [](PyNetwork& n, const PyTensor& a, const PyTensor& b, ElementWiseOperation op) {
            ErrorScope scope;
            return added(n,
                         n.get()->addElementWise(tensorOf(n, a, "add_elementwise"), tensorOf(n, b, "add_elementwise"),
                                                 op),
                         scope, "add_elementwise");
          },
          nb::arg("input1"), nb::arg("input2"), nb::arg("op"),
          nb::sig("def add_elementwise(self, input1: ITensor, input2: ITensor, op: ElementWiseOperation) "
                  "-> IElementWiseLayer"))
      .def(
          "add_unary",
          [](PyNetwork& n, const PyTensor& input, UnaryOperation op) {
            ErrorScope scope;
            return added(n, n.get()->addUnary(tensorOf(n, input, "add_unary"), op), scope, "add_unary");
          },
          nb::arg("input"), nb::arg("op"),
          nb::sig("def add_unary(self, input: ITensor, op: UnaryOperation) -> IUnaryLayer"))
      .def(
          "add_matrix_multiply",
          [](PyNetwork& n, const PyTensor& a, MatrixOperation op0, const PyTensor& b, MatrixOperation op1) {
            ErrorScope scope;
            IMatrixMultiplyLayer* l = n.get()->addMatrixMultiply(tensorOf(n, a, "add_matrix_multiply"), op0,
                                                                 tensorOf(n, b, "add_matrix_multiply"), op1);
            if (l) {
              n.st.ptr->remember(static_cast<ILayer*>(l), "op0", {static_cast<int64_t>(op0)});
              n.st.ptr->remember(static_cast<ILayer*>(l), "op1", {static_cast<int64_t>(op1)});
            }
            return added(n, l, scope, "add_matrix_multiply");
          },
          nb::arg("input0"), nb::arg("op0"), nb::arg("input1"), nb::arg("op1"),
          nb::sig("def add_matrix_multiply(self, input0: ITensor, op0: MatrixOperation, input1: ITensor, "
                  "op1: MatrixOperation) -> IMatrixMultiplyLayer"))
      .def(
          "add_shuffle",
          [](PyNetwork& n, const PyTensor& input) {
            ErrorScope scope;
            return added(n, n.get()->addShuffle(tensorOf(n, input, "add_shuffle")), scope, "add_shuffle");
          },
          nb::arg("input"), nb::sig("def add_shuffle(self, input: ITensor) -> IShuffleLayer"))
      .def(
          "add_concatenation",
          [](PyNetwork& n, const std::vector<PyTensor>& inputs) {
            std::vector<ITensor*> ts;
            for (const PyTensor& t : inputs) ts.push_back(&tensorOf(n, t, "add_concatenation"));
            ErrorScope scope;
            return added(n, n.get()->addConcatenation(ts.data(), static_cast<int32_t>(ts.size())), scope,
                         "add_concatenation");
          },
          nb::arg("inputs"),
          nb::sig("def add_concatenation(self, inputs: collections.abc.Sequence[ITensor]) -> IConcatenationLayer"))
      .def(
          "add_softmax",
          [](PyNetwork& n, const PyTensor& input) {
            ErrorScope scope;
            return added(n, n.get()->addSoftMax(tensorOf(n, input, "add_softmax")), scope, "add_softmax");
          },
          nb::arg("input"), nb::sig("def add_softmax(self, input: ITensor) -> ISoftMaxLayer"))
      .def(
          "add_reduce",
          [](PyNetwork& n, const PyTensor& input, ReduceOperation op, uint32_t axes, bool keepDims) {
            ErrorScope scope;
            return added(n, n.get()->addReduce(tensorOf(n, input, "add_reduce"), op, axes, keepDims), scope,
                         "add_reduce");
          },
          nb::arg("input"), nb::arg("op"), nb::arg("axes"), nb::arg("keep_dims"),
          nb::sig("def add_reduce(self, input: ITensor, op: ReduceOperation, axes: int, keep_dims: bool) "
                  "-> IReduceLayer"))
      .def(
          "add_constant",
          [](PyNetwork& n, const Dims& shape, nb::handle weights) {
            Weights w = toWeights(weights, "add_constant weights");
            ErrorScope scope;
            IConstantLayer* l = n.get()->addConstant(shape, w);
            if (l) n.st.ptr->remember(static_cast<ILayer*>(l), "shape", dimsToVector(shape));
            return added(n, l, scope, "add_constant");
          },
          nb::arg("shape"), nb::arg("weights"),
          nb::sig("def add_constant(self, shape: Dims, weights: Weights | numpy.typing.ArrayLike) -> IConstantLayer"));
}

}  // namespace kiln::py
