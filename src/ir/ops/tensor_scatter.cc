// Schemas of the scatter / gather-by-coordinates ops and of the ops that
// make tensors from a few numbers: ScatterElements, ScatterND, GatherND,
// ReverseSequence, OneHot, EyeLike, BlackmanWindow, HannWindow, HammingWindow.
#include <algorithm>
#include <string>

#include "ir/ops/families.h"
#include "ir/ops/tensor_util.h"

namespace kiln::ir {
namespace {
using namespace tensor_ops;

void checkReduction(const InferContext& ctx) {
  std::string r = ctx.node().s("reduction", "none");
  ctx.check(r == "none" || r == "add" || r == "mul" || r == "max" || r == "min",
            "attribute 'reduction' must be none, add, mul, max or min, got \"", r, "\"");
}

void inferScatterElements(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  ctx.check(rank >= 1, "data must have rank >= 1");
  checkIndexType(ctx, 1, "indices");
  checkReduction(ctx);
  ctx.check(ctx.in(2).dtype == data.dtype, "updates are ", dataTypeName(ctx.in(2).dtype), ", data is ",
            dataTypeName(data.dtype));
  ctx.check(ctx.rank(1) == rank && ctx.rank(2) == rank, "data, indices and updates must have one rank, got ", rank,
            ", ", ctx.rank(1), " and ", ctx.rank(2));
  ctx.axis(ctx.node().i("axis", 0), rank);
  const Shape &idx = ctx.in(1).shape, &upd = ctx.in(2).shape;
  for (int64_t k = 0; k < rank; ++k)
    if (idx[k].known() && upd[k].known())
      ctx.check(idx[k].value == upd[k].value, "indices ", toString(idx), " and updates ", toString(upd),
                " must have one shape");
  ctx.setOutput(0, data.dtype, data.shape);
}

// ScatterND: updates has shape indices.shape[:-1] + data.shape[indices.shape[-1]:].
void inferScatterND(InferContext& ctx) {
  const Value& data = ctx.in(0);
  checkIndexType(ctx, 1, "indices");
  checkReduction(ctx);
  ctx.check(ctx.in(2).dtype == data.dtype, "updates are ", dataTypeName(ctx.in(2).dtype), ", data is ",
            dataTypeName(data.dtype));
  const Shape& idx = ctx.in(1).shape;
  ctx.check(!idx.empty(), "indices must have rank >= 1");
  if (idx.back().known()) {
    int64_t q = idx.back().value, r = ctx.rank(0);
    ctx.check(q >= 1 && q <= r, "indices' last dim is ", q, ", it must be in [1, ", r, "] (the data's rank)");
    ctx.check(ctx.rank(2) == static_cast<int64_t>(idx.size()) - 1 + r - q, "updates have rank ", ctx.rank(2),
              ", expected ", static_cast<int64_t>(idx.size()) - 1 + r - q);
  }
  ctx.setOutput(0, data.dtype, data.shape);
}

// GatherND: out = indices.shape[:-1] + data.shape[batch_dims + indices.shape[-1]:].
void inferGatherND(InferContext& ctx) {
  const Value& data = ctx.in(0);
  checkIndexType(ctx, 1, "indices");
  const Shape& idx = ctx.in(1).shape;
  int64_t r = ctx.rank(0), b = ctx.node().i("batch_dims", 0);
  ctx.check(!idx.empty() && r >= 1, "data and indices must have rank >= 1");
  ctx.check(b >= 0 && b < std::min<int64_t>(r, static_cast<int64_t>(idx.size())), "attribute 'batch_dims' is ", b,
            ", it must be in [0, min(data rank, indices rank))");
  ctx.check(idx.back().known(), "indices' last dim must be known, got ", toString(idx));
  int64_t q = idx.back().value;
  ctx.check(q >= 1 && q <= r - b, "indices' last dim is ", q, ", it must be in [1, ", r - b, "]");
  for (int64_t k = 0; k < b; ++k)
    if (idx[k].known() && data.shape[k].known())
      ctx.check(idx[k].value == data.shape[k].value, "batch dim ", k, " differs: indices ", toString(idx),
                ", data ", toString(data.shape));
  Shape out(idx.begin(), idx.end() - 1);
  out.insert(out.end(), data.shape.begin() + b + q, data.shape.end());
  ctx.setOutput(0, data.dtype, std::move(out));
}

void inferReverseSequence(InferContext& ctx) {
  const Value& x = ctx.in(0);
  int64_t rank = ctx.rank(0);
  ctx.check(rank >= 2, "input must have rank >= 2");
  ctx.check(ctx.in(1).dtype == DType::kINT64 && ctx.rank(1) == 1, "sequence_lens must be a 1-D int64 tensor");
  int64_t t = ctx.node().i("time_axis", 0), b = ctx.node().i("batch_axis", 1);
  ctx.check((t == 0 || t == 1) && (b == 0 || b == 1) && t != b,
            "attributes 'time_axis' and 'batch_axis' must be 0 and 1 in some order, got ", t, " and ", b);
  const Dim &batch = x.shape[b], &lens = ctx.in(1).shape[0];
  if (batch.known() && lens.known())
    ctx.check(batch.value == lens.value, "sequence_lens has ", lens.value, " values for a batch of ", batch.value);
  ctx.setOutput(0, x.dtype, x.shape);
}

// OneHot(indices, depth, values): depth must be a constant to size the output.
void inferOneHot(InferContext& ctx) {
  const Value& idx = ctx.in(0);
  ctx.check(isFloat(idx.dtype) || idx.dtype == DType::kINT32 || idx.dtype == DType::kINT64 ||
                idx.dtype == DType::kINT8 || idx.dtype == DType::kUINT8,
            "indices must be numeric, got ", dataTypeName(idx.dtype));
  const Value& values = ctx.in(2);
  ctx.check(values.shape.size() == 1 && (!values.shape[0].known() || values.shape[0].value == 2),
            "values must hold two elements [off, on], got shape ", toString(values.shape));
  int64_t outRank = ctx.rank(0) + 1;
  int64_t axis = ctx.axis(ctx.node().i("axis", -1), outRank);
  Dim depth;
  if (const Tensor* d = ctx.constInput(1)) {
    ctx.check(d->numel() == 1, "depth must hold one value, got shape ", toString(d->dims()));
    double v = d->castTo(DType::kDOUBLE).as<double>()[0];
    ctx.check(v >= 1, "depth must be >= 1, got ", v);
    depth = Dim(static_cast<int64_t>(v));
  }
  Shape out = idx.shape;
  out.insert(out.begin() + axis, depth);
  ctx.setOutput(0, values.dtype, std::move(out));
}

//! ONNX's `dtype` / `output_datatype` attribute value -> Kiln dtype.
DType dtypeAttr(const InferContext& ctx, const char* attr, DType dflt) {
  if (!ctx.node().has(attr)) return dflt;
  int64_t v = ctx.node().i(attr, 1);
  switch (v) {
    case 1: return DType::kFLOAT;
    case 2: return DType::kUINT8;
    case 3: return DType::kINT8;
    case 4: return DType::kUINT16;
    case 5: return DType::kINT16;
    case 6: return DType::kINT32;
    case 7: return DType::kINT64;
    case 9: return DType::kBOOL;
    case 10: return DType::kHALF;
    case 11: return DType::kDOUBLE;
    case 12: return DType::kUINT32;
    case 13: return DType::kUINT64;
    case 16: return DType::kBF16;
    default: ctx.error("attribute '", attr, "' is ONNX type ", v, ", which Kiln cannot produce here");
  }
}

void inferEyeLike(InferContext& ctx) {
  ctx.check(ctx.rank(0) == 2, "input must be 2-D, got shape ", toString(ctx.in(0).shape));
  DType t = dtypeAttr(ctx, "dtype", ctx.in(0).dtype);
  ctx.setOutput(0, t, ctx.in(0).shape);
}

// The window functions: a scalar size (a constant, to size the output).
void inferWindow(InferContext& ctx) {
  const Value& size = ctx.in(0);
  ctx.check(size.dtype == DType::kINT32 || size.dtype == DType::kINT64, "size must be int32 or int64, got ",
            dataTypeName(size.dtype));
  int64_t periodic = ctx.node().i("periodic", 1);
  ctx.check(periodic == 0 || periodic == 1, "attribute 'periodic' must be 0 or 1, got ", periodic);
  DType t = dtypeAttr(ctx, "output_datatype", DType::kFLOAT);
  Dim n;
  if (const Tensor* s = ctx.constInput(0)) {
    ctx.check(s->numel() == 1, "size must be a scalar, got shape ", toString(s->dims()));
    int64_t v = s->toInt64()[0];
    ctx.check(v >= 0, "size must not be negative, got ", v);
    n = Dim(v);
  }
  ctx.setOutput(0, t, {n});
}

}  // namespace

namespace tensor_ops {
void registerScatterOpSchemas(SchemaRegistry& r) {
  r.add({"ScatterElements", 3, 3, 1, 1, inferScatterElements});
  r.add({"ScatterND", 3, 3, 1, 1, inferScatterND});
  r.add({"GatherND", 2, 2, 1, 1, inferGatherND});
  r.add({"ReverseSequence", 2, 2, 1, 1, inferReverseSequence});
  r.add({"OneHot", 3, 3, 1, 1, inferOneHot});
  r.add({"EyeLike", 1, 1, 1, 1, inferEyeLike});
  for (const char* op : {"BlackmanWindow", "HannWindow", "HammingWindow"}) r.add({op, 1, 1, 1, 1, inferWindow});
}
}  // namespace tensor_ops
}  // namespace kiln::ir
