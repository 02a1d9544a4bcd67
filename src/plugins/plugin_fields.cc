#include "plugins/plugin_fields.h"

#include <cstring>

#include "core/error.h"
#include "ir/plugin.h"

namespace kiln::plugins {

namespace {

bool knownType(int64_t t) { return t >= 0 && t <= static_cast<int64_t>(PluginFieldType::kINT4); }

//! Fields are small parameters; this bounds what a malformed plan can ask for.
constexpr int64_t kMaxFieldBytes = int64_t{1} << 30;

}  // namespace

void PluginFields::add(const std::string& name, PluginFieldType type, const void* data, int32_t length,
                       const std::string& where) {
  KILN_CHECK(!name.empty(), where, ": a plugin field has no name");
  KILN_CHECK(knownType(static_cast<int64_t>(type)), where, ": field \"", name, "\" has unknown type ",
             static_cast<int>(type));
  KILN_CHECK(length >= 0, where, ": field \"", name, "\" has length ", length);
  int64_t bytes = pluginFieldBytes(type, length);
  KILN_CHECK(bytes <= kMaxFieldBytes, where, ": field \"", name, "\" is ", bytes, " bytes");
  KILN_CHECK(bytes == 0 || data, where, ": field \"", name, "\" has ", length, " elements but no data");
  std::vector<uint8_t> copy(static_cast<std::size_t>(bytes) + 1, 0);
  if (bytes) std::memcpy(copy.data(), data, static_cast<std::size_t>(bytes));
  names_.push_back(name);
  data_.push_back(std::move(copy));
  fields_.emplace_back(names_.back().c_str(), data_.back().data(), type, length);
}

void PluginFields::addAll(const PluginFieldCollection* fc, const std::string& where) {
  if (!fc) return;
  KILN_CHECK(fc->nbFields >= 0 && (fc->nbFields == 0 || fc->fields), where, ": a field collection of ",
             fc->nbFields, " fields has no fields array");
  for (int32_t i = 0; i < fc->nbFields; ++i) {
    const PluginField& f = fc->fields[i];
    KILN_CHECK(f.name, where, ": field ", i, " has no name");
    add(f.name, f.type, f.data, f.length, where);
  }
}

void PluginFields::readFrom(const ir::Node& node) {
  namespace pa = ir::plugin_attr;
  std::string where = ir::pluginWhere(node);
  std::vector<std::string> names;
  if (auto it = node.attrs.find(pa::kFieldNames); it != node.attrs.end()) {
    auto* v = std::get_if<std::vector<std::string>>(&it->second);
    KILN_CHECK(v, where, ": attribute '", pa::kFieldNames, "' must be a list of strings");
    names = *v;
  }
  std::vector<int64_t> types = node.ints(pa::kFieldTypes), lengths = node.ints(pa::kFieldLengths);
  KILN_CHECK(types.size() == names.size() && lengths.size() == names.size(), where, ": malformed fields (",
             names.size(), " names, ", types.size(), " types, ", lengths.size(), " lengths)");
  const ir::Tensor* blob = node.tensor(pa::kFieldData);
  int64_t total = blob ? static_cast<int64_t>(blob->bytes()) : 0, offset = 0;
  const uint8_t* bytes = blob ? blob->as<uint8_t>() : nullptr;
  for (std::size_t i = 0; i < names.size(); ++i) {
    KILN_CHECK(knownType(types[i]), where, ": field \"", names[i], "\" has unknown type ", types[i]);
    KILN_CHECK(lengths[i] >= 0 && lengths[i] <= INT32_MAX, where, ": field \"", names[i], "\" has length ", lengths[i]);
    auto type = static_cast<PluginFieldType>(types[i]);
    int64_t n = pluginFieldBytes(type, lengths[i]);
    KILN_CHECK(n <= total - offset, where, ": field \"", names[i], "\" runs past the stored field bytes");
    add(names[i], type, bytes ? bytes + offset : nullptr, static_cast<int32_t>(lengths[i]), where);
    offset += n;
  }
  KILN_CHECK(offset == total, where, ": ", total - offset, " stored field bytes belong to no field");
}

void PluginFields::writeTo(std::map<std::string, ir::Attribute>& attrs) const {
  namespace pa = ir::plugin_attr;
  if (fields_.empty()) return;
  std::vector<std::string> names;
  std::vector<int64_t> types, lengths;
  std::vector<uint8_t> blob;
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    names.push_back(names_[i]);
    types.push_back(static_cast<int64_t>(fields_[i].type));
    lengths.push_back(fields_[i].length);
    blob.insert(blob.end(), data_[i].begin(), data_[i].end() - 1);  // less the terminator
  }
  attrs[pa::kFieldNames] = names;
  attrs[pa::kFieldTypes] = types;
  attrs[pa::kFieldLengths] = lengths;
  if (!blob.empty())
    attrs[pa::kFieldData] = ir::Tensor(DType::kUINT8, {static_cast<int64_t>(blob.size())}, blob.data());
}

const PluginFieldCollection* PluginFields::collection() {
  fc_.nbFields = static_cast<int32_t>(fields_.size());
  fc_.fields = fields_.empty() ? nullptr : fields_.data();
  return &fc_;
}

std::map<std::string, ir::Attribute> pluginNodeAttrs(IPluginV3& plugin, const std::string& where,
                                                     int64_t nbShapeInputs) {
  namespace pa = ir::plugin_attr;
  IPluginV3OneCore& core = ir::pluginCore(where, plugin);
  IPluginV3OneRuntime& runtime = ir::pluginRuntime(where, plugin);
  auto text = [&](const char* method, auto get) {
    const char* s = ir::callPlugin(where, method, get);
    return std::string(s ? s : "");
  };
  std::map<std::string, ir::Attribute> attrs;
  std::string name = text("getPluginName", [&] { return core.getPluginName(); });
  KILN_CHECK(!name.empty(), where, ": the plugin has no name (getPluginName)");
  attrs[pa::kName] = name;
  attrs[pa::kVersion] = text("getPluginVersion", [&] { return core.getPluginVersion(); });
  attrs[pa::kNamespace] = text("getPluginNamespace", [&] { return core.getPluginNamespace(); });
  if (nbShapeInputs > 0) attrs[pa::kNbShapeInputs] = nbShapeInputs;
  PluginFields fields;
  fields.addAll(ir::callPlugin(where, "getFieldsToSerialize", [&] { return runtime.getFieldsToSerialize(); }), where);
  fields.writeTo(attrs);
  return attrs;
}

}  // namespace kiln::plugins
