// kiln.INetworkDefinition, kiln.ITensor and kiln.ILayer (tensorrt's names and
// properties). Typed layers and the add_* methods are in layers.cc.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "net_state.h"

namespace kiln::py {

namespace {

std::string tensorRepr(const PyTensor& t) {
  std::string shape = nb::repr(nb::tuple(nb::cast(dimsToVector(t.t->getDimensions())))).c_str();
  return "<kiln.ITensor \"" + str(t.t->getName()) + "\" shape=" + shape + ">";
}

}  // namespace

void bindNetwork(nb::module_& m) {
  nb::enum_<LayerType>(m, "LayerType", nb::is_arithmetic())
      .value("CONVOLUTION", LayerType::kCONVOLUTION)
      .value("ACTIVATION", LayerType::kACTIVATION)
      .value("POOLING", LayerType::kPOOLING)
      .value("SCALE", LayerType::kSCALE)
      .value("SOFTMAX", LayerType::kSOFTMAX)
      .value("DECONVOLUTION", LayerType::kDECONVOLUTION)
      .value("CONCATENATION", LayerType::kCONCATENATION)
      .value("ELEMENTWISE", LayerType::kELEMENTWISE)
      .value("PLUGIN", LayerType::kPLUGIN)
      .value("UNARY", LayerType::kUNARY)
      .value("PADDING", LayerType::kPADDING)
      .value("SHUFFLE", LayerType::kSHUFFLE)
      .value("REDUCE", LayerType::kREDUCE)
      .value("TOPK", LayerType::kTOPK)
      .value("GATHER", LayerType::kGATHER)
      .value("MATRIX_MULTIPLY", LayerType::kMATRIX_MULTIPLY)
      .value("CONSTANT", LayerType::kCONSTANT)
      .value("IDENTITY", LayerType::kIDENTITY)
      .value("SLICE", LayerType::kSLICE)
      .value("SHAPE", LayerType::kSHAPE)
      .value("RESIZE", LayerType::kRESIZE)
      .value("SELECT", LayerType::kSELECT)
      .value("FILL", LayerType::kFILL)
      .value("NORMALIZATION", LayerType::kNORMALIZATION)
      .value("CAST", LayerType::kCAST)
      .value("ONNX_NODE", LayerType::kONNX_NODE);
  nb::enum_<NetworkDefinitionCreationFlag>(m, "NetworkDefinitionCreationFlag", nb::is_arithmetic())
      .value("EXPLICIT_BATCH", NetworkDefinitionCreationFlag::kEXPLICIT_BATCH)
      .value("STRONGLY_TYPED", NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

  nb::class_<PyTensor>(m, "ITensor", "A tensor of a network definition.")
      .def_prop_rw(
          "name", [](const PyTensor& t) { return str(t.t->getName()); },
          [](PyTensor& t, const std::string& name) { checked("ITensor.name", [&] { t.t->setName(name.c_str()); }); })
      .def_prop_rw(
          "shape", [](const PyTensor& t) { return t.t->getDimensions(); },
          [](PyTensor& t, const Dims& d) { checked("ITensor.shape", [&] { t.t->setDimensions(d); }); },
          "Shape as inferred so far (-1 = not known at build time); settable on network inputs.")
      .def_prop_rw(
          "dtype", [](const PyTensor& t) { return t.t->getType(); }, [](PyTensor& t, DataType d) { t.t->setType(d); })
      .def_prop_ro("is_network_input", [](const PyTensor& t) { return t.t->isNetworkInput(); })
      .def_prop_ro("is_network_output", [](const PyTensor& t) { return t.t->isNetworkOutput(); })
      .def_prop_ro("location", [](const PyTensor&) { return TensorLocation::kHOST; })
      .def("__eq__", [](const PyTensor& a, const PyTensor& b) { return a.t == b.t; })
      .def("__ne__", [](const PyTensor& a, const PyTensor& b) { return a.t != b.t; })
      .def("__hash__", [](const PyTensor& t) { return reinterpret_cast<uintptr_t>(t.t); })
      .def("__repr__", &tensorRepr);

  nb::class_<PyLayer>(m, "ILayer", "A layer of a network definition (its typed class when made by the layer API).")
      .def_prop_rw(
          "name", [](const PyLayer& l) { return str(l.l->getName()); },
          [](PyLayer& l, const std::string& name) { l.l->setName(name.c_str()); })
      .def_prop_ro("type", [](const PyLayer& l) { return l.l->getType(); })
      .def_prop_ro("op_type", [](const PyLayer& l) { return str(l.l->getOpType()); },
                   "Kiln: the ONNX op this layer is in Kiln's IR (\"Conv\", \"Relu\", ...).")
      .def_prop_ro("num_inputs", [](const PyLayer& l) { return l.l->getNbInputs(); })
      .def_prop_ro("num_outputs", [](const PyLayer& l) { return l.l->getNbOutputs(); })
      .def(
          "get_input",
          [](const PyLayer& l, int32_t i) -> nb::object {
            if (i < 0 || i >= l.l->getNbInputs()) throw nb::index_error("ILayer.get_input: index out of range");
            ITensor* t = l.l->getInput(i);
            return t ? nb::cast(PyTensor{l.st, t}) : nb::none();  // optional inputs are None
          },
          nb::arg("index"), nb::sig("def get_input(self, index: int) -> ITensor | None"))
      .def(
          "get_output",
          [](const PyLayer& l, int32_t i) {
            if (i < 0 || i >= l.l->getNbOutputs()) throw nb::index_error("ILayer.get_output: index out of range");
            return PyTensor{l.st, l.l->getOutput(i)};
          },
          nb::arg("index"))
      .def_prop_rw(
          "precision", [](const PyLayer& l) { return l.l->getPrecision(); },
          [](PyLayer& l, DataType t) { l.l->setPrecision(t); },
          "Precision constraint (honored by CUDA builds with OBEY_/PREFER_PRECISION_CONSTRAINTS).")
      .def_prop_ro("precision_is_set", [](const PyLayer& l) { return l.l->precisionIsSet(); })
      .def("reset_precision", [](PyLayer& l) { l.l->resetPrecision(); })
      .def(
          "set_output_type",
          [](PyLayer& l, int32_t i, DataType t) {
            if (i < 0 || i >= l.l->getNbOutputs()) throw nb::index_error("ILayer.set_output_type: index out of range");
            l.l->setOutputType(i, t);
          },
          nb::arg("index"), nb::arg("dtype"))
      .def(
          "get_output_type",
          [](const PyLayer& l, int32_t i) {
            if (i < 0 || i >= l.l->getNbOutputs()) throw nb::index_error("ILayer.get_output_type: index out of range");
            return l.l->getOutputType(i);
          },
          nb::arg("index"))
      .def("output_type_is_set", [](const PyLayer& l, int32_t i) { return l.l->outputTypeIsSet(i); }, nb::arg("index"))
      .def("reset_output_type", [](PyLayer& l, int32_t i) { l.l->resetOutputType(i); }, nb::arg("index"))
      .def("__eq__", [](const PyLayer& a, const PyLayer& b) { return a.l == b.l; })
      .def("__ne__", [](const PyLayer& a, const PyLayer& b) { return a.l != b.l; })
      .def("__hash__", [](const PyLayer& l) { return reinterpret_cast<uintptr_t>(l.l); })
      .def("__repr__", [](const PyLayer& l) {
        return "<kiln.ILayer \"" + str(l.l->getName()) + "\" [" + str(l.l->getOpType()) + "]>";
      });
  bindLayers(m);

  nb::class_<PyNetwork> net(m, "INetworkDefinition",
                            "A network definition, filled by kiln.OnnxParser or layer by layer.");
  net.def_prop_ro("num_layers", [](const PyNetwork& n) { return n.get()->getNbLayers(); })
      .def_prop_ro("num_inputs", [](const PyNetwork& n) { return n.get()->getNbInputs(); })
      .def_prop_ro("num_outputs", [](const PyNetwork& n) { return n.get()->getNbOutputs(); })
      .def_prop_ro("has_implicit_batch_dimension", [](const PyNetwork& n) { return (n.get(), false); })
      .def_prop_rw(
          "name", [](const PyNetwork& n) { return str(n.get()->getName()); },
          [](PyNetwork& n, const std::string& s) { n.get()->setName(s.c_str()); })
      .def(
          "get_layer",
          [](const PyNetwork& n, int32_t i) {
            INetworkDefinition* net = n.get();
            if (i < 0) i += net->getNbLayers();
            ILayer* l = net->getLayer(i);
            if (!l) throw nb::index_error("INetworkDefinition.get_layer: index out of range");
            return wrapLayer(n.st.ptr, l);
          },
          nb::arg("index"), nb::sig("def get_layer(self, index: int) -> ILayer"))
      .def(
          "get_input",
          [](const PyNetwork& n, int32_t i) {
            ITensor* t = n.get()->getInput(i);
            if (!t) throw nb::index_error("INetworkDefinition.get_input: index out of range");
            return PyTensor{n.st.ptr, t};
          },
          nb::arg("index"))
      .def(
          "get_output",
          [](const PyNetwork& n, int32_t i) {
            ITensor* t = n.get()->getOutput(i);
            if (!t) throw nb::index_error("INetworkDefinition.get_output: index out of range");
            return PyTensor{n.st.ptr, t};
          },
          nb::arg("index"))
      .def("__len__", [](const PyNetwork& n) { return n.get()->getNbLayers(); })
      .def("__getitem__",
           [](const PyNetwork& n, int32_t i) {
             INetworkDefinition* net = n.get();
             if (i < 0) i += net->getNbLayers();
             ILayer* l = net->getLayer(i);
             if (!l) throw nb::index_error("network index out of range");
             return wrapLayer(n.st.ptr, l);
           },
           nb::sig("def __getitem__(self, index: int) -> ILayer"))
      .def(
          "add_input",
          [](PyNetwork& n, const std::string& name, DataType dtype, const Dims& shape) {
            ErrorScope scope;
            ITensor* t = n.get()->addInput(name.c_str(), dtype, shape);
            if (!t) raise(scope, "add_input");
            return PyTensor{n.st.ptr, t};
          },
          nb::arg("name"), nb::arg("dtype"), nb::arg("shape"))
      .def(
          "mark_output",
          [](PyNetwork& n, const PyTensor& t) {
            if (t.st != n.st.ptr) valueError("mark_output: the tensor belongs to another network");
            n.get()->markOutput(*t.t);
          },
          nb::arg("tensor"))
      .def(
          "unmark_output",
          [](PyNetwork& n, const PyTensor& t) {
            if (t.st != n.st.ptr) valueError("unmark_output: the tensor belongs to another network");
            n.get()->unmarkOutput(*t.t);
          },
          nb::arg("tensor"))
      .def("__enter__", [](nb::handle self) { return self; })
      .def("__exit__", [](PyNetwork& n, nb::args) { n.st.free(); }, "Frees the network (its tensors stay valid).");
  bindNetworkAdders(net);
}

}  // namespace kiln::py
