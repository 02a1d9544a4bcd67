// Transpose's plan (transpose_kernels.h), checked without a GPU: each kernel's
// mapping (the row walk, the tiles) is replayed on the host from the plan,
// byte for byte, and compared with the CPU reference (FP32) or with the
// per-element walk of the uncollapsed shape (2- and 1-byte elements), with
// pointers aligned and not, and every output byte must be written exactly once.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/transpose_kernels.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using Dims = std::vector<int64_t>;
using cuda::kernels::TransposeKind;
using cuda::kernels::TransposePlan;

//! What the planned kernel writes, replayed on the host; `writes` counts the writes per output word.
void replay(const TransposePlan& p, const uint8_t* x, uint8_t* y, std::vector<int>& writes) {
  const std::size_t w = static_cast<std::size_t>(p.wordBytes);
  writes.assign(static_cast<std::size_t>(p.words), 0);
  switch (p.kind) {
    case TransposeKind::kCopy:
      std::memcpy(y, x, static_cast<std::size_t>(p.words) * w);
      for (int& c : writes) ++c;
      return;
    case TransposeKind::kRows:
    case TransposeKind::kGeneric:
      for (int64_t i = 0; i < p.words; ++i) {
        const int64_t src = cuda::kernels::transposeSource<int64_t>(p.shape, i);
        std::memcpy(y + i * w, x + src * w, w);
        ++writes[static_cast<std::size_t>(i)];
      }
      return;
    case TransposeKind::kPlanes: {  // a block's tile of pixels, each plane's element of each
      const int rank = p.shape.rank;
      const int64_t pixels = p.shape.dims[rank - 2], planes = p.shape.dims[rank - 1];
      const int64_t planeStride = p.shape.inStrides[rank - 1], batches = p.words / (pixels * planes);
      const int64_t tile = cuda::kernels::kPlanesTile;
      for (int64_t b = 0; b < batches; ++b)
        for (int64_t p0 = 0; p0 < pixels; p0 += tile)
          for (int64_t k = 0; k < tile && p0 + k < pixels; ++k)
            for (int64_t c = 0; c < planes; ++c) {
              const int64_t src = cuda::kernels::planesBatchBase<int64_t>(p.shape, b) + p0 + k + c * planeStride;
              const int64_t dst = (b * pixels + p0 + k) * planes + c;
              std::memcpy(y + dst * w, x + src * w, w);
              ++writes[static_cast<std::size_t>(dst)];
            }
      return;
    }
    case TransposeKind::kTiled: {
      const cuda::kernels::TileGrid g = cuda::kernels::tileGrid(p);
      const int64_t aDim = p.shape.dims[p.tileInDim], bDim = p.shape.dims[p.shape.rank - 1];
      const int64_t inStrideB = p.shape.inStrides[p.shape.rank - 1], outStrideA = cuda::kernels::tileOutStride(p);
      for (int64_t t = 0; t < g.tilesA * g.tilesB * g.batches; ++t) {
        const cuda::kernels::TileOrigin o = cuda::kernels::tileOrigin(p, g, t);
        for (int64_t a = o.a0; a < o.a0 + p.tile; ++a)
          for (int64_t b = o.b0; b < o.b0 + p.tile; ++b) {
            if (a >= aDim || b >= bDim) continue;
            const int64_t dst = o.outBase + a * outStrideA + b;
            std::memcpy(y + dst * w, x + (o.inBase + a + b * inStrideB) * w, w);
            ++writes[static_cast<std::size_t>(dst)];
          }
      }
      return;
    }
  }
}

struct Case {
  Dims dims, perm;
  int32_t elementBytes;
  std::size_t offsetBytes;  //!< of both pointers from a 256-byte boundary
  TransposeKind kind;
  int32_t wordBytes;  //!< the word the plan must choose
};

std::string describe(const Case& c) {
  return ir::toString(c.dims) + " perm " + ir::toString(c.perm) + ", " + std::to_string(c.elementBytes) +
         "-byte elements at offset " + std::to_string(c.offsetBytes);
}

void check(const Case& c) {
  const cuda::kernels::TransposeShape s = cuda::transposeShape(c.dims, c.perm);
  const int64_t n = std::accumulate(c.dims.begin(), c.dims.end(), int64_t{1}, std::multiplies<>());
  const std::size_t bytes = static_cast<std::size_t>(n) * static_cast<std::size_t>(c.elementBytes);
  alignas(256) static uint8_t xBuf[1 << 22], yBuf[1 << 22];
  ASSERT_LE(bytes + c.offsetBytes, sizeof xBuf);
  uint8_t *x = xBuf + c.offsetBytes, *y = yBuf + c.offsetBytes;
  for (std::size_t i = 0; i < bytes; ++i) x[i] = static_cast<uint8_t>(i * 131 + i / 251);
  const TransposePlan p =
      cuda::kernels::planTranspose(s, c.elementBytes, reinterpret_cast<uintptr_t>(x), reinterpret_cast<uintptr_t>(y));
  EXPECT_EQ(p.kind, c.kind) << describe(c);
  EXPECT_EQ(p.wordBytes, c.wordBytes) << describe(c);
  EXPECT_EQ(p.words * p.wordBytes, static_cast<int64_t>(bytes)) << describe(c);
  if (p.kind == TransposeKind::kTiled) {
    EXPECT_EQ(p.tile, c.elementBytes <= 2 ? 64 : 32) << describe(c);
  }
  std::memset(y, 0, bytes);
  std::vector<int> writes;
  replay(p, x, y, writes);
  for (std::size_t i = 0; i < writes.size(); ++i)
    ASSERT_EQ(writes[i], 1) << describe(c) << ": output word " << i << " written " << writes[i] << " times";
  // The uncollapsed per-element walk: the CPU reference's order (checked against Transpose.ref below).
  std::vector<uint8_t> want(bytes);
  const std::size_t eb = static_cast<std::size_t>(c.elementBytes);
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(want.data() + i * eb, x + cuda::kernels::transposeSource<int64_t>(s, i) * eb, eb);
  EXPECT_EQ(std::memcmp(y, want.data(), bytes), 0) << describe(c);
  if (c.elementBytes == 4) {  // the reference kernel itself, on the same bits as FP32
    OpSpec spec;
    spec.op = "Transpose";
    if (!c.perm.empty()) spec.attrs["perm"] = c.perm;
    ir::Tensor in(DType::kFLOAT, c.dims);
    std::memcpy(in.mutableData(), x, bytes);
    spec.inputs = {dyn(in)};
    ir::Tensor ref = runTactic(spec, "Transpose.ref")[0];
    EXPECT_EQ(std::memcmp(y, ref.data(), bytes), 0) << describe(c) << " vs Transpose.ref";
  }
}

TEST(CudaTransposePlan, RowCopiesUseTheWidestAlignedWord) {
  using K = TransposeKind;
  for (const Case& c : std::vector<Case>{
           // ViT/BERT heads split and merge, FP16: rows of 64 or 768 halves, 16-byte words.
           {{2, 7, 3, 64}, {0, 2, 1, 3}, 2, 0, K::kRows, 16},
           {{3, 5, 768}, {1, 0, 2}, 2, 0, K::kRows, 16},
           {{1, 5, 4, 3, 24}, {3, 1, 2, 0, 4}, 2, 0, K::kRows, 16},  // ViT's qkv split, size-1 axes dropped
           {{5, 2, 3, 16}, {2, 0, 1, 3}, 4, 0, K::kRows, 16},
           // Rows that no 16-byte word divides, or pointers that are not aligned: narrower words.
           {{3, 5, 12}, {1, 0, 2}, 2, 0, K::kRows, 8},
           {{3, 5, 7}, {1, 0, 2}, 2, 0, K::kRows, 2},
           {{3, 5, 64}, {1, 0, 2}, 2, 2, K::kRows, 2},
           {{3, 5, 64}, {1, 0, 2}, 2, 4, K::kRows, 4},
           {{3, 5, 64}, {1, 0, 2}, 4, 8, K::kRows, 8},
           {{4, 3, 9}, {1, 0, 2}, 1, 0, K::kRows, 1},
           {{2, 3, 5, 6}, {2, 1, 0, 3}, 8, 0, K::kRows, 16},
       })
    check(c);
}

TEST(CudaTransposePlan, MovedInnermostAxisGoesThroughTiles) {
  using K = TransposeKind;
  for (const Case& c : std::vector<Case>{
           {{2, 3, 37, 65}, {0, 1, 3, 2}, 2, 0, K::kTiled, 2},  // K^T in attention, odd sizes: partial tiles
           {{2, 3, 37, 65}, {0, 1, 3, 2}, 4, 4, K::kTiled, 4},
           {{2, 20, 5, 7}, {0, 2, 3, 1}, 4, 0, K::kTiled, 4},   // NCHW -> NHWC
           {{2, 5, 7, 20}, {0, 3, 1, 2}, 2, 0, K::kTiled, 2},   // NHWC -> NCHW
           {{17, 4, 19}, {}, 4, 0, K::kTiled, 4},               // reversed axes
           {{70, 33}, {1, 0}, 1, 0, K::kTiled, 1},
           {{40, 1, 33}, {2, 1, 0}, 8, 0, K::kTiled, 8},
           {{16, 2, 16}, {2, 1, 0}, 2, 2, K::kTiled, 2},        // the shortest extents tiled
       })
    check(c);
}

TEST(CudaTransposePlan, ShortTiledAxesTakeThePlanesOrTheWalk) {
  using K = TransposeKind;
  for (const Case& c : std::vector<Case>{
           {{2, 3, 50}, {0, 2, 1}, 4, 0, K::kPlanes, 4},        // an image's 3 channels to the end
           {{3, 3, 37, 29}, {0, 2, 3, 1}, 2, 2, K::kPlanes, 2},  // NCHW -> NHWC, 1073 pixels: a partial tile
           {{2, 8, 5}, {0, 2, 1}, 1, 0, K::kPlanes, 1},         // kMaxPlanes planes
           {{2, 5, 7, 3}, {0, 2, 3, 1}, 4, 0, K::kPlanes, 4},   // 5 planes of 21 pixels
           {{2, 9, 5}, {0, 2, 1}, 4, 0, K::kGeneric, 4},        // more planes than kMaxPlanes
           {{2, 3, 3}, {0, 2, 1}, 4, 0, K::kGeneric, 4},        // fewer than kMinPlanePixels pixels
           {{2, 50, 3}, {0, 2, 1}, 2, 0, K::kGeneric, 2},       // and back
           {{3, 4, 5}, {}, 1, 0, K::kGeneric, 1},
           {{15, 40}, {1, 0}, 8, 0, K::kGeneric, 8},
           {{2, 3, 2, 3, 2, 3, 2, 3}, {7, 6, 5, 4, 3, 2, 1, 0}, 4, 0, K::kGeneric, 4},  // rank 8
       })
    check(c);
}

TEST(CudaTransposePlan, IdentityAfterCollapseIsACopy) {
  using K = TransposeKind;
  for (const Case& c : std::vector<Case>{
           {{2, 3, 4}, {0, 1, 2}, 4, 0, K::kCopy, 4},
           {{2, 1, 4}, {1, 0, 2}, 2, 2, K::kCopy, 2},  // only a size-1 axis moves
           {{1, 1, 1}, {2, 0, 1}, 4, 0, K::kCopy, 4},
           {{5}, {0}, 8, 0, K::kCopy, 8},
       })
    check(c);
}

TEST(CudaTransposePlan, EmptyAndHugeShapes) {
  const cuda::kernels::TransposeShape empty = cuda::transposeShape({0, 3}, {1, 0});
  EXPECT_EQ(cuda::kernels::planTranspose(empty, 4, 0, 0).words, 0);
  // Offsets beyond 32 bits keep the 64-bit per-element walk.
  const cuda::kernels::TransposeShape huge = cuda::transposeShape({1 << 16, 1 << 16}, {1, 0});
  const TransposePlan p = cuda::kernels::planTranspose(huge, 2, 0, 0);
  EXPECT_EQ(p.kind, TransposeKind::kGeneric);
  EXPECT_EQ(p.wordBytes, 2);
  EXPECT_EQ(p.words, int64_t{1} << 32);
}

}  // namespace
}  // namespace kiln::test
