// The test plugins' creators, registered when the test binary starts.
#include "unit/plugins/test_plugins.h"

#include <stdexcept>

namespace kiln::test {

int32_t TestFieldEcho::getOutputShapes(const DimsExprs* in, int32_t, const DimsExprs*, int32_t, DimsExprs* out,
                                       int32_t, IExprBuilder&) {
  if (fields_.find("throwInShapes")) throw std::runtime_error("shapes exploded");
  out[0] = in[0];
  return 0;
}

namespace {

class CreatorBase : public IPluginCreatorV3One {
 public:
  const PluginFieldCollection* getFieldNames() override { return &none_; }
  const char* getPluginVersion() const override { return "1"; }
  const char* getPluginNamespace() const override { return ""; }

 private:
  PluginFieldCollection none_;
};

class TestPairCreator : public CreatorBase {
 public:
  const char* getPluginName() const override { return "TestPair"; }
  IPluginV3* createPlugin(const char*, const PluginFieldCollection* fc, TensorRTPhase) override {
    float scale = 1.f;
    for (int32_t i = 0; fc && i < fc->nbFields; ++i)
      if (std::strcmp(fc->fields[i].name, "scale") == 0) std::memcpy(&scale, fc->fields[i].data, sizeof(float));
    return new TestPair(scale);
  }
};

class TestReshapeToCreator : public CreatorBase {
 public:
  const char* getPluginName() const override { return "TestReshapeTo"; }
  IPluginV3* createPlugin(const char*, const PluginFieldCollection*, TensorRTPhase) override {
    return new TestReshapeTo();
  }
};

class TestFieldEchoCreator : public CreatorBase {
 public:
  const char* getPluginName() const override { return "TestFieldEcho"; }
  const char* getPluginVersion() const override { return "2"; }
  const char* getPluginNamespace() const override { return "test.ns"; }
  IPluginV3* createPlugin(const char*, const PluginFieldCollection* fc, TensorRTPhase) override {
    FieldCopy copy(fc);
    if (copy.find("fail")) return nullptr;
    return new TestFieldEcho(fc);
  }
};

}  // namespace

REGISTER_KILN_PLUGIN(TestPairCreator);
REGISTER_KILN_PLUGIN(TestReshapeToCreator);
REGISTER_KILN_PLUGIN(TestFieldEchoCreator);

}  // namespace kiln::test
