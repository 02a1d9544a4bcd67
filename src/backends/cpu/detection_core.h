// The numerical cores of object detection, shared by the ONNX ops
// (NonMaxSuppression, RoiAlign in backends/cpu/ops/detection.cc) and the
// built-in TensorRT-style plugins (EfficientNMS_TRT, ROIAlign_TRT in
// src/plugins/builtin_*.cc), so that both give the same numbers.
// Semantics follow ONNX's reference implementation (and ONNX Runtime).
#pragma once
#include <cstdint>

namespace kiln::cpu::detection {

//! How 4 box coordinates are stored. IoU is symmetric in x and y, so
//! [y1, x1, y2, x2] (ONNX) and [x1, y1, x2, y2] (TensorRT) are both kCorners.
enum class BoxCoding { kCorners, kCenterSize };

//! Whether box `b` suppresses box `a`: IoU(a, b) > iouThreshold, with empty
//! boxes and empty intersections never suppressing (corners may come in either order).
bool suppresses(const float* a, const float* b, BoxCoding coding, float iouThreshold);

//! One class of greedy NMS. Boxes: box i at boxes + i * boxStride; scores: box
//! i's at scores[i * scoreStride]. Candidates are the boxes with score >
//! scoreThreshold (all when !useScoreThreshold), visited by descending score
//! (ties: lower index first); a candidate is kept unless a kept box suppresses
//! it, until maxOutput are kept. `scratch` holds numBoxes entries; the kept box
//! indices go to `selected` (up to maxOutput entries). Returns how many.
int64_t nmsOneClass(const float* boxes, int64_t boxStride, const float* scores, int64_t scoreStride,
                    int64_t numBoxes, BoxCoding coding, float iouThreshold, bool useScoreThreshold,
                    float scoreThreshold, int64_t maxOutput, int64_t* scratch, int64_t* selected);

struct RoiAlignParams {
  int64_t channels = 0, height = 0, width = 0;
  int64_t outputHeight = 1, outputWidth = 1;
  int64_t samplingRatio = 0;  //!< 0: adaptive, ceil(roi size / output size)
  float spatialScale = 1.0f;
  bool halfPixel = true;  //!< shift coordinates by -0.5 (ONNX's half_pixel)
  bool maxMode = false;   //!< max of the weighted samples (ONNX's "max"), else their mean
};

//! Pools one ROI ([x1, y1, x2, y2] in input coordinates) of one image
//! (`image`: channels x height x width) into out (channels x outputHeight x outputWidth).
void roiAlignOne(const RoiAlignParams& p, const float* image, const float* roi, float* out);

}  // namespace kiln::cpu::detection
