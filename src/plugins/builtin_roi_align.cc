// ROIAlign_TRT (version "1"): TensorRT's RoI Align plugin, on the CPU and, in
// CUDA engines, on the GPU (plugins/cuda/roi_align.cu; a null stream means the CPU), with
// TensorRT's fields (integer coordinate_transformation_mode: 1 = half_pixel,
// 0 = output_half_pixel; mode: 1 = avg, 0 = max; output_height, output_width,
// sampling_ratio, spatial_scale). Inputs X [N, C, H, W], rois [R, 4] as
// [x1, y1, x2, y2], batch_indices [R] int32; output [R, C, output_height, output_width].
// The pooling is detection_core.h's, which the ONNX RoiAlign op uses too.
#include <string>

#include "backends/cpu/detection_core.h"
#include "plugins/builtin.h"
#include "plugins/builtin_util.h"
#ifdef KILN_HAVE_CUDA
#include <cuda_runtime.h>

#include <vector>

#include "plugins/cuda/detection_kernels.h"
#endif

namespace kiln::plugins::builtin {
namespace {

constexpr const char* kName = "ROIAlign_TRT";

struct RoiParams {
  int32_t coordinateTransformationMode = 1, mode = 1, outputHeight = 1, outputWidth = 1, samplingRatio = 0;
  float spatialScale = 1.0f;
};

class RoiAlign final : public BuiltinPlugin<RoiAlign, RoiParams> {
 public:
  RoiAlign(const RoiParams& p, std::string ns) : BuiltinPlugin(kName, p, std::move(ns)) {
    fields_.addInt("coordinate_transformation_mode", p.coordinateTransformationMode);
    fields_.addInt("mode", p.mode);
    fields_.addInt("output_height", p.outputHeight);
    fields_.addInt("output_width", p.outputWidth);
    fields_.addInt("sampling_ratio", p.samplingRatio);
    fields_.addFloat("spatial_scale", p.spatialScale);
  }

  int32_t getNbOutputs() const noexcept override { return 1; }
  int32_t getOutputDataTypes(DataType* out, int32_t nbOutputs, const DataType* in, int32_t nbInputs) const noexcept override {
    if (nbInputs != 3 || nbOutputs != 1) return -1;
    out[0] = in[0];
    return 0;
  }
  int32_t getOutputShapes(const DimsExprs* in, int32_t nbInputs, const DimsExprs*, int32_t, DimsExprs* out,
                          int32_t nbOutputs, IExprBuilder& b) noexcept override {
    if (nbInputs != 3 || nbOutputs != 1 || in[0].nbDims != 4 || in[1].nbDims != 2 || in[2].nbDims != 1) return -1;
    out[0].nbDims = 4;
    out[0].d[0] = in[1].d[0];
    out[0].d[1] = in[0].d[1];
    out[0].d[2] = b.constant(p_.outputHeight);
    out[0].d[3] = b.constant(p_.outputWidth);
    return 0;
  }
  bool supportsFormatCombination(int32_t pos, const DynamicPluginTensorDesc* io, int32_t, int32_t) noexcept override {
    const PluginTensorDesc& d = io[pos].desc;
    return d.format == TensorFormat::kLINEAR && d.type == (pos == 2 ? DataType::kINT32 : DataType::kFLOAT);
  }
  int32_t configurePlugin(const DynamicPluginTensorDesc*, int32_t, const DynamicPluginTensorDesc*, int32_t) noexcept override {
    return 0;
  }

  int32_t onShapeChange(const PluginTensorDesc* in, int32_t nbInputs, const PluginTensorDesc*, int32_t) noexcept override {
    if (nbInputs != 3 || in[1].dims.d[1] != 4 || in[2].dims.d[0] != in[1].dims.d[0]) return -1;
    return 0;
  }
  int32_t enqueue(const PluginTensorDesc* inDesc, const PluginTensorDesc*, const void* const* inputs,
                  void* const* outputs, void*, cudaStream_t stream) noexcept override {
    if (stream) return enqueueCuda(inDesc, inputs, outputs, stream);
    const Dims& x = inDesc[0].dims;
    cpu::detection::RoiAlignParams p;
    p.channels = x.d[1], p.height = x.d[2], p.width = x.d[3];
    p.outputHeight = p_.outputHeight, p.outputWidth = p_.outputWidth;
    p.samplingRatio = p_.samplingRatio;
    p.spatialScale = p_.spatialScale;
    p.halfPixel = p_.coordinateTransformationMode == 1;
    p.maxMode = p_.mode == 0;
    const int64_t numRois = inDesc[1].dims.d[0], image = p.channels * p.height * p.width;
    const int64_t perRoi = p.channels * p.outputHeight * p.outputWidth;
    const int32_t* batch = static_cast<const int32_t*>(inputs[2]);
    for (int64_t r = 0; r < numRois; ++r)
      if (batch[r] < 0 || batch[r] >= x.d[0]) return -1;  // an out-of-range batch index: Kiln reports the status
    for (int64_t r = 0; r < numRois; ++r)
      cpu::detection::roiAlignOne(p, static_cast<const float*>(inputs[0]) + batch[r] * image,
                                  static_cast<const float*>(inputs[1]) + r * 4, static_cast<float*>(outputs[0]) + r * perRoi);
    return 0;
  }

 private:
  int32_t enqueueCuda(const PluginTensorDesc* inDesc, const void* const* inputs, void* const* outputs,
                      cudaStream_t stream) const {
#ifdef KILN_HAVE_CUDA
    const Dims& x = inDesc[0].dims;
    cuda::RoiAlignArgs a;
    a.x = static_cast<const float*>(inputs[0]);
    a.rois = static_cast<const float*>(inputs[1]);
    a.batch = static_cast<const int32_t*>(inputs[2]);
    a.y = static_cast<float*>(outputs[0]);
    a.numRois = inDesc[1].dims.d[0], a.channels = x.d[1], a.height = x.d[2], a.width = x.d[3];
    a.outputHeight = p_.outputHeight, a.outputWidth = p_.outputWidth, a.samplingRatio = p_.samplingRatio;
    a.spatialScale = p_.spatialScale;
    a.halfPixel = p_.coordinateTransformationMode == 1;
    a.maxMode = p_.mode == 0;
    // An out-of-range batch index would read outside X: check the indices on the host first (a wait
    // on the stream, as the CPU path checks them too) so the error is a status, not a fault.
    if (a.numRois > 0) {
      std::vector<int32_t> batch(static_cast<std::size_t>(a.numRois));
      if (cudaMemcpyAsync(batch.data(), a.batch, batch.size() * sizeof(int32_t), cudaMemcpyDeviceToHost, stream) !=
              cudaSuccess ||
          cudaStreamSynchronize(stream) != cudaSuccess)
        return -1;
      for (int32_t b : batch)
        if (b < 0 || b >= x.d[0]) return -1;
    }
    return cuda::roiAlign(a, stream);
#else
    (void)inDesc, (void)inputs, (void)outputs, (void)stream;
    return -1;  // a stream without CUDA in this build: cannot happen, refuse rather than touch device memory
#endif
  }
};

IPluginV3* makeRoiAlign(const PluginFieldCollection* fc, const std::string& ns) {
  checkKnownFields(fc, kName, {"coordinate_transformation_mode", "mode", "output_height", "output_width",
                               "sampling_ratio", "spatial_scale", "plugin_version", "plugin_namespace"});
  RoiParams p;
  p.coordinateTransformationMode = static_cast<int32_t>(intField(fc, kName, "coordinate_transformation_mode", 1));
  p.mode = static_cast<int32_t>(intField(fc, kName, "mode", 1));
  p.outputHeight = static_cast<int32_t>(intField(fc, kName, "output_height", 1));
  p.outputWidth = static_cast<int32_t>(intField(fc, kName, "output_width", 1));
  p.samplingRatio = static_cast<int32_t>(intField(fc, kName, "sampling_ratio", 0));
  p.spatialScale = floatField(fc, kName, "spatial_scale", 1.0f);
  KILN_CHECK(p.coordinateTransformationMode == 0 || p.coordinateTransformationMode == 1, kName,
             ": coordinate_transformation_mode must be 0 (output_half_pixel) or 1 (half_pixel), is ",
             p.coordinateTransformationMode);
  KILN_CHECK(p.mode == 0 || p.mode == 1, kName, ": mode must be 0 (max) or 1 (avg), is ", p.mode);
  KILN_CHECK(p.outputHeight > 0 && p.outputWidth > 0, kName, ": output_height and output_width must be positive, are ",
             p.outputHeight, " and ", p.outputWidth);
  KILN_CHECK(p.samplingRatio >= 0, kName, ": sampling_ratio must not be negative, is ", p.samplingRatio);
  KILN_CHECK(p.spatialScale > 0, kName, ": spatial_scale must be positive, is ", p.spatialScale);
  return new RoiAlign(p, ns);
}

class RoiAlignCreator final : public IPluginCreatorV3One {
 public:
  explicit RoiAlignCreator(std::string ns) : ns_(std::move(ns)) {}
  const char* getPluginName() const noexcept override { return kName; }
  const char* getPluginVersion() const noexcept override { return "1"; }
  const char* getPluginNamespace() const noexcept override { return ns_.c_str(); }
  const PluginFieldCollection* getFieldNames() noexcept override { return names_.collection(); }
  IPluginV3* createPlugin(const char*, const PluginFieldCollection* fc, TensorRTPhase) noexcept override {
    return createOrLog(kName, makeRoiAlign, fc, ns_);
  }

 private:
  std::string ns_;
  FieldNames names_{{"coordinate_transformation_mode", PluginFieldType::kINT32}, {"mode", PluginFieldType::kINT32},
                    {"output_height", PluginFieldType::kINT32},  {"output_width", PluginFieldType::kINT32},
                    {"sampling_ratio", PluginFieldType::kINT32}, {"spatial_scale", PluginFieldType::kFLOAT32}};
};

}  // namespace

std::unique_ptr<IPluginCreatorV3One> makeRoiAlignCreator(const std::string& ns) {
  return std::make_unique<RoiAlignCreator>(ns);
}

}  // namespace kiln::plugins::builtin
