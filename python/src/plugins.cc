// kiln.get_plugin_registry(), kiln.IPluginRegistry, kiln.IPluginCreatorV3One,
// kiln.init_libnvinfer_plugins (include/kiln/plugin.h, builtin_plugins.h).
//
// A creator is shown to Python as a snapshot of what it reports (name,
// version, namespace, field names), never as a pointer: a plugin library's
// creators go away with deregister_library, and a snapshot cannot dangle.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "common.h"
#include "kiln/builtin_plugins.h"

namespace kiln::py {

namespace {

struct PyPluginRegistry {};  // the process-wide registry; all state lives in the C++ one

struct PyPluginCreator {
  std::string name, version, pluginNamespace;
  std::vector<std::string> fieldNames;
  std::string interfaceKind;
};

PyPluginCreator snapshot(IPluginCreatorInterface& c) {
  PyPluginCreator out;
  InterfaceInfo info = c.getInterfaceInfo();
  out.interfaceKind = str(info.kind);
  if (auto* v3 = dynamic_cast<IPluginCreatorV3One*>(&c)) {
    out.name = str(v3->getPluginName());
    out.version = str(v3->getPluginVersion());
    out.pluginNamespace = str(v3->getPluginNamespace());
    if (const PluginFieldCollection* fc = v3->getFieldNames())
      for (int32_t i = 0; i < fc->nbFields; ++i) out.fieldNames.push_back(str(fc->fields[i].name));
  }
  return out;
}

//! The bridges the registry has logged through. A replaced one is retired,
//! not freed, since another thread may be logging through it; all are dropped
//! (and the registry's logger reset) when the interpreter exits, so that no
//! Python logger outlives it.
std::mutex registryLoggerMutex;
std::vector<LoggerPtr>* registryLoggers = nullptr;

void releaseRegistryLoggers() {
  std::lock_guard<std::mutex> lock(registryLoggerMutex);
  getPluginRegistry()->setLogger(nullptr);
  if (registryLoggers) registryLoggers->clear();
}

void setRegistryLogger(nb::handle logger) {
  if (logger.is_none()) return;
  LoggerPtr bridge = makeBridge(logger);
  std::lock_guard<std::mutex> lock(registryLoggerMutex);
  if (!registryLoggers) {
    registryLoggers = new std::vector<LoggerPtr>();
    nb::module_::import_("atexit").attr("register")(nb::cpp_function(&releaseRegistryLoggers));
  }
  registryLoggers->push_back(bridge);
  getPluginRegistry()->setLogger(bridge.get());
}

bool initPlugins(nb::handle logger, const std::string& ns) {
  setRegistryLogger(logger);
  ErrorScope scope;
  // The C entry point takes the registry's logger as void*; it was set above.
  bool ok = initLibKilnPlugins(nullptr, ns.c_str());
  if (!ok) raise(scope, "init_libnvinfer_plugins");
  return ok;
}

}  // namespace

void bindPlugins(nb::module_& m) {
  nb::class_<PyPluginCreator>(m, "IPluginCreatorV3One",
                              "A registered plugin creator (a snapshot of what it reports).")
      .def_ro("name", &PyPluginCreator::name)
      .def_ro("plugin_version", &PyPluginCreator::version)
      .def_ro("plugin_namespace", &PyPluginCreator::pluginNamespace)
      .def_ro("interface_kind", &PyPluginCreator::interfaceKind, "Kiln: e.g. \"PLUGIN CREATOR_V3ONE\".")
      .def_prop_ro("field_names", [](const PyPluginCreator& c) { return c.fieldNames; },
                   "Names of the fields create_plugin understands.")
      .def("__repr__", [](const PyPluginCreator& c) {
        return "<kiln.IPluginCreatorV3One " + c.name + " v" + c.version +
               (c.pluginNamespace.empty() ? "" : " in " + c.pluginNamespace) + ">";
      });

  nb::class_<PyPluginRegistry>(m, "IPluginRegistry", "The process-wide plugin registry (tensorrt.IPluginRegistry).")
      .def(
          "get_creator",
          [](PyPluginRegistry&, const std::string& name, const std::string& version,
             const std::string& ns) -> nb::object {
            IPluginCreatorInterface* c = getPluginRegistry()->getCreator(name.c_str(), version.c_str(), ns.c_str());
            if (!c) return nb::none();
            return nb::cast(snapshot(*c));
          },
          nb::arg("type"), nb::arg("version"), nb::arg("plugin_namespace") = "",
          nb::sig("def get_creator(self, type: str, version: str, plugin_namespace: str = '') "
                  "-> IPluginCreatorV3One | None"),
          "The creator of (type, version, namespace), or None.")
      .def_prop_ro(
          "all_creators",
          [](const PyPluginRegistry&) {
            int32_t n = 0;
            IPluginCreatorInterface* const* all = getPluginRegistry()->getAllCreators(&n);
            std::vector<PyPluginCreator> out;
            for (int32_t i = 0; i < n && all; ++i)
              if (all[i]) out.push_back(snapshot(*all[i]));
            return out;
          },
          "Every registered creator.")
      .def(
          "load_library",
          [](PyPluginRegistry&, const std::string& path) {
            ErrorScope scope;
            PluginLibraryHandle h = getPluginRegistry()->loadLibrary(path.c_str());
            if (!h) raise(scope, "IPluginRegistry.load_library(\"" + path + "\")");
            return reinterpret_cast<uintptr_t>(h);
          },
          nb::arg("plugin_path"), "Loads a plugin library and registers its creators; returns its handle.")
      .def(
          "deregister_library",
          [](PyPluginRegistry&, uintptr_t handle) {
            getPluginRegistry()->deregisterLibrary(reinterpret_cast<PluginLibraryHandle>(handle));
          },
          nb::arg("handle"));

  m.def(
      "get_plugin_registry", [] { return PyPluginRegistry{}; }, "The process-wide plugin registry.");
  m.def("init_libnvinfer_plugins", &initPlugins, nb::arg("logger").none(), nb::arg("namespace"),
        nb::sig("def init_libnvinfer_plugins(logger: ILogger | None, namespace: str) -> bool"),
        "Registers Kiln's built-in plugins (EfficientNMS_TRT, ROIAlign_TRT) under `namespace`; "
        "`logger` becomes the registry's logger. Safe to call more than once.");
  m.attr("init_lib_kiln_plugins") = m.attr("init_libnvinfer_plugins");
}

}  // namespace kiln::py
