// Schemas of the ops that keep the elements a condition picks: NonZero and
// Compress. Their output sizes depend on the input values, so inference gives
// the upper bound (every element picked) as a data-dependent dim, and the
// kernel reports the actual size per run (OpSchema::dataDependentOutputs).
#include <algorithm>

#include "ir/ops/families.h"
#include "ir/ops/tensor_util.h"

namespace kiln::ir {
namespace {

//! Elements of a shape, or -1 while a dim is unknown.
int64_t knownElements(const Shape& s) {
  int64_t n = 1;
  for (const Dim& d : s) {
    if (!d.known()) return -1;
    n *= d.value;
  }
  return n;
}

// NonZero(X) -> int64 [rank, count]: one column of indices per nonzero element
// (a scalar counts as rank 1, as numpy's nonzero does).
void inferNonZero(InferContext& ctx) {
  const Value& x = ctx.in(0);
  int64_t rank = std::max<int64_t>(1, ctx.rank(0));
  ctx.setOutput(0, DType::kINT64, {Dim(rank), dataDependentDim(ctx.node(), knownElements(x.shape))});
}

// Compress(input, condition[, axis]): the slices (or, without an axis, the
// flattened elements) where condition is true; a short condition drops the rest.
void inferCompress(InferContext& ctx) {
  const Value& x = ctx.in(0);
  const Value& cond = ctx.in(1);
  ctx.check(cond.dtype == DType::kBOOL, "condition must be bool, is ", dataTypeName(cond.dtype));
  ctx.check(cond.shape.size() == 1, "condition must be 1-D, has rank ", cond.shape.size());
  const Dim& len = cond.shape[0];
  auto bound = [&](int64_t extent) {
    if (extent < 0) return len.known() ? len.value : int64_t{-1};
    return len.known() ? std::min(extent, len.value) : extent;
  };
  if (!ctx.node().has("axis")) {
    ctx.setOutput(0, x.dtype, {dataDependentDim(ctx.node(), bound(knownElements(x.shape)))});
    return;
  }
  int64_t axis = ctx.axis(ctx.node().i("axis", 0), ctx.rank(0));
  Shape out = x.shape;
  out[axis] = dataDependentDim(ctx.node(), bound(x.shape[axis].known() ? x.shape[axis].value : -1));
  ctx.setOutput(0, x.dtype, std::move(out));
}

}  // namespace

namespace tensor_ops {
void registerSelectOpSchemas(SchemaRegistry& r) {
  r.add({"NonZero", 1, 1, 1, 1, inferNonZero, 0b1});
  r.add({"Compress", 2, 2, 1, 1, inferCompress, 0b1});
}
}  // namespace tensor_ops

}  // namespace kiln::ir
