// Broken plugin libraries for the loader tests, one per KILN_BAD_* define:
//   NOSYMBOL         exports getPluginCreators instead of getCreators
//   VERSION          its creator reports interface "PLUGIN CREATOR_V3ONE" 2.0
//   THROWING_ENTRY   getCreators throws
//   THROWING_CREATOR loads fine; createPlugin of "ThrowingOp" throws
#include <stdexcept>

#include "kiln/plugin.h"

namespace {

class Creator : public kiln::IPluginCreatorV3One {
 public:
#ifdef KILN_BAD_VERSION
  kiln::InterfaceInfo getInterfaceInfo() const noexcept override { return {"PLUGIN CREATOR_V3ONE", 2, 0}; }
#endif
  kiln::IPluginV3* createPlugin(const char*, const kiln::PluginFieldCollection*, kiln::TensorRTPhase) override {
    throw std::runtime_error("boom in createPlugin");
  }
  const kiln::PluginFieldCollection* getFieldNames() override { return nullptr; }
  const char* getPluginName() const override { return "ThrowingOp"; }
  const char* getPluginVersion() const override { return "1"; }
  const char* getPluginNamespace() const override { return ""; }
};

[[maybe_unused]] kiln::IPluginCreatorInterface* const* creators(int32_t& n) {
  static Creator creator;
  static kiln::IPluginCreatorInterface* const list[] = {&creator};
  n = 1;
  return list;
}

}  // namespace

#if defined(KILN_BAD_NOSYMBOL)
extern "C" kiln::IPluginCreatorInterface* const* getPluginCreators(int32_t& n) { return creators(n); }
#elif defined(KILN_BAD_THROWING_ENTRY)
extern "C" kiln::IPluginCreatorInterface* const* getCreators(int32_t&) {
  throw std::runtime_error("boom in getCreators");
}
#else
extern "C" kiln::IPluginCreatorInterface* const* getCreators(int32_t& n) { return creators(n); }
#endif
