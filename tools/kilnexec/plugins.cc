#include "plugins.h"

namespace kilnexec {

void loadPlugins(const Options& o, Logger& logger) {
  kiln::IPluginRegistry* registry = kiln::getPluginRegistry();
  registry->setLogger(&logger);
  // As trtexec calls initLibNvInferPlugins: the built-in plugins (EfficientNMS_TRT, ROIAlign_TRT).
  int before = logger.errorCount();
  if (!initLibKilnPlugins(&logger, "")) failStep(logger, before, "cannot register Kiln's built-in plugins");
  auto load = [&](const std::string& path) {
    logger.info("Loading supplied plugin library: " + path);
    int before = logger.errorCount();
    if (!registry->loadLibrary(path.c_str())) failStep(logger, before, "cannot load plugin library " + path);
  };
  for (const std::string& p : o.staticPlugins) load(p);
  for (const std::string& p : o.dynamicPlugins) load(p);
}

}  // namespace kilnexec
