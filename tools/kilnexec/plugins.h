// kilnexec: plugin libraries (--plugins, --staticPlugins, --dynamicPlugins,
// --setPluginsToSerialize), loaded into Kiln's plugin registry before the
// model is parsed or the plan is loaded.
#pragma once
#include "logger.h"
#include "options.h"

namespace kilnexec {

//! Loads every plugin library the options name; ToolError when one fails
//! (the registry has logged why).
void loadPlugins(const Options& options, Logger& logger);

}  // namespace kilnexec
