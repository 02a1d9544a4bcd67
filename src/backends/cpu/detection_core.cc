#include "backends/cpu/detection_core.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace kiln::cpu::detection {

namespace {

struct Extent {
  float xMin, xMax, yMin, yMax;
};

Extent extentOf(const float* b, BoxCoding coding) {
  if (coding == BoxCoding::kCenterSize)
    return {b[0] - b[2] / 2, b[0] + b[2] / 2, b[1] - b[3] / 2, b[1] + b[3] / 2};
  // ONNX's coordinate order is [y1, x1, y2, x2]; naming x and y the other way round changes nothing.
  return {std::min(b[1], b[3]), std::max(b[1], b[3]), std::min(b[0], b[2]), std::max(b[0], b[2])};
}

}  // namespace

bool suppresses(const float* a, const float* b, BoxCoding coding, float iouThreshold) {
  Extent p = extentOf(a, coding), q = extentOf(b, coding);
  float ix0 = std::max(p.xMin, q.xMin), ix1 = std::min(p.xMax, q.xMax);
  if (ix1 <= ix0) return false;
  float iy0 = std::max(p.yMin, q.yMin), iy1 = std::min(p.yMax, q.yMax);
  if (iy1 <= iy0) return false;
  float inter = (ix1 - ix0) * (iy1 - iy0);
  float areaA = (p.xMax - p.xMin) * (p.yMax - p.yMin), areaB = (q.xMax - q.xMin) * (q.yMax - q.yMin);
  float uni = areaA + areaB - inter;
  if (inter <= 0 || areaA <= 0 || areaB <= 0 || uni <= 0) return false;
  return inter / uni > iouThreshold;
}

int64_t nmsOneClass(const float* boxes, int64_t boxStride, const float* scores, int64_t scoreStride,
                    int64_t numBoxes, BoxCoding coding, float iouThreshold, bool useScoreThreshold,
                    float scoreThreshold, int64_t maxOutput, int64_t* scratch, int64_t* selected) {
  if (maxOutput <= 0) return 0;
  int64_t n = 0;
  for (int64_t i = 0; i < numBoxes; ++i)
    if (!useScoreThreshold || scores[i * scoreStride] > scoreThreshold) scratch[n++] = i;
  std::stable_sort(scratch, scratch + n,
                   [&](int64_t x, int64_t y) { return scores[x * scoreStride] > scores[y * scoreStride]; });
  int64_t kept = 0;
  for (int64_t k = 0; k < n && kept < maxOutput; ++k) {
    const float* box = boxes + scratch[k] * boxStride;
    bool keep = true;
    for (int64_t j = 0; j < kept && keep; ++j) keep = !suppresses(box, boxes + selected[j] * boxStride, coding, iouThreshold);
    if (keep) selected[kept++] = scratch[k];
  }
  return kept;
}

void roiAlignOne(const RoiAlignParams& p, const float* image, const float* roi, float* out) {
  const float offset = p.halfPixel ? 0.5f : 0.0f;
  float x0 = roi[0] * p.spatialScale - offset, y0 = roi[1] * p.spatialScale - offset;
  float x1 = roi[2] * p.spatialScale - offset, y1 = roi[3] * p.spatialScale - offset;
  float roiW = x1 - x0, roiH = y1 - y0;
  if (!p.halfPixel) {
    roiW = std::max(roiW, 1.0f);
    roiH = std::max(roiH, 1.0f);
  }
  const int64_t oh = p.outputHeight, ow = p.outputWidth, H = p.height, W = p.width;
  float binH = roiH / static_cast<float>(oh), binW = roiW / static_cast<float>(ow);
  int64_t gridH = p.samplingRatio > 0 ? p.samplingRatio : static_cast<int64_t>(std::ceil(roiH / static_cast<float>(oh)));
  int64_t gridW = p.samplingRatio > 0 ? p.samplingRatio : static_cast<int64_t>(std::ceil(roiW / static_cast<float>(ow)));
  gridH = std::max<int64_t>(gridH, 0);
  gridW = std::max<int64_t>(gridW, 0);
  const float count = static_cast<float>(std::max<int64_t>(gridH * gridW, 1));
  for (int64_t c = 0; c < p.channels; ++c) {
    const float* plane = image + c * H * W;
    for (int64_t ph = 0; ph < oh; ++ph)
      for (int64_t pw = 0; pw < ow; ++pw) {
        float acc = 0.0f;
        bool first = true;
        for (int64_t iy = 0; iy < gridH; ++iy) {
          float y = y0 + static_cast<float>(ph) * binH + (static_cast<float>(iy) + 0.5f) * binH / static_cast<float>(gridH);
          for (int64_t ix = 0; ix < gridW; ++ix) {
            float x = x0 + static_cast<float>(pw) * binW + (static_cast<float>(ix) + 0.5f) * binW / static_cast<float>(gridW);
            // Bilinear weights of the four neighbours; a sample outside [-1, size] counts as 0.
            float w[4] = {0, 0, 0, 0};
            int64_t pos[4] = {0, 0, 0, 0};
            if (!(y < -1.0f || y > static_cast<float>(H) || x < -1.0f || x > static_cast<float>(W))) {
              float yy = std::max(y, 0.0f), xx = std::max(x, 0.0f);
              int64_t yLow = static_cast<int64_t>(yy), xLow = static_cast<int64_t>(xx), yHigh, xHigh;
              if (yLow >= H - 1) {
                yHigh = yLow = H - 1;
                yy = static_cast<float>(yLow);
              } else {
                yHigh = yLow + 1;
              }
              if (xLow >= W - 1) {
                xHigh = xLow = W - 1;
                xx = static_cast<float>(xLow);
              } else {
                xHigh = xLow + 1;
              }
              float ly = yy - static_cast<float>(yLow), lx = xx - static_cast<float>(xLow), hy = 1 - ly, hx = 1 - lx;
              w[0] = hy * hx, w[1] = hy * lx, w[2] = ly * hx, w[3] = ly * lx;
              pos[0] = yLow * W + xLow, pos[1] = yLow * W + xHigh, pos[2] = yHigh * W + xLow, pos[3] = yHigh * W + xHigh;
            }
            if (p.maxMode) {
              // ONNX's max mode: the largest weighted neighbour (as ONNX Runtime computes it).
              float v = std::max(std::max(w[0] * plane[pos[0]], w[1] * plane[pos[1]]),
                                 std::max(w[2] * plane[pos[2]], w[3] * plane[pos[3]]));
              acc = first ? v : std::max(acc, v);
              first = false;
            } else {
              acc += w[0] * plane[pos[0]] + w[1] * plane[pos[1]] + w[2] * plane[pos[2]] + w[3] * plane[pos[3]];
            }
          }
        }
        out[(c * oh + ph) * ow + pw] = p.maxMode ? acc : acc / count;
      }
  }
}

}  // namespace kiln::cpu::detection
