// kiln.Runtime, kiln.ICudaEngine, kiln.IExecutionContext, kiln.IProfiler.
//
// Buffers: like tensorrt, a context takes integer addresses; for Kiln's CPU
// engines it also takes host arrays (numpy, anything with the buffer protocol
// or DLPack), for CUDA engines device arrays (DLPack on a CUDA device: PyTorch,
// CuPy; or anything with __cuda_array_interface__). Arrays are checked against
// the tensor's dtype, shape and contiguity, used in place (zero-copy) and kept
// alive while bound. An array on the wrong side for the engine is a TypeError.
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <nanobind/trampoline.h>

#include <algorithm>
#include <map>

#include "common.h"
#include "dtypes.h"

namespace kiln::py {

namespace {

class PyIProfiler : public IProfiler {
 public:
  NB_TRAMPOLINE(IProfiler, 1);
  void reportLayerTime(const char* layerName, float ms) noexcept override {
    nb::gil_scoped_acquire gil;
    try {
      [&] { NB_OVERRIDE_PURE_NAME("report_layer_time", reportLayerTime, layerName, ms); }();
    } catch (nb::python_error& e) {
      e.discard_as_unraisable("kiln.IProfiler.report_layer_time");
    } catch (...) {
    }
  }
};

//! kiln.IOutputAllocator: Python subclasses implement reallocate_output (or
//! reallocate_output_async) and notify_shape, as in tensorrt. The answer is an
//! integer address, as in tensorrt, or (Kiln) a writable host array of at
//! least `size` bytes, kept alive here until the next answer for that tensor.
//! A Python exception fails the run with its message (the context logs it).
class PyIOutputAllocator : public IOutputAllocator {
 public:
  NB_TRAMPOLINE(IOutputAllocator, 3);
  void* reallocateOutputAsync(const char* tensorName, void* currentMemory, uint64_t size, uint64_t alignment,
                              void* stream) override {
    nb::gil_scoped_acquire gil;
    std::string name = str(tensorName);
    try {
      nb::object answer;
      auto current = reinterpret_cast<uintptr_t>(currentMemory);
      {
        nb::detail::ticket t(nb_trampoline, "reallocate_output_async", false);
        if (t.key.is_valid())
          answer = nb_trampoline.base().attr(t.key)(name, current, size, alignment, reinterpret_cast<uintptr_t>(stream));
      }
      if (!answer.is_valid()) {
        nb::detail::ticket t(nb_trampoline, "reallocate_output", false);
        if (!t.key.is_valid())
          throw std::runtime_error("kiln.IOutputAllocator subclass implements neither reallocate_output nor "
                                   "reallocate_output_async");
        answer = nb_trampoline.base().attr(t.key)(name, current, size, alignment);
      }
      void* mem = memoryOf(name, answer, size);
      kept_[name] = answer;
      return mem;
    } catch (nb::python_error& e) {
      throw std::runtime_error("IOutputAllocator.reallocate_output(\"" + name + "\") raised " + e.what());
    }
  }
  void notifyShape(const char* tensorName, const Dims& dims) noexcept override {
    nb::gil_scoped_acquire gil;
    try {
      [&] { NB_OVERRIDE_PURE_NAME("notify_shape", notifyShape, tensorName, dims); }();
    } catch (nb::python_error& e) {
      e.discard_as_unraisable("kiln.IOutputAllocator.notify_shape");
    } catch (...) {
    }
  }

 private:
  static void* memoryOf(const std::string& name, nb::handle answer, uint64_t size) {
    std::string where = "IOutputAllocator.reallocate_output(\"" + name + "\")";
    if (answer.is_none()) return nullptr;
    if (PyLong_Check(answer.ptr())) {
      unsigned long long v = PyLong_AsUnsignedLongLong(answer.ptr());
      if (PyErr_Occurred()) {
        PyErr_Clear();
        throw std::runtime_error(where + " returned a negative or too large address");
      }
      return reinterpret_cast<void*>(static_cast<uintptr_t>(v));
    }
    nb::ndarray<nb::c_contig> a;  // no conversion: the run writes into this very array
    if (!nb::try_cast(answer, a, false))
      throw std::runtime_error(where + " returned " + nb::type_name(answer.type()).c_str() +
                               "; expected an integer address or a writable, C-contiguous host array");
    if (a.device_type() != nb::device::cpu::value)
      throw std::runtime_error(where + " returned an array that is not in host memory");
    if (a.nbytes() < size)
      throw std::runtime_error(where + " returned an array of " + std::to_string(a.nbytes()) + " bytes; " +
                               std::to_string(size) + " are needed");
    return a.data();
  }
  std::map<std::string, nb::object> kept_;  // arrays handed out, per tensor
};

struct EngineState {
  LoggerPtr log;
  std::unique_ptr<ICudaEngine> engine;
};

struct PyEngine {
  Held<EngineState> st;
  ICudaEngine* get() const { return st.get()->engine.get(); }
};

struct ContextState {
  std::shared_ptr<EngineState> engine;  // declared first: outlives the context
  nb::object engineObject;
  std::unique_ptr<IExecutionContext> ctx;
  std::map<std::string, nb::object> bound;  // arrays bound to tensors, kept alive
  nb::object profiler;
  std::map<std::string, nb::object> allocators;  // kiln.IOutputAllocator objects set per output, kept alive
};

struct PyContext {
  Held<ContextState> st;
  IExecutionContext* get() const { return st.get()->ctx.get(); }
};

struct PyRuntime {
  LoggerPtr log;
  std::unique_ptr<IRuntime> runtime;
};

std::string ioNames(const ICudaEngine& e) {
  std::string s;
  for (int i = 0; i < e.getNbIOTensors(); ++i) s += std::string(s.empty() ? "" : ", ") + str(e.getIOTensorName(i));
  return s;
}

//! Raises ValueError when the engine has no IO tensor `name`.
void requireTensor(const ICudaEngine& e, const std::string& name, const char* what) {
  if (e.getTensorIOMode(name.c_str()) == TensorIOMode::kNONE)
    valueError(std::string(what) + ": the engine has no input or output tensor named \"" + name +
               "\" (it has: " + ioNames(e) + ")");
}

std::string shapeString(const std::vector<int64_t>& v) { return nb::repr(nb::tuple(nb::cast(v))).c_str(); }

//! What the checks need of an array, whichever protocol it came through.
struct ArrayInfo {
  void* data = nullptr;
  std::optional<DataType> dtype;
  std::string dtypeName;
  bool bf16Bits = false;  //!< a uint16 array (numpy has no bfloat16: its bit patterns)
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  //!< in elements; empty: C-contiguous
  bool readOnly = false;
};

//! `typestr` of __cuda_array_interface__ ("<f4", "|b1", ...) as a DataType.
std::optional<DataType> typestrType(const std::string& t) {
  if (t.size() < 3 || t[0] == '>') return std::nullopt;  // big-endian data: no such tensors
  const std::string k = t.substr(1);
  if (k == "f4") return DataType::kFLOAT;
  if (k == "f2") return DataType::kHALF;
  if (k == "i4") return DataType::kINT32;
  if (k == "i8") return DataType::kINT64;
  if (k == "i1") return DataType::kINT8;
  if (k == "u1") return DataType::kUINT8;
  if (k == "b1") return DataType::kBOOL;
  return std::nullopt;
}

//! An object with __cuda_array_interface__ (version 2 or 3; strides in bytes).
ArrayInfo cudaArrayInfo(nb::handle mem, const std::string& where) {
  nb::dict cai;
  if (!nb::try_cast(mem.attr("__cuda_array_interface__"), cai))
    typeError(where + ": __cuda_array_interface__ is not a dict");
  ArrayInfo a;
  nb::tuple data = nb::cast<nb::tuple>(cai["data"]);
  a.data = reinterpret_cast<void*>(nb::cast<uintptr_t>(data[0]));
  a.readOnly = nb::cast<bool>(data[1]);
  std::string typestr = nb::cast<std::string>(cai["typestr"]);
  a.dtype = typestrType(typestr);
  a.dtypeName = typestr;
  a.bf16Bits = typestr.substr(1) == "u2";
  for (nb::handle d : nb::cast<nb::tuple>(cai["shape"])) a.shape.push_back(nb::cast<int64_t>(d));
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    const int64_t item = typestr.size() > 2 ? std::stoll(typestr.substr(2)) : 1;
    for (nb::handle d : nb::cast<nb::tuple>(cai["strides"])) {
      int64_t bytes = nb::cast<int64_t>(d);
      a.strides.push_back(bytes % item == 0 ? bytes / item : -1);  // -1: not a whole element, never contiguous
    }
  }
  return a;
}

ArrayInfo ndarrayInfo(const nb::ndarray<nb::ro>& a) {
  ArrayInfo i;
  i.data = const_cast<void*>(a.data());
  i.dtype = ioDataTypeOf(a.dtype());
  i.dtypeName = dlpackName(a.dtype());
  i.bf16Bits = a.dtype() == nb::dtype<uint16_t>();
  for (std::size_t d = 0; d < a.ndim(); ++d) i.shape.push_back(a.shape(d)), i.strides.push_back(a.stride(d));
  return i;
}

//! The device array behind `mem` for a CUDA engine's tensor (TypeError when it is not one).
ArrayInfo deviceArray(nb::handle mem, const std::string& where) {
  if (nb::hasattr(mem, "__dlpack_device__")) {
    nb::tuple dev = nb::cast<nb::tuple>(mem.attr("__dlpack_device__")());
    int type = nb::cast<int>(dev[0]);
    if (type == nb::device::cuda::value) {
      nb::ndarray<nb::ro> a;
      if (nb::try_cast(mem, a)) return ndarrayInfo(a);
    } else if (!nb::hasattr(mem, "__cuda_array_interface__")) {
      typeError(where + ": got an array on DLPack device type " + std::to_string(type) +
                ", but this engine runs on the GPU; pass device memory (e.g. tensor.cuda(), a CuPy array, or an "
                "integer device address)");
    }
  }
  if (nb::hasattr(mem, "__cuda_array_interface__")) return cudaArrayInfo(mem, where);
  typeError(where + ": this engine runs on the GPU; expected an integer device address or a device array "
                    "(__cuda_array_interface__ or DLPack on a CUDA device: PyTorch, CuPy), got " +
            nb::type_name(mem.type()).c_str());
}

//! A host array for a CPU engine's tensor (TypeError for device arrays).
ArrayInfo hostArray(nb::handle mem, const std::string& where, bool isInput) {
  if (nb::hasattr(mem, "__cuda_array_interface__"))
    typeError(where + ": got a CUDA array (__cuda_array_interface__), but this engine runs on the CPU; "
                      "pass host memory (a numpy array or an integer address)");
  if (nb::hasattr(mem, "__dlpack_device__")) {
    nb::tuple dev = nb::cast<nb::tuple>(mem.attr("__dlpack_device__")());
    int type = nb::cast<int>(dev[0]);
    if (type != nb::device::cpu::value && type != nb::device::cuda_host::value)
      typeError(where + ": got an array on DLPack device type " + std::to_string(type) +
                ", but this engine runs on the CPU; move it to the host first (e.g. tensor.cpu())");
  }
  nb::ndarray<nb::ro> a;
  if (!nb::try_cast(mem, a))
    typeError(where + ": expected an integer address or a host array (numpy, buffer protocol, DLPack), got " +
              nb::type_name(mem.type()).c_str());
  ArrayInfo info = ndarrayInfo(a);
  if (!isInput) {
    nb::ndarray<> writable;
    info.readOnly = !nb::try_cast(mem, writable);
  }
  return info;
}

//! The address `mem` stands for, after checking an array against the tensor.
//! Returns the object to keep alive (None for integer addresses).
std::pair<void*, nb::object> addressOf(ContextState& st, const std::string& name, nb::handle mem, const char* what) {
  const ICudaEngine& e = *st.engine->engine;
  requireTensor(e, name, what);
  std::string where = std::string(what) + ": tensor \"" + name + "\"";
  if (PyLong_Check(mem.ptr())) {
    unsigned long long v = PyLong_AsUnsignedLongLong(mem.ptr());
    if (PyErr_Occurred()) {
      PyErr_Clear();
      valueError(where + ": the address must be a non-negative integer");
    }
    return {reinterpret_cast<void*>(static_cast<uintptr_t>(v)), nb::none()};
  }
  bool isInput = e.getTensorIOMode(name.c_str()) == TensorIOMode::kINPUT;
  ArrayInfo a = e.getDeviceType() == DeviceType::kGPU ? deviceArray(mem, where) : hostArray(mem, where, isInput);
  if (!isInput && a.readOnly) valueError(where + " is an output, but the array is read-only");
  DataType want = e.getTensorDataType(name.c_str());
  bool bf16Bits = want == DataType::kBF16 && a.bf16Bits;
  if ((!a.dtype || *a.dtype != want) && !bf16Bits)
    typeError(where + " is " + dataTypeString(want) + ", the array is " + a.dtypeName);
  const std::vector<int64_t>& shape = a.shape;
  int64_t expect = 1, size = 1;
  for (int64_t d : shape) size *= d;
  bool empty = size == 0;  // an empty array's strides say nothing
  for (std::size_t i = a.strides.size(); i-- > 0 && !empty;) {
    if (shape[i] != 1 && a.strides[i] != expect)
      valueError(where + ": the array is not C-contiguous; pass a contiguous copy (numpy.ascontiguousarray(a), "
                         "tensor.contiguous())");
    expect *= shape[i];
  }
  std::vector<int64_t> want_shape = dimsToVector(st.ctx->getTensorShape(name.c_str()));
  int64_t volume = 1;
  for (int64_t d : want_shape) volume *= d;
  bool flat = shape.size() == 1 && shape[0] == volume;  // tensorrt samples use flat host buffers
  if (shape != want_shape && !flat)
    valueError(where + " has shape " + shapeString(want_shape) + ", the array has shape " + shapeString(shape));
  if (reinterpret_cast<uintptr_t>(a.data) % static_cast<uintptr_t>(dataTypeSize(want)) != 0)
    valueError(where + ": the array is not aligned to its element size");
  return {a.data, nb::borrow(mem)};
}

bool bind(ContextState& st, const std::string& name, nb::handle mem, const char* what) {
  auto [ptr, keep] = addressOf(st, name, mem, what);
  bool ok = st.ctx->setTensorAddress(name.c_str(), ptr);
  if (ok) st.bound[name] = keep;
  return ok;
}

nb::object makeContext(nb::handle engineObj, const PyEngine& e, ExecutionContextAllocationStrategy strategy) {
  IExecutionContext* ctx = e.get()->createExecutionContext(strategy);
  if (!ctx) return nb::none();
  auto st = std::make_shared<ContextState>();
  st->engine = e.st.ptr;
  st->engineObject = nb::borrow(engineObj);
  st->ctx.reset(ctx);
  return nb::cast(PyContext{{st, "kiln.IExecutionContext"}});
}

}  // namespace

void bindRuntime(nb::module_& m) {
  nb::enum_<ExecutionContextAllocationStrategy>(m, "ExecutionContextAllocationStrategy", nb::is_arithmetic())
      .value("STATIC", ExecutionContextAllocationStrategy::kSTATIC)
      .value("ON_PROFILE_CHANGE", ExecutionContextAllocationStrategy::kON_PROFILE_CHANGE)
      .value("USER_MANAGED", ExecutionContextAllocationStrategy::kUSER_MANAGED);

  nb::class_<IProfiler, PyIProfiler>(m, "IProfiler",
                                     "Subclass and implement report_layer_time(layer_name, ms); set on a context.")
      .def(nb::init<>())
      .def("report_layer_time", &IProfiler::reportLayerTime, nb::arg("layer_name"), nb::arg("ms"));

  nb::class_<IOutputAllocator, PyIOutputAllocator>(
      m, "IOutputAllocator",
      "Subclass and implement reallocate_output(tensor_name, memory, size, alignment) -> address (or "
      "reallocate_output_async(..., stream)) and notify_shape(tensor_name, shape); set on a context "
      "with set_output_allocator. Kiln also takes a writable host array as the answer.")
      .def(nb::init<>())
      // The base versions exist so that the trampoline can tell which ones a subclass overrides.
      .def(
          "reallocate_output",
          [](nb::handle, const std::string&, uintptr_t, uint64_t, uint64_t) -> nb::object {
            PyErr_SetString(PyExc_NotImplementedError,
                            "kiln.IOutputAllocator subclasses implement reallocate_output or reallocate_output_async");
            throw nb::python_error();
          },
          nb::arg("tensor_name"), nb::arg("memory"), nb::arg("size"), nb::arg("alignment"),
          nb::sig("def reallocate_output(self, tensor_name: str, memory: int, size: int, alignment: int) "
                  "-> int | numpy.ndarray | None"))
      .def(
          "reallocate_output_async",
          [](nb::handle self, const std::string& name, uintptr_t memory, uint64_t size, uint64_t alignment,
             uintptr_t) { return self.attr("reallocate_output")(name, memory, size, alignment); },
          nb::arg("tensor_name"), nb::arg("memory"), nb::arg("size"), nb::arg("alignment"), nb::arg("stream"),
          nb::sig("def reallocate_output_async(self, tensor_name: str, memory: int, size: int, alignment: int, "
                  "stream: int) -> int | numpy.ndarray | None"),
          "Calls reallocate_output (the stream is ignored on the CPU).")
      .def("notify_shape", &IOutputAllocator::notifyShape, nb::arg("tensor_name"), nb::arg("shape"));

  nb::class_<PyEngine>(m, "ICudaEngine", "A built engine (the tensorrt name is kept; Kiln's run on the CPU or, built for the GPU, with CUDA).")
      .def_prop_ro("num_io_tensors", [](const PyEngine& e) { return e.get()->getNbIOTensors(); })
      .def(
          "get_tensor_name",
          [](const PyEngine& e, int32_t i) {
            const char* n = e.get()->getIOTensorName(i);
            if (!n) throw nb::index_error("ICudaEngine.get_tensor_name: index out of range");
            return std::string(n);
          },
          nb::arg("index"))
      .def(
          "get_tensor_mode",
          [](const PyEngine& e, const std::string& name) {
            requireTensor(*e.get(), name, "get_tensor_mode");
            return e.get()->getTensorIOMode(name.c_str());
          },
          nb::arg("name"))
      .def(
          "get_tensor_shape",
          [](const PyEngine& e, const std::string& name) {
            requireTensor(*e.get(), name, "get_tensor_shape");
            return e.get()->getTensorShape(name.c_str());
          },
          nb::arg("name"))
      .def(
          "get_tensor_dtype",
          [](const PyEngine& e, const std::string& name) {
            requireTensor(*e.get(), name, "get_tensor_dtype");
            return e.get()->getTensorDataType(name.c_str());
          },
          nb::arg("name"))
      .def(
          "get_tensor_location",
          [](const PyEngine& e, const std::string& name) {
            requireTensor(*e.get(), name, "get_tensor_location");
            return e.get()->getTensorLocation(name.c_str());
          },
          nb::arg("name"))
      .def(
          "get_tensor_profile_shape",
          [](const PyEngine& e, const std::string& name, int32_t profile) {
            requireTensor(*e.get(), name, "get_tensor_profile_shape");
            if (profile < 0 || profile >= e.get()->getNbOptimizationProfiles())
              throw nb::index_error("get_tensor_profile_shape: profile index out of range");
            std::vector<Dims> out;
            for (auto s : {OptProfileSelector::kMIN, OptProfileSelector::kOPT, OptProfileSelector::kMAX})
              out.push_back(e.get()->getProfileShape(name.c_str(), profile, s));
            return out;
          },
          nb::arg("name"), nb::arg("profile_index"))
      .def(
          "is_shape_inference_io",
          [](const PyEngine& e, const std::string& name) {
            requireTensor(*e.get(), name, "is_shape_inference_io");
            return e.get()->isShapeInferenceIO(name.c_str());
          },
          nb::arg("name"),
          "Whether the tensor is a shape-tensor input: its values decide shapes and are read from host memory.")
      .def(
          "get_tensor_profile_values",
          [](const PyEngine& e, int32_t profile, const std::string& name) {
            requireTensor(*e.get(), name, "get_tensor_profile_values");
            if (profile < 0 || profile >= e.get()->getNbOptimizationProfiles())
              throw nb::index_error("get_tensor_profile_values: profile index out of range");
            if (!e.get()->isShapeInferenceIO(name.c_str()))
              valueError("get_tensor_profile_values: \"" + name + "\" is not a shape-tensor input");
            int64_t n = 1;
            for (int64_t d : dimsToVector(e.get()->getTensorShape(name.c_str()))) n *= d;
            std::vector<std::vector<int64_t>> out;
            for (auto s : {OptProfileSelector::kMIN, OptProfileSelector::kOPT, OptProfileSelector::kMAX}) {
              const int64_t* v = e.get()->getProfileTensorValuesV2(name.c_str(), profile, s);
              out.push_back(v ? std::vector<int64_t>(v, v + n) : std::vector<int64_t>{});
            }
            return out;
          },
          nb::arg("profile_index"), nb::arg("name"), "[min, opt, max] values of a shape-tensor input in a profile.")
      .def_prop_ro("num_layers", [](const PyEngine& e) { return e.get()->getNbLayers(); })
      .def_prop_ro("num_optimization_profiles", [](const PyEngine& e) { return e.get()->getNbOptimizationProfiles(); })
      .def_prop_ro("device_memory_size", [](const PyEngine& e) { return e.get()->getDeviceMemorySize(); })
      .def_prop_ro("device_type", [](const PyEngine& e) { return e.get()->getDeviceType(); },
                   "Kiln: the device the engine was built for (DeviceType.CPU or DeviceType.GPU).")
      .def(
          "get_layer_information",
          [](const PyEngine& e, int32_t i) {
            const char* s = e.get()->getLayerInformation(i);
            if (!s) throw nb::index_error("get_layer_information: index out of range");
            return std::string(s);
          },
          nb::arg("index"), "Kiln: one line about a layer of the built engine (op, tactic, shapes).")
      .def(
          "create_execution_context",
          [](nb::handle self, ExecutionContextAllocationStrategy strategy) {
            return makeContext(self, nb::cast<const PyEngine&>(self), strategy);
          },
          nb::arg("strategy") = ExecutionContextAllocationStrategy::kSTATIC,
          nb::sig("def create_execution_context(self, strategy: ExecutionContextAllocationStrategy = ...) "
                  "-> IExecutionContext | None"),
          "A new context, or None when it could not be created (the reason goes to the logger).")
      .def("serialize", [](const PyEngine& e) { return hostMemoryObject(e.get()->serialize()); },
           nb::sig("def serialize(self) -> IHostMemory"))
      .def("__enter__", [](nb::handle self) { return self; })
      .def("__exit__", [](PyEngine& e, nb::args) { e.st.free(); },
           "Frees the engine; its execution contexts keep working.");

  nb::class_<PyContext>(m, "IExecutionContext", "Runs an engine; holds the addresses of its inputs and outputs.")
      .def_prop_ro("engine", [](const PyContext& c) { return (c.get(), c.st.ptr->engineObject); },
                   nb::sig("def engine(self, /) -> ICudaEngine"))
      .def(
          "set_tensor_address",
          [](PyContext& c, const std::string& name, nb::handle memory) {
            c.get();
            return bind(*c.st.ptr, name, memory, "set_tensor_address");
          },
          nb::arg("name"), nb::arg("memory"),
          nb::sig("def set_tensor_address(self, name: str, memory: int | numpy.ndarray | object) -> bool"),
          "An integer address (as in tensorrt, e.g. tensor.data_ptr() for a CUDA engine), or an array checked "
          "against the tensor's dtype, shape and contiguity: a host array for a CPU engine, a device array "
          "(DLPack on CUDA, __cuda_array_interface__: PyTorch, CuPy) for a CUDA engine.")
      .def(
          "get_tensor_address",
          [](const PyContext& c, const std::string& name) {
            return reinterpret_cast<uintptr_t>(c.get()->getTensorAddress(name.c_str()));
          },
          nb::arg("name"))
      .def(
          "set_input_shape",
          [](PyContext& c, const std::string& name, const Dims& shape) {
            return c.get()->setInputShape(name.c_str(), shape);
          },
          nb::arg("name"), nb::arg("shape"))
      .def(
          "get_tensor_shape",
          [](const PyContext& c, const std::string& name) {
            requireTensor(c.get()->getEngine(), name, "get_tensor_shape");
            return c.get()->getTensorShape(name.c_str());
          },
          nb::arg("name"))
      .def(
          "infer_shapes",
          [](PyContext& c) {
            std::vector<const char*> names(64);
            int32_t n = c.get()->inferShapes(static_cast<int32_t>(names.size()), names.data());
            std::vector<std::string> out;
            for (int32_t i = 0; i < std::min<int32_t>(n, static_cast<int32_t>(names.size())); ++i)
              out.emplace_back(names[i] ? names[i] : "");
            return out;
          },
          "Names of the inputs whose shape is still missing ([] when every shape is known).")
      .def(
          "set_optimization_profile_async",
          [](PyContext& c, int32_t index, uintptr_t stream) {
            return c.get()->setOptimizationProfileAsync(index, reinterpret_cast<void*>(stream));
          },
          nb::arg("profile_index"), nb::arg("stream_handle") = 0)
      .def_prop_ro("active_optimization_profile", [](const PyContext& c) { return c.get()->getOptimizationProfile(); })
      .def_prop_ro("all_input_dimensions_specified",
                   [](const PyContext& c) { return c.get()->allInputDimensionsSpecified(); })
      .def(
          "execute_v2",
          [](PyContext& c, const std::vector<nb::object>& bindings) {
            IExecutionContext* ctx = c.get();
            auto hold = c.st.ptr;
            const ICudaEngine& e = *hold->engine->engine;
            if (static_cast<int>(bindings.size()) != e.getNbIOTensors())
              valueError("execute_v2: " + std::to_string(bindings.size()) + " bindings given, the engine has " +
                         std::to_string(e.getNbIOTensors()) + " IO tensors (" + ioNames(e) + ")");
            std::vector<void*> ptrs;
            for (int i = 0; i < e.getNbIOTensors(); ++i) {
              std::string name = str(e.getIOTensorName(i));
              auto [ptr, keep] = addressOf(*hold, name, bindings[i], "execute_v2");
              ptrs.push_back(ptr);
              hold->bound[name] = keep;
            }
            nb::gil_scoped_release release;
            return ctx->executeV2(ptrs.data());
          },
          nb::arg("bindings"),
          nb::sig("def execute_v2(self, bindings: collections.abc.Sequence[int | numpy.ndarray | object]) -> bool"))
      .def(
          "execute_async_v3",
          [](PyContext& c, uintptr_t stream) {
            IExecutionContext* ctx = c.get();
            auto hold = c.st.ptr;
            nb::gil_scoped_release release;
            return ctx->enqueueV3(reinterpret_cast<void*>(stream));
          },
          nb::arg("stream_handle") = 0,
          "Runs with the bound addresses: a CUDA engine enqueues on the cudaStream_t `stream_handle` (an int, "
          "e.g. torch.cuda.current_stream().cuda_stream; 0 is the legacy default stream) and returns; on the "
          "CPU it completes before returning.")
      .def(
          "set_output_allocator",
          [](PyContext& c, const std::string& name, nb::handle allocator) {
            IExecutionContext* ctx = c.get();
            requireTensor(ctx->getEngine(), name, "set_output_allocator");
            IOutputAllocator* a = nullptr;
            if (!allocator.is_none() && (!nb::try_cast<IOutputAllocator*>(allocator, a) || !a))
              typeError("set_output_allocator: expected a kiln.IOutputAllocator (or None), got " +
                        std::string(nb::type_name(allocator.type()).c_str()));
            ErrorScope scope;
            bool ok = ctx->setOutputAllocator(name.c_str(), a);
            if (!ok) raise(scope, "set_output_allocator");
            if (allocator.is_none()) c.st.ptr->allocators.erase(name);
            else c.st.ptr->allocators[name] = nb::borrow(allocator);
            return ok;
          },
          nb::arg("name"), nb::arg("output_allocator").none(),
          nb::sig("def set_output_allocator(self, name: str, output_allocator: IOutputAllocator | None) -> bool"),
          "The output's memory comes from the allocator at each run (needed for data-dependent shapes).")
      .def(
          "get_output_allocator",
          [](const PyContext& c, const std::string& name) -> nb::object {
            c.get();
            auto it = c.st.ptr->allocators.find(name);
            return it == c.st.ptr->allocators.end() ? nb::none() : it->second;
          },
          nb::arg("name"), nb::sig("def get_output_allocator(self, name: str) -> IOutputAllocator | None"))
      .def(
          "set_num_threads", [](PyContext& c, int32_t n) { c.get()->setNbThreads(n); }, nb::arg("threads"),
          "Kiln: CPU threads this context runs with (0 = all cores); call before the first run.")
      .def_prop_rw(
          "profiler", [](const PyContext& c) { return (c.get(), c.st.ptr->profiler); },
          [](PyContext& c, nb::handle p) {
            IExecutionContext* ctx = c.get();
            if (p.is_none()) {
              ctx->setProfiler(nullptr);
              c.st.ptr->profiler = nb::none();
              return;
            }
            IProfiler* prof = nullptr;
            if (!nb::try_cast<IProfiler*>(p, prof) || !prof)
              typeError("IExecutionContext.profiler: expected a kiln.IProfiler");
            ctx->setProfiler(prof);
            c.st.ptr->profiler = nb::borrow(p);
          })
      .def_prop_rw(
          "name", [](const PyContext& c) { return str(c.get()->getName()); },
          [](PyContext& c, const std::string& n) { c.get()->setName(n.c_str()); })
      .def("__enter__", [](nb::handle self) { return self; })
      .def("__exit__", [](PyContext& c, nb::args) { c.st.free(); });

  nb::class_<PyRuntime>(m, "Runtime", "Deserializes engines (tensorrt.Runtime).")
      .def(
          "__init__",
          [](PyRuntime* self, nb::handle logger) {
            LoggerPtr log = makeBridge(logger);
            IRuntime* r = createInferRuntime(*log);
            if (!r) throw KilnError("kiln.Runtime: could not create a runtime");
            new (self) PyRuntime{log, std::unique_ptr<IRuntime>(r)};
          },
          nb::arg("logger"), nb::sig("def __init__(self, logger: ILogger) -> None"))
      .def(
          "deserialize_cuda_engine",
          [](PyRuntime& r, nb::handle serialized) -> nb::object {
            BufferView buf(serialized, "deserialize_cuda_engine");
            ICudaEngine* e;
            {
              nb::gil_scoped_release release;
              e = r.runtime->deserializeCudaEngine(buf.data(), buf.size());
            }
            if (!e) return nb::none();
            return nb::cast(PyEngine{{std::make_shared<EngineState>(EngineState{r.log, std::unique_ptr<ICudaEngine>(e)}),
                                      "kiln.ICudaEngine"}});
          },
          nb::arg("serialized_engine").none(),
          nb::sig("def deserialize_cuda_engine(self, serialized_engine: collections.abc.Buffer) -> ICudaEngine | None"),
          "The engine, or None when the plan is corrupt or foreign (the reason goes to the logger).")
      .def_prop_rw(
          "engine_host_code_allowed", [](const PyRuntime& r) { return r.runtime->getEngineHostCodeAllowed(); },
          [](PyRuntime& r, bool allowed) { r.runtime->setEngineHostCodeAllowed(allowed); },
          "Whether plans may bring plugin libraries that deserialization loads (off by default).")
      .def_prop_ro("logger", [](const PyRuntime& r) { return r.log->owner(); })
      .def("__enter__", [](nb::handle self) { return self; })
      .def("__exit__", [](PyRuntime&, nb::args) {});
}

}  // namespace kiln::py
