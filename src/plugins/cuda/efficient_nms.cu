// EfficientNMS_TRT on the GPU: decode (with anchors) -> per image and class,
// score filtering, a sort by rank and greedy IoU suppression (one block per
// image and class; one per image when class-agnostic) -> per image, the kept
// detections ordered by score (one block per image). Candidates are numbered
// e = box * classes + class, and ties in score go to the lower e, which is the
// order the CPU implementation's stable sorts give.
#include <cuda_runtime.h>

#include "plugins/cuda/detection_kernels.h"

namespace kiln::plugins::cuda {
namespace {

constexpr int kThreads = 256;

struct Layout {
  std::size_t decoded, compact, sorted, kept, counts, offsets, detEntry, detScore, total;
};

std::size_t align256(std::size_t n) { return (n + 255) / 256 * 256; }

Layout layoutOf(int64_t b, int64_t n, int64_t c, bool perClass, int64_t maxOut) {
  const std::size_t k = static_cast<std::size_t>(n < maxOut ? n : maxOut);
  const std::size_t all = static_cast<std::size_t>(b * n * c), slots = static_cast<std::size_t>(b * c);
  Layout l{};
  std::size_t at = 0;
  auto take = [&](std::size_t bytes) {
    std::size_t here = at;
    at += align256(bytes);
    return here;
  };
  l.decoded = take(static_cast<std::size_t>(b * n * (perClass ? c : 1) * 4) * sizeof(float));
  l.compact = take(all * sizeof(int32_t));
  l.sorted = take(all * sizeof(int32_t));
  l.kept = take(slots * k * sizeof(int32_t));
  l.counts = take(slots * sizeof(int32_t));
  l.offsets = take(slots * sizeof(int32_t));
  l.detEntry = take(slots * k * sizeof(int32_t));
  l.detScore = take(slots * k * sizeof(float));
  l.total = at;
  return l;
}

__device__ void extentOf(const float* b, bool centerSize, float* e) {  // xMin, xMax, yMin, yMax
  if (centerSize) {
    e[0] = b[0] - b[2] / 2, e[1] = b[0] + b[2] / 2, e[2] = b[1] - b[3] / 2, e[3] = b[1] + b[3] / 2;
  } else {
    e[0] = fminf(b[1], b[3]), e[1] = fmaxf(b[1], b[3]), e[2] = fminf(b[0], b[2]), e[3] = fmaxf(b[0], b[2]);
  }
}

//! detection_core.cc's suppresses(), operation by operation.
__device__ bool suppresses(const float* a, const float* b, bool centerSize, float iouThreshold) {
  float p[4], q[4];
  extentOf(a, centerSize, p);
  extentOf(b, centerSize, q);
  float ix0 = fmaxf(p[0], q[0]), ix1 = fminf(p[1], q[1]);
  if (ix1 <= ix0) return false;
  float iy0 = fmaxf(p[2], q[2]), iy1 = fminf(p[3], q[3]);
  if (iy1 <= iy0) return false;
  float inter = (ix1 - ix0) * (iy1 - iy0);
  float areaA = (p[1] - p[0]) * (p[3] - p[2]), areaB = (q[1] - q[0]) * (q[3] - q[2]);
  float uni = areaA + areaB - inter;
  if (inter <= 0 || areaA <= 0 || areaB <= 0 || uni <= 0) return false;
  return inter / uni > iouThreshold;
}

//! Boxes are deltas from anchors: corners add, center-size scale and shift (TensorRT's decoder).
__global__ void decodeBoxes(NmsArgs a, float* decoded) {
  const int64_t perBox = a.perClassBoxes ? a.classes : 1, total = a.batches * a.numBoxes * perBox;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t b = i / (a.numBoxes * perBox), n = (i / perBox) % a.numBoxes;
    const float* d = a.boxes + i * 4;
    const float* an = a.anchors + ((a.anchorsPerImage ? b : 0) * a.numBoxes + n) * 4;
    float* o = decoded + i * 4;
    if (a.centerSize) {
      o[0] = d[0] * an[2] + an[0], o[1] = d[1] * an[3] + an[1];
      o[2] = an[2] * expf(d[2]), o[3] = an[3] * expf(d[3]);
    } else {
      o[0] = d[0] + an[0], o[1] = d[1] + an[1], o[2] = d[2] + an[2], o[3] = d[3] + an[3];
    }
  }
}

__device__ const float* boxOf(const NmsArgs& a, const float* boxes, int64_t b, int32_t e) {
  const int64_t box = e / a.classes, cls = e % a.classes;
  return boxes + (a.perClassBoxes ? ((b * a.numBoxes + box) * a.classes + cls) * 4 : (b * a.numBoxes + box) * 4);
}

//! One block per (class, image), or per image when class-agnostic.
__global__ void selectPerClass(NmsArgs a, const float* boxes, int32_t* compact, int32_t* sorted, int32_t* kept,
                               int32_t* counts) {
  __shared__ int32_t nValid, nKept;
  const int64_t b = blockIdx.y, c = blockIdx.x;
  const int64_t perImage = a.numBoxes * a.classes, k = a.numBoxes < a.maxOutputBoxes ? a.numBoxes : a.maxOutputBoxes;
  const int64_t entries = a.classAgnostic ? perImage : a.numBoxes;
  const int64_t base = b * perImage + (a.classAgnostic ? 0 : c * a.numBoxes);
  const int64_t cap = a.classAgnostic ? (perImage < a.maxOutputBoxes ? perImage : a.maxOutputBoxes) : k;
  int32_t* keptHere = kept + (b * a.classes + c) * k;
  const float* scores = a.scores + b * perImage;
  if (threadIdx.x == 0) nValid = 0, nKept = 0;
  __syncthreads();
  for (int64_t j = threadIdx.x; j < entries; j += blockDim.x) {
    const int32_t e = static_cast<int32_t>(a.classAgnostic ? j : j * a.classes + c);
    const float s = scores[e];
    const bool valid = e % a.classes != a.backgroundClass && (a.useScoreThreshold ? s > a.scoreThreshold : s == s);
    if (valid) compact[base + atomicAdd(&nValid, 1)] = e;
  }
  __syncthreads();
  const int32_t v = nValid;
  for (int32_t t = threadIdx.x; t < v; t += blockDim.x) {  // rank = place in (score desc, e asc)
    const int32_t e = compact[base + t];
    const float s = scores[e];
    int32_t rank = 0;
    for (int32_t u = 0; u < v; ++u) {
      const int32_t f = compact[base + u];
      const float sf = scores[f];
      rank += sf > s || (sf == s && f < e);
    }
    sorted[base + rank] = e;
  }
  __syncthreads();
  for (int32_t t = 0; t < v && nKept < cap; ++t) {
    const int32_t e = sorted[base + t];
    const float* box = boxOf(a, boxes, b, e);
    bool hit = false;
    for (int32_t j = threadIdx.x; j < nKept && !hit; j += blockDim.x)
      hit = suppresses(box, boxOf(a, boxes, b, keptHere[j]), a.centerSize, a.iouThreshold);
    const bool any = __syncthreads_or(hit);
    if (!any && threadIdx.x == 0) keptHere[nKept++] = e;
    __syncthreads();
  }
  if (threadIdx.x == 0) counts[b * a.classes + c] = nKept;
}

//! One block per image: the classes' kept boxes, ordered by score (ties: class, then kept order).
__global__ void mergeImage(NmsArgs a, const float* boxes, const int32_t* kept, const int32_t* counts, int32_t* offsets,
                           int32_t* detEntry, float* detScore) {
  __shared__ int32_t total;
  const int64_t b = blockIdx.x, perImage = a.numBoxes * a.classes;
  const int64_t k = a.numBoxes < a.maxOutputBoxes ? a.numBoxes : a.maxOutputBoxes;
  const int64_t slots = a.classAgnostic ? 1 : a.classes;
  const float* scores = a.scores + b * perImage;
  int32_t* entry = detEntry + b * a.classes * k;
  float* score = detScore + b * a.classes * k;
  if (threadIdx.x == 0) {
    int32_t at = 0;
    for (int64_t c = 0; c < slots; ++c) offsets[b * a.classes + c] = at, at += counts[b * a.classes + c];
    total = at;
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < slots; c += blockDim.x) {
    const int32_t n = counts[b * a.classes + c], at = offsets[b * a.classes + c];
    for (int32_t i = 0; i < n; ++i) {
      const int32_t e = kept[(b * a.classes + c) * k + i];
      entry[at + i] = e;
      score[at + i] = scores[e];
    }
  }
  __syncthreads();
  const int32_t n = total, keep = n < a.maxOutputBoxes ? n : static_cast<int32_t>(a.maxOutputBoxes);
  float* ob = a.outBoxes + b * a.maxOutputBoxes * 4;
  float* os = a.outScores + b * a.maxOutputBoxes;
  int32_t* oc = a.outClasses + b * a.maxOutputBoxes;
  for (int32_t t = threadIdx.x; t < n; t += blockDim.x) {
    const float s = score[t];
    int32_t rank = 0;
    for (int32_t u = 0; u < n; ++u) rank += score[u] > s || (score[u] == s && u < t);
    if (rank >= keep) continue;
    const int32_t e = entry[t];
    const float* box = boxOf(a, boxes, b, e);
    if (a.centerSize) {  // [x, y, w, h] -> [x1, y1, x2, y2]
      ob[rank * 4 + 0] = box[0] - box[2] / 2, ob[rank * 4 + 1] = box[1] - box[3] / 2;
      ob[rank * 4 + 2] = box[0] + box[2] / 2, ob[rank * 4 + 3] = box[1] + box[3] / 2;
    } else {
      for (int i = 0; i < 4; ++i) ob[rank * 4 + i] = box[i];
    }
    os[rank] = a.scoreActivation ? 1.0f / (1.0f + expf(-s)) : s;
    oc[rank] = static_cast<int32_t>(e % a.classes);
  }
  for (int64_t i = keep + threadIdx.x; i < a.maxOutputBoxes; i += blockDim.x) {
    ob[i * 4 + 0] = ob[i * 4 + 1] = ob[i * 4 + 2] = ob[i * 4 + 3] = 0.0f;
    os[i] = 0.0f;
    oc[i] = 0;
  }
  if (threadIdx.x == 0) a.numDetections[b] = keep;
}

}  // namespace

std::size_t efficientNmsWorkspace(int64_t batches, int64_t numBoxes, int64_t classes, bool perClassBoxes,
                                  int64_t maxOutputBoxes) {
  return layoutOf(batches, numBoxes, classes, perClassBoxes, maxOutputBoxes).total;
}

int efficientNms(const NmsArgs& a, void* workspace, cudaStream_t stream) {
  if (a.batches == 0) return 0;
  const Layout l = layoutOf(a.batches, a.numBoxes, a.classes, a.perClassBoxes, a.maxOutputBoxes);
  char* ws = static_cast<char*>(workspace);
  const float* boxes = a.boxes;
  if (a.anchors) {
    const int64_t total = a.batches * a.numBoxes * (a.perClassBoxes ? a.classes : 1);
    const int blocks = static_cast<int>(total / kThreads + 1 < 4096 ? total / kThreads + 1 : 4096);
    decodeBoxes<<<blocks, kThreads, 0, stream>>>(a, reinterpret_cast<float*>(ws + l.decoded));
    boxes = reinterpret_cast<const float*>(ws + l.decoded);
  }
  int32_t* counts = reinterpret_cast<int32_t*>(ws + l.counts);
  if (a.numBoxes > 0 && a.classes > 0) {
    dim3 grid(static_cast<unsigned>(a.classAgnostic ? 1 : a.classes), static_cast<unsigned>(a.batches));
    selectPerClass<<<grid, kThreads, 0, stream>>>(a, boxes, reinterpret_cast<int32_t*>(ws + l.compact),
                                                  reinterpret_cast<int32_t*>(ws + l.sorted),
                                                  reinterpret_cast<int32_t*>(ws + l.kept), counts);
  } else if (a.classes > 0) {
    cudaMemsetAsync(counts, 0, static_cast<std::size_t>(a.batches * a.classes) * sizeof(int32_t), stream);
  }
  if (a.classes == 0) return static_cast<int>(cudaErrorInvalidValue);  // the caller refuses classes == 0
  mergeImage<<<static_cast<unsigned>(a.batches), kThreads, 0, stream>>>(
      a, boxes, reinterpret_cast<const int32_t*>(ws + l.kept), counts, reinterpret_cast<int32_t*>(ws + l.offsets),
      reinterpret_cast<int32_t*>(ws + l.detEntry), reinterpret_cast<float*>(ws + l.detScore));
  return static_cast<int>(cudaGetLastError());
}

}  // namespace kiln::plugins::cuda
