// INetworkDefinition::addPluginV3: a KilnPlugin node whose attributes are the
// plugin's identity and its getFieldsToSerialize() fields (ir/plugin.h). The
// layer keeps a clone of the user's plugin for getPlugin().
#include "api/api_util.h"
#include "api/layers.h"
#include "ir/plugin.h"
#include "kiln/plugin.h"
#include "plugins/plugin_fields.h"
#include "plugins/registry.h"

namespace kiln::api {

namespace {

class PluginV3Layer final : public LayerBase<IPluginV3Layer> {
 public:
  IPluginV3& getPlugin() noexcept override { return *plugin; }
  ir::PluginPtr plugin;
};

std::vector<ir::Value*> valuesOf(ITensor* const* tensors, int32_t n, const char* what) {
  KILN_CHECK(n >= 0 && (n == 0 || tensors), "nb", what, " is ", n, " but the array is null");
  std::vector<ir::Value*> out;
  for (int32_t i = 0; i < n; ++i) {
    KILN_CHECK(tensors[i], what, " ", i, " is null");
    out.push_back(static_cast<TensorImpl*>(tensors[i])->value());
  }
  return out;
}

}  // namespace

IPluginV3Layer* NetworkImpl::addPluginV3(ITensor* const* inputs, int32_t nbInputs, ITensor* const* shapeInputs,
                                         int32_t nbShapeInputs, IPluginV3& plugin) noexcept {
  return guarded(logger_, "addPluginV3", static_cast<IPluginV3Layer*>(nullptr), [&]() -> IPluginV3Layer* {
    std::vector<ir::Value*> ins = valuesOf(inputs, nbInputs, "input");
    std::vector<ir::Value*> shapes = valuesOf(shapeInputs, nbShapeInputs, "shape input");
    auto layer = std::make_unique<PluginV3Layer>();
    layer->name_ = defaultLayerName("PluginV3");
    layer->type_ = LayerType::kPLUGIN_V3;
    std::string where = strCat("plugin layer \"", layer->name_, "\"");
    layer->plugin.reset(ir::callPlugin(where, "clone", [&] { return plugin.clone(); }));
    KILN_CHECK(layer->plugin, where, ": the plugin's clone() returned no plugin");

    auto attrs = plugins::pluginNodeAttrs(*layer->plugin, where, nbShapeInputs);
    namespace pa = ir::plugin_attr;
    std::string name = std::get<std::string>(attrs[pa::kName]), version = std::get<std::string>(attrs[pa::kVersion]),
                ns = std::get<std::string>(attrs[pa::kNamespace]);
    KILN_CHECK(plugins::findCreator(name, version, ns), where, ": plugin \"", name, "\" (version \"", version,
               "\", namespace \"", ns, "\") has no registered creator. Kiln re-creates plugins from their creator "
               "when it builds and loads a plan: register it first (REGISTER_KILN_PLUGIN, "
               "IPluginRegistry::registerCreator or loadLibrary)");
    IPluginV3OneBuild& build = ir::pluginBuild(where, *layer->plugin);
    int32_t nOut = ir::callPlugin(where, "getNbOutputs", [&] { return build.getNbOutputs(); });
    KILN_CHECK(nOut >= 1, where, ": the plugin has ", nOut, " outputs");

    std::vector<ir::Value*> outs;
    for (int32_t i = 0; i < nOut; ++i) outs.push_back(graph_.addValue(strCat(layer->name_, "_output_", i)));
    std::vector<ir::Value*> all = ins;
    all.insert(all.end(), shapes.begin(), shapes.end());
    refreshShapes();  // the inputs' shapes, for the plugin's getOutputShapes
    ir::Node* node = graph_.addNode(ir::kPluginOp, layer->name_, all, outs);
    node->attrs = std::move(attrs);
    try {
      ir::inferNode(*node);
    } catch (...) {
      graph_.removeNode(node);
      throw;
    }
    layer->node_ = node;
    layer->in_ = std::move(all);
    layer->out_ = std::move(outs);
    return adopt(std::move(layer));
  });
}

}  // namespace kiln::api
