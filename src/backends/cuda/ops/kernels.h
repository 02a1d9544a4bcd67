// Kiln's own CUDA kernels (kernels.cu), as plain launchers: no IR types here,
// so nvcc compiles one small file. The tactics (ops/*.cc) turn a node and its
// views into these parameter structs; launch_shapes.h computes them (host
// code, unit-tested without a GPU). Floating data is FP32, FP16 or BF16
// (`Elem`; the dispatch pattern is in element_type.cuh), with FP32 math inside.
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace kiln::cuda::kernels {

constexpr int kMaxRank = 8;

//! Whether element offsets below `n` fit the 32-bit index walks (with room for
//! a grid stride past the end).
inline bool fitsIn32(int64_t n) { return n >= 0 && n < (int64_t{1} << 31); }

//! The widest word of 16, 8, 4 or 2 bytes (at least `elementBytes`, else
//! `elementBytes`) dividing every value in `bytes` (sizes and addresses): what
//! the data-movement kernels (gather, transpose) move per thread.
inline int32_t widestWord(int32_t elementBytes, std::initializer_list<uint64_t> bytes) {
  for (int32_t w = 16; w > elementBytes; w /= 2) {
    bool fits = true;
    for (uint64_t b : bytes) fits = fits && b % static_cast<uint64_t>(w) == 0;
    if (fits) return w;
  }
  return elementBytes;
}

//! The floating storage types of Kiln's kernels (data pointers are void* of this type).
enum class Elem : int32_t { kFloat, kHalf, kBF16 };

//! Unary ops; the same formulas as backends/cpu/activation.h.
enum class Unary : int32_t {
  kIdentity, kRelu, kLeakyRelu, kSigmoid, kTanh, kGeluErf, kGeluTanh, kErf, kExp, kLog, kSqrt,
  kReciprocal, kNeg, kAbs, kClip, kHardSigmoid, kHardSwish, kSilu, kSoftplus,
};
struct UnaryParams {
  Unary op = Unary::kIdentity;
  float alpha = 0, beta = 0;  //!< LeakyRelu alpha; Clip min/max; HardSigmoid alpha/beta
};
//! Elementwise kernels: elementwise.cu.
void unary(const void* x, void* y, int64_t n, UnaryParams p, Elem elem, cudaStream_t stream);

enum class Binary : int32_t { kAdd, kSub, kMul, kDiv, kMax, kMin, kPow };
//! Output dims and, per operand, its element strides over them (0 on broadcast dims).
struct BroadcastShape {
  int32_t rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t aStrides[kMaxRank] = {};
  int64_t bStrides[kMaxRank] = {};
  bool sameShape = false;  //!< a, b and y all alike: the flat kernel
  //! Where an operand repeats with a period over y's flat index (it is y's
  //! trailing dims, broadcast over the leading ones: same shape, a scalar, a
  //! bias [N], a positional table [1, S, D]), operand[i % period] is its
  //! element for y[i], and the kernel needs no index walk; 0: it does not.
  int64_t aPeriod = 0, bPeriod = 0;
};
//! y = op(a, b) with broadcasting, then `then` applied (a fused activation).
void binary(const void* a, const void* b, void* y, const BroadcastShape& shape, Binary op, UnaryParams then,
            Elem elem, cudaStream_t stream);

//! Softmax over the middle axis of x viewed as [outer, axis, inner].
void softmax(const void* x, void* y, int64_t outer, int64_t axis, int64_t inner, bool logSoftmax, Elem elem,
             cudaStream_t stream);

//! 2-D max/average pooling over NCHW (1-D and 3-D pooling: not yet).
struct Pool2d {
  int64_t n = 0, c = 0, h = 0, w = 0, oh = 0, ow = 0;
  int32_t kh = 1, kw = 1, sh = 1, sw = 1, padTop = 0, padLeft = 0, dh = 1, dw = 1;
  int32_t padBottom = 0, padRight = 0;
  bool max = true;
  bool countIncludePad = false;
};
void pool2d(const void* x, void* y, const Pool2d& p, Elem elem, cudaStream_t stream);
//! y[i] = mean of x[i*hw .. i*hw + hw) for i < rows.
void rowMean(const void* x, void* y, int64_t rows, int64_t hw, Elem elem, cudaStream_t stream);

//! Output dims and, per output dim, the stride in the input it reads from
//! (Transpose's kernels and their plan: transpose_kernels.h).
struct TransposeShape {
  int32_t rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t inStrides[kMaxRank] = {};
};

//! y = act(y + bias[c] + residual) over NCHW-like [n, c, hw]; bias and residual (of y's type) may be null.
void channelBiasAct(void* y, const void* bias, const void* residual, int64_t n, int64_t c, int64_t hw,
                    UnaryParams act, Elem elem, cudaStream_t stream);

//! Gather over one axis: data viewed as [outer, dim, inner] elements of
//! `elementBytes` (1, 2, 4 or 8), indices int32 or int64 (negative counts
//! from the end). An index outside [-dim, dim) writes zeros (a kernel cannot
//! raise an error; the CPU kernel's check is what the tests compare with).
void gather(const void* data, const void* indices, bool indices64, void* y, int64_t outer, int64_t dim,
            int64_t count, int64_t inner, int32_t elementBytes, cudaStream_t stream);


//! LayerNormalization over the last `cols` of each of `rows` rows: y = (x - mean) / sqrt(var + eps) * scale + bias
//! (bias may be null), statistics in FP32; x, scale, bias and y all of type `elem`.
void layerNorm(const void* x, const void* scale, const void* bias, void* y, int64_t rows, int64_t cols, float eps,
               Elem elem, cudaStream_t stream);
//! The block-per-row kernel behind layerNorm (norm.cu) for rows longer than its warp kernel holds (1024).
void layerNormBlock(const void* x, const void* scale, const void* bias, void* y, int64_t rows, int64_t cols,
                    float eps, Elem elem, cudaStream_t stream);

//! Element types Cast converts between.
enum class CastType : int32_t { kFloat, kInt32, kInt64, kBool, kUInt8, kInt8, kHalf, kBF16 };
void cast(const void* x, CastType from, void* y, CastType to, int64_t n, cudaStream_t stream);

//! Mean (or sum) over the middle axis of x viewed as [outer, reduce, inner]; FP32 accumulation.
void reduceMiddle(const void* x, void* y, int64_t outer, int64_t reduce, int64_t inner, bool mean, Elem elem,
                  cudaStream_t stream);

//! Resize, mode "nearest": the ONNX coordinate transforms Kiln's CUDA kernel has.
enum class ResizeCoord : int32_t { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNN };
enum class ResizeNearest : int32_t { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };
struct ResizeParams {
  int32_t rank = 0;
  int64_t inDims[kMaxRank] = {}, outDims[kMaxRank] = {};
  float scales[kMaxRank] = {};
  ResizeCoord coord = ResizeCoord::kHalfPixel;
  ResizeNearest nearest = ResizeNearest::kRoundPreferFloor;
};

#ifdef __CUDACC__
#define KILN_HOST_DEVICE __host__ __device__
#else
#define KILN_HOST_DEVICE
#endif

//! The input index output index `o` of one axis reads, exactly as the CPU
//! reference computes it (backends/cpu/ops/resize.cc): FP32 with every
//! operation rounded on its own (no fused multiply-add on the device).
KILN_HOST_DEVICE inline int64_t resizeNearestIndex(const ResizeParams& p, int axis, int64_t o) {
#ifdef __CUDA_ARCH__
#define KILN_ADD(a, b) __fadd_rn(a, b)
#define KILN_SUB(a, b) __fsub_rn(a, b)
#define KILN_MUL(a, b) __fmul_rn(a, b)
#define KILN_DIV(a, b) __fdiv_rn(a, b)
#else
#define KILN_ADD(a, b) ((a) + (b))
#define KILN_SUB(a, b) ((a) - (b))
#define KILN_MUL(a, b) ((a) * (b))
#define KILN_DIV(a, b) ((a) / (b))
#endif
  const float xo = static_cast<float>(o), fin = static_cast<float>(p.inDims[axis]), scale = p.scales[axis];
  const int64_t lenIn = p.inDims[axis], lenOut = p.outDims[axis];
  float x = 0.f;
  switch (p.coord) {
    case ResizeCoord::kHalfPixel: x = KILN_SUB(KILN_DIV(KILN_ADD(xo, 0.5f), scale), 0.5f); break;
    case ResizeCoord::kPytorchHalfPixel:
      x = lenOut > 1 ? KILN_SUB(KILN_DIV(KILN_ADD(xo, 0.5f), scale), 0.5f) : 0.f;
      break;
    case ResizeCoord::kAlignCorners:
      x = lenOut > 1 ? KILN_DIV(KILN_MUL(xo, KILN_SUB(fin, 1.f)), KILN_SUB(KILN_MUL(scale, fin), 1.f)) : 0.f;
      break;
    case ResizeCoord::kAsymmetric: x = KILN_DIV(xo, scale); break;
    case ResizeCoord::kTfHalfPixelForNN: x = KILN_DIV(KILN_ADD(xo, 0.5f), scale); break;
  }
#undef KILN_ADD
#undef KILN_SUB
#undef KILN_MUL
#undef KILN_DIV
  const float fl = floorf(x);
  int64_t i = 0;
  switch (p.nearest) {
    case ResizeNearest::kRoundPreferFloor: i = static_cast<int64_t>(x - fl == 0.5f ? fl : roundf(x)); break;
    case ResizeNearest::kRoundPreferCeil: i = static_cast<int64_t>(x - fl == 0.5f ? fl + 1.f : roundf(x)); break;
    case ResizeNearest::kFloor: i = static_cast<int64_t>(fl); break;
    case ResizeNearest::kCeil: i = static_cast<int64_t>(ceilf(x)); break;
  }
  return i < 0 ? 0 : (i > lenIn - 1 ? lenIn - 1 : i);
}

//! Nearest-neighbour Resize of elements of `elementBytes` (1, 2, 4 or 8).
void resizeNearest(const void* x, void* y, int32_t elementBytes, const ResizeParams& p, cudaStream_t stream);

//! Blocks of 256 threads covering n elements, capped (grid-stride loops do the rest).
int64_t gridFor(int64_t n, int threads = 256);

}  // namespace kiln::cuda::kernels
