#include "ir/plugin.h"

#include <atomic>
#include <cstring>

namespace kiln::ir {

namespace {

std::atomic<PluginFactory> gFactory{nullptr};

template <typename Cap>
Cap& capability(const std::string& where, IPluginV3& plugin, PluginCapabilityType type, const char* kind,
                const char* what) {
  IPluginCapability* cap = callPlugin(where, "getCapabilityInterface", [&] { return plugin.getCapabilityInterface(type); });
  KILN_CHECK(cap, where, " has no ", what, " capability");
  InterfaceInfo info = cap->getInterfaceInfo();
  KILN_CHECK(info.kind && std::strcmp(info.kind, kind) == 0 && info.major == 1, where, " offers its ", what,
             " capability as interface \"", info.kind ? info.kind : "", "\" version ", info.major, ".", info.minor,
             "; Kiln needs \"", kind, "\" version 1.x");
  return *static_cast<Cap*>(cap);
}

}  // namespace

void setPluginFactory(PluginFactory factory) { gFactory.store(factory); }

PluginPtr createPlugin(const Node& node, TensorRTPhase phase) {
  PluginFactory factory = gFactory.load();
  KILN_CHECK(factory, pluginWhere(node),
             " is not registered (no plugin creator is registered in this process); load its library "
             "(IPluginRegistry::loadLibrary, kilnexec --plugins) or register its creator");
  PluginPtr p(factory(node, phase));
  KILN_CHECK(p, pluginWhere(node), " could not be created");
  return p;
}

std::string describePlugin(const Node& node) {
  return strCat("plugin \"", node.s(plugin_attr::kName, ""), "\" (version \"", node.s(plugin_attr::kVersion, ""),
                "\", namespace \"", node.s(plugin_attr::kNamespace, ""), "\")");
}

std::string pluginWhere(const Node& node) { return strCat(node.describe(), ": ", describePlugin(node)); }

int64_t pluginDataInputs(const Node& node) {
  int64_t shapes = node.i(plugin_attr::kNbShapeInputs, 0);
  int64_t n = static_cast<int64_t>(node.inputs.size());
  KILN_CHECK(shapes >= 0 && shapes <= n, node.describe(), ": ", shapes, " shape inputs of ", n, " inputs");
  return n - shapes;
}

IPluginV3OneCore& pluginCore(const std::string& where, IPluginV3& plugin) {
  return capability<IPluginV3OneCore>(where, plugin, PluginCapabilityType::kCORE, "PLUGIN_V3ONE_CORE", "core");
}
IPluginV3OneBuild& pluginBuild(const std::string& where, IPluginV3& plugin) {
  return capability<IPluginV3OneBuild>(where, plugin, PluginCapabilityType::kBUILD, "PLUGIN_V3ONE_BUILD", "build");
}
IPluginV3OneRuntime& pluginRuntime(const std::string& where, IPluginV3& plugin) {
  return capability<IPluginV3OneRuntime>(where, plugin, PluginCapabilityType::kRUNTIME, "PLUGIN_V3ONE_RUNTIME",
                                         "runtime");
}

void checkPluginStatus(const std::string& where, const char* method, int32_t status) {
  KILN_CHECK(status == 0, where, " ", method, " failed (status ", status, ")");
}

}  // namespace kiln::ir
