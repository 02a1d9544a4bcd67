// The plugin registry behind kiln::getPluginRegistry() (include/kiln/plugin.h),
// and what the rest of Kiln asks it: the V3 creator of a plugin.
//
// The registry installs ir::setPluginFactory when it is first used, so
// KilnPlugin nodes find their plugins through it (see ir/plugin.h).
#pragma once
#include <string>

#include "kiln/plugin.h"

namespace kiln::plugins {

//! The creator registered for (name, version, namespace), or nullptr.
IPluginCreatorV3One* findCreator(const std::string& name, const std::string& version, const std::string& ns);

//! Reports through the registry's logger (IPluginRegistry::setLogger).
void logRegistry(ILogger::Severity severity, const std::string& message);

}  // namespace kiln::plugins
