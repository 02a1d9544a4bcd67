// Host side of Transpose (transpose_kernels.h): collapsing the permutation and
// choosing the kernel, per run (shapes may change within a profile).
#include "backends/cuda/ops/transpose_kernels.h"

namespace kiln::cuda::kernels {

TransposePlan planTranspose(const TransposeShape& s, int32_t elementBytes, uintptr_t x, uintptr_t y) {
  TransposePlan p;
  p.wordBytes = elementBytes;
  p.shape = s;
  p.words = 1;
  for (int d = 0; d < s.rank; ++d) p.words *= s.dims[d];
  if (p.words <= 0) return p;
  if (!fitsIn32(p.words)) return p;  // kGeneric: 64-bit offsets
  // Size-1 axes move nothing; consecutive output axes that are consecutive in
  // the input too (the outer one's stride = the inner one's stride x extent) are one axis.
  TransposeShape c;
  for (int d = 0; d < s.rank; ++d) {
    if (s.dims[d] == 1) continue;
    if (c.rank > 0 && c.inStrides[c.rank - 1] == s.inStrides[d] * s.dims[d]) {
      c.dims[c.rank - 1] *= s.dims[d];
      c.inStrides[c.rank - 1] = s.inStrides[d];
      continue;
    }
    c.dims[c.rank] = s.dims[d];
    c.inStrides[c.rank] = s.inStrides[d];
    ++c.rank;
  }
  if (c.rank <= 1) {
    p.kind = TransposeKind::kCopy;
    return p;
  }
  const int last = c.rank - 1;
  if (c.inStrides[last] == 1) {
    // Every other input stride is a multiple of the row (the input's innermost axis).
    const uint64_t eb = static_cast<uint64_t>(elementBytes);
    const uint64_t rowBytes = static_cast<uint64_t>(c.dims[last]) * eb;
    int32_t w = widestWord(elementBytes, {rowBytes, static_cast<uint64_t>(x), static_cast<uint64_t>(y)});
    for (int d = 0; d < last; ++d) w = widestWord(elementBytes, {static_cast<uint64_t>(c.inStrides[d]) * eb,
                                                                 static_cast<uint64_t>(w)});
    const int64_t per = w / elementBytes;
    c.dims[last] /= per;
    for (int d = 0; d < last; ++d) c.inStrides[d] /= per;
    p.kind = TransposeKind::kRows;
    p.wordBytes = w;
    p.words /= per;
    p.shape = c;
    return p;
  }
  int tileInDim = 0;
  for (int d = 0; d < last; ++d)
    if (c.inStrides[d] == 1) tileInDim = d;
  p.shape = c;
  // A tile needs both tiled axes long enough to fill it: [N, 3, HW] -> [N, HW, 3]
  // (an image's channels) would leave most of each tile idle. That case is
  // kPlanes (runs of pixels read from each plane); the others take the walk,
  // which writes coalesced and reads a few interleaved streams.
  if (c.dims[tileInDim] < kMinTiledExtent || c.dims[last] < kMinTiledExtent) {
    if (tileInDim == last - 1 && c.dims[last] <= kMaxPlanes && c.dims[tileInDim] >= kMinPlanePixels &&
        elementBytes <= 4)  // the tile's shared memory is sized for 4-byte elements
      p.kind = TransposeKind::kPlanes;
    return p;  // else kGeneric
  }
  p.kind = TransposeKind::kTiled;
  p.tileInDim = tileInDim;
  p.tile = elementBytes <= 2 ? 64 : 32;  // 128 bytes per tile row either way
  return p;
}

}  // namespace kiln::cuda::kernels
