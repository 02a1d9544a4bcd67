// Kernels of NonMaxSuppression and RoiAlign over the cores in
// detection_core.h (which the built-in EfficientNMS_TRT and ROIAlign_TRT
// plugins share).
#include <algorithm>
#include <string>
#include <type_traits>

#include "backends/cpu/detection_core.h"
#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

bool allFloat(const ir::Node& node, std::initializer_list<std::size_t> inputs) {
  for (std::size_t i : inputs)
    if (node.input(i) && node.inputs[i]->dtype != DType::kFLOAT) return false;
  return true;
}

//! Scalar input i (absent or empty: `dflt`).
template <typename T>
T scalarInput(const TensorView* in, std::size_t numInputs, std::size_t i, T dflt) {
  if (i >= numInputs || !in[i].data || in[i].numel() == 0) return dflt;
  if constexpr (std::is_integral_v<T>) return static_cast<T>(readIndex(in[i], 0));
  else return in[i].as<const float>()[0];
}

class NonMaxSuppressionKernel : public Kernel {
 public:
  explicit NonMaxSuppressionKernel(const ir::Node& node)
      : numInputs_(node.inputs.size()),
        coding_(node.i("center_point_box", 0) ? detection::BoxCoding::kCenterSize : detection::BoxCoding::kCorners),
        maxBoxes_(node.inputs[0]->shape[1].known() ? node.inputs[0]->shape[1].value : 0) {}

  std::size_t workspaceBytes() const override { return static_cast<std::size_t>(2 * maxBoxes_) * sizeof(int64_t); }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &boxes = in[0], &scores = in[1];
    int64_t batches = boxes.dims[0], numBoxes = boxes.dims[1], classes = scores.dims[1];
    KILN_CHECK(numBoxes <= maxBoxes_, "NonMaxSuppression: ", numBoxes, " boxes, the kernel was made for at most ",
               maxBoxes_);
    int64_t maxPerClass = std::clamp<int64_t>(scalarInput<int64_t>(in, numInputs_, 2, 0), 0, numBoxes);
    float iou = scalarInput<float>(in, numInputs_, 3, 0.0f);
    bool useScore = numInputs_ > 4 && in[4].data && in[4].numel() > 0;
    float scoreThreshold = scalarInput<float>(in, numInputs_, 4, 0.0f);
    int64_t* scratch = static_cast<int64_t*>(ctx.workspace);
    int64_t* selected = scratch + numBoxes;
    int64_t* dst = out[0].as<int64_t>();
    int64_t rows = 0;
    for (int64_t b = 0; b < batches; ++b)
      for (int64_t c = 0; c < classes; ++c) {
        int64_t kept = detection::nmsOneClass(boxes.as<const float>() + b * numBoxes * 4, 4,
                                              scores.as<const float>() + (b * classes + c) * numBoxes, 1, numBoxes,
                                              coding_, iou, useScore, scoreThreshold, maxPerClass, scratch, selected);
        for (int64_t k = 0; k < kept; ++k, ++rows) {
          dst[rows * 3] = b;
          dst[rows * 3 + 1] = c;
          dst[rows * 3 + 2] = selected[k];
        }
      }
    reportOutputDims(ctx, 0, {rows, 3});
  }

 private:
  std::size_t numInputs_;
  detection::BoxCoding coding_;
  int64_t maxBoxes_;  //!< boxes per image at the largest shapes (workspace)
};

class RoiAlignKernel : public Kernel {
 public:
  explicit RoiAlignKernel(const ir::Node& node) : who_(node.describe()) {
    p_.outputHeight = node.i("output_height", 1);
    p_.outputWidth = node.i("output_width", 1);
    p_.samplingRatio = node.i("sampling_ratio", 0);
    p_.spatialScale = node.f("spatial_scale", 1.0f);
    p_.halfPixel = node.s("coordinate_transformation_mode", "half_pixel") == "half_pixel";
    p_.maxMode = node.s("mode", "avg") == "max";
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &rois = in[1], &indices = in[2];
    detection::RoiAlignParams p = p_;
    p.channels = x.dims[1];
    p.height = x.dims[2];
    p.width = x.dims[3];
    int64_t numRois = rois.dims[0], image = p.channels * p.height * p.width;
    KILN_CHECK(indices.numel() == numRois, who_, ": ", indices.numel(), " batch indices for ", numRois, " rois");
    for (int64_t r = 0; r < numRois; ++r) {
      int64_t b = readIndex(indices, r);
      KILN_CHECK(b >= 0 && b < x.dims[0], who_, ": batch index ", b, " of roi ", r, " is outside [0, ", x.dims[0], ")");
    }
    int64_t perRoi = p.channels * p.outputHeight * p.outputWidth;
    auto body = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        detection::roiAlignOne(p, x.as<const float>() + readIndex(indices, r) * image, rois.as<const float>() + r * 4,
                               out[0].as<float>() + r * perRoi);
    };
    if (ctx.pool && ctx.pool->size() > 1 && numRois > 1) ctx.pool->parallelFor(numRois, body);
    else body(0, numRois);
  }

 private:
  std::string who_;
  detection::RoiAlignParams p_;
};

}  // namespace

void registerDetectionKernels(TacticRegistry& r) {
  r.add(refTactic<NonMaxSuppressionKernel>("NonMaxSuppression",
                                           [](const ir::Node& n) { return allFloat(n, {0, 1, 3, 4}); }));
  r.add(refTactic<RoiAlignKernel>("RoiAlign", [](const ir::Node& n) { return allFloat(n, {0, 1}); }));
}

}  // namespace kiln::cpu
