// initLibKilnPlugins: registers the built-in plugins once per namespace.
#include "plugins/builtin.h"

#include <map>
#include <mutex>
#include <vector>

#include "kiln/builtin_plugins.h"

extern "C" bool initLibKilnPlugins(void* logger, const char* libNamespace) noexcept {
  using namespace kiln;
  try {
    IPluginRegistry* registry = getPluginRegistry();
    if (logger) registry->setLogger(static_cast<ILogger*>(logger));
    const std::string ns = libNamespace ? libNamespace : "";
    // Creators live as long as the process: the registry keeps pointers to them.
    static std::mutex mu;
    static auto* byNamespace = new std::map<std::string, std::vector<std::unique_ptr<IPluginCreatorV3One>>>();
    std::lock_guard<std::mutex> lock(mu);
    if (byNamespace->count(ns)) return true;  // already registered
    std::vector<std::unique_ptr<IPluginCreatorV3One>> creators;
    creators.push_back(plugins::builtin::makeEfficientNmsCreator(ns));
    creators.push_back(plugins::builtin::makeRoiAlignCreator(ns));
    bool ok = true;
    for (auto& c : creators)
      if (!registry->getCreator(c->getPluginName(), c->getPluginVersion(), ns.c_str()))
        ok = registry->registerCreator(*c, ns.c_str()) && ok;
    (*byNamespace)[ns] = std::move(creators);
    return ok;
  } catch (...) {
    return false;
  }
}
