#include "backends/cuda/ops/launch_shapes.h"

#include <algorithm>

#include "core/error.h"

namespace kiln::cuda {

int64_t broadcastPeriod(const kernels::BroadcastShape& s, const int64_t* strides) {
  // Trailing dims read contiguously (stride = the product of the dims inside),
  // then only broadcast (stride 0) dims; size-1 dims fit either way.
  int64_t period = 1;
  int d = s.rank - 1;
  for (; d >= 0; --d) {
    if (s.dims[d] == 1) continue;
    if (strides[d] != period) break;
    period *= s.dims[d];
  }
  for (; d >= 0; --d)
    if (s.dims[d] != 1 && strides[d] != 0) return 0;
  return period;
}

kernels::BroadcastShape broadcastShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                       const std::vector<int64_t>& out) {
  const std::size_t rank = out.size();
  KILN_CHECK(rank <= kernels::kMaxRank, "broadcast: rank ", rank, " exceeds the CUDA backend's limit of ",
             kernels::kMaxRank);
  KILN_CHECK(a.size() <= rank && b.size() <= rank, "broadcast: operand ranks ", a.size(), " and ", b.size(),
             " exceed the output rank ", rank);
  kernels::BroadcastShape s;
  s.rank = static_cast<int32_t>(rank);
  s.sameShape = a == out && b == out;
  auto strides = [&](const std::vector<int64_t>& d, int64_t* st, const char* which) {
    int64_t step = 1;
    for (std::size_t k = rank; k-- > 0;) {
      std::size_t back = rank - 1 - k;
      if (back >= d.size()) {
        st[k] = 0;
        continue;
      }
      int64_t dim = d[d.size() - 1 - back];
      KILN_CHECK(dim == out[k] || dim == 1, "broadcast: operand ", which, " ", ir::toString(d),
                 " does not broadcast to ", ir::toString(out));
      st[k] = dim == 1 && out[k] != 1 ? 0 : step;
      step *= dim;
    }
  };
  for (std::size_t k = 0; k < rank; ++k) s.dims[k] = out[k];
  strides(a, s.aStrides, "A");
  strides(b, s.bStrides, "B");
  s.aPeriod = broadcastPeriod(s, s.aStrides);
  s.bPeriod = broadcastPeriod(s, s.bStrides);
  return s;
}

void collapseBroadcast(kernels::BroadcastShape& s) {
  kernels::BroadcastShape c = s;
  c.rank = 0;
  for (int d = 0; d < s.rank; ++d) {
    if (s.dims[d] == 1 && s.rank > 1) continue;  // a size-1 output dim moves nothing
    const int k = c.rank - 1;
    // The previous kept dim and this one are one dim for an operand when it
    // reads them contiguously, or broadcasts both.
    auto joins = [&](const int64_t* kept, const int64_t* st) {
      return kept[k] == st[d] * s.dims[d] || (kept[k] == 0 && st[d] == 0);
    };
    if (c.rank > 0 && joins(c.aStrides, s.aStrides) && joins(c.bStrides, s.bStrides)) {
      c.dims[k] *= s.dims[d];
      c.aStrides[k] = s.aStrides[d];
      c.bStrides[k] = s.bStrides[d];
      continue;
    }
    c.dims[c.rank] = s.dims[d];
    c.aStrides[c.rank] = s.aStrides[d];
    c.bStrides[c.rank] = s.bStrides[d];
    ++c.rank;
  }
  if (c.rank == 0) {  // every dim was 1: one element
    c.rank = 1;
    c.dims[0] = 1;
    c.aStrides[0] = c.bStrides[0] = 0;
  }
  s = c;
}

kernels::TransposeShape transposeShape(const std::vector<int64_t>& in, std::vector<int64_t> perm) {
  const std::size_t rank = in.size();
  KILN_CHECK(rank <= kernels::kMaxRank, "Transpose: rank ", rank, " exceeds the CUDA backend's limit of ",
             kernels::kMaxRank);
  if (perm.empty())
    for (std::size_t k = 0; k < rank; ++k) perm.push_back(static_cast<int64_t>(rank - 1 - k));
  KILN_CHECK(perm.size() == rank, "Transpose: perm has ", perm.size(), " entries for rank ", rank);
  std::vector<int64_t> inStride(rank, 1);
  for (std::size_t k = rank; k-- > 1;) inStride[k - 1] = inStride[k] * in[k];
  std::vector<bool> seen(rank, false);
  kernels::TransposeShape s;
  s.rank = static_cast<int32_t>(rank);
  for (std::size_t k = 0; k < rank; ++k) {
    int64_t p = perm[k];
    KILN_CHECK(p >= 0 && p < static_cast<int64_t>(rank) && !seen[p], "Transpose: perm ", ir::toString(perm),
               " is not a permutation of ", rank, " axes");
    seen[p] = true;
    s.dims[k] = in[p];
    s.inStrides[k] = inStride[p];
  }
  return s;
}

SoftmaxSplit softmaxSplit(const std::vector<int64_t>& dims, int64_t axis) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  if (axis < 0) axis += rank;
  KILN_CHECK(rank > 0 && axis >= 0 && axis < rank, "Softmax: axis ", axis, " is out of range for rank ", rank);
  SoftmaxSplit s;
  for (int64_t k = 0; k < axis; ++k) s.outer *= dims[k];
  s.axis = dims[axis];
  for (int64_t k = axis + 1; k < rank; ++k) s.inner *= dims[k];
  return s;
}

kernels::Pool2d pool2dParams(const ir::Node& node, const ir::WindowAttrs& attrs, const std::vector<int64_t>& x,
                             const std::vector<int64_t>& y) {
  KILN_CHECK(x.size() == 4 && y.size() == 4, node.describe(), ": the CUDA pool takes NCHW (rank 4), got rank ",
             x.size());
  KILN_CHECK(attrs.kernel.size() == 2, node.describe(), ": kernel_shape has ", attrs.kernel.size(), " entries");
  kernels::Pool2d p;
  p.n = x[0], p.c = x[1], p.h = x[2], p.w = x[3];
  ir::AxisGeometry gh = ir::windowAxis(node, attrs, 0, x[2], attrs.kernel[0]);
  ir::AxisGeometry gw = ir::windowAxis(node, attrs, 1, x[3], attrs.kernel[1]);
  KILN_CHECK(y[0] == x[0] && y[1] == x[1] && y[2] == gh.out && y[3] == gw.out, node.describe(), ": output ",
             ir::toString(y), " disagrees with the computed [", x[0], ", ", x[1], ", ", gh.out, ", ", gw.out, "]");
  p.oh = gh.out, p.ow = gw.out;
  p.kh = static_cast<int32_t>(attrs.kernel[0]), p.kw = static_cast<int32_t>(attrs.kernel[1]);
  p.sh = static_cast<int32_t>(attrs.strides[0]), p.sw = static_cast<int32_t>(attrs.strides[1]);
  p.dh = static_cast<int32_t>(attrs.dilations[0]), p.dw = static_cast<int32_t>(attrs.dilations[1]);
  p.padTop = static_cast<int32_t>(gh.padBegin), p.padLeft = static_cast<int32_t>(gw.padBegin);
  p.padBottom = static_cast<int32_t>(gh.padEnd), p.padRight = static_cast<int32_t>(gw.padEnd);
  p.max = node.op == "MaxPool";
  p.countIncludePad = node.i("count_include_pad", 0) != 0;
  return p;
}

bool resizeConfig(const ir::Node& n, ResizeConfig* c) {
  if (n.s("mode", "nearest") != "nearest" || n.has("axes") || n.s("keep_aspect_ratio_policy", "stretch") != "stretch")
    return false;
  const std::string coord = n.s("coordinate_transformation_mode", "half_pixel");
  using C = kernels::ResizeCoord;
  if (coord == "half_pixel") c->coord = C::kHalfPixel;
  else if (coord == "pytorch_half_pixel") c->coord = C::kPytorchHalfPixel;
  else if (coord == "align_corners") c->coord = C::kAlignCorners;
  else if (coord == "asymmetric") c->coord = C::kAsymmetric;
  else if (coord == "tf_half_pixel_for_nn") c->coord = C::kTfHalfPixelForNN;
  else return false;
  const std::string nearest = n.s("nearest_mode", "round_prefer_floor");
  using N = kernels::ResizeNearest;
  if (nearest == "round_prefer_floor") c->nearest = N::kRoundPreferFloor;
  else if (nearest == "round_prefer_ceil") c->nearest = N::kRoundPreferCeil;
  else if (nearest == "floor") c->nearest = N::kFloor;
  else if (nearest == "ceil") c->nearest = N::kCeil;
  else return false;
  c->scales.clear();
  if (n.inputs.size() > 2 && n.inputs[2]) {
    const ir::Value* s = n.inputs[2];
    if (!s->isConstant() || s->dtype != DType::kFLOAT) return false;
    if (s->constant->numel() > 0) c->scales.assign(s->constant->as<float>(), s->constant->as<float>() + s->constant->numel());
  }
  if (c->scales.empty() && n.inputs.size() > 3 && n.inputs[3] && !n.inputs[3]->isConstant()) return false;
  return n.inputs[0] && n.inputs[0]->shape.size() <= kernels::kMaxRank &&
         (c->scales.empty() || c->scales.size() == n.inputs[0]->shape.size());
}

kernels::ResizeParams resizeParams(const ResizeConfig& c, const std::vector<int64_t>& x, const std::vector<int64_t>& y) {
  KILN_CHECK(x.size() == y.size() && x.size() <= kernels::kMaxRank && (c.scales.empty() || c.scales.size() == x.size()),
             "Resize: input rank ", x.size(), ", output rank ", y.size(), ", ", c.scales.size(), " scales");
  kernels::ResizeParams p;
  p.rank = static_cast<int32_t>(x.size());
  p.coord = c.coord;
  p.nearest = c.nearest;
  for (std::size_t d = 0; d < x.size(); ++d) {
    p.inDims[d] = x[d], p.outDims[d] = y[d];
    // As the CPU reference: the given scale, or output / input size in FP32.
    p.scales[d] = c.scales.empty() ? static_cast<float>(y[d]) / static_cast<float>(x[d]) : c.scales[d];
  }
  return p;
}

bool matmulShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b, GemmShape* out) {
  if (a.size() < 2 || b.size() < 2) return false;
  GemmShape g;
  g.m = a[a.size() - 2], g.k = a.back(), g.n = b.back();
  if (b[b.size() - 2] != g.k) return false;
  auto product = [](const std::vector<int64_t>& d) {
    int64_t p = 1;
    for (std::size_t i = 0; i + 2 < d.size(); ++i) p *= d[i];
    return p;
  };
  int64_t batchA = product(a), batchB = product(b);
  if (b.size() == 2) {  // a linear layer: every row of every batch times one B
    g.m *= batchA;
    *out = g;
    return true;
  }
  std::vector<int64_t> da(a.begin(), a.end() - 2), db(b.begin(), b.end() - 2);
  while (da.size() < db.size()) da.insert(da.begin(), 1);
  while (db.size() < da.size()) db.insert(db.begin(), 1);
  if (da != db && batchA != 1 && batchB != 1) return false;  // partial broadcast: not mapped yet
  g.batch = std::max(batchA, batchB);
  g.strideA = batchA == 1 ? 0 : g.m * g.k;
  g.strideB = batchB == 1 ? 0 : g.k * g.n;
  g.strideY = g.m * g.n;
  *out = g;
  return true;
}

GemmShape gemmShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b, bool transA, bool transB) {
  KILN_CHECK(a.size() == 2 && b.size() == 2, "Gemm: A and B must be 2-D, got ranks ", a.size(), " and ", b.size());
  GemmShape g;
  g.transA = transA, g.transB = transB;
  g.m = transA ? a[1] : a[0];
  g.k = transA ? a[0] : a[1];
  g.n = transB ? b[0] : b[1];
  KILN_CHECK((transB ? b[1] : b[0]) == g.k, "Gemm: A ", ir::toString(a), " and B ", ir::toString(b),
             " disagree on K with transA=", transA, ", transB=", transB);
  return g;
}

LtProblem columnMajorProblem(const GemmShape& g) {
  LtProblem p;
  // First = op(B)^T. B row-major [K,N] is column-major [N,K]: used as is.
  // With transB the stored S is [N,K] row-major = column-major [K,N], transposed.
  p.first = g.transB ? LtOperand{true, g.k, g.n, g.k} : LtOperand{false, g.n, g.k, g.n};
  // Second = op(A)^T. A row-major [M,K] is column-major [K,M]; with transA the stored [K,M] is column-major [M,K].
  p.second = g.transA ? LtOperand{true, g.m, g.k, g.m} : LtOperand{false, g.k, g.m, g.k};
  p.rowsY = g.n, p.colsY = g.m, p.ldY = g.n;
  return p;
}

}  // namespace kiln::cuda
