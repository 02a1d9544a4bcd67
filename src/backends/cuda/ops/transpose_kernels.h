// Transpose on the device (transpose.cu). The host plans once per run
// (planTranspose, unit-tested here without a GPU): size-1 axes dropped, output
// axes that are adjacent in the input merged, then one of
//   kCopy    the permutation moves nothing: one cudaMemcpyAsync (the tactic's);
//   kRows    the input's innermost axis stays innermost (ViT/BERT's (0,2,1,3),
//            (1,0,2), (2,0,1,3)): rows copied whole, in the widest word (16, 8,
//            4, 2 bytes) that divides the row and both pointers;
//   kTiled   the innermost axis moves ((0,1,3,2), (0,2,3,1), (2,1,0)): a tile of
//            the two innermost axes through shared memory (32x32; 64x64 for
//            1- and 2-byte elements), read and written coalesced;
//   kPlanes  a few planes interleaved: the input's innermost axis becomes the
//            output's second-innermost and the output's innermost is short (NCHW
//            -> NHWC of an image's 3 channels): a block reads kPlanesTile pixels
//            of each plane (coalesced), interleaves them in shared memory and
//            writes the tile's contiguous output in 16-byte words where aligned;
//   kGeneric the per-element index walk: the collapsed shape where a tiled axis is
//            shorter than kMinTiledExtent (but for kPlanes), the shape as given
//            beyond 2^31 elements (64-bit offsets).
// reformat() runs the same plans converting between float32, float16 and
// bfloat16 on the way (KilnReformat: a boundary Cast and a layout Transpose in
// one pass), with element words.
// The index arithmetic is inline host/device code, replayed on the host in
// tests/unit/cuda/transpose_plan_test.cc.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {

enum class TransposeKind : int32_t { kCopy, kRows, kTiled, kPlanes, kGeneric };

//! The shortest extent of a tiled axis that kTiled takes (shorter: kPlanes or kGeneric).
constexpr int64_t kMinTiledExtent = 16;
//! kPlanes: the most planes (the output's innermost extent), the fewest pixels
//! (the input's innermost), and the pixels of one block's tile.
constexpr int64_t kMaxPlanes = 8;
constexpr int64_t kMinPlanePixels = 4;
constexpr int kPlanesTile = 1024;

struct TransposePlan {
  TransposeKind kind = TransposeKind::kGeneric;
  int32_t wordBytes = 1;  //!< bytes per moved element: the element, or a wider word (kRows)
  //! The collapsed problem in words: output dims and the input stride of each (kGeneric: the shape as given).
  TransposeShape shape;
  int32_t tileInDim = -1;  //!< kTiled: the output dim that is the input's innermost
  int32_t tile = 32;       //!< kTiled: tile edge
  int64_t words = 0;       //!< output words in all
};

//! The plan for `s` (TransposeShape of elements of `elementBytes`), for input and output at addresses `x`, `y`.
TransposePlan planTranspose(const TransposeShape& s, int32_t elementBytes, uintptr_t x, uintptr_t y);

//! The plan of a converting transpose (reformat()): element words, whatever the
//! alignment, and 32 x 32 tiles (the converting tiled kernel's).
inline TransposePlan planReformat(const TransposeShape& s) {
  TransposePlan p = planTranspose(s, 1, 1, 1);
  p.tile = 32;
  return p;
}

//! kRows / kGeneric: the input word output word `i` reads.
template <typename Idx>
KILN_HOST_DEVICE inline Idx transposeSource(const TransposeShape& s, Idx i) {
  Idx rest = i, src = 0;
  for (int d = s.rank - 1; d >= 0; --d) {
    const Idx dim = Idx(s.dims[d]);
    src += rest % dim * Idx(s.inStrides[d]);
    rest /= dim;
  }
  return src;
}

//! kTiled: how many tiles along the input's innermost axis (a) and the output's (b), and how many batches.
struct TileGrid {
  int64_t tilesA = 0, tilesB = 0, batches = 0;
};
KILN_HOST_DEVICE inline TileGrid tileGrid(const TransposePlan& p) {
  const TransposeShape& s = p.shape;
  TileGrid g;
  g.tilesA = (s.dims[p.tileInDim] + p.tile - 1) / p.tile;
  g.tilesB = (s.dims[s.rank - 1] + p.tile - 1) / p.tile;
  g.batches = 1;
  for (int d = 0; d < s.rank - 1; ++d)
    if (d != p.tileInDim) g.batches *= s.dims[d];
  return g;
}

//! kTiled: for tile `t` (< tilesA * tilesB * batches), the first coordinate of
//! each tiled axis and the input and output offsets of the batch it is in.
struct TileOrigin {
  int64_t a0 = 0, b0 = 0, inBase = 0, outBase = 0;
};
KILN_HOST_DEVICE inline TileOrigin tileOrigin(const TransposePlan& p, const TileGrid& g, int64_t t) {
  const TransposeShape& s = p.shape;
  TileOrigin o;
  o.b0 = t % g.tilesB * p.tile;
  t /= g.tilesB;
  o.a0 = t % g.tilesA * p.tile;
  int64_t batch = t / g.tilesA, outStride = s.dims[s.rank - 1];
  for (int d = s.rank - 2; d >= 0; --d) {
    if (d != p.tileInDim) {
      const int64_t c = batch % s.dims[d];
      batch /= s.dims[d];
      o.inBase += c * s.inStrides[d];
      o.outBase += c * outStride;
    }
    outStride *= s.dims[d];
  }
  return o;
}

//! kTiled: the output stride of the tiled input-innermost axis.
KILN_HOST_DEVICE inline int64_t tileOutStride(const TransposePlan& p) {
  int64_t stride = 1;
  for (int d = p.shape.rank - 1; d > p.tileInDim; --d) stride *= p.shape.dims[d];
  return stride;
}

//! kPlanes: the output is [batches, pixels, planes] (the plan's last two dims);
//! the input offset of batch `b`'s first pixel of plane 0 (pixel p of plane c
//! is at that + p + c * the plane stride, inStrides[rank - 1]).
template <typename Idx>
KILN_HOST_DEVICE inline Idx planesBatchBase(const TransposeShape& s, Idx b) {
  Idx base = 0;
  for (int d = s.rank - 3; d >= 0; --d) {
    const Idx dim = Idx(s.dims[d]);
    base += b % dim * Idx(s.inStrides[d]);
    b /= dim;
  }
  return base;
}

//! Runs plan `p` (kRows, kTiled, kPlanes or kGeneric; kCopy is the caller's memcpy) from x to y.
void transpose(const void* x, void* y, const TransposePlan& p, cudaStream_t stream);

//! KilnReformat: plan `p` (planReformat) from x (elements of `xe`) to y (of
//! `ye`), converting each element (round to nearest even); kCopy converts in place order.
void reformat(const void* x, Elem xe, void* y, Elem ye, const TransposePlan& p, cudaStream_t stream);

}  // namespace kiln::cuda::kernels
