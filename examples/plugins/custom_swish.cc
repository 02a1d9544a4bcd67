// A plugin library for Kiln: CustomSwish, y = x * sigmoid(beta * x), an
// activation ONNX lacks. Built as a MODULE (.so) that needs no Kiln symbol:
// it includes kiln/plugin.h and exports getCreators. Load it with
// getPluginRegistry()->loadLibrary("libkiln_example_plugins.so") or
// `kilnexec --plugins=libkiln_example_plugins.so`; then the ONNX parser
// imports custom_swish.onnx (made by make_model.py), whose CustomSwish node
// becomes this plugin. docs/plugins.md walks through this file.
// It runs on both backends: in a CPU engine enqueue gets host pointers and a
// null stream; in a CUDA engine device pointers and a (never null) stream, and
// it launches the kernel of custom_swish_cuda.cu (built when Kiln has CUDA).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kiln/plugin.h"

#ifdef KILN_EXAMPLE_PLUGINS_CUDA
int customSwishCuda(const float* x, float* y, int64_t n, float beta, cudaStream_t stream);  // custom_swish_cuda.cu
#endif

namespace {

using namespace kiln;

constexpr const char* kName = "CustomSwish";
constexpr const char* kVersion = "1";
constexpr const char* kNamespace = "";

class CustomSwish final : public IPluginV3, public IPluginV3OneCore, public IPluginV3OneBuild, public IPluginV3OneRuntime {
 public:
  explicit CustomSwish(float beta) : beta_(beta) {
    field_ = PluginField("beta", &beta_, PluginFieldType::kFLOAT32, 1);
    fields_.nbFields = 1;
    fields_.fields = &field_;
  }

  // IPluginV3 ----------------------------------------------------------------
  IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept override {
    switch (type) {
      case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
      case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
      case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
    }
    return nullptr;
  }
  IPluginV3* clone() noexcept override { return new CustomSwish(beta_); }

  // Core ---------------------------------------------------------------------
  const char* getPluginName() const noexcept override { return kName; }
  const char* getPluginVersion() const noexcept override { return kVersion; }
  const char* getPluginNamespace() const noexcept override { return kNamespace; }

  // Build: one float32 output shaped like the input --------------------------
  int32_t getNbOutputs() const noexcept override { return 1; }
  int32_t getOutputDataTypes(DataType* out, int32_t nbOutputs, const DataType* in, int32_t nbInputs) const noexcept override {
    if (nbInputs != 1 || nbOutputs != 1) return -1;
    out[0] = in[0];
    return 0;
  }
  int32_t getOutputShapes(const DimsExprs* inputs, int32_t nbInputs, const DimsExprs*, int32_t, DimsExprs* outputs,
                          int32_t nbOutputs, IExprBuilder&) noexcept override {
    if (nbInputs != 1 || nbOutputs != 1) return -1;
    outputs[0] = inputs[0];
    return 0;
  }
  bool supportsFormatCombination(int32_t pos, const DynamicPluginTensorDesc* inOut, int32_t, int32_t) noexcept override {
    const PluginTensorDesc& d = inOut[pos].desc;
    return d.type == DataType::kFLOAT && d.format == TensorFormat::kLINEAR;
  }
  int32_t configurePlugin(const DynamicPluginTensorDesc*, int32_t, const DynamicPluginTensorDesc*, int32_t) noexcept override {
    return 0;
  }

  // Runtime ------------------------------------------------------------------
  int32_t onShapeChange(const PluginTensorDesc*, int32_t, const PluginTensorDesc*, int32_t) noexcept override { return 0; }
  int32_t enqueue(const PluginTensorDesc* inputDesc, const PluginTensorDesc*, const void* const* inputs,
                  void* const* outputs, void*, cudaStream_t stream) noexcept override {
    int64_t n = 1;
    for (int32_t i = 0; i < inputDesc[0].dims.nbDims; ++i) n *= inputDesc[0].dims.d[i];
    const float* x = static_cast<const float*>(inputs[0]);
    float* y = static_cast<float*>(outputs[0]);
    if (stream) {  // a CUDA engine: device pointers
#ifdef KILN_EXAMPLE_PLUGINS_CUDA
      return customSwishCuda(x, y, n, beta_, stream);
#else
      return -1;  // built without CUDA: refuse rather than read device memory on the host
#endif
    }
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.f + std::exp(-beta_ * x[i]));
    return 0;
  }
  IPluginV3* attachToContext(IPluginResourceContext*) noexcept override { return clone(); }
  const PluginFieldCollection* getFieldsToSerialize() noexcept override { return &fields_; }

 private:
  float beta_;
  PluginField field_;
  PluginFieldCollection fields_;
};

class CustomSwishCreator final : public IPluginCreatorV3One {
 public:
  CustomSwishCreator() {
    field_ = PluginField("beta", nullptr, PluginFieldType::kFLOAT32, 1);
    names_.nbFields = 1;
    names_.fields = &field_;
  }
  const char* getPluginName() const noexcept override { return kName; }
  const char* getPluginVersion() const noexcept override { return kVersion; }
  const char* getPluginNamespace() const noexcept override { return kNamespace; }
  const PluginFieldCollection* getFieldNames() noexcept override { return &names_; }

  //! The same fields in both phases: `beta` (float32, default 1).
  IPluginV3* createPlugin(const char*, const PluginFieldCollection* fc, TensorRTPhase) noexcept override {
    float beta = 1.f;
    for (int32_t i = 0; fc && i < fc->nbFields; ++i) {
      const PluginField& f = fc->fields[i];
      if (std::strcmp(f.name, "beta") != 0) continue;
      if (f.type != PluginFieldType::kFLOAT32 || f.length != 1) return nullptr;  // Kiln reports the failure
      std::memcpy(&beta, f.data, sizeof(float));
    }
    return new CustomSwish(beta);
  }

 private:
  PluginField field_;
  PluginFieldCollection names_;
};

}  // namespace

extern "C" kiln::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
  static CustomSwishCreator creator;
  static kiln::IPluginCreatorInterface* const creators[] = {&creator};
  nbCreators = 1;
  return creators;
}
