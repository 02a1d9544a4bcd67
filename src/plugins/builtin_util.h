// Shared pieces of the built-in plugins (builtin_*.cc): reading typed fields
// from a PluginFieldCollection, and the fields a plugin serializes.
#pragma once
#include <cstdint>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kiln/plugin.h"

namespace kiln::plugins::builtin {

//! Field `name` as an int (kINT32/kINT64/kINT8/kINT16, length 1), or `dflt` when absent.
int64_t intField(const PluginFieldCollection* fc, const char* plugin, const char* name, int64_t dflt);
//! Field `name` as a float (kFLOAT32/kFLOAT64, or an int type), or `dflt` when absent.
float floatField(const PluginFieldCollection* fc, const char* plugin, const char* name, float dflt);
//! Throws when `fc` has a field not in `known` (a misspelt attribute would
//! otherwise be ignored silently).
void checkKnownFields(const PluginFieldCollection* fc, const char* plugin, const std::vector<const char*>& known);

//! The fields a plugin serializes: int32 and float32 scalars it owns.
class ScalarFields {
 public:
  void addInt(const char* name, int32_t value);
  void addFloat(const char* name, float value);
  const PluginFieldCollection* collection();

 private:
  std::deque<int32_t> ints_;
  std::deque<float> floats_;
  std::vector<PluginField> fields_;
  PluginFieldCollection fc_;
};

//! The names and types a creator lists in getFieldNames().
class FieldNames {
 public:
  FieldNames(std::initializer_list<std::pair<const char*, PluginFieldType>> fields);
  const PluginFieldCollection* collection() { return &fc_; }

 private:
  std::vector<PluginField> fields_;
  PluginFieldCollection fc_;
};

//! Product of dims [begin, end).
inline int64_t volume(const Dims& d, int32_t begin = 0, int32_t end = -1) {
  int64_t n = 1;
  for (int32_t i = begin; i < (end < 0 ? d.nbDims : end); ++i) n *= d.d[i];
  return n;
}

//! The IPluginV3 plumbing every built-in plugin shares: its three capability
//! interfaces, name / version "1" / namespace, clone and attachToContext (a
//! fresh copy made from `Derived::params()`, so the serialized fields are
//! rebuilt rather than copied), and the fields it serializes.
template <typename Derived, typename Params>
class BuiltinPlugin : public IPluginV3, public IPluginV3OneCore, public IPluginV3OneBuild, public IPluginV3OneRuntime {
 public:
  IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept override {
    switch (type) {
      case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
      case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
      case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
    }
    return nullptr;
  }
  IPluginV3* clone() noexcept override { return new Derived(p_, ns_); }
  const char* getPluginName() const noexcept override { return name_; }
  const char* getPluginVersion() const noexcept override { return "1"; }
  const char* getPluginNamespace() const noexcept override { return ns_.c_str(); }
  IPluginV3* attachToContext(IPluginResourceContext*) noexcept override { return clone(); }
  const PluginFieldCollection* getFieldsToSerialize() noexcept override { return fields_.collection(); }

 protected:
  BuiltinPlugin(const char* name, const Params& p, std::string ns) : name_(name), p_(p), ns_(std::move(ns)) {}

  const char* name_;
  Params p_;
  std::string ns_;
  ScalarFields fields_;
};

//! Calls a creator's body; a kiln::Error (bad fields) is logged through the
//! plugin registry's logger and becomes nullptr, as TensorRT's creators do.
IPluginV3* createOrLog(const char* plugin, IPluginV3* (*make)(const PluginFieldCollection*, const std::string&),
                       const PluginFieldCollection* fc, const std::string& ns);

}  // namespace kiln::plugins::builtin
