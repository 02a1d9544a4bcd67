// Schemas of the shape-manipulating ops whose data is copied unchanged:
// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout (inference), and the
// ops that produce shapes or shape-like tensors: Shape, Size, ConstantOfShape,
// Range. The other data-movement ops are in tensor_index.cc and
// tensor_layout.cc.
#include <algorithm>
#include <cmath>

#include "ir/ops/families.h"
#include "ir/ops/tensor_util.h"

namespace kiln::ir {
namespace tensor_ops {

std::optional<std::vector<int64_t>> constInts(const InferContext& ctx, std::size_t i, const char* what) {
  const Tensor* t = ctx.constInput(i);
  if (!t) return std::nullopt;
  ctx.check(t->dtype() == DType::kINT64 || t->dtype() == DType::kINT32, what, " must be int64 or int32, got ",
            dataTypeName(t->dtype()));
  return t->toInt64();
}

int64_t knownLength(const InferContext& ctx, std::size_t i, const char* what) {
  const Shape& s = ctx.in(i).shape;
  ctx.check(s.size() <= 1, what, " must be 1-D, got shape ", toString(s));
  if (s.empty()) return 1;
  return s[0].known() ? s[0].value : -1;
}

void checkIndexType(const InferContext& ctx, std::size_t i, const char* what) {
  DType t = ctx.in(i).dtype;
  ctx.check(t == DType::kINT64 || t == DType::kINT32, what, " must be int64 or int32, got ", dataTypeName(t));
}

Dim productOfDims(const Shape& s, std::size_t begin, std::size_t end) {
  int64_t known = 1;
  const Dim* symbolic = nullptr;
  int unknown = 0;
  for (std::size_t k = begin; k < end; ++k) {
    if (s[k].known()) {
      known *= s[k].value;
    } else {
      ++unknown;
      symbolic = &s[k];
    }
  }
  if (unknown == 0 || known == 0) return Dim(known);
  if (unknown == 1 && known == 1) return *symbolic;  // [N,1,1] -> N keeps the name
  return Dim();
}

std::vector<int64_t> normalizeAxes(const InferContext& ctx, std::vector<int64_t> axes, int64_t rank,
                                   const char* what) {
  for (int64_t& a : axes) {
    ctx.check(a >= -rank && a < rank, what, " ", a, " is out of range for rank ", rank);
    if (a < 0) a += rank;
  }
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  ctx.check(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(), what, " has a repeated axis");
  return axes;
}

}  // namespace tensor_ops

namespace {
using namespace tensor_ops;

// Splits a shape's element count into a known factor and the symbolic dims;
// two shapes with the same named symbols can then be compared or divided.
struct Factorized {
  int64_t known = 1;
  std::vector<std::string> symbols;
  bool anonymous = false;  // an unknown dim with no name: nothing can be concluded
};

Factorized factorize(const Shape& s) {
  Factorized f;
  for (const Dim& d : s) {
    if (d.known()) {
      f.known *= d.value;
    } else if (d.symbol.empty()) {
      f.anonymous = true;
    } else {
      f.symbols.push_back(d.symbol);
    }
  }
  std::sort(f.symbols.begin(), f.symbols.end());
  return f;
}

void inferReshape(InferContext& ctx) {
  const Value& data = ctx.in(0);
  checkIndexType(ctx, 1, "shape input");
  bool allowZero = ctx.node().i("allowzero", 0) != 0;
  auto target = sizeValues(ctx, 1);
  if (!target) {
    int64_t rank = knownLength(ctx, 1, "shape input");
    ctx.check(rank >= 0, "shape input is not a constant and its length is unknown");
    ctx.setOutput(0, data.dtype, Shape(static_cast<std::size_t>(rank)));
    return;
  }
  std::string text = "[";  // the target as messages show it, unknown elements by their dims
  for (std::size_t k = 0; k < target->size(); ++k) {
    const SizeValue& e = (*target)[k];
    text += k ? "," : "";
    text += e.known ? std::to_string(e.value) : (e.dim.symbol.empty() ? "?" : e.dim.symbol);
  }
  text += "]";
  const Shape& in = data.shape;
  Shape out(target->size());
  int inferAt = -1;
  bool hasZero = false;
  for (std::size_t k = 0; k < target->size(); ++k) {
    const SizeValue& e = (*target)[k];
    if (!e.known) {
      out[k] = e.dim;  // a dim of some tensor (assumed not 0): kept, symbol included
      continue;
    }
    int64_t v = e.value;
    if (v == -1) {
      ctx.check(inferAt < 0, "shape ", text, " has more than one -1");
      inferAt = static_cast<int>(k);
    } else if (v == 0 && !allowZero) {
      ctx.check(k < in.size(), "shape ", text, " copies dim ", k, " with 0 but the input ",
                toString(in), " has rank ", in.size());
      out[k] = in[k];
    } else {
      ctx.check(v >= 0, "shape ", text, " has an invalid dim ", v);
      hasZero = hasZero || v == 0;
      out[k] = Dim(v);
    }
  }
  ctx.check(!(allowZero && hasZero && inferAt >= 0), "shape ", text,
            " has both 0 and -1 with allowzero=1");
  Factorized fin = factorize(in);
  Shape others = out;
  if (inferAt >= 0) others.erase(others.begin() + inferAt);
  Factorized fout = factorize(others);
  bool comparable = !fin.anonymous && !fout.anonymous && fin.symbols == fout.symbols;
  if (inferAt >= 0) {
    if (comparable) {
      ctx.check(fout.known != 0 || fin.known == 0, "cannot reshape ", toString(in), " to ", text);
      ctx.check(fout.known != 0, "cannot infer the -1 in shape ", text, " for input ", toString(in),
                " that has zero elements");
      ctx.check(fin.known % fout.known == 0, "cannot reshape ", toString(in), " (", fin.known,
                " elements) to ", text);
      out[inferAt] = Dim(fin.known / fout.known);
    }
  } else if (comparable) {
    ctx.check(fin.known == fout.known, "cannot reshape ", toString(in), " (", fin.known, " elements) to ",
              toString(out), " (", fout.known, " elements)");
  }
  ctx.setOutput(0, data.dtype, std::move(out));
}

void inferFlatten(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  int64_t axis = ctx.node().i("axis", 1);
  ctx.check(axis >= -rank && axis <= rank, "axis ", axis, " is out of range for rank ", rank);
  if (axis < 0) axis += rank;
  auto a = static_cast<std::size_t>(axis);
  ctx.setOutput(0, data.dtype, {productOfDims(data.shape, 0, a), productOfDims(data.shape, a, data.shape.size())});
}

void inferSqueeze(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  auto axes = ctx.hasInput(1) ? constInts(ctx, 1, "axes input") : std::nullopt;
  // No axes (or an empty list, as ONNX Runtime reads it) drops every dim known
  // to be 1; unknown dims are assumed not to be 1, as ONNX shape inference does.
  if (!ctx.hasInput(1) || (axes && axes->empty())) {
    Shape out;
    for (const Dim& d : data.shape)
      if (!(d.known() && d.value == 1)) out.push_back(d);
    ctx.setOutput(0, data.dtype, std::move(out));
    return;
  }
  checkIndexType(ctx, 1, "axes input");
  if (!axes) {
    int64_t n = knownLength(ctx, 1, "axes input");
    ctx.check(n >= 0, "axes input is not a constant and its length is unknown");
    ctx.check(n <= rank, "cannot squeeze ", n, " axes from rank ", rank);
    ctx.setOutput(0, data.dtype, Shape(static_cast<std::size_t>(rank - n)));
    return;
  }
  std::vector<int64_t> norm = normalizeAxes(ctx, *axes, rank);
  std::vector<bool> drop(static_cast<std::size_t>(rank), false);
  for (int64_t a : norm) {
    const Dim& d = data.shape[a];
    ctx.check(!d.known() || d.value == 1, "cannot squeeze axis ", a, " of size ", d.value, " (input ",
              toString(data.shape), ")");
    drop[a] = true;
  }
  Shape out;
  for (int64_t k = 0; k < rank; ++k)
    if (!drop[k]) out.push_back(data.shape[k]);
  ctx.setOutput(0, data.dtype, std::move(out));
}

void inferUnsqueeze(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  checkIndexType(ctx, 1, "axes input");
  auto axes = constInts(ctx, 1, "axes input");
  if (!axes) {
    int64_t n = knownLength(ctx, 1, "axes input");
    ctx.check(n >= 0, "axes input is not a constant and its length is unknown");
    ctx.setOutput(0, data.dtype, Shape(static_cast<std::size_t>(rank + n)));
    return;
  }
  int64_t outRank = rank + static_cast<int64_t>(axes->size());
  std::vector<int64_t> norm = normalizeAxes(ctx, *axes, outRank);
  std::vector<bool> inserted(static_cast<std::size_t>(outRank), false);
  for (int64_t a : norm) inserted[a] = true;
  Shape out;
  std::size_t next = 0;
  for (int64_t k = 0; k < outRank; ++k) out.push_back(inserted[k] ? Dim(int64_t{1}) : data.shape[next++]);
  ctx.setOutput(0, data.dtype, std::move(out));
}

void inferIdentity(InferContext& ctx) { ctx.setOutput(0, ctx.in(0).dtype, ctx.in(0).shape); }

void inferDropout(InferContext& ctx) {
  if (auto training = ctx.constInput(2))
    ctx.check(training->numel() == 0 || training->toInt64()[0] == 0,
              "training_mode=true is not supported (Kiln runs inference only)");
  ctx.setOutput(0, ctx.in(0).dtype, ctx.in(0).shape);
  if (ctx.numOutputs() > 1 && ctx.node().outputs[1]) ctx.setOutput(1, DType::kBOOL, ctx.in(0).shape);
}

void inferShape(InferContext& ctx) {
  int64_t rank = ctx.rank(0);
  auto clampIndex = [&](int64_t v) {
    if (v < 0) v += rank;
    return std::clamp<int64_t>(v, 0, rank);
  };
  int64_t start = clampIndex(ctx.node().i("start", 0));
  int64_t end = clampIndex(ctx.node().i("end", rank));
  ctx.setOutput(0, DType::kINT64, {Dim(std::max<int64_t>(end - start, 0))});
}

void inferSize(InferContext& ctx) { ctx.setOutput(0, DType::kINT64, {}); }

void inferConstantOfShape(InferContext& ctx) {
  checkIndexType(ctx, 0, "shape input");
  DType dtype = DType::kFLOAT;
  if (const Tensor* value = ctx.node().has("value") ? ctx.node().tensor("value") : nullptr) {
    ctx.check(value->numel() == 1, "value must have exactly one element, got ", value->numel());
    dtype = value->dtype();
  }
  auto dims = sizeValues(ctx, 0);
  if (!dims) {
    int64_t rank = knownLength(ctx, 0, "shape input");
    ctx.check(rank >= 0, "shape input is not a constant and its length is unknown");
    ctx.setOutput(0, dtype, Shape(static_cast<std::size_t>(rank)));
    return;
  }
  ctx.setOutput(0, dtype, shapeFromSizes(ctx, *dims, "shape"));
}

void inferRange(InferContext& ctx) {
  DType t = ctx.in(0).dtype;
  ctx.check(t == DType::kFLOAT || t == DType::kINT32 || t == DType::kINT64,
            "supports float32, int32 and int64, got ", dataTypeName(t));
  for (std::size_t i = 0; i < 3; ++i) {
    ctx.check(ctx.in(i).dtype == t, "inputs must share one dtype, input ", i, " is ",
              dataTypeName(ctx.in(i).dtype), ", input 0 is ", dataTypeName(t));
    ctx.check(ctx.rank(i) == 0 || (ctx.rank(i) == 1 && ctx.in(i).shape[0] == Dim(1)), "input ", i,
              " must be a scalar, got shape ", toString(ctx.in(i).shape));
  }
  const Tensor *start = ctx.constInput(0), *limit = ctx.constInput(1), *delta = ctx.constInput(2);
  if (delta) ctx.check(delta->toFloat()[0] != 0.f, "delta must not be 0");
  if (!start || !limit || !delta) {
    ctx.setOutput(0, t, {Dim()});
    return;
  }
  int64_t n;
  if (t == DType::kFLOAT) {
    double s = start->toFloat()[0], l = limit->toFloat()[0], d = delta->toFloat()[0];
    n = static_cast<int64_t>(std::ceil((l - s) / d));
  } else {
    int64_t s = start->toInt64()[0], l = limit->toInt64()[0], d = delta->toInt64()[0];
    // ceil((l - s) / d) in integers, for either sign of d
    int64_t num = l - s;
    n = num / d + ((num % d != 0) && ((num > 0) == (d > 0)) ? 1 : 0);
  }
  ctx.setOutput(0, t, {Dim(std::max<int64_t>(n, 0))});
}

}  // namespace

namespace tensor_ops {
void registerShapeOpSchemas(SchemaRegistry& r) {
  r.add({"Reshape", 2, 2, 1, 1, inferReshape});
  r.add({"Flatten", 1, 1, 1, 1, inferFlatten});
  r.add({"Squeeze", 1, 2, 1, 1, inferSqueeze});
  r.add({"Unsqueeze", 2, 2, 1, 1, inferUnsqueeze});
  r.add({"Identity", 1, 1, 1, 1, inferIdentity});
  r.add({"Dropout", 1, 3, 1, 2, inferDropout});
  r.add({"Shape", 1, 1, 1, 1, inferShape});
  r.add({"Size", 1, 1, 1, 1, inferSize});
  r.add({"ConstantOfShape", 1, 1, 1, 1, inferConstantOfShape});
  r.add({"Range", 3, 3, 1, 1, inferRange});
}
}  // namespace tensor_ops

void registerTensorSchemas(SchemaRegistry& r) {
  tensor_ops::registerShapeOpSchemas(r);
  tensor_ops::registerIndexOpSchemas(r);
  tensor_ops::registerLayoutOpSchemas(r);
  tensor_ops::registerSelectOpSchemas(r);
  tensor_ops::registerScatterOpSchemas(r);
}

}  // namespace kiln::ir
