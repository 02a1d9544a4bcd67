// Plugins compiled into the test binary and registered with
// REGISTER_KILN_PLUGIN (test_plugins.cc):
//  TestPair       inputs a [n, ...], b [m, ...] (float32); outputs
//                 scale * a (staged through the workspace) and concat(a, b)
//                 on axis 0 (shape by IExprBuilder kSUM). Field: scale.
//                 Refuses to run two enqueues at once on one object.
//  TestReshapeTo  one data input and one shape input; the output has the
//                 shape input's values as dims and the input's data.
//  TestFieldEcho  (version "2", namespace "test.ns") identity; serializes
//                 exactly the fields it was created with. Field "fail" makes
//                 createPlugin return null, "throwInShapes" makes
//                 getOutputShapes throw.
#pragma once
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "kiln/plugin.h"

namespace kiln::test {

//! Boilerplate shared by the test plugins.
class TestPluginBase : public IPluginV3, public IPluginV3OneCore, public IPluginV3OneBuild, public IPluginV3OneRuntime {
 public:
  IPluginCapability* getCapabilityInterface(PluginCapabilityType type) override {
    switch (type) {
      case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
      case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
      case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
    }
    return nullptr;
  }
  const char* getPluginVersion() const override { return "1"; }
  const char* getPluginNamespace() const override { return ""; }
  int32_t configurePlugin(const DynamicPluginTensorDesc*, int32_t, const DynamicPluginTensorDesc*, int32_t) override {
    return 0;
  }
  bool supportsFormatCombination(int32_t pos, const DynamicPluginTensorDesc* inOut, int32_t, int32_t) override {
    return inOut[pos].desc.type == DataType::kFLOAT && inOut[pos].desc.format == TensorFormat::kLINEAR;
  }
  int32_t onShapeChange(const PluginTensorDesc*, int32_t, const PluginTensorDesc*, int32_t) override { return 0; }
  IPluginV3* attachToContext(IPluginResourceContext*) override { return clone(); }

  static int64_t numel(const Dims& d) {
    int64_t n = 1;
    for (int32_t i = 0; i < d.nbDims; ++i) n *= d.d[i];
    return n;
  }
};

class TestPair : public TestPluginBase {
 public:
  explicit TestPair(float scale = 1.f) : scale_(scale) {
    field_ = PluginField("scale", &scale_, PluginFieldType::kFLOAT32, 1);
    fc_.nbFields = 1;
    fc_.fields = &field_;
  }
  IPluginV3* clone() override { return new TestPair(scale_); }
  const char* getPluginName() const override { return "TestPair"; }
  int32_t getNbOutputs() const override { return 2; }
  int32_t getOutputDataTypes(DataType* out, int32_t, const DataType* in, int32_t) const override {
    out[0] = out[1] = in[0];
    return 0;
  }
  int32_t getOutputShapes(const DimsExprs* in, int32_t nbIn, const DimsExprs*, int32_t, DimsExprs* out, int32_t,
                          IExprBuilder& eb) override {
    if (nbIn != 2 || in[0].nbDims != in[1].nbDims || in[0].nbDims < 1) return -1;
    out[0] = in[0];
    out[1] = in[0];
    out[1].d[0] = eb.operation(DimensionOperation::kSUM, *in[0].d[0], *in[1].d[0]);
    return 0;
  }
  std::size_t getWorkspaceSize(const DynamicPluginTensorDesc* in, int32_t, const DynamicPluginTensorDesc*,
                               int32_t) const override {
    return static_cast<std::size_t>(numel(in[0].desc.dims)) * sizeof(float);
  }
  int32_t enqueue(const PluginTensorDesc* inDesc, const PluginTensorDesc*, const void* const* inputs,
                  void* const* outputs, void* workspace, cudaStream_t) override {
    if (busy_.exchange(true)) return -7;  // two runs on one object: Kiln must not do that
    int64_t na = numel(inDesc[0].dims), nb = numel(inDesc[1].dims);
    const float* a = static_cast<const float*>(inputs[0]);
    const float* b = static_cast<const float*>(inputs[1]);
    float* staged = static_cast<float*>(workspace);
    for (int64_t i = 0; i < na; ++i) staged[i] = scale_ * a[i];
    std::memcpy(outputs[0], staged, na * sizeof(float));
    std::memcpy(outputs[1], a, na * sizeof(float));
    std::memcpy(static_cast<float*>(outputs[1]) + na, b, nb * sizeof(float));
    busy_ = false;
    return 0;
  }
  const PluginFieldCollection* getFieldsToSerialize() override { return &fc_; }

 private:
  float scale_;
  PluginField field_;
  PluginFieldCollection fc_;
  std::atomic<bool> busy_{false};
};

class TestReshapeTo : public TestPluginBase {
 public:
  IPluginV3* clone() override { return new TestReshapeTo(); }
  const char* getPluginName() const override { return "TestReshapeTo"; }
  int32_t getNbOutputs() const override { return 1; }
  int32_t getOutputDataTypes(DataType* out, int32_t, const DataType* in, int32_t) const override {
    out[0] = in[0];
    return 0;
  }
  int32_t getOutputShapes(const DimsExprs*, int32_t nbIn, const DimsExprs* shapes, int32_t nbShapes, DimsExprs* out,
                          int32_t, IExprBuilder&) override {
    if (nbIn != 1 || nbShapes != 1) return -1;
    out[0] = shapes[0];
    return 0;
  }
  int32_t enqueue(const PluginTensorDesc* inDesc, const PluginTensorDesc* outDesc, const void* const* inputs,
                  void* const* outputs, void*, cudaStream_t) override {
    if (numel(inDesc[0].dims) != numel(outDesc[0].dims)) return -1;
    std::memcpy(outputs[0], inputs[0], numel(inDesc[0].dims) * sizeof(float));
    return 0;
  }
  const PluginFieldCollection* getFieldsToSerialize() override { return &fc_; }

 private:
  PluginFieldCollection fc_;
};

//! A deep copy of a field collection.
struct FieldCopy {
  std::vector<std::string> names;
  std::vector<std::vector<uint8_t>> data;
  std::vector<PluginField> fields;
  PluginFieldCollection fc;
  explicit FieldCopy(const PluginFieldCollection* in) {
    int32_t n = in ? in->nbFields : 0;
    names.reserve(n);
    data.reserve(n);
    for (int32_t i = 0; i < n; ++i) {
      const PluginField& f = in->fields[i];
      names.emplace_back(f.name);
      const auto* p = static_cast<const uint8_t*>(f.data);
      data.emplace_back(p, p + pluginFieldBytes(f.type, f.length));
    }
    for (int32_t i = 0; i < n; ++i)
      fields.emplace_back(names[i].c_str(), data[i].data(), in->fields[i].type, in->fields[i].length);
    fc.nbFields = n;
    fc.fields = fields.data();
  }
  const PluginField* find(const char* name) const {
    for (const PluginField& f : fields)
      if (std::strcmp(f.name, name) == 0) return &f;
    return nullptr;
  }
};

class TestFieldEcho : public TestPluginBase {
 public:
  explicit TestFieldEcho(const PluginFieldCollection* fc) : fields_(fc) {}
  IPluginV3* clone() override { return new TestFieldEcho(&fields_.fc); }
  const char* getPluginName() const override { return "TestFieldEcho"; }
  const char* getPluginVersion() const override { return "2"; }
  const char* getPluginNamespace() const override { return "test.ns"; }
  int32_t getNbOutputs() const override { return 1; }
  int32_t getOutputDataTypes(DataType* out, int32_t, const DataType* in, int32_t) const override {
    out[0] = in[0];
    return 0;
  }
  int32_t getOutputShapes(const DimsExprs* in, int32_t, const DimsExprs*, int32_t, DimsExprs* out, int32_t,
                          IExprBuilder&) override;
  int32_t enqueue(const PluginTensorDesc* inDesc, const PluginTensorDesc*, const void* const* inputs,
                  void* const* outputs, void*, cudaStream_t) override {
    std::memcpy(outputs[0], inputs[0], numel(inDesc[0].dims) * sizeof(float));
    return 0;
  }
  const PluginFieldCollection* getFieldsToSerialize() override { return &fields_.fc; }

 private:
  FieldCopy fields_;
};

}  // namespace kiln::test
