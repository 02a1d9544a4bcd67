// ROIAlign_TRT on the GPU: one thread per output element (roi, channel, ph, pw),
// the bilinear sampling of detection_core.cc's roiAlignOne, operation by operation.
#include <cuda_runtime.h>

#include "plugins/cuda/detection_kernels.h"

namespace kiln::plugins::cuda {
namespace {

__global__ void roiAlignKernel(RoiAlignArgs a) {
  const int64_t oh = a.outputHeight, ow = a.outputWidth, H = a.height, W = a.width;
  const int64_t total = a.numRois * a.channels * oh * ow;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t pw = i % ow, ph = (i / ow) % oh, c = (i / (ow * oh)) % a.channels, r = i / (ow * oh * a.channels);
    const float* roi = a.rois + r * 4;
    const float* plane = a.x + (static_cast<int64_t>(a.batch[r]) * a.channels + c) * H * W;
    const float offset = a.halfPixel ? 0.5f : 0.0f;
    float x0 = roi[0] * a.spatialScale - offset, y0 = roi[1] * a.spatialScale - offset;
    float x1 = roi[2] * a.spatialScale - offset, y1 = roi[3] * a.spatialScale - offset;
    float roiW = x1 - x0, roiH = y1 - y0;
    if (!a.halfPixel) {
      roiW = fmaxf(roiW, 1.0f);
      roiH = fmaxf(roiH, 1.0f);
    }
    float binH = roiH / static_cast<float>(oh), binW = roiW / static_cast<float>(ow);
    int64_t gridH = a.samplingRatio > 0 ? a.samplingRatio : static_cast<int64_t>(ceilf(roiH / static_cast<float>(oh)));
    int64_t gridW = a.samplingRatio > 0 ? a.samplingRatio : static_cast<int64_t>(ceilf(roiW / static_cast<float>(ow)));
    gridH = gridH > 0 ? gridH : 0;
    gridW = gridW > 0 ? gridW : 0;
    const float count = static_cast<float>(gridH * gridW > 1 ? gridH * gridW : 1);
    float acc = 0.0f;
    bool first = true;
    for (int64_t iy = 0; iy < gridH; ++iy) {
      float y = y0 + static_cast<float>(ph) * binH + (static_cast<float>(iy) + 0.5f) * binH / static_cast<float>(gridH);
      for (int64_t ix = 0; ix < gridW; ++ix) {
        float x = x0 + static_cast<float>(pw) * binW + (static_cast<float>(ix) + 0.5f) * binW / static_cast<float>(gridW);
        float w[4] = {0, 0, 0, 0};
        int64_t pos[4] = {0, 0, 0, 0};
        if (!(y < -1.0f || y > static_cast<float>(H) || x < -1.0f || x > static_cast<float>(W))) {
          float yy = fmaxf(y, 0.0f), xx = fmaxf(x, 0.0f);
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
        if (a.maxMode) {
          float v = fmaxf(fmaxf(w[0] * plane[pos[0]], w[1] * plane[pos[1]]), fmaxf(w[2] * plane[pos[2]], w[3] * plane[pos[3]]));
          acc = first ? v : fmaxf(acc, v);
          first = false;
        } else {
          acc += w[0] * plane[pos[0]] + w[1] * plane[pos[1]] + w[2] * plane[pos[2]] + w[3] * plane[pos[3]];
        }
      }
    }
    a.y[i] = a.maxMode ? acc : acc / count;
  }
}

}  // namespace

int roiAlign(const RoiAlignArgs& a, cudaStream_t stream) {
  const int64_t total = a.numRois * a.channels * a.outputHeight * a.outputWidth;
  if (total == 0) return 0;
  const int64_t blocks = (total + 255) / 256;
  roiAlignKernel<<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), 256, 0, stream>>>(a);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace kiln::plugins::cuda
