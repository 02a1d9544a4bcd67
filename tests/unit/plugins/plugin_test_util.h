// Shared pieces of the plugin tests: where the plugin libraries are, and a
// fixture that points the registry's logger at a RecordingLogger.
#pragma once
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kiln/kiln.h"
#include "unit/api/api_test_util.h"

namespace kiln::test {

inline std::string examplePluginLib() { return KILN_EXAMPLE_PLUGIN_LIB; }
//! A broken library: "nosymbol", "version", "throwing_entry", "throwing_creator".
inline std::string badPluginLib(const std::string& kind) {
  return std::string(KILN_BAD_PLUGIN_DIR) + "/libkiln_bad_plugin_" + kind + ".so";
}
inline std::string sourcePath(const std::string& rel) {
  const char* root = std::getenv("KILN_SOURCE_DIR");
  return std::string(root ? root : ".") + "/" + rel;
}

inline std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

//! Builds `network` into a plan (null on failure).
inline std::unique_ptr<IHostMemory> buildNetwork(IBuilder& builder, INetworkDefinition& network) {
  std::unique_ptr<IBuilderConfig> config(builder.createBuilderConfig());
  return std::unique_ptr<IHostMemory>(builder.buildSerializedNetwork(network, *config));
}

//! Loads `plan` with a fresh runtime and runs it once on `buffers` (tensor
//! name -> host buffer). False when loading or running fails.
inline bool runPlan(ILogger& logger, const void* plan, std::size_t size, const std::map<std::string, void*>& buffers) {
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan, size));
  if (!engine) return false;
  std::unique_ptr<IExecutionContext> context(engine->createExecutionContext());
  if (!context) return false;
  for (auto& [name, data] : buffers)
    if (!context->setTensorAddress(name.c_str(), data)) return false;
  return context->enqueueV3(nullptr);
}

class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override { getPluginRegistry()->setLogger(&logger_); }
  void TearDown() override {
    for (PluginLibraryHandle h : loaded_) getPluginRegistry()->deregisterLibrary(h);
    getPluginRegistry()->setLogger(nullptr);
  }
  //! Loads a library for this test only (deregistered in TearDown).
  PluginLibraryHandle load(const std::string& path) {
    PluginLibraryHandle h = getPluginRegistry()->loadLibrary(path.c_str());
    if (h) loaded_.push_back(h);
    return h;
  }
  void unload(PluginLibraryHandle h) {
    getPluginRegistry()->deregisterLibrary(h);
    std::erase(loaded_, h);
  }

  RecordingLogger logger_;
  std::vector<PluginLibraryHandle> loaded_;
};

}  // namespace kiln::test
