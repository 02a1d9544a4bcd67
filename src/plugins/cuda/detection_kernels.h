// CUDA implementations of the built-in detection plugins (EfficientNMS_TRT,
// ROIAlign_TRT): plain launchers over device pointers, no IR headers, so nvcc
// compiles only kernels. They follow the CPU code (backends/cpu/detection_core.cc
// and plugins/builtin_*.cc) operation by operation, compiled without FMA
// contraction, so both give the same selections and (up to expf) the same numbers.
// Compiled only with KILN_HAVE_CUDA. Launchers return a cudaError_t as int (0: ok).
#pragma once
#include <cstddef>
#include <cstdint>

struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;

namespace kiln::plugins::cuda {

struct NmsArgs {
  const float* boxes = nullptr;    //!< [B, N, 4] or, with perClassBoxes, [B, N, C, 4]
  const float* scores = nullptr;   //!< [B, N, C]
  const float* anchors = nullptr;  //!< [1 or B, N, 4], or null: boxes are deltas from these
  bool anchorsPerImage = false;    //!< anchors are [B, N, 4]
  int64_t batches = 0, numBoxes = 0, classes = 0;
  bool perClassBoxes = false;
  bool centerSize = false;  //!< box_coding 1: [x, y, w, h]
  float iouThreshold = 0.5f;
  bool useScoreThreshold = true;
  float scoreThreshold = 0.0f;  //!< compared with the raw score (a logit with scoreActivation)
  bool scoreActivation = false;
  bool classAgnostic = false;
  int64_t backgroundClass = -1;
  int64_t maxOutputBoxes = 100;
  int32_t* numDetections = nullptr;  //!< [B]
  float* outBoxes = nullptr;         //!< [B, maxOutputBoxes, 4], corners
  float* outScores = nullptr;        //!< [B, maxOutputBoxes]
  int32_t* outClasses = nullptr;     //!< [B, maxOutputBoxes]
};

//! Device scratch bytes efficientNms needs for these sizes.
std::size_t efficientNmsWorkspace(int64_t batches, int64_t numBoxes, int64_t classes, bool perClassBoxes,
                                  int64_t maxOutputBoxes);
int efficientNms(const NmsArgs& a, void* workspace, cudaStream_t stream);

struct RoiAlignArgs {
  const float* x = nullptr;        //!< [N, C, H, W]
  const float* rois = nullptr;     //!< [R, 4], [x1, y1, x2, y2]
  const int32_t* batch = nullptr;  //!< [R], checked by the caller
  float* y = nullptr;              //!< [R, C, outputHeight, outputWidth]
  int64_t numRois = 0, channels = 0, height = 0, width = 0, outputHeight = 1, outputWidth = 1, samplingRatio = 0;
  float spatialScale = 1.0f;
  bool halfPixel = true, maxMode = false;
};
int roiAlign(const RoiAlignArgs& a, cudaStream_t stream);

}  // namespace kiln::plugins::cuda
