// KilnPlugin nodes: a layer computed by a user's plugin (include/kiln/plugin.h).
//
// The node names its plugin by attributes (plugin_name, plugin_version,
// plugin_namespace) and carries the plugin's serialized fields, so a plan can
// re-create it. The IR and the backends know no registry: the plugins library
// (src/plugins) installs a PluginFactory, and the KilnPlugin schema
// (ir/ops/plugin.cc) and the CPU tactic (backends/cpu/ops/plugin.cc) get their
// plugin objects through createPlugin() below. With no factory installed no
// creator was ever registered, so the error says the plugin is not registered.
#pragma once
#include <exception>
#include <memory>
#include <string>

#include "core/error.h"
#include "ir/graph.h"
#include "kiln/plugin.h"

namespace kiln::ir {

constexpr const char* kPluginOp = "KilnPlugin";

//! The attributes of a KilnPlugin node.
namespace plugin_attr {
constexpr const char* kName = "plugin_name";
constexpr const char* kVersion = "plugin_version";
constexpr const char* kNamespace = "plugin_namespace";
//! How many of the node's last inputs are shape inputs (absent: none).
constexpr const char* kNbShapeInputs = "plugin_nb_shape_inputs";
//! The serialized fields: names, PluginFieldType and length per field, and
//! every field's bytes one after another (kUINT8 tensor).
constexpr const char* kFieldNames = "plugin_field_names";
constexpr const char* kFieldTypes = "plugin_field_types";
constexpr const char* kFieldLengths = "plugin_field_lengths";
constexpr const char* kFieldData = "plugin_field_data";
}  // namespace plugin_attr

using PluginPtr = std::unique_ptr<IPluginV3>;

//! Makes the plugin object of a KilnPlugin node for `phase` (never null;
//! throws kiln::Error naming the plugin).
using PluginFactory = IPluginV3* (*)(const Node& node, TensorRTPhase phase);

void setPluginFactory(PluginFactory factory);
PluginPtr createPlugin(const Node& node, TensorRTPhase phase);

//! `plugin "CustomSwish" (version "1", namespace "")`
std::string describePlugin(const Node& node);
//! `KilnPlugin node "swish1": plugin "CustomSwish" (...)`: where plugin errors happen.
std::string pluginWhere(const Node& node);
//! Number of data inputs (the node's inputs less its shape inputs).
int64_t pluginDataInputs(const Node& node);

//! The capability of `type`, checked by its interface kind and major version;
//! throws naming `where` when the plugin lacks it.
IPluginV3OneCore& pluginCore(const std::string& where, IPluginV3& plugin);
IPluginV3OneBuild& pluginBuild(const std::string& where, IPluginV3& plugin);
IPluginV3OneRuntime& pluginRuntime(const std::string& where, IPluginV3& plugin);

//! Runs plugin code: an exception it throws becomes a kiln::Error
//! `<where> <method> threw: <reason>`.
template <typename Fn>
auto callPlugin(const std::string& where, const char* method, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    fail(where, " ", method, " threw: ", e.what());
  } catch (...) {
    fail(where, " ", method, " threw an unknown exception");
  }
}
//! A non-zero status from plugin code becomes a kiln::Error.
void checkPluginStatus(const std::string& where, const char* method, int32_t status);

}  // namespace kiln::ir
