// Schemas of the ops that pick or join parts of tensors: Slice, Gather,
// GatherElements, Concat, Split.
#include <algorithm>
#include <limits>

#include "ir/ops/families.h"
#include "ir/ops/tensor_util.h"

namespace kiln::ir {
namespace {
using namespace tensor_ops;

// Start and length along one axis of a Slice, clamped as ONNX specifies.
int64_t sliceLength(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (dim == 0) return 0;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    return end > start ? (end - start + step - 1) / step : 0;
  }
  start = std::clamp<int64_t>(start, 0, dim - 1);
  end = std::clamp<int64_t>(end, -1, dim - 1);
  return start > end ? (start - end - step - 1) / -step : 0;
}

void inferSlice(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  for (std::size_t i = 1; i < 5; ++i)
    if (ctx.hasInput(i)) checkIndexType(ctx, i, i == 1 ? "starts" : i == 2 ? "ends" : i == 3 ? "axes" : "steps");
  auto starts = constInts(ctx, 1, "starts");
  auto ends = constInts(ctx, 2, "ends");
  auto axes = ctx.hasInput(3) ? constInts(ctx, 3, "axes") : std::nullopt;
  auto steps = ctx.hasInput(4) ? constInts(ctx, 4, "steps") : std::nullopt;
  int64_t n = starts ? static_cast<int64_t>(starts->size()) : knownLength(ctx, 1, "starts");
  if (ends) {
    ctx.check(n < 0 || n == static_cast<int64_t>(ends->size()), "starts has ", n, " values, ends has ",
              ends->size());
    n = static_cast<int64_t>(ends->size());
  }
  if (axes) ctx.check(n < 0 || n == static_cast<int64_t>(axes->size()), "axes has ", axes->size(),
                      " values, starts has ", n);
  if (steps) ctx.check(n < 0 || n == static_cast<int64_t>(steps->size()), "steps has ", steps->size(),
                       " values, starts has ", n);
  std::vector<int64_t> axisList;
  bool axesKnown = true;
  if (axes) {
    axisList = normalizeAxes(ctx, *axes, rank);
  } else if (ctx.hasInput(3) || n < 0) {
    axesKnown = false;
  } else {
    ctx.check(n <= rank, "slices ", n, " axes of a rank-", rank, " input");
    for (int64_t k = 0; k < n; ++k) axisList.push_back(k);
  }
  if (steps)
    for (int64_t s : *steps) ctx.check(s != 0, "steps must not be 0");
  Shape out = data.shape;
  if (!axesKnown) {
    ctx.setOutput(0, data.dtype, Shape(data.shape.size()));
    return;
  }
  for (std::size_t j = 0; j < axisList.size(); ++j) {
    Dim& d = out[axisList[j]];
    int64_t step = steps ? (*steps)[j] : (ctx.hasInput(4) ? 0 : 1);
    if (!starts || !ends || step == 0) {
      d = Dim();
      continue;
    }
    int64_t start = (*starts)[j], end = (*ends)[j];
    if (d.known()) {
      d = Dim(sliceLength(d.value, start, end, step));
    } else {
      // Only the whole axis, forward or reversed, keeps an unknown dim (and its name).
      constexpr int64_t kBig = std::numeric_limits<int32_t>::max();
      bool whole = (step == 1 && start == 0 && end >= kBig) ||
                   (step == -1 && (start == -1 || start >= kBig) && end <= -kBig);
      if (!whole) d = Dim();
    }
  }
  ctx.setOutput(0, data.dtype, std::move(out));
}

void checkIndices(const InferContext& ctx, const Tensor* indices, const Dim& dim, const char* axisWhat) {
  if (!indices || !dim.known()) return;
  for (int64_t v : indices->toInt64())
    ctx.check(v >= -dim.value && v < dim.value, "index ", v, " is out of range for ", axisWhat, " of size ",
              dim.value);
}

void inferGather(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  ctx.check(rank >= 1, "data must have rank >= 1");
  checkIndexType(ctx, 1, "indices");
  int64_t axis = ctx.axis(ctx.node().i("axis", 0), rank);
  checkIndices(ctx, ctx.constInput(1), data.shape[axis], "the gathered axis");
  Shape out(data.shape.begin(), data.shape.begin() + axis);
  const Shape& idx = ctx.in(1).shape;
  out.insert(out.end(), idx.begin(), idx.end());
  out.insert(out.end(), data.shape.begin() + axis + 1, data.shape.end());
  ctx.setOutput(0, data.dtype, std::move(out));
}

void inferGatherElements(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  ctx.check(rank >= 1, "data must have rank >= 1");
  checkIndexType(ctx, 1, "indices");
  ctx.check(ctx.rank(1) == rank, "indices have rank ", ctx.rank(1), ", data has rank ", rank);
  int64_t axis = ctx.axis(ctx.node().i("axis", 0), rank);
  const Shape& idx = ctx.in(1).shape;
  for (int64_t k = 0; k < rank; ++k)
    if (k != axis && idx[k].known() && data.shape[k].known())
      ctx.check(idx[k].value <= data.shape[k].value, "indices shape ", toString(idx),
                " exceeds data shape ", toString(data.shape), " on axis ", k);
  checkIndices(ctx, ctx.constInput(1), data.shape[axis], "the gathered axis");
  ctx.setOutput(0, data.dtype, idx);
}

void inferConcat(InferContext& ctx) {
  ctx.check(ctx.node().has("axis"), "attribute 'axis' is required");
  const Value& first = ctx.in(0);
  int64_t rank = ctx.rank(0);
  ctx.check(rank >= 1, "cannot concatenate scalars");
  int64_t axis = ctx.axis(ctx.node().i("axis", 0), rank);
  Shape out = first.shape;
  for (std::size_t i = 1; i < ctx.numInputs(); ++i) {
    const Value& v = ctx.in(i);
    ctx.check(v.dtype == first.dtype, "input ", i, " is ", dataTypeName(v.dtype), ", input 0 is ",
              dataTypeName(first.dtype));
    ctx.check(ctx.rank(i) == rank, "input ", i, " has rank ", ctx.rank(i), " (shape ", toString(v.shape),
              "), input 0 has rank ", rank, " (shape ", toString(first.shape), ")");
    for (int64_t k = 0; k < rank; ++k) {
      const Dim& d = v.shape[k];
      if (k == axis) {
        out[k] = out[k].known() && d.known() ? Dim(out[k].value + d.value) : Dim();
      } else if (out[k].known() && d.known()) {
        ctx.check(out[k].value == d.value, "input ", i, " has shape ", toString(v.shape),
                  ", which differs from ", toString(first.shape), " on axis ", k);
      } else if (d.known()) {
        out[k] = d;
      } else if (!out[k].known() && !(out[k] == d)) {
        out[k] = Dim();
      }
    }
  }
  ctx.setOutput(0, first.dtype, std::move(out));
}

void inferSplit(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  ctx.check(rank >= 1, "cannot split a scalar");
  int64_t axis = ctx.axis(ctx.node().i("axis", 0), rank);
  auto n = static_cast<int64_t>(ctx.numOutputs());
  const Dim& dim = data.shape[axis];
  std::vector<Dim> sizes(static_cast<std::size_t>(n));
  if (ctx.hasInput(1)) {
    checkIndexType(ctx, 1, "split input");
    ctx.check(!ctx.node().has("num_outputs"), "has both a split input and num_outputs");
    if (auto split = constInts(ctx, 1, "split input")) {
      ctx.check(static_cast<int64_t>(split->size()) == n, "split has ", split->size(), " values for ", n,
                " outputs");
      int64_t sum = 0;
      for (std::size_t k = 0; k < split->size(); ++k) {
        ctx.check((*split)[k] >= 0, "split ", toString(*split), " has a negative size");
        sum += (*split)[k];
        sizes[k] = Dim((*split)[k]);
      }
      ctx.check(!dim.known() || sum == dim.value, "split ", toString(*split), " sums to ", sum, " but axis ",
                axis, " has size ", dim.value);
    }
  } else if (dim.known()) {
    if (ctx.node().has("num_outputs")) {
      int64_t attr = ctx.node().i("num_outputs", n);
      ctx.check(attr == n, "num_outputs is ", attr, " but the node has ", n, " outputs");
      int64_t chunk = (dim.value + n - 1) / n;  // ONNX: equal chunks, the last one smaller
      ctx.check(chunk * (n - 1) <= dim.value, "cannot split axis ", axis, " of size ", dim.value, " into ", n,
                " outputs");
      for (int64_t k = 0; k < n; ++k) sizes[k] = Dim(k + 1 < n ? chunk : dim.value - chunk * (n - 1));
    } else {
      ctx.check(dim.value % n == 0, "cannot split axis ", axis, " of size ", dim.value, " into ", n,
                " equal parts");
      for (auto& s : sizes) s = Dim(dim.value / n);
    }
  } else if (n == 1) {
    sizes[0] = dim;
  }
  for (int64_t k = 0; k < n; ++k) {
    if (!ctx.node().outputs[k]) continue;
    Shape out = data.shape;
    out[axis] = sizes[k];
    ctx.setOutput(k, data.dtype, std::move(out));
  }
}

}  // namespace

namespace tensor_ops {
void registerIndexOpSchemas(SchemaRegistry& r) {
  r.add({"Slice", 3, 5, 1, 1, inferSlice});
  r.add({"Gather", 2, 2, 1, 1, inferGather});
  r.add({"GatherElements", 2, 2, 1, 1, inferGatherElements});
  r.add({"Concat", 1, 1 << 20, 1, 1, inferConcat});
  r.add({"Split", 1, 2, 1, 1 << 20, inferSplit});
}
}  // namespace tensor_ops
}  // namespace kiln::ir
