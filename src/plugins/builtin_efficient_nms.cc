// EfficientNMS_TRT (version "1"): TensorRT's batched NMS plugin, on the CPU.
// Same name, fields, inputs and outputs as TensorRT's (plugin/efficientNMSPlugin):
//   inputs  boxes [B, N, 4] (or [B, N, C, 4], one box per class), scores [B, N, C];
//   outputs num_detections [B, 1] int32, detection_boxes [B, max_output_boxes, 4],
//           detection_scores [B, max_output_boxes], detection_classes [B, max_output_boxes] int32.
// Per image and class, greedy NMS (detection_core.h, shared with the ONNX op)
// keeps boxes by descending score; the image's detections are then ordered by
// score and the best max_output_boxes kept; the rest of each row is zero.
// Boxes come out as corners whatever box_coding says (as TensorRT's do).
#include <algorithm>
#include <cmath>
#include <string>

#include "backends/cpu/detection_core.h"
#include "plugins/builtin.h"
#include "plugins/builtin_util.h"

namespace kiln::plugins::builtin {
namespace {

constexpr const char* kName = "EfficientNMS_TRT";

struct NmsParams {
  float scoreThreshold = 0.0f, iouThreshold = 0.5f;
  int32_t maxOutputBoxes = 100, backgroundClass = -1, scoreActivation = 0, boxCoding = 0, classAgnostic = 0;
};

struct Detection {
  float score;
  int32_t cls;
  int32_t box;
};

class EfficientNms final : public BuiltinPlugin<EfficientNms, NmsParams> {
 public:
  EfficientNms(const NmsParams& p, std::string ns) : BuiltinPlugin(kName, p, std::move(ns)) {
    fields_.addFloat("score_threshold", p.scoreThreshold);
    fields_.addFloat("iou_threshold", p.iouThreshold);
    fields_.addInt("max_output_boxes", p.maxOutputBoxes);
    fields_.addInt("background_class", p.backgroundClass);
    fields_.addInt("score_activation", p.scoreActivation);
    fields_.addInt("class_agnostic", p.classAgnostic);
    fields_.addInt("box_coding", p.boxCoding);
  }

  int32_t getNbOutputs() const noexcept override { return 4; }
  int32_t getOutputDataTypes(DataType* out, int32_t nbOutputs, const DataType* in, int32_t nbInputs) const noexcept override {
    if (nbInputs != 2 || nbOutputs != 4) return -1;
    out[0] = DataType::kINT32;
    out[1] = out[2] = in[0];
    out[3] = DataType::kINT32;
    return 0;
  }
  int32_t getOutputShapes(const DimsExprs* in, int32_t nbInputs, const DimsExprs*, int32_t, DimsExprs* out,
                          int32_t nbOutputs, IExprBuilder& b) noexcept override {
    // Two inputs only: TensorRT's third (anchors, the fused box decoder) is not implemented.
    if (nbInputs != 2 || nbOutputs != 4 || in[1].nbDims != 3 || (in[0].nbDims != 3 && in[0].nbDims != 4)) return -1;
    const IDimensionExpr* batch = in[0].d[0];
    const IDimensionExpr* keep = b.constant(p_.maxOutputBoxes);
    out[0].nbDims = 2, out[0].d[0] = batch, out[0].d[1] = b.constant(1);
    out[1].nbDims = 3, out[1].d[0] = batch, out[1].d[1] = keep, out[1].d[2] = b.constant(4);
    out[2].nbDims = 2, out[2].d[0] = batch, out[2].d[1] = keep;
    out[3].nbDims = 2, out[3].d[0] = batch, out[3].d[1] = keep;
    return 0;
  }
  bool supportsFormatCombination(int32_t pos, const DynamicPluginTensorDesc* io, int32_t, int32_t) noexcept override {
    const PluginTensorDesc& d = io[pos].desc;
    DataType want = pos == 2 || pos == 5 ? DataType::kINT32 : DataType::kFLOAT;  // num_detections, classes
    return d.type == want && d.format == TensorFormat::kLINEAR;
  }
  int32_t configurePlugin(const DynamicPluginTensorDesc*, int32_t, const DynamicPluginTensorDesc*, int32_t) noexcept override {
    return 0;
  }
  std::size_t getWorkspaceSize(const DynamicPluginTensorDesc* in, int32_t, const DynamicPluginTensorDesc*,
                               int32_t) const noexcept override {
    int64_t boxes = in[1].max.d[1], classes = in[1].max.d[2];
    return static_cast<std::size_t>(2 * boxes) * sizeof(int64_t) +
           static_cast<std::size_t>(classes * std::min<int64_t>(boxes, p_.maxOutputBoxes)) * sizeof(Detection);
  }

  int32_t onShapeChange(const PluginTensorDesc* in, int32_t nbInputs, const PluginTensorDesc*, int32_t) noexcept override {
    if (nbInputs != 2) return -1;
    const Dims &boxes = in[0].dims, &scores = in[1].dims;
    bool perClass = boxes.nbDims == 4;
    // Boxes and scores must agree on batch, boxes and (per-class boxes) classes.
    if (boxes.d[0] != scores.d[0] || boxes.d[1] != scores.d[1] || boxes.d[boxes.nbDims - 1] != 4 ||
        (perClass && boxes.d[2] != scores.d[2]))
      return -1;
    return 0;
  }
  int32_t enqueue(const PluginTensorDesc* inDesc, const PluginTensorDesc*, const void* const* inputs,
                  void* const* outputs, void* workspace, cudaStream_t) noexcept override {
    const Dims& boxDims = inDesc[0].dims;
    const int64_t batches = inDesc[1].dims.d[0], numBoxes = inDesc[1].dims.d[1], classes = inDesc[1].dims.d[2];
    const bool perClass = boxDims.nbDims == 4;
    const auto coding = p_.boxCoding ? cpu::detection::BoxCoding::kCenterSize : cpu::detection::BoxCoding::kCorners;
    const float* allBoxes = static_cast<const float*>(inputs[0]);
    const float* allScores = static_cast<const float*>(inputs[1]);
    int32_t* numDetections = static_cast<int32_t*>(outputs[0]);
    float* outBoxes = static_cast<float*>(outputs[1]);
    float* outScores = static_cast<float*>(outputs[2]);
    int32_t* outClasses = static_cast<int32_t*>(outputs[3]);
    int64_t* scratch = static_cast<int64_t*>(workspace);
    int64_t* selected = scratch + numBoxes;
    Detection* found = reinterpret_cast<Detection*>(selected + numBoxes);
    // With score_activation the scores are logits: compare them with the threshold's logit.
    bool useThreshold = true;
    float threshold = p_.scoreThreshold;
    if (p_.scoreActivation) {
      if (threshold <= 0.0f) useThreshold = false;
      else threshold = threshold >= 1.0f ? INFINITY : std::log(threshold / (1.0f - threshold));
    }
    const int64_t perClassKeep = std::min<int64_t>(numBoxes, p_.maxOutputBoxes);
    for (int64_t b = 0; b < batches; ++b) {
      int64_t count = 0;
      const float* scores = allScores + b * numBoxes * classes;
      for (int64_t c = 0; c < classes; ++c) {
        if (c == p_.backgroundClass) continue;
        const float* boxes = allBoxes + (perClass ? (b * numBoxes * classes + c) * 4 : b * numBoxes * 4);
        int64_t kept = cpu::detection::nmsOneClass(boxes, perClass ? classes * 4 : 4, scores + c, classes, numBoxes,
                                                   coding, p_.iouThreshold, useThreshold, threshold, perClassKeep,
                                                   scratch, selected);
        for (int64_t k = 0; k < kept; ++k)
          found[count++] = {scores[selected[k] * classes + c], static_cast<int32_t>(c), static_cast<int32_t>(selected[k])};
      }
      std::stable_sort(found, found + count, [](const Detection& x, const Detection& y) { return x.score > y.score; });
      count = std::min<int64_t>(count, p_.maxOutputBoxes);
      numDetections[b] = static_cast<int32_t>(count);
      float* ob = outBoxes + b * p_.maxOutputBoxes * 4;
      float* os = outScores + b * p_.maxOutputBoxes;
      int32_t* oc = outClasses + b * p_.maxOutputBoxes;
      std::fill(ob, ob + p_.maxOutputBoxes * 4, 0.0f);
      std::fill(os, os + p_.maxOutputBoxes, 0.0f);
      std::fill(oc, oc + p_.maxOutputBoxes, 0);
      for (int64_t k = 0; k < count; ++k) {
        const Detection& d = found[k];
        const float* box = allBoxes + (perClass ? ((b * numBoxes + d.box) * classes + d.cls) * 4 : (b * numBoxes + d.box) * 4);
        if (p_.boxCoding) {  // [x, y, w, h] -> [x1, y1, x2, y2]
          ob[k * 4 + 0] = box[0] - box[2] / 2, ob[k * 4 + 1] = box[1] - box[3] / 2;
          ob[k * 4 + 2] = box[0] + box[2] / 2, ob[k * 4 + 3] = box[1] + box[3] / 2;
        } else {
          std::copy(box, box + 4, ob + k * 4);
        }
        os[k] = p_.scoreActivation ? 1.0f / (1.0f + std::exp(-d.score)) : d.score;
        oc[k] = d.cls;
      }
    }
    return 0;
  }
};

IPluginV3* makeEfficientNms(const PluginFieldCollection* fc, const std::string& ns) {
  checkKnownFields(fc, kName, {"score_threshold", "iou_threshold", "max_output_boxes", "background_class",
                               "score_activation", "class_agnostic", "box_coding", "plugin_version", "plugin_namespace"});
  NmsParams p;
  p.scoreThreshold = floatField(fc, kName, "score_threshold", p.scoreThreshold);
  p.iouThreshold = floatField(fc, kName, "iou_threshold", p.iouThreshold);
  p.maxOutputBoxes = static_cast<int32_t>(intField(fc, kName, "max_output_boxes", p.maxOutputBoxes));
  p.backgroundClass = static_cast<int32_t>(intField(fc, kName, "background_class", p.backgroundClass));
  p.scoreActivation = static_cast<int32_t>(intField(fc, kName, "score_activation", 0));
  p.classAgnostic = static_cast<int32_t>(intField(fc, kName, "class_agnostic", 0));
  p.boxCoding = static_cast<int32_t>(intField(fc, kName, "box_coding", 0));
  KILN_CHECK(p.maxOutputBoxes > 0, kName, ": max_output_boxes must be positive, is ", p.maxOutputBoxes);
  KILN_CHECK(p.boxCoding == 0 || p.boxCoding == 1, kName, ": box_coding must be 0 (corners) or 1 (center/size), is ",
             p.boxCoding);
  KILN_CHECK(p.iouThreshold >= 0.0f && p.iouThreshold <= 1.0f, kName, ": iou_threshold must be in [0, 1], is ",
             p.iouThreshold);
  KILN_CHECK(!p.classAgnostic, kName, ": class_agnostic=1 is not supported by Kiln's CPU implementation yet");
  return new EfficientNms(p, ns);
}

class EfficientNmsCreator final : public IPluginCreatorV3One {
 public:
  explicit EfficientNmsCreator(std::string ns) : ns_(std::move(ns)) {}
  const char* getPluginName() const noexcept override { return kName; }
  const char* getPluginVersion() const noexcept override { return "1"; }
  const char* getPluginNamespace() const noexcept override { return ns_.c_str(); }
  const PluginFieldCollection* getFieldNames() noexcept override { return names_.collection(); }
  IPluginV3* createPlugin(const char*, const PluginFieldCollection* fc, TensorRTPhase) noexcept override {
    return createOrLog(kName, makeEfficientNms, fc, ns_);
  }

 private:
  std::string ns_;
  FieldNames names_{{"score_threshold", PluginFieldType::kFLOAT32}, {"iou_threshold", PluginFieldType::kFLOAT32},
                    {"max_output_boxes", PluginFieldType::kINT32},  {"background_class", PluginFieldType::kINT32},
                    {"score_activation", PluginFieldType::kINT32},  {"class_agnostic", PluginFieldType::kINT32},
                    {"box_coding", PluginFieldType::kINT32}};
};

}  // namespace

std::unique_ptr<IPluginCreatorV3One> makeEfficientNmsCreator(const std::string& ns) {
  return std::make_unique<EfficientNmsCreator>(ns);
}

}  // namespace kiln::plugins::builtin
