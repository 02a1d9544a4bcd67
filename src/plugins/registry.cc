// IPluginRegistry: creators by (name, version, namespace), behind one mutex;
// plugin libraries loaded with dlopen. Every failure is logged and answered
// with false/nullptr, whatever the library or creator does (throws, returns
// null, reports another interface version).
#include "plugins/registry.h"

#include <dlfcn.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "ir/graph.h"
#include "ir/plugin.h"
#include "plugins/plugin_fields.h"

namespace kiln::plugins {
namespace {

struct Entry {
  std::string name, version, ns;
  IPluginCreatorV3One* creator = nullptr;
  void* library = nullptr;  //!< dlopen handle of the library it came from, or null
};

std::string str(const char* s) { return s ? s : ""; }

std::string describe(const std::string& name, const std::string& version, const std::string& ns) {
  return strCat("plugin \"", name, "\" (version \"", version, "\", namespace \"", ns, "\")");
}

//! Checks a creator's interface and reads its identity; throws kiln::Error.
Entry inspect(IPluginCreatorInterface* creator, const std::string& where) {
  KILN_CHECK(creator, where, ": a plugin creator is null");
  InterfaceInfo info = creator->getInterfaceInfo();
  std::string kind = str(info.kind);
  KILN_CHECK(kind == kPLUGIN_CREATOR_V3ONE_KIND && info.major == kPLUGIN_CREATOR_V3ONE_MAJOR, where,
             ": a plugin creator reports interface \"", kind, "\" version ", info.major, ".", info.minor,
             "; this Kiln accepts \"", kPLUGIN_CREATOR_V3ONE_KIND, "\" version ", kPLUGIN_CREATOR_V3ONE_MAJOR,
             ".x (rebuild the plugin against this Kiln's kiln/plugin.h)");
  Entry e;
  e.creator = static_cast<IPluginCreatorV3One*>(creator);
  e.name = str(ir::callPlugin(where, "plugin creator getPluginName", [&] { return e.creator->getPluginName(); }));
  e.version = str(ir::callPlugin(where, "plugin creator getPluginVersion", [&] { return e.creator->getPluginVersion(); }));
  e.ns = str(ir::callPlugin(where, "plugin creator getPluginNamespace", [&] { return e.creator->getPluginNamespace(); }));
  KILN_CHECK(!e.name.empty(), where, ": a plugin creator has no name");
  return e;
}

IPluginV3* createFromNode(const ir::Node& node, TensorRTPhase phase);

class Registry final : public IPluginRegistry {
 public:
  Registry() { ir::setPluginFactory(&createFromNode); }

  bool registerCreator(IPluginCreatorInterface& creator, const AsciiChar* pluginNamespace) noexcept override {
    return guard("registerCreator", false, [&] {
      Entry e = inspect(&creator, "registerCreator");
      std::string ns = str(pluginNamespace);
      KILN_CHECK(ns.empty() || ns == e.ns, "registerCreator: ", describe(e.name, e.version, e.ns),
                 " cannot be registered under namespace \"", ns, "\" (its creator's namespace)");
      std::lock_guard<std::mutex> lock(mu_);
      checkFree(e);
      add(std::move(e));
      return true;
    });
  }

  IPluginCreatorInterface* const* getAllCreators(int32_t* numCreators) const noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    if (numCreators) *numCreators = static_cast<int32_t>(snapshot_.size());
    return snapshot_.empty() ? nullptr : snapshot_.data();
  }

  IPluginCreatorInterface* getCreator(const AsciiChar* name, const AsciiChar* version,
                                      const AsciiChar* ns) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    const Entry* e = find(str(name), str(version), str(ns));
    return e ? e->creator : nullptr;
  }

  bool deregisterCreator(const IPluginCreatorInterface& creator) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->creator == &creator && !it->library) {
        entries_.erase(it);
        refresh();
        return true;
      }
    return false;
  }

  PluginLibraryHandle loadLibrary(const AsciiChar* pluginPath) noexcept override {
    return guard("loadLibrary", static_cast<PluginLibraryHandle>(nullptr), [&] { return load(str(pluginPath)); });
  }

  void deregisterLibrary(PluginLibraryHandle handle) noexcept override {
    if (!handle) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::erase_if(entries_, [&](const Entry& e) { return e.library == handle; });
      refresh();
    }
    dlclose(handle);
  }

  void setLogger(ILogger* logger) noexcept override { logger_.store(logger); }

  void log(ILogger::Severity s, const std::string& msg) const {
    if (ILogger* l = logger_.load()) {
      l->log(s, msg.c_str());
      return;
    }
    if (s <= ILogger::Severity::kWARNING)
      std::cerr << "[kiln] " << (s == ILogger::Severity::kWARNING ? "WARNING: " : "ERROR: ") << msg << std::endl;
  }

  IPluginCreatorV3One* lookup(const std::string& name, const std::string& version, const std::string& ns) const {
    std::lock_guard<std::mutex> lock(mu_);
    const Entry* e = find(name, version, ns);
    return e ? e->creator : nullptr;
  }

 private:
  template <typename R, typename Fn>
  R guard(const char* where, R onError, Fn&& fn) noexcept {
    try {
      return fn();
    } catch (const std::exception& e) {
      log(ILogger::Severity::kERROR, e.what());
    } catch (...) {
      log(ILogger::Severity::kERROR, strCat(where, ": unknown error"));
    }
    return onError;
  }

  PluginLibraryHandle load(const std::string& path) {
    KILN_CHECK(!path.empty(), "loadLibrary: no path given");
    std::string where = strCat("plugin library \"", path, "\"");
    dlerror();
    void* dl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
      const char* why = dlerror();
      fail("cannot load ", where, ": ", why ? why : "dlopen failed");
    }
    // Closes the library again unless all of it gets registered.
    std::unique_ptr<void, int (*)(void*)> owner(dl, dlclose);
    auto getCreators = reinterpret_cast<PluginLibraryGetCreatorsFn>(dlsym(dl, KILN_PLUGIN_LIBRARY_ENTRY));
    KILN_CHECK(getCreators, where, " exports no \"", KILN_PLUGIN_LIBRARY_ENTRY,
               "\": a plugin library must export extern \"C\" kiln::IPluginCreatorInterface* const* ",
               KILN_PLUGIN_LIBRARY_ENTRY, "(int32_t& nbCreators)");
    int32_t n = 0;
    IPluginCreatorInterface* const* creators =
        ir::callPlugin(where, KILN_PLUGIN_LIBRARY_ENTRY, [&] { return getCreators(n); });
    KILN_CHECK(n >= 0 && (n == 0 || creators), where, ": ", KILN_PLUGIN_LIBRARY_ENTRY, " returned ", n,
               " creators", n > 0 ? " and a null array" : "");
    std::vector<Entry> found;
    for (int32_t i = 0; i < n; ++i) {
      found.push_back(inspect(creators[i], where));
      found.back().library = dl;
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < found.size(); ++i) {
      checkFree(found[i]);
      for (std::size_t j = 0; j < i; ++j)
        KILN_CHECK(found[j].name != found[i].name || found[j].version != found[i].version ||
                       found[j].ns != found[i].ns,
                   where, " offers ", describe(found[i].name, found[i].version, found[i].ns), " twice");
    }
    for (Entry& e : found) add(std::move(e));
    if (found.empty()) log(ILogger::Severity::kWARNING, strCat(where, " offers no plugin creators"));
    return owner.release();
  }

  void checkFree(const Entry& e) const {
    KILN_CHECK(!find(e.name, e.version, e.ns), describe(e.name, e.version, e.ns), " is already registered");
  }

  const Entry* find(const std::string& name, const std::string& version, const std::string& ns) const {
    for (const Entry& e : entries_)
      if (e.name == name && e.version == version && e.ns == ns) return &e;
    return nullptr;
  }

  void add(Entry e) {
    entries_.push_back(std::move(e));
    refresh();
  }

  void refresh() {
    snapshot_.clear();
    for (const Entry& e : entries_) snapshot_.push_back(e.creator);
  }

  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  std::vector<IPluginCreatorInterface*> snapshot_;
  std::atomic<ILogger*> logger_{nullptr};
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: static plugins may deregister at exit
  return *r;
}

IPluginV3* createFromNode(const ir::Node& node, TensorRTPhase phase) {
  namespace pa = ir::plugin_attr;
  std::string where = ir::pluginWhere(node);
  IPluginCreatorV3One* creator =
      registry().lookup(node.s(pa::kName, ""), node.s(pa::kVersion, ""), node.s(pa::kNamespace, ""));
  KILN_CHECK(creator, where,
             " is not registered; load its library (IPluginRegistry::loadLibrary, kilnexec --plugins=lib.so) "
             "or register its creator (REGISTER_KILN_PLUGIN)");
  PluginFields fields;
  fields.readFrom(node);
  IPluginV3* plugin = ir::callPlugin(where, "creator createPlugin", [&] {
    return creator->createPlugin(node.name.c_str(), fields.collection(), phase);
  });
  KILN_CHECK(plugin, where, ": its creator's createPlugin returned no plugin");
  return plugin;
}

}  // namespace

IPluginCreatorV3One* findCreator(const std::string& name, const std::string& version, const std::string& ns) {
  return registry().lookup(name, version, ns);
}

void logRegistry(ILogger::Severity severity, const std::string& message) { registry().log(severity, message); }

}  // namespace kiln::plugins

namespace kiln {
IPluginRegistry* getPluginRegistry() noexcept { return &kiln::plugins::registry(); }
}  // namespace kiln
