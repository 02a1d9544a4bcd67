// Transpose's kernels (transpose_kernels.h has the plan and its index arithmetic).
// Element bits only: one instantiation per word size serves every dtype. The
// same kernels convert between float types for KilnReformat (Tin != Tout).
#include <cstdint>
#include <type_traits>

#include "backends/cuda/ops/element_type.cuh"
#include "backends/cuda/ops/transpose_kernels.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;

// A word moved as it is, or a float element converted (through FP32).
template <typename Tout, typename Tin>
__device__ __forceinline__ Tout convert(Tin v) {
  if constexpr (std::is_same_v<Tin, Tout>) return v;
  else return fromFloat<Tout>(toFloat(v));
}

// kRows (wide words) and kGeneric (elements), 32-bit offsets where they fit:
// each output word reads the input word the index walk names. Rows are copied
// whole, so consecutive threads read consecutive words: coalesced both ways.
template <typename Tin, typename Tout, typename Idx>
__global__ void walkKernel(const Tin* __restrict__ x, Tout* __restrict__ y, Idx n, TransposeShape s) {
  for (Idx i = blockIdx.x * Idx(blockDim.x) + threadIdx.x; i < n; i += Idx(gridDim.x) * blockDim.x)
    y[i] = convert<Tout>(x[transposeSource<Idx>(s, i)]);
}

// kTiled: a TILE x TILE tile of (a = the input's innermost axis, b = the
// output's) goes through shared memory: read with threads along a, written
// with threads along b, so both sides are coalesced; the +1 column keeps the
// column reads free of bank conflicts. Block: TILE x (kThreads / TILE) threads.
template <typename Tin, typename Tout, int TILE>
__global__ void tiledKernel(const Tin* __restrict__ x, Tout* __restrict__ y, TransposePlan p, TileGrid g) {
  __shared__ Tout tile[TILE][TILE + 1];
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
      if (a < aDim && b < bDim) tile[j][threadIdx.x] = convert<Tout>(x[inBase + a + b * inStrideB]);
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

// kPlanes: a block takes kPlanesTile pixels of one batch. It reads them from
// each plane (consecutive threads, consecutive pixels: coalesced), interleaves
// them in shared memory, and writes the tile's part of the output, which is
// contiguous, in 16-byte words where the address and length allow (else by
// elements, still coalesced). Writing pixel by pixel from registers instead
// left YOLO's FP32 -> FP16 input reformat at 0.85 TB/s.
template <typename Tin, typename Tout>
__global__ void planesKernel(const Tin* __restrict__ x, Tout* __restrict__ y, TransposeShape s, uint32_t batches) {
  __shared__ alignas(16) Tout tile[kPlanesTile * kMaxPlanes];
  const uint32_t pixels = uint32_t(s.dims[s.rank - 2]), planes = uint32_t(s.dims[s.rank - 1]);
  const uint32_t planeStride = uint32_t(s.inStrides[s.rank - 1]);
  const uint32_t tilesPerBatch = (pixels + kPlanesTile - 1) / kPlanesTile, tiles = batches * tilesPerBatch;
  for (uint32_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const uint32_t b = t / tilesPerBatch, p0 = (t - b * tilesPerBatch) * kPlanesTile;
    const uint32_t count = pixels - p0 < uint32_t(kPlanesTile) ? pixels - p0 : uint32_t(kPlanesTile);
    const Tin* src = x + planesBatchBase<uint32_t>(s, b) + p0;
    for (uint32_t c = 0; c < planes; ++c)
      for (uint32_t k = threadIdx.x; k < count; k += blockDim.x) tile[k * planes + c] = convert<Tout>(src[c * planeStride + k]);
    __syncthreads();
    Tout* dst = y + (size_t(b) * pixels + p0) * planes;
    const uint32_t n = count * planes, bytes = n * uint32_t(sizeof(Tout));
    if (reinterpret_cast<uintptr_t>(dst) % 16 == 0 && bytes % 16 == 0) {
      const uint4* words = reinterpret_cast<const uint4*>(tile);
      for (uint32_t j = threadIdx.x; j < bytes / 16; j += blockDim.x) reinterpret_cast<uint4*>(dst)[j] = words[j];
    } else {
      for (uint32_t j = threadIdx.x; j < n; j += blockDim.x) dst[j] = tile[j];
    }
    __syncthreads();  // the tile is reused by the block's next one
  }
}

template <typename Tin, typename Tout, int TILE>
void launchTiled(const void* x, void* y, const TransposePlan& p, cudaStream_t stream) {
  const TileGrid g = tileGrid(p);
  const int64_t tiles = g.tilesA * g.tilesB * g.batches;
  const int64_t blocks = tiles < (int64_t{1} << 20) ? tiles : (int64_t{1} << 20);
  tiledKernel<Tin, Tout, TILE><<<blocks, dim3(TILE, kThreads / TILE), 0, stream>>>(
      static_cast<const Tin*>(x), static_cast<Tout*>(y), p, g);
}

template <typename Tin, typename Tout>
void launchPlanes(const void* x, void* y, const TransposePlan& p, cudaStream_t stream) {
  const int64_t perBatch = p.shape.dims[p.shape.rank - 2] * p.shape.dims[p.shape.rank - 1];
  const int64_t batches = p.words / perBatch;
  const int64_t tiles = batches * ((p.shape.dims[p.shape.rank - 2] + kPlanesTile - 1) / kPlanesTile);
  const int64_t blocks = tiles < (int64_t{1} << 20) ? tiles : (int64_t{1} << 20);
  planesKernel<Tin, Tout><<<blocks, kThreads, 0, stream>>>(static_cast<const Tin*>(x), static_cast<Tout*>(y),
                                                           p.shape, uint32_t(batches));
}

template <typename Tin, typename Tout>
void launchWalk(const void* x, void* y, const TransposePlan& p, cudaStream_t stream) {
  const Tin* in = static_cast<const Tin*>(x);
  Tout* out = static_cast<Tout*>(y);
  if (fitsIn32(p.words))
    walkKernel<Tin, Tout, uint32_t><<<gridFor(p.words), kThreads, 0, stream>>>(in, out, uint32_t(p.words), p.shape);
  else
    walkKernel<Tin, Tout, int64_t><<<gridFor(p.words), kThreads, 0, stream>>>(in, out, p.words, p.shape);
}

// Every kind but kCopy, for element types Tin -> Tout (words when equal).
template <typename Tin, typename Tout, int TILE>
void launchPlan(const void* x, void* y, const TransposePlan& p, cudaStream_t stream) {
  switch (p.kind) {
    case TransposeKind::kTiled: launchTiled<Tin, Tout, TILE>(x, y, p, stream); break;
    case TransposeKind::kPlanes:
      if constexpr (sizeof(Tout) <= 4) {  // planTranspose plans it for elements of up to 4 bytes
        launchPlanes<Tin, Tout>(x, y, p, stream);
        break;
      }
      [[fallthrough]];
    default: launchWalk<Tin, Tout>(x, y, p, stream); break;
  }
}

}  // namespace

void transpose(const void* x, void* y, const TransposePlan& p, cudaStream_t stream) {
  if (p.words <= 0 || p.kind == TransposeKind::kCopy) return;
  switch (p.wordBytes) {
    case 1: launchPlan<uint8_t, uint8_t, 64>(x, y, p, stream); break;
    case 2: launchPlan<uint16_t, uint16_t, 64>(x, y, p, stream); break;
    case 4: launchPlan<uint32_t, uint32_t, 32>(x, y, p, stream); break;
    case 8: launchPlan<uint64_t, uint64_t, 32>(x, y, p, stream); break;
    default: launchWalk<uint4, uint4>(x, y, p, stream); break;  // kRows only: 16-byte words
  }
}

void reformat(const void* x, Elem xe, void* y, Elem ye, const TransposePlan& p, cudaStream_t stream) {
  if (p.words <= 0) return;
  dispatchElem(xe, [&](auto inTag) {
    dispatchElem(ye, [&](auto outTag) {
      using Tin = typename decltype(inTag)::type;
      using Tout = typename decltype(outTag)::type;
      if (p.kind == TransposeKind::kCopy) {  // the identity order: a cast
        TransposePlan flat = p;
        flat.shape.rank = 1, flat.shape.dims[0] = p.words, flat.shape.inStrides[0] = 1;
        launchWalk<Tin, Tout>(x, y, flat, stream);
      } else {
        launchPlan<Tin, Tout, 32>(x, y, p, stream);
      }
    });
  });
}

}  // namespace kiln::cuda::kernels
