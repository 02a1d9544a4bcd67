// Transpose's kernels (transpose_kernels.h has the plan and its index arithmetic).
// Element bits only: one instantiation per word size serves every dtype.
#include <cstdint>

#include "backends/cuda/ops/transpose_kernels.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;

// kRows (wide words) and kGeneric (elements), 32-bit offsets where they fit:
// each output word reads the input word the index walk names. Rows are copied
// whole, so consecutive threads read consecutive words: coalesced both ways.
template <typename W, typename Idx>
__global__ void walkKernel(const W* __restrict__ x, W* __restrict__ y, Idx n, TransposeShape s) {
  for (Idx i = blockIdx.x * Idx(blockDim.x) + threadIdx.x; i < n; i += Idx(gridDim.x) * blockDim.x)
    y[i] = x[transposeSource<Idx>(s, i)];
}

// kTiled: a TILE x TILE tile of (a = the input's innermost axis, b = the
// output's) goes through shared memory: read with threads along a, written
// with threads along b, so both sides are coalesced; the +1 column keeps the
// column reads free of bank conflicts. Block: TILE x (kThreads / TILE) threads.
template <typename T, int TILE>
__global__ void tiledKernel(const T* __restrict__ x, T* __restrict__ y, TransposePlan p, TileGrid g) {
  __shared__ T tile[TILE][TILE + 1];
  constexpr int kStep = kThreads / TILE;
  const uint32_t aDim = uint32_t(p.shape.dims[p.tileInDim]), bDim = uint32_t(p.shape.dims[p.shape.rank - 1]);
  const uint32_t inStrideB = uint32_t(p.shape.inStrides[p.shape.rank - 1]), outStrideA = uint32_t(tileOutStride(p));
  const int64_t tiles = g.tilesA * g.tilesB * g.batches;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const TileOrigin o = tileOrigin(p, g, t);
    const uint32_t inBase = uint32_t(o.inBase), outBase = uint32_t(o.outBase);
    const uint32_t a = uint32_t(o.a0) + threadIdx.x;
    for (int j = threadIdx.y; j < TILE; j += kStep) {
      const uint32_t b = uint32_t(o.b0) + j;
      if (a < aDim && b < bDim) tile[j][threadIdx.x] = x[inBase + a + b * inStrideB];
    }
    __syncthreads();
    const uint32_t b = uint32_t(o.b0) + threadIdx.x;
    for (int j = threadIdx.y; j < TILE; j += kStep) {
      const uint32_t aw = uint32_t(o.a0) + j;
      if (aw < aDim && b < bDim) y[outBase + aw * outStrideA + b] = tile[threadIdx.x][j];
    }
    __syncthreads();  // the tile is reused by the block's next tile
  }
}

template <typename T, int TILE>
void launchTiled(const void* x, void* y, const TransposePlan& p, cudaStream_t stream) {
  const TileGrid g = tileGrid(p);
  const int64_t tiles = g.tilesA * g.tilesB * g.batches;
  const int64_t blocks = tiles < (int64_t{1} << 20) ? tiles : (int64_t{1} << 20);
  tiledKernel<T, TILE><<<blocks, dim3(TILE, kThreads / TILE), 0, stream>>>(static_cast<const T*>(x),
                                                                          static_cast<T*>(y), p, g);
}

template <typename W>
void launchWalk(const void* x, void* y, const TransposePlan& p, cudaStream_t stream) {
  const W* in = static_cast<const W*>(x);
  W* out = static_cast<W*>(y);
  if (fitsIn32(p.words))
    walkKernel<W, uint32_t><<<gridFor(p.words), kThreads, 0, stream>>>(in, out, uint32_t(p.words), p.shape);
  else
    walkKernel<W, int64_t><<<gridFor(p.words), kThreads, 0, stream>>>(in, out, p.words, p.shape);
}

}  // namespace

void transpose(const void* x, void* y, const TransposePlan& p, cudaStream_t stream) {
  if (p.words <= 0 || p.kind == TransposeKind::kCopy) return;
  if (p.kind == TransposeKind::kTiled) {
    switch (p.wordBytes) {
      case 1: launchTiled<uint8_t, 64>(x, y, p, stream); break;
      case 2: launchTiled<uint16_t, 64>(x, y, p, stream); break;
      case 4: launchTiled<uint32_t, 32>(x, y, p, stream); break;
      default: launchTiled<uint64_t, 32>(x, y, p, stream); break;
    }
    return;
  }
  switch (p.wordBytes) {
    case 1: launchWalk<uint8_t>(x, y, p, stream); break;
    case 2: launchWalk<uint16_t>(x, y, p, stream); break;
    case 4: launchWalk<uint32_t>(x, y, p, stream); break;
    case 8: launchWalk<uint64_t>(x, y, p, stream); break;
    default: launchWalk<uint4>(x, y, p, stream); break;
  }
}

}  // namespace kiln::cuda::kernels
