// EfficientNMS_TRT (version "1"): TensorRT's batched NMS plugin, on the CPU and,
// in CUDA engines, on the GPU (plugins/cuda/efficient_nms.cu; enqueue tells
// them apart by its stream, which is null on the CPU).
// Same name, fields, inputs and outputs as TensorRT's (plugin/efficientNMSPlugin):
//   inputs  boxes [B, N, 4] (or [B, N, C, 4], one box per class), scores [B, N, C],
//           and optionally anchors [1 or B, N, 4]: then boxes are deltas from them
//           (box_coding 0: added; 1: x = dx * aw + ax, w = aw * exp(dw), likewise y, h);
//   outputs num_detections [B, 1] int32, detection_boxes [B, max_output_boxes, 4],
//           detection_scores [B, max_output_boxes], detection_classes [B, max_output_boxes] int32.
// Per image and class, greedy NMS (detection_core.h, shared with the ONNX op)
// keeps boxes by descending score; the image's detections are then ordered by
// score and the best max_output_boxes kept; the rest of each row is zero.
// class_agnostic=1 runs one NMS per image over every (box, class) candidate, so
// boxes of different classes suppress each other (score ties: lower box, then
// lower class first). Boxes come out as corners whatever box_coding says (as TensorRT's do).
#include <algorithm>
#include <cmath>
#include <string>

#include "backends/cpu/detection_core.h"
#include "plugins/builtin.h"
#include "plugins/builtin_util.h"
#ifdef KILN_HAVE_CUDA
#include "plugins/cuda/detection_kernels.h"
#endif

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

std::size_t align64(std::size_t n) { return (n + 63) / 64 * 64; }

//! The CPU's scratch: decoded boxes of one image, candidate and kept indices, detections.
struct CpuScratch {
  std::size_t decoded, candidates, detections, total;
  CpuScratch(int64_t numBoxes, int64_t classes, bool perClass, int64_t maxOut) {
    decoded = 0;
    candidates = align64(static_cast<std::size_t>(numBoxes * (perClass ? classes : 1) * 4) * sizeof(float));
    detections = candidates + align64(static_cast<std::size_t>(2 * numBoxes * classes) * sizeof(int64_t));
    total = detections + static_cast<std::size_t>(classes * std::min<int64_t>(numBoxes, maxOut)) * sizeof(Detection);
  }
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
    if ((nbInputs != 2 && nbInputs != 3) || nbOutputs != 4) return -1;
    out[0] = DataType::kINT32;
    out[1] = out[2] = in[0];
    out[3] = DataType::kINT32;
    return 0;
  }
  int32_t getOutputShapes(const DimsExprs* in, int32_t nbInputs, const DimsExprs*, int32_t, DimsExprs* out,
                          int32_t nbOutputs, IExprBuilder& b) noexcept override {
    if ((nbInputs != 2 && nbInputs != 3) || nbOutputs != 4 || in[1].nbDims != 3 ||
        (in[0].nbDims != 3 && in[0].nbDims != 4) || (nbInputs == 3 && in[2].nbDims != 3))
      return -1;
    const IDimensionExpr* batch = in[0].d[0];
    const IDimensionExpr* keep = b.constant(p_.maxOutputBoxes);
    out[0].nbDims = 2, out[0].d[0] = batch, out[0].d[1] = b.constant(1);
    out[1].nbDims = 3, out[1].d[0] = batch, out[1].d[1] = keep, out[1].d[2] = b.constant(4);
    out[2].nbDims = 2, out[2].d[0] = batch, out[2].d[1] = keep;
    out[3].nbDims = 2, out[3].d[0] = batch, out[3].d[1] = keep;
    return 0;
  }
  bool supportsFormatCombination(int32_t pos, const DynamicPluginTensorDesc* io, int32_t nbInputs,
                                 int32_t) noexcept override {
    const PluginTensorDesc& d = io[pos].desc;
    const bool intOut = pos == nbInputs || pos == nbInputs + 3;  // num_detections, detection_classes
    return d.type == (intOut ? DataType::kINT32 : DataType::kFLOAT) && d.format == TensorFormat::kLINEAR;
  }
  int32_t configurePlugin(const DynamicPluginTensorDesc*, int32_t, const DynamicPluginTensorDesc*, int32_t) noexcept override {
    return 0;
  }
  //! Enough for either implementation: the plugin learns where it runs only at enqueue.
  std::size_t getWorkspaceSize(const DynamicPluginTensorDesc* in, int32_t, const DynamicPluginTensorDesc*,
                               int32_t) const noexcept override {
    const int64_t batches = in[1].max.d[0], boxes = in[1].max.d[1], classes = in[1].max.d[2];
    const bool perClass = in[0].max.nbDims == 4;
    std::size_t bytes = CpuScratch(boxes, classes, perClass, p_.maxOutputBoxes).total;
#ifdef KILN_HAVE_CUDA
    bytes = std::max(bytes, cuda::efficientNmsWorkspace(batches, boxes, classes, perClass, p_.maxOutputBoxes));
#else
    (void)batches;
#endif
    return bytes;
  }

  int32_t onShapeChange(const PluginTensorDesc* in, int32_t nbInputs, const PluginTensorDesc*, int32_t) noexcept override {
    if (nbInputs != 2 && nbInputs != 3) return -1;
    nbInputs_ = nbInputs;
    const Dims &boxes = in[0].dims, &scores = in[1].dims;
    bool perClass = boxes.nbDims == 4;
    // Boxes and scores must agree on batch, boxes and (per-class boxes) classes; there is at least one class.
    if (boxes.d[0] != scores.d[0] || boxes.d[1] != scores.d[1] || boxes.d[boxes.nbDims - 1] != 4 ||
        (perClass && boxes.d[2] != scores.d[2]) || scores.d[2] < 1)
      return -1;
    if (nbInputs == 3) {  // anchors [1 or B, N, 4]
      const Dims& a = in[2].dims;
      if (a.nbDims != 3 || (a.d[0] != 1 && a.d[0] != boxes.d[0]) || a.d[1] != boxes.d[1] || a.d[2] != 4) return -1;
    }
    return 0;
  }

  int32_t enqueue(const PluginTensorDesc* inDesc, const PluginTensorDesc* outDesc, const void* const* inputs,
                  void* const* outputs, void* workspace, cudaStream_t stream) noexcept override {
    // With score_activation the scores are logits: compare them with the threshold's logit.
    useThreshold_ = true;
    threshold_ = p_.scoreThreshold;
    if (p_.scoreActivation) {
      if (threshold_ <= 0.0f) useThreshold_ = false;
      else threshold_ = threshold_ >= 1.0f ? INFINITY : std::log(threshold_ / (1.0f - threshold_));
    }
    if (stream) return enqueueCuda(inDesc, outDesc, inputs, outputs, workspace, stream);
    return enqueueCpu(inDesc, inputs, outputs, workspace);
  }

 private:
  int32_t enqueueCuda(const PluginTensorDesc* inDesc, const PluginTensorDesc*, const void* const* inputs,
                      void* const* outputs, void* workspace, cudaStream_t stream) const {
#ifdef KILN_HAVE_CUDA
    cuda::NmsArgs a;
    a.boxes = static_cast<const float*>(inputs[0]);
    a.scores = static_cast<const float*>(inputs[1]);
    if (nbInputs_ == 3) {
      a.anchors = static_cast<const float*>(inputs[2]);
      a.anchorsPerImage = inDesc[2].dims.d[0] != 1;
    }
    a.batches = inDesc[1].dims.d[0], a.numBoxes = inDesc[1].dims.d[1], a.classes = inDesc[1].dims.d[2];
    a.perClassBoxes = inDesc[0].dims.nbDims == 4;
    a.centerSize = p_.boxCoding == 1;
    a.iouThreshold = p_.iouThreshold;
    a.useScoreThreshold = useThreshold_;
    a.scoreThreshold = threshold_;
    a.scoreActivation = p_.scoreActivation != 0;
    a.classAgnostic = p_.classAgnostic != 0;
    a.backgroundClass = p_.backgroundClass;
    a.maxOutputBoxes = p_.maxOutputBoxes;
    a.numDetections = static_cast<int32_t*>(outputs[0]);
    a.outBoxes = static_cast<float*>(outputs[1]);
    a.outScores = static_cast<float*>(outputs[2]);
    a.outClasses = static_cast<int32_t*>(outputs[3]);
    return cuda::efficientNms(a, workspace, stream);
#else
    (void)inDesc, (void)inputs, (void)outputs, (void)workspace, (void)stream;
    return -1;  // a stream without CUDA in this build: cannot happen, refuse rather than touch device memory
#endif
  }
  int32_t enqueueCpu(const PluginTensorDesc* inDesc, const void* const* inputs, void* const* outputs,
                     void* workspace) const {
    const int64_t batches = inDesc[1].dims.d[0], numBoxes = inDesc[1].dims.d[1], classes = inDesc[1].dims.d[2];
    const bool perClass = inDesc[0].dims.nbDims == 4;
    const int64_t boxesPerImage = numBoxes * (perClass ? classes : 1);
    const auto coding = p_.boxCoding ? cpu::detection::BoxCoding::kCenterSize : cpu::detection::BoxCoding::kCorners;
    const float* allBoxes = static_cast<const float*>(inputs[0]);
    const float* allScores = static_cast<const float*>(inputs[1]);
    const float* anchors = nbInputs_ == 3 ? static_cast<const float*>(inputs[2]) : nullptr;
    int32_t* numDetections = static_cast<int32_t*>(outputs[0]);
    float* outBoxes = static_cast<float*>(outputs[1]);
    float* outScores = static_cast<float*>(outputs[2]);
    int32_t* outClasses = static_cast<int32_t*>(outputs[3]);
    const CpuScratch layout(numBoxes, classes, perClass, p_.maxOutputBoxes);
    char* ws = static_cast<char*>(workspace);
    float* decoded = reinterpret_cast<float*>(ws + layout.decoded);
    int64_t* scratch = reinterpret_cast<int64_t*>(ws + layout.candidates);
    int64_t* selected = scratch + numBoxes * classes;
    Detection* found = reinterpret_cast<Detection*>(ws + layout.detections);
    const int64_t perClassKeep = std::min<int64_t>(numBoxes, p_.maxOutputBoxes);
    for (int64_t b = 0; b < batches; ++b) {
      const float* boxes = allBoxes + b * boxesPerImage * 4;
      if (anchors) {
        decode(boxes, anchors + (inDesc[2].dims.d[0] == 1 ? 0 : b) * numBoxes * 4, numBoxes, perClass ? classes : 1,
               decoded);
        boxes = decoded;
      }
      auto boxOf = [&](int64_t box, int64_t cls) { return boxes + (perClass ? box * classes + cls : box) * 4; };
      int64_t count = 0;
      const float* scores = allScores + b * numBoxes * classes;
      if (p_.classAgnostic) {
        count = agnosticNms(scores, numBoxes, classes, boxOf, coding, scratch, selected);
        for (int64_t k = 0; k < count; ++k)
          found[k] = {scores[selected[k]], static_cast<int32_t>(selected[k] % classes),
                      static_cast<int32_t>(selected[k] / classes)};
      } else {
        for (int64_t c = 0; c < classes; ++c) {
          if (c == p_.backgroundClass) continue;
          int64_t kept = cpu::detection::nmsOneClass(boxOf(0, c), perClass ? classes * 4 : 4, scores + c, classes,
                                                     numBoxes, coding, p_.iouThreshold, useThreshold_, threshold_,
                                                     perClassKeep, scratch, selected);
          for (int64_t k = 0; k < kept; ++k)
            found[count++] = {scores[selected[k] * classes + c], static_cast<int32_t>(c),
                              static_cast<int32_t>(selected[k])};
        }
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
        const float* box = boxOf(d.box, d.cls);
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

  //! One image's deltas (`perBox` boxes per anchor) decoded against its anchors (TensorRT's decoder).
  void decode(const float* deltas, const float* anchors, int64_t numBoxes, int64_t perBox, float* out) const {
    for (int64_t i = 0; i < numBoxes * perBox; ++i) {
      const float* d = deltas + i * 4;
      const float* a = anchors + (i / perBox) * 4;
      float* o = out + i * 4;
      if (p_.boxCoding) {
        o[0] = d[0] * a[2] + a[0], o[1] = d[1] * a[3] + a[1];
        o[2] = a[2] * std::exp(d[2]), o[3] = a[3] * std::exp(d[3]);
      } else {
        o[0] = d[0] + a[0], o[1] = d[1] + a[1], o[2] = d[2] + a[2], o[3] = d[3] + a[3];
      }
    }
  }

  //! class_agnostic: greedy NMS over every (box, class) candidate e = box * classes + class of one
  //! image, ordered by score (ties: lower e first); kept candidates go to `selected`.
  template <typename BoxOf>
  int64_t agnosticNms(const float* scores, int64_t numBoxes, int64_t classes, const BoxOf& boxOf,
                      cpu::detection::BoxCoding coding, int64_t* candidates, int64_t* selected) const {
    int64_t n = 0;
    for (int64_t e = 0; e < numBoxes * classes; ++e) {
      const float s = scores[e];
      if (e % classes == p_.backgroundClass || !(useThreshold_ ? s > threshold_ : s == s)) continue;
      candidates[n++] = e;
    }
    std::stable_sort(candidates, candidates + n, [&](int64_t x, int64_t y) { return scores[x] > scores[y]; });
    const int64_t cap = std::min<int64_t>(numBoxes * classes, p_.maxOutputBoxes);
    int64_t kept = 0;
    for (int64_t k = 0; k < n && kept < cap; ++k) {
      const float* box = boxOf(candidates[k] / classes, candidates[k] % classes);
      bool keep = true;
      for (int64_t j = 0; j < kept && keep; ++j)
        keep = !cpu::detection::suppresses(box, boxOf(selected[j] / classes, selected[j] % classes), coding,
                                           p_.iouThreshold);
      if (keep) selected[kept++] = candidates[k];
    }
    return kept;
  }

  int32_t nbInputs_ = 2;  //!< 3 with anchors (set by onShapeChange, which precedes every first enqueue)
  bool useThreshold_ = true;
  float threshold_ = 0.0f;
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
  KILN_CHECK(p.classAgnostic == 0 || p.classAgnostic == 1, kName, ": class_agnostic must be 0 or 1, is ", p.classAgnostic);
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
