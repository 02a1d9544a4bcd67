// The plugin registry: static registration, register/deregister, interface
// checks, and loading plugin libraries (good and broken ones).
#include <thread>

#include "unit/plugins/plugin_test_util.h"
#include "unit/plugins/test_plugins.h"

namespace kiln::test {
namespace {

class LocalCreator : public IPluginCreatorV3One {
 public:
  explicit LocalCreator(const char* name, const char* ns = "", int major = 1) : name_(name), ns_(ns), major_(major) {}
  InterfaceInfo getInterfaceInfo() const noexcept override { return {"PLUGIN CREATOR_V3ONE", major_, 0}; }
  IPluginV3* createPlugin(const char*, const PluginFieldCollection*, TensorRTPhase) override { return nullptr; }
  const PluginFieldCollection* getFieldNames() override { return nullptr; }
  const char* getPluginName() const override { return name_; }
  const char* getPluginVersion() const override { return "1"; }
  const char* getPluginNamespace() const override { return ns_; }

 private:
  const char* name_;
  const char* ns_;
  int major_;
};

using PluginRegistry = PluginTest;

TEST_F(PluginRegistry, StaticPluginsAreRegisteredAtStartUp) {
  IPluginRegistry* r = getPluginRegistry();
  EXPECT_NE(r->getCreator("TestPair", "1", ""), nullptr);
  EXPECT_NE(r->getCreator("TestFieldEcho", "2", "test.ns"), nullptr);
  EXPECT_EQ(r->getCreator("TestFieldEcho", "1", "test.ns"), nullptr);
  EXPECT_EQ(r->getCreator("TestFieldEcho", "2", ""), nullptr);
  int32_t n = 0;
  IPluginCreatorInterface* const* all = r->getAllCreators(&n);
  ASSERT_GE(n, 3);
  int found = 0;
  for (int32_t i = 0; i < n; ++i) {
    auto* c = static_cast<IPluginCreatorV3One*>(all[i]);
    found += std::string(c->getPluginName()).rfind("Test", 0) == 0;
  }
  EXPECT_EQ(found, 3);
}

TEST_F(PluginRegistry, RegisterFindDeregister) {
  IPluginRegistry* r = getPluginRegistry();
  LocalCreator c("LocalOnly", "my.ns");
  ASSERT_TRUE(r->registerCreator(c, ""));
  EXPECT_EQ(r->getCreator("LocalOnly", "1", "my.ns"), &c);
  EXPECT_EQ(r->getCreator("LocalOnly", "1"), nullptr);  // namespace "" is another plugin

  LocalCreator twin("LocalOnly", "my.ns");
  EXPECT_FALSE(r->registerCreator(twin, "my.ns"));
  EXPECT_TRUE(logger_.saw("plugin \"LocalOnly\" (version \"1\", namespace \"my.ns\") is already registered")) << logger_.all();

  LocalCreator other("OtherOne", "a");
  EXPECT_FALSE(r->registerCreator(other, "b"));
  EXPECT_TRUE(logger_.saw("cannot be registered under namespace \"b\"")) << logger_.all();

  EXPECT_TRUE(r->deregisterCreator(c));
  EXPECT_FALSE(r->deregisterCreator(c));
  EXPECT_EQ(r->getCreator("LocalOnly", "1", "my.ns"), nullptr);
}

TEST_F(PluginRegistry, CreatorOfAnotherInterfaceVersionIsRefused) {
  LocalCreator future("FromTheFuture", "", 2);
  EXPECT_FALSE(getPluginRegistry()->registerCreator(future, ""));
  EXPECT_TRUE(logger_.saw("version 2.0; this Kiln accepts \"PLUGIN CREATOR_V3ONE\" version 1.x")) << logger_.all();
  EXPECT_EQ(getPluginRegistry()->getCreator("FromTheFuture", "1"), nullptr);

  LocalCreator nameless("", "");
  EXPECT_FALSE(getPluginRegistry()->registerCreator(nameless, ""));
  EXPECT_TRUE(logger_.saw("has no name")) << logger_.all();
}

TEST_F(PluginRegistry, MissingLibraryIsAClearError) {
  std::string path = badPluginLib("does_not_exist");
  EXPECT_EQ(load(path), nullptr);
  EXPECT_TRUE(logger_.saw("cannot load plugin library \"" + path + "\"")) << logger_.all();
  EXPECT_EQ(getPluginRegistry()->loadLibrary(nullptr), nullptr);
  EXPECT_EQ(getPluginRegistry()->loadLibrary(""), nullptr);
  EXPECT_TRUE(logger_.saw("loadLibrary: no path given")) << logger_.all();
}

TEST_F(PluginRegistry, LibraryWithoutEntrySymbolIsRefused) {
  EXPECT_EQ(load(badPluginLib("nosymbol")), nullptr);
  EXPECT_TRUE(logger_.saw("exports no \"getCreators\"")) << logger_.all();
  EXPECT_EQ(getPluginRegistry()->getCreator("ThrowingOp", "1"), nullptr);
}

TEST_F(PluginRegistry, LibraryWithWrongInterfaceVersionIsRefused) {
  EXPECT_EQ(load(badPluginLib("version")), nullptr);
  EXPECT_TRUE(logger_.saw("reports interface \"PLUGIN CREATOR_V3ONE\" version 2.0")) << logger_.all();
  EXPECT_TRUE(logger_.saw("libkiln_bad_plugin_version.so")) << logger_.all();
  EXPECT_EQ(getPluginRegistry()->getCreator("ThrowingOp", "1"), nullptr);
}

TEST_F(PluginRegistry, LibraryWhoseEntryThrowsIsRefused) {
  EXPECT_EQ(load(badPluginLib("throwing_entry")), nullptr);
  EXPECT_TRUE(logger_.saw("getCreators threw: boom in getCreators")) << logger_.all();
  EXPECT_EQ(getPluginRegistry()->getCreator("ThrowingOp", "1"), nullptr);
}

TEST_F(PluginRegistry, ExampleLibraryLoadsOnceAndUnloads) {
  IPluginRegistry* r = getPluginRegistry();
  PluginLibraryHandle h = load(examplePluginLib());
  ASSERT_NE(h, nullptr) << logger_.all();
  auto* creator = static_cast<IPluginCreatorV3One*>(r->getCreator("CustomSwish", "1", ""));
  ASSERT_NE(creator, nullptr);
  EXPECT_STREQ(creator->getPluginName(), "CustomSwish");
  const PluginFieldCollection* names = creator->getFieldNames();
  ASSERT_TRUE(names && names->nbFields == 1);
  EXPECT_STREQ(names->fields[0].name, "beta");

  EXPECT_EQ(r->loadLibrary(examplePluginLib().c_str()), nullptr);  // its creator is registered already
  EXPECT_TRUE(logger_.saw("plugin \"CustomSwish\" (version \"1\", namespace \"\") is already registered")) << logger_.all();
  EXPECT_NE(r->getCreator("CustomSwish", "1", ""), nullptr);  // the failed second load took nothing away

  unload(h);
  EXPECT_EQ(r->getCreator("CustomSwish", "1", ""), nullptr);
}

TEST_F(PluginRegistry, ConcurrentUseIsSafe) {
  IPluginRegistry* r = getPluginRegistry();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::string name = "Concurrent" + std::to_string(t);
      LocalCreator c(name.c_str());
      for (int i = 0; i < 200; ++i) {
        if (!r->registerCreator(c, "")) ++failures;
        if (r->getCreator(name.c_str(), "1") != &c) ++failures;
        if (!r->getCreator("TestPair", "1")) ++failures;
        int32_t n = 0;
        r->getAllCreators(&n);
        if (!r->deregisterCreator(c)) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(r->getCreator("Concurrent0", "1"), nullptr);
}

}  // namespace
}  // namespace kiln::test
