#include "plugins/builtin_util.h"

#include <algorithm>

#include "plugins/registry.h"

namespace kiln::plugins::builtin {

namespace {

const PluginField* findField(const PluginFieldCollection* fc, const char* plugin, const char* name) {
  for (int32_t i = 0; fc && i < fc->nbFields; ++i) {
    const PluginField& f = fc->fields[i];
    if (!f.name || std::strcmp(f.name, name) != 0) continue;
    KILN_CHECK(f.length == 1 && f.data, plugin, ": field '", name, "' must hold one value, has ", f.length);
    return &f;
  }
  return nullptr;
}

double numberOf(const PluginField& f, const char* plugin) {
  switch (f.type) {
    case PluginFieldType::kINT8: return *static_cast<const int8_t*>(f.data);
    case PluginFieldType::kINT16: return *static_cast<const int16_t*>(f.data);
    case PluginFieldType::kINT32: return *static_cast<const int32_t*>(f.data);
    case PluginFieldType::kINT64: return static_cast<double>(*static_cast<const int64_t*>(f.data));
    case PluginFieldType::kFLOAT32: return *static_cast<const float*>(f.data);
    case PluginFieldType::kFLOAT64: return *static_cast<const double*>(f.data);
    default: fail(plugin, ": field '", f.name, "' must be a number (int or float), has field type ", static_cast<int>(f.type));
  }
}

}  // namespace

int64_t intField(const PluginFieldCollection* fc, const char* plugin, const char* name, int64_t dflt) {
  const PluginField* f = findField(fc, plugin, name);
  if (!f) return dflt;
  KILN_CHECK(f->type != PluginFieldType::kFLOAT32 && f->type != PluginFieldType::kFLOAT64, plugin, ": field '", name,
             "' must be an integer");
  return static_cast<int64_t>(numberOf(*f, plugin));
}

float floatField(const PluginFieldCollection* fc, const char* plugin, const char* name, float dflt) {
  const PluginField* f = findField(fc, plugin, name);
  return f ? static_cast<float>(numberOf(*f, plugin)) : dflt;
}

void checkKnownFields(const PluginFieldCollection* fc, const char* plugin, const std::vector<const char*>& known) {
  for (int32_t i = 0; fc && i < fc->nbFields; ++i) {
    const char* name = fc->fields[i].name ? fc->fields[i].name : "";
    bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return std::strcmp(k, name) == 0; });
    if (ok) continue;
    std::string list;
    for (const char* k : known) list += strCat(list.empty() ? "" : ", ", k);
    fail(plugin, ": unknown field '", name, "' (its fields are ", list, ")");
  }
}

void ScalarFields::addInt(const char* name, int32_t value) {
  ints_.push_back(value);
  fields_.emplace_back(name, &ints_.back(), PluginFieldType::kINT32, 1);
}

void ScalarFields::addFloat(const char* name, float value) {
  floats_.push_back(value);
  fields_.emplace_back(name, &floats_.back(), PluginFieldType::kFLOAT32, 1);
}

const PluginFieldCollection* ScalarFields::collection() {
  fc_.nbFields = static_cast<int32_t>(fields_.size());
  fc_.fields = fields_.data();
  return &fc_;
}

FieldNames::FieldNames(std::initializer_list<std::pair<const char*, PluginFieldType>> fields) {
  for (auto [name, type] : fields) fields_.emplace_back(name, nullptr, type, 1);
  fc_.nbFields = static_cast<int32_t>(fields_.size());
  fc_.fields = fields_.data();
}

IPluginV3* createOrLog(const char* plugin, IPluginV3* (*make)(const PluginFieldCollection*, const std::string&),
                       const PluginFieldCollection* fc, const std::string& ns) {
  try {
    return make(fc, ns);
  } catch (const std::exception& e) {
    logRegistry(ILogger::Severity::kERROR, e.what());
    return nullptr;
  }
}

}  // namespace kiln::plugins::builtin
