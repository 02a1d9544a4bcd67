// Plugin fields that own their bytes, and their encoding as attributes of a
// KilnPlugin node (the attribute names are in ir/plugin.h).
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/plugin.h"

namespace kiln::plugins {

//! A PluginFieldCollection whose names and data live as long as this object.
//! Every field's data is followed by a zero byte (not counted in its length),
//! so plugins that read kCHAR fields as C strings work.
class PluginFields {
 public:
  PluginFields() = default;
  PluginFields(const PluginFields&) = delete;
  PluginFields& operator=(const PluginFields&) = delete;

  //! Copies `length` elements of `type` from `data`; `where` names the owner in errors.
  void add(const std::string& name, PluginFieldType type, const void* data, int32_t length, const std::string& where);
  //! Copies a whole collection (a plugin's getFieldsToSerialize()).
  void addAll(const PluginFieldCollection* fc, const std::string& where);
  //! The fields stored on a KilnPlugin node; throws when they are malformed.
  void readFrom(const ir::Node& node);
  //! Writes the fields onto `attrs` (the KilnPlugin field attributes).
  void writeTo(std::map<std::string, ir::Attribute>& attrs) const;

  const PluginFieldCollection* collection();
  std::size_t size() const { return fields_.size(); }

 private:
  std::deque<std::string> names_;
  std::deque<std::vector<uint8_t>> data_;
  std::vector<PluginField> fields_;
  PluginFieldCollection fc_;
};

//! The attributes of a KilnPlugin node for `plugin`: its name, version and
//! namespace (core capability) and its fields (getFieldsToSerialize).
std::map<std::string, ir::Attribute> pluginNodeAttrs(IPluginV3& plugin, const std::string& where,
                                                     int64_t nbShapeInputs);

}  // namespace kiln::plugins
