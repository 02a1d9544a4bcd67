// Host-side arithmetic that turns a node and its views' shapes into the
// parameter structs of kernels.h. No CUDA call here: unit-tested on machines
// without a GPU (tests/unit/cuda/launch_shapes_test.cc).
#pragma once
#include <cstdint>
#include <vector>

#include "backends/cuda/ops/kernels.h"
#include "ir/graph.h"
#include "ir/ops/spatial.h"

namespace kiln::cuda {

//! Numpy broadcasting of `a` and `b` onto `out` (which must be their broadcast
//! shape; throws otherwise, or above kMaxRank). Size-1 dims get stride 0.
kernels::BroadcastShape broadcastShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                       const std::vector<int64_t>& out);

//! The period of an operand with `strides` over `s`'s dims (BroadcastShape::aPeriod), or 0.
int64_t broadcastPeriod(const kernels::BroadcastShape& s, const int64_t* strides);

//! Merges `s`'s adjacent dims that both operands read contiguously or both
//! broadcast, and drops size-1 dims: the same flat walk with fewer divisions
//! (what the binary kernel's index walk gets; periods and sameShape unchanged).
void collapseBroadcast(kernels::BroadcastShape& s);

//! Transpose of `in` by `perm` (empty: reversed axes).
kernels::TransposeShape transposeShape(const std::vector<int64_t>& in, std::vector<int64_t> perm);

//! [outer, axis, inner] of Softmax over `axis` (negative counts from the end).
struct SoftmaxSplit {
  int64_t outer = 1, axis = 1, inner = 1;
};
SoftmaxSplit softmaxSplit(const std::vector<int64_t>& dims, int64_t axis);

//! Pooling parameters of a 2-D MaxPool/AveragePool node (attributes read once
//! into `attrs`) for input `x` and output `y` (both NCHW); throws naming the
//! node when the computed output size disagrees with `y`.
kernels::Pool2d pool2dParams(const ir::Node& node, const ir::WindowAttrs& attrs, const std::vector<int64_t>& x,
                             const std::vector<int64_t>& y);

//! What a nearest-mode Resize node asks for, read once from its attributes and constant scales.
struct ResizeConfig {
  kernels::ResizeCoord coord = kernels::ResizeCoord::kHalfPixel;
  kernels::ResizeNearest nearest = kernels::ResizeNearest::kRoundPreferFloor;
  std::vector<float> scales;  //!< per axis from the scales input; empty: output size / input size
};
//! False when the CUDA kernel lacks what the node asks for (linear/cubic mode,
//! tf_crop_and_resize, half_pixel_symmetric, `axes`, a keep_aspect_ratio_policy,
//! non-constant scales).
bool resizeConfig(const ir::Node& node, ResizeConfig* out);
kernels::ResizeParams resizeParams(const ResizeConfig& c, const std::vector<int64_t>& x, const std::vector<int64_t>& y);

//! One (possibly batched) row-major product Y[M,N] = op(A)[M,K] * op(B)[K,N].
struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  bool transA = false, transB = false;
  int64_t batch = 1;                           //!< products in the batch
  int64_t strideA = 0, strideB = 0, strideY = 0;  //!< elements between products; 0: shared operand
};

//! MatMul of A [..., M, K] and B [..., K, N] (both rank >= 2): a 2-D B folds
//! A's batch into M; otherwise batch dims must match or one side's must all
//! be 1 (broadcast with stride 0). False when the CUDA tactic can't map it.
bool matmulShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b, GemmShape* out);
//! Gemm (2-D) with transA/transB.
GemmShape gemmShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b, bool transA, bool transB);

//! cuBLASLt is column-major: a row-major Y = op(A) op(B) is computed as the
//! column-major Y^T = op(B)^T op(A)^T, so cuBLASLt's first operand is B and
//! its second is A. Each operand: whether cuBLASLt transposes it and the
//! stored matrix's column-major rows, cols and leading dimension.
struct LtOperand {
  bool transpose = false;
  int64_t rows = 0, cols = 0, ld = 0;
};
struct LtProblem {
  LtOperand first, second;   //!< from B, from A
  int64_t rowsY = 0, colsY = 0, ldY = 0;  //!< Y^T: N x M, ld N
};
LtProblem columnMajorProblem(const GemmShape& g);

}  // namespace kiln::cuda
