// Basic types: enums, Dims, loggers, IHostMemory, Weights, and the error
// plumbing every other binding file uses.
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <nanobind/trampoline.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "common.h"
#include "dtypes.h"

namespace kiln::py {

// ---------------------------------------------------------------- errors

namespace {
thread_local ErrorScope* tlScope = nullptr;
}

ErrorScope::ErrorScope() : outer_(tlScope) { tlScope = this; }
ErrorScope::~ErrorScope() { tlScope = outer_; }

void ErrorScope::record(const char* msg) {
  if (tlScope) tlScope->messages_.emplace_back(msg ? msg : "");
}

std::string ErrorScope::message(const std::string& fallback) const {
  if (messages_.empty()) return fallback;
  std::string out;
  for (const std::string& m : messages_) out += (out.empty() ? "" : "\n") + m;
  return out;
}

void raise(const ErrorScope& scope, const std::string& what) {
  throw KilnError(what + ": " + scope.message("failed (no message was logged)"));
}

void valueError(const std::string& msg) { throw nb::value_error(msg.c_str()); }
void typeError(const std::string& msg) { throw nb::type_error(msg.c_str()); }

// ---------------------------------------------------------------- loggers

LoggerBridge::~LoggerBridge() = default;

void LoggerBridge::log(Severity severity, const char* msg) noexcept {
  if (severity <= Severity::kERROR) ErrorScope::record(msg);
  target_->log(severity, msg);
}

LoggerPtr makeBridge(nb::handle logger) {
  ILogger* target = nullptr;
  if (!nb::try_cast<ILogger*>(logger, target) || !target)
    typeError("expected a kiln.ILogger (e.g. kiln.Logger(kiln.Logger.WARNING)), got " +
              std::string(nb::type_name(logger.type()).c_str()));
  return std::make_shared<LoggerBridge>(nb::borrow(logger), target);
}

namespace {

//! Lets Python subclass kiln.ILogger (TensorRT style) and receive messages
//! from any thread, with or without the GIL held.
class PyILogger : public ILogger {
 public:
  NB_TRAMPOLINE(ILogger, 1);
  void log(Severity severity, const char* msg) noexcept override {
    nb::gil_scoped_acquire gil;
    try {
      [&] { NB_OVERRIDE_PURE(log, severity, msg); }();
    } catch (nb::python_error& e) {
      e.discard_as_unraisable("kiln.ILogger.log");
    } catch (...) {
    }
  }
};

//! kiln.Logger: prints messages at or above min_severity to stderr, as
//! tensorrt.Logger does. Pure C++, so it needs no GIL.
class StderrLogger : public ILogger {
 public:
  explicit StderrLogger(Severity min) : minSeverity(min) {}
  void log(Severity severity, const char* msg) noexcept override {
    if (severity > minSeverity) return;
    static const char letters[] = "FEWIV";
    int i = static_cast<int>(severity);
    std::lock_guard<std::mutex> lock(mutex_);
    std::fprintf(stderr, "[kiln] [%c] %s\n", i >= 0 && i < 5 ? letters[i] : '?', msg ? msg : "");
    std::fflush(stderr);
  }
  Severity minSeverity;

 private:
  std::mutex mutex_;
};

// ---------------------------------------------------------------- host memory

struct HostMemory {
  std::unique_ptr<IHostMemory> mem;
};

int hostMemoryGetBuffer(PyObject* self, Py_buffer* view, int flags) {
  HostMemory* m = nb::inst_ptr<HostMemory>(self);
  if (flags & PyBUF_WRITABLE) {
    PyErr_SetString(PyExc_BufferError, "kiln.IHostMemory is read-only");
    return -1;
  }
  return PyBuffer_FillInfo(view, self, m->mem->data(), static_cast<Py_ssize_t>(m->mem->size()), 1, flags);
}

PyType_Slot hostMemorySlots[] = {{Py_bf_getbuffer, reinterpret_cast<void*>(hostMemoryGetBuffer)}, {0, nullptr}};

// ---------------------------------------------------------------- weights

//! kiln.Weights: a contiguous host array and its element type. Kiln copies
//! weights when a layer is added, so the array only has to live that long.
struct PyWeights {
  DataType type = DataType::kFLOAT;
  const void* values = nullptr;
  int64_t count = 0;
  nb::object keep;  // the array the values point into
  Weights weights() const { return Weights{type, values, count}; }
};

using HostArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

PyWeights weightsFromArray(const HostArray& a) {
  std::optional<DataType> t = dataTypeOf(a.dtype());
  if (!t)
    typeError("kiln.Weights: unsupported array dtype " + dlpackName(a.dtype()) +
              " (use float32, float16, int8, int32, int64, uint8 or bool; e.g. arr.astype(np.float32))");
  PyWeights w;
  w.type = *t;
  w.values = a.data();
  w.count = static_cast<int64_t>(a.size());
  w.keep = nb::cast(a);
  return w;
}

}  // namespace

Weights toWeights(nb::handle obj, const char* what) {
  if (obj.is_none()) return Weights{DataType::kFLOAT, nullptr, 0};
  PyWeights* w = nullptr;
  if (nb::try_cast<PyWeights*>(obj, w) && w) return w->weights();
  HostArray a;
  if (!nb::try_cast<HostArray>(obj, a))
    typeError(std::string(what) + ": expected kiln.Weights or a numpy array on the host, got " +
              nb::type_name(obj.type()).c_str());
  // The array is borrowed from `obj`, which the caller holds for the call.
  return weightsFromArray(a).weights();
}

// ---------------------------------------------------------------- dims

Dims dimsFrom(const std::vector<int64_t>& v, const char* what) {
  if (v.size() > static_cast<std::size_t>(Dims::MAX_DIMS))
    valueError(std::string(what) + ": " + std::to_string(v.size()) + " dimensions, at most " +
               std::to_string(Dims::MAX_DIMS));
  Dims d;
  d.nbDims = static_cast<int32_t>(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) d.d[i] = v[i];
  return d;
}

std::vector<int64_t> dimsToVector(const Dims& d) {
  std::vector<int64_t> v;
  for (int i = 0; i < std::clamp(d.nbDims, 0, Dims::MAX_DIMS); ++i) v.push_back(d.d[i]);
  return v;
}

// ---------------------------------------------------------------- buffers

BufferView::BufferView(nb::handle obj, const char* what) {
  if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_C_CONTIGUOUS) != 0) {
    PyErr_Clear();
    view_.obj = nullptr;
    typeError(std::string(what) + ": expected bytes or an object with the buffer protocol, got " +
              nb::type_name(obj.type()).c_str());
  }
}

BufferView::~BufferView() {
  if (view_.obj) PyBuffer_Release(&view_);
}

nb::object hostMemoryObject(IHostMemory* mem) {
  if (!mem) return nb::none();
  return nb::cast(HostMemory{std::unique_ptr<IHostMemory>(mem)});
}

// ---------------------------------------------------------------- bindings

void bindTypes(nb::module_& m) {
  nb::exception<KilnError>(m, "KilnError", PyExc_RuntimeError);

  nb::enum_<DataType>(m, "DataType", nb::is_arithmetic(), "Element types (tensorrt.DataType)")
      .value("FLOAT", DataType::kFLOAT)
      .value("HALF", DataType::kHALF)
      .value("INT8", DataType::kINT8)
      .value("INT32", DataType::kINT32)
      .value("BOOL", DataType::kBOOL)
      .value("UINT8", DataType::kUINT8)
      .value("FP8", DataType::kFP8)
      .value("BF16", DataType::kBF16)
      .value("INT64", DataType::kINT64)
      // Kiln's additions (tensorrt has no such types)
      .value("DOUBLE", DataType::kDOUBLE)
      .value("INT16", DataType::kINT16)
      .value("UINT16", DataType::kUINT16)
      .value("UINT32", DataType::kUINT32)
      .value("UINT64", DataType::kUINT64)
      .value("FP8E5M2", DataType::kFP8E5M2)
      .value("FP8E4M3FNUZ", DataType::kFP8E4M3FNUZ)
      .value("FP8E5M2FNUZ", DataType::kFP8E5M2FNUZ)
      .def_prop_ro("itemsize", [](DataType t) { return dataTypeSize(t); }, "Bytes per element.");
  m.def("data_type_size", [](DataType t) { return dataTypeSize(t); }, "Bytes per element of a DataType.");

  nb::enum_<TensorIOMode>(m, "TensorIOMode", nb::is_arithmetic())
      .value("NONE", TensorIOMode::kNONE)
      .value("INPUT", TensorIOMode::kINPUT)
      .value("OUTPUT", TensorIOMode::kOUTPUT);
  nb::enum_<TensorLocation>(m, "TensorLocation", nb::is_arithmetic())
      .value("DEVICE", TensorLocation::kDEVICE)
      .value("HOST", TensorLocation::kHOST);
  nb::enum_<TensorFormat>(m, "TensorFormat", nb::is_arithmetic()).value("LINEAR", TensorFormat::kLINEAR);
  nb::enum_<ErrorCode>(m, "ErrorCodeTRT", nb::is_arithmetic())
      .value("SUCCESS", ErrorCode::kSUCCESS)
      .value("UNSPECIFIED_ERROR", ErrorCode::kUNSPECIFIED_ERROR)
      .value("INTERNAL_ERROR", ErrorCode::kINTERNAL_ERROR)
      .value("INVALID_ARGUMENT", ErrorCode::kINVALID_ARGUMENT)
      .value("INVALID_CONFIG", ErrorCode::kINVALID_CONFIG)
      .value("FAILED_ALLOCATION", ErrorCode::kFAILED_ALLOCATION)
      .value("FAILED_INITIALIZATION", ErrorCode::kFAILED_INITIALIZATION)
      .value("FAILED_EXECUTION", ErrorCode::kFAILED_EXECUTION)
      .value("FAILED_COMPUTATION", ErrorCode::kFAILED_COMPUTATION)
      .value("INVALID_STATE", ErrorCode::kINVALID_STATE)
      .value("UNSUPPORTED_STATE", ErrorCode::kUNSUPPORTED_STATE);

  // Dims: behaves like a tuple of ints; tuples and lists convert implicitly.
  nb::class_<Dims>(m, "Dims", "Tensor dimensions (-1 = dynamic). Compares equal to a tuple of the same ints.")
      .def(nb::init<>())
      .def("__init__",
           [](Dims* self, const std::vector<int64_t>& v) { new (self) Dims(dimsFrom(v, "kiln.Dims")); },
           nb::arg("shape"))
      .def_ro_static("MAX_DIMS", &Dims::MAX_DIMS)
      .def("__len__", [](const Dims& d) { return std::max(d.nbDims, 0); })
      .def("__getitem__",
           [](const Dims& d, int64_t i) {
             int64_t n = std::max(d.nbDims, 0);
             if (i < 0) i += n;
             if (i < 0 || i >= n) throw nb::index_error("Dims index out of range");
             return d.d[i];
           })
      .def("__setitem__",
           [](Dims& d, int64_t i, int64_t v) {
             int64_t n = std::max(d.nbDims, 0);
             if (i < 0) i += n;
             if (i < 0 || i >= n) throw nb::index_error("Dims index out of range");
             d.d[i] = v;
           })
      .def("__iter__", [](const Dims& d) { return nb::iter(nb::cast(dimsToVector(d))); })
      .def("__eq__",
           [](const Dims& d, nb::handle other) {
             std::vector<int64_t> v;
             Dims* o = nullptr;
             if (nb::try_cast<Dims*>(other, o) && o) return dimsToVector(*o) == dimsToVector(d);
             return nb::try_cast<std::vector<int64_t>>(other, v) && v == dimsToVector(d);
           })
      .def("__ne__",
           [](const Dims& d, nb::handle other) {
             std::vector<int64_t> v;
             Dims* o = nullptr;
             if (nb::try_cast<Dims*>(other, o) && o) return dimsToVector(*o) != dimsToVector(d);
             return !(nb::try_cast<std::vector<int64_t>>(other, v) && v == dimsToVector(d));
           })
      .def("__hash__", [](const Dims& d) { return nb::hash(nb::tuple(nb::cast(dimsToVector(d)))); })
      .def("__repr__", [](const Dims& d) { return nb::repr(nb::tuple(nb::cast(dimsToVector(d)))); });
  nb::implicitly_convertible<std::vector<int64_t>, Dims>();
  nb::class_<Dims2, Dims>(m, "Dims2").def(nb::init<int64_t, int64_t>());
  nb::class_<DimsHW, Dims2>(m, "DimsHW")
      .def(nb::init<int64_t, int64_t>())
      .def_prop_rw("h", [](const DimsHW& d) { return d.d[0]; }, [](DimsHW& d, int64_t v) { d.d[0] = v; })
      .def_prop_rw("w", [](const DimsHW& d) { return d.d[1]; }, [](DimsHW& d, int64_t v) { d.d[1] = v; });
  nb::class_<Dims3, Dims>(m, "Dims3").def(nb::init<int64_t, int64_t, int64_t>());
  nb::class_<Dims4, Dims>(m, "Dims4").def(nb::init<int64_t, int64_t, int64_t, int64_t>());

  // Loggers.
  nb::class_<ILogger, PyILogger> logger(m, "ILogger",
                                        "Subclass and implement log(severity, msg) to receive Kiln's messages.");
  nb::enum_<ILogger::Severity>(logger, "Severity", nb::is_arithmetic())
      .value("INTERNAL_ERROR", ILogger::Severity::kINTERNAL_ERROR)
      .value("ERROR", ILogger::Severity::kERROR)
      .value("WARNING", ILogger::Severity::kWARNING)
      .value("INFO", ILogger::Severity::kINFO)
      .value("VERBOSE", ILogger::Severity::kVERBOSE)
      .export_values();
  logger.def(nb::init<>()).def("log", &ILogger::log, nb::arg("severity"), nb::arg("msg"));
  nb::class_<StderrLogger, ILogger>(m, "Logger", "Prints messages at or above min_severity to stderr.")
      .def(nb::init<ILogger::Severity>(), nb::arg("min_severity") = ILogger::Severity::kWARNING)
      .def_rw("min_severity", &StderrLogger::minSeverity);

  nb::class_<HostMemory>(m, "IHostMemory", nb::type_slots(hostMemorySlots),
                         "Bytes owned by Kiln (a serialized engine or timing cache); supports the buffer protocol.")
      .def_prop_ro("nbytes", [](const HostMemory& h) { return h.mem->size(); })
      .def_prop_ro("dtype", [](const HostMemory& h) { return h.mem->type(); })
      .def("__len__", [](const HostMemory& h) { return h.mem->size(); })
      .def("tobytes", [](const HostMemory& h) {
        return nb::bytes(static_cast<const char*>(h.mem->data()), h.mem->size());
      });

  nb::class_<PyWeights>(m, "Weights", "Layer weights: a contiguous host array (copied when the layer is added).")
      .def("__init__", [](PyWeights* self, DataType t) { new (self) PyWeights{t, nullptr, 0, nb::none()}; },
           nb::arg("type") = DataType::kFLOAT)
      .def("__init__", [](PyWeights* self, const HostArray& a) { new (self) PyWeights(weightsFromArray(a)); },
           nb::arg("a"))
      .def_prop_ro("dtype", [](const PyWeights& w) { return w.type; })
      .def_prop_ro("size", [](const PyWeights& w) { return w.count; })
      .def_prop_ro("nbytes", [](const PyWeights& w) { return w.count * dataTypeSize(w.type); })
      .def("numpy", [](const PyWeights& w) { return w.keep; }, "The array these weights view (None when empty).")
      .def("__len__", [](const PyWeights& w) { return w.count; });

  m.def("get_infer_lib_version", &getInferLibVersion);
}

}  // namespace kiln::py
