// Schemas of the ops that keep the elements a condition picks: NonZero,
// Compress and Unique. Their output sizes depend on the input values, so inference gives
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

// Unique(X[, axis, sorted]) -> Y, indices, inverse_indices, counts: the distinct
// elements (or slices along `axis`), where each first occurs, which one each
// element is, and how often each occurs. All but inverse_indices are data-dependent.
void inferUnique(InferContext& ctx) {
  const Value& x = ctx.in(0);
  const Node& n = ctx.node();
  int64_t sorted = n.i("sorted", 1);
  ctx.check(sorted == 0 || sorted == 1, "sorted must be 0 or 1, is ", sorted);
  Dim items;  // what is made unique: elements, or slices along the axis
  Shape y;
  if (!n.has("axis")) {
    int64_t numel = knownElements(x.shape);
    items = numel >= 0 ? Dim(numel) : Dim();
    y = {dataDependentDim(n, numel)};
  } else {
    int64_t axis = ctx.axis(n.i("axis", 0), ctx.rank(0));
    items = x.shape[axis];
    y = x.shape;
    y[axis] = dataDependentDim(n, items.value);
  }
  ctx.setOutput(0, x.dtype, y);
  Shape perUnique = {dataDependentDim(n, items.value)};
  for (std::size_t i = 1; i < ctx.numOutputs(); ++i)
    if (ctx.node().outputs[i]) ctx.setOutput(i, DType::kINT64, i == 2 ? Shape{items} : perUnique);
}

}  // namespace

namespace tensor_ops {
void registerSelectOpSchemas(SchemaRegistry& r) {
  r.add({"NonZero", 1, 1, 1, 1, inferNonZero, 0b1});
  r.add({"Compress", 2, 2, 1, 1, inferCompress, 0b1});
  r.add({"Unique", 1, 1, 1, 4, inferUnique, 0b1011});
}
}  // namespace tensor_ops

}  // namespace kiln::ir
