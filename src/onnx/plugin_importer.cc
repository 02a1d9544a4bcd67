// ONNX attributes -> plugin fields follow TensorRT's parser: INT and INTS
// become kINT32, FLOAT and FLOATS kFLOAT32, STRING kCHAR, a TENSOR the field
// type of its element type.
#include "onnx/plugin_importer.h"

#include <climits>
#include <vector>

#include "ir/plugin.h"
#include "plugins/plugin_fields.h"
#include "plugins/registry.h"

namespace kiln::onnx {

namespace {

using AP = ::onnx::AttributeProto;

constexpr const char* kVersionAttr = "plugin_version";
constexpr const char* kNamespaceAttr = "plugin_namespace";

std::string stringAttr(const ::onnx::NodeProto& node, const char* name, const std::string& dflt) {
  for (const AP& a : node.attribute())
    if (a.name() == name && (a.type() == AP::STRING || a.has_s())) return a.s();
  return dflt;
}

PluginFieldType fieldTypeOf(DType t) {
  switch (t) {
    case DType::kFLOAT: return PluginFieldType::kFLOAT32;
    case DType::kHALF: return PluginFieldType::kFLOAT16;
    case DType::kBF16: return PluginFieldType::kBF16;
    case DType::kINT32: return PluginFieldType::kINT32;
    case DType::kINT64: return PluginFieldType::kINT64;
    case DType::kFP8: return PluginFieldType::kFP8;
    default: return PluginFieldType::kINT8;  // int8, uint8, bool: one byte each
  }
}

std::vector<int32_t> narrow(NodeContext& ctx, const AP& a, const std::vector<int64_t>& values) {
  std::vector<int32_t> out;
  for (int64_t v : values) {
    KILN_NODE_CHECK(ctx, v >= INT32_MIN && v <= INT32_MAX, ErrorCode::kUNSUPPORTED_NODE_ATTR, "attribute '",
                    a.name(), "' holds ", v, ", which does not fit the int32 plugin field it becomes");
    out.push_back(static_cast<int32_t>(v));
  }
  return out;
}

void addField(NodeContext& ctx, const AP& a, plugins::PluginFields& fields, const std::string& where) {
  ir::Attribute value = ctx.convert(a);
  const std::string& name = a.name();
  if (auto* i = std::get_if<int64_t>(&value)) {
    std::vector<int32_t> v = narrow(ctx, a, {*i});
    fields.add(name, PluginFieldType::kINT32, v.data(), 1, where);
  } else if (auto* f = std::get_if<float>(&value)) {
    fields.add(name, PluginFieldType::kFLOAT32, f, 1, where);
  } else if (auto* s = std::get_if<std::string>(&value)) {
    fields.add(name, PluginFieldType::kCHAR, s->data(), static_cast<int32_t>(s->size()), where);
  } else if (auto* is = std::get_if<std::vector<int64_t>>(&value)) {
    std::vector<int32_t> v = narrow(ctx, a, *is);
    fields.add(name, PluginFieldType::kINT32, v.data(), static_cast<int32_t>(v.size()), where);
  } else if (auto* fs = std::get_if<std::vector<float>>(&value)) {
    fields.add(name, PluginFieldType::kFLOAT32, fs->data(), static_cast<int32_t>(fs->size()), where);
  } else if (auto* t = std::get_if<ir::Tensor>(&value)) {
    KILN_NODE_CHECK(ctx, t->numel() <= INT32_MAX, ErrorCode::kUNSUPPORTED_NODE_ATTR, "attribute '", name,
                    "' is too large for a plugin field");
    fields.add(name, fieldTypeOf(t->dtype()), t->data(), static_cast<int32_t>(t->numel()), where);
  } else {
    KILN_NODE_FAIL(ctx, ErrorCode::kUNSUPPORTED_NODE_ATTR, "attribute '", name,
                   "' is a list of strings, which no plugin field type holds");
  }
}

}  // namespace

IPluginCreatorV3One* pluginCreatorFor(const ::onnx::NodeProto& node) {
  return plugins::findCreator(node.op_type(), stringAttr(node, kVersionAttr, "1"),
                              stringAttr(node, kNamespaceAttr, ""));
}

std::string pluginWanted(const ::onnx::NodeProto& node) {
  return strCat("plugin \"", node.op_type(), "\" (version \"", stringAttr(node, kVersionAttr, "1"),
                "\", namespace \"", stringAttr(node, kNamespaceAttr, ""), "\")");
}

void importPlugin(NodeContext& ctx) {
  const ::onnx::NodeProto& proto = ctx.proto();
  IPluginCreatorV3One* creator = pluginCreatorFor(proto);
  KILN_NODE_CHECK(ctx, creator, ErrorCode::kUNSUPPORTED_NODE, pluginWanted(proto), " is no longer registered");
  std::string where = strCat(ctx.describe(), ": ", pluginWanted(proto));

  plugins::PluginFields fields;
  for (const AP& a : proto.attribute())
    if (a.name() != kVersionAttr && a.name() != kNamespaceAttr) addField(ctx, a, fields, where);

  std::vector<ir::Value*> inputs = ctx.inputs();
  while (!inputs.empty() && !inputs.back()) inputs.pop_back();
  for (std::size_t i = 0; i < inputs.size(); ++i)
    KILN_NODE_CHECK(ctx, inputs[i], ErrorCode::kINVALID_NODE, "input ", i,
                    " is absent; a plugin's inputs must all be present");

  ir::PluginPtr plugin(ir::callPlugin(where, "creator createPlugin", [&] {
    return creator->createPlugin(ctx.name().c_str(), fields.collection(), TensorRTPhase::kBUILD);
  }));
  KILN_NODE_CHECK(ctx, plugin, ErrorCode::kINVALID_NODE, pluginWanted(proto),
                  ": its creator's createPlugin returned no plugin for this node's attributes");
  ctx.emit(ir::kPluginOp, std::move(inputs), plugins::pluginNodeAttrs(*plugin, where, 0));
}

}  // namespace kiln::onnx
