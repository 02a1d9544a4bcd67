// sizeValues(): what a shape-carrying input holds, traced through the small
// integer subgraphs that exporters emit around Shape (PyTorch's
// Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) and the like). The
// constant-folding pass resolves such chains only when every dim is known; this
// keeps symbolic dims ("batch", "seq") flowing through them at inference time.
#include <algorithm>

#include "ir/ops/tensor_util.h"

namespace kiln::ir::tensor_ops {
namespace {

using Sizes = std::vector<SizeValue>;
constexpr int kMaxDepth = 16;  // how far back a chain is followed

SizeValue knownSize(int64_t v) { return SizeValue{true, v, Dim(v)}; }
SizeValue dimSize(const Dim& d) { return d.known() ? knownSize(d.value) : SizeValue{false, 0, d}; }

bool isIntType(DType t) { return t == DType::kINT64 || t == DType::kINT32; }

std::optional<std::vector<int64_t>> constIntsOf(const Value* v) {
  if (!v || !v->constant || !isIntType(v->constant->dtype())) return std::nullopt;
  return v->constant->toInt64();
}

std::optional<Sizes> trace(const Value* v, int depth);
std::optional<Sizes> traceProducer(const Node& n, int depth);

// The values of a small integer input that a chain of constants computes
// (PyTorch's MultiheadAttention export slices Shape(x) at Reshape(Mod(3, 3))):
// nullopt unless every element is known.
std::optional<std::vector<int64_t>> knownInts(const Value* v, int depth) {
  if (auto c = constIntsOf(v)) return c;
  auto sizes = trace(v, depth);
  if (!sizes) return std::nullopt;
  std::vector<int64_t> out;
  for (const SizeValue& x : *sizes) {
    if (!x.known) return std::nullopt;
    out.push_back(x.value);
  }
  return out;
}

std::optional<Sizes> traceShape(const Node& n) {
  const Shape& s = n.inputs[0]->shape;
  auto rank = static_cast<int64_t>(s.size());
  auto clampIndex = [&](int64_t x) { return std::clamp<int64_t>(x < 0 ? x + rank : x, 0, rank); };
  int64_t start = clampIndex(n.i("start", 0)), end = clampIndex(n.i("end", rank));
  Sizes out;
  for (int64_t k = start; k < end; ++k) out.push_back(dimSize(s[k]));
  return out;
}

std::optional<Sizes> traceGather(const Node& n, int depth) {
  auto data = trace(n.input(0), depth);
  auto idx = knownInts(n.input(1), depth);
  if (!data || !idx || n.i("axis", 0) != 0) return std::nullopt;
  auto len = static_cast<int64_t>(data->size());
  Sizes out;
  for (int64_t i : *idx) {
    if (i < 0) i += len;
    if (i < 0 || i >= len) return std::nullopt;  // the schema reports the bad index
    out.push_back((*data)[i]);
  }
  return out;
}

std::optional<Sizes> traceSlice(const Node& n, int depth) {
  auto data = trace(n.input(0), depth);
  auto starts = knownInts(n.input(1), depth), ends = knownInts(n.input(2), depth);
  if (!data || !starts || !ends || starts->size() != 1 || ends->size() != 1) return std::nullopt;
  if (n.input(3) && knownInts(n.input(3), depth) != std::vector<int64_t>{0} &&
      knownInts(n.input(3), depth) != std::vector<int64_t>{-1})
    return std::nullopt;
  int64_t step = 1;
  if (n.input(4)) {
    auto s = knownInts(n.input(4), depth);
    if (!s || s->size() != 1 || (*s)[0] == 0) return std::nullopt;
    step = (*s)[0];
  }
  auto len = static_cast<int64_t>(data->size());
  int64_t b = (*starts)[0], e = (*ends)[0];
  if (b < 0) b += len;
  if (e < 0) e += len;
  Sizes out;
  if (len == 0) return out;
  if (step > 0) {
    for (int64_t i = std::clamp<int64_t>(b, 0, len); i < std::clamp<int64_t>(e, 0, len); i += step)
      out.push_back((*data)[i]);
  } else {
    for (int64_t i = std::clamp<int64_t>(b, 0, len - 1); i > std::clamp<int64_t>(e, -1, len - 1); i += step)
      out.push_back((*data)[i]);
  }
  return out;
}

std::optional<Sizes> traceConcat(const Node& n, int depth) {
  Sizes out;
  for (const Value* in : n.inputs) {
    auto part = trace(in, depth);
    if (!part) return std::nullopt;
    out.insert(out.end(), part->begin(), part->end());
  }
  return out;
}

// Elementwise integer math on sizes (H * W, N / 2, ...), numpy-broadcast over
// a length-1 side. A result involving an unknown is unknown.
std::optional<Sizes> traceArithmetic(const Node& n, int depth) {
  auto a = trace(n.input(0), depth), b = trace(n.input(1), depth);
  if (!a || !b) return std::nullopt;
  std::size_t len = std::max(a->size(), b->size());
  if ((a->size() != len && a->size() != 1) || (b->size() != len && b->size() != 1)) return std::nullopt;
  Sizes out;
  for (std::size_t k = 0; k < len; ++k) {
    const SizeValue& x = (*a)[a->size() == 1 ? 0 : k];
    const SizeValue& y = (*b)[b->size() == 1 ? 0 : k];
    if (!x.known || !y.known) {
      out.push_back(SizeValue{});
      continue;
    }
    if (n.op == "Add") out.push_back(knownSize(x.value + y.value));
    else if (n.op == "Sub") out.push_back(knownSize(x.value - y.value));
    else if (n.op == "Mul") out.push_back(knownSize(x.value * y.value));
    else if (y.value == 0) return std::nullopt;
    else if (n.op == "Div") out.push_back(knownSize(x.value / y.value));  // truncates (as ONNX Runtime)
    else if (n.i("fmod", 0)) out.push_back(knownSize(x.value % y.value));  // Mod, fmod=1: C's sign
    else {  // Mod, fmod=0: the result takes the divisor's sign (Python's %)
      int64_t r = x.value % y.value;
      out.push_back(knownSize(r != 0 && ((r < 0) != (y.value < 0)) ? r + y.value : r));
    }
  }
  return out;
}

// Size of a value whose shape is known (the rank of a model, as Size(Shape(x))).
std::optional<Sizes> traceSize(const Node& n) {
  int64_t count = 1;
  for (const Dim& d : n.inputs[0]->shape) {
    if (!d.known()) return std::nullopt;
    count *= d.value;
  }
  return Sizes{knownSize(count)};
}

std::optional<Sizes> traceNeg(const Node& n, int depth) {
  auto a = trace(n.input(0), depth);
  if (!a) return std::nullopt;
  for (SizeValue& x : *a) x = x.known ? knownSize(-x.value) : SizeValue{};
  return a;
}

// ConstantOfShape(n) of an integer value: n copies of it (ONNX's function
// bodies build shapes this way, e.g. LayerNormalization's [1] * (rank - axis)).
std::optional<Sizes> traceConstantOfShape(const Node& n, int depth) {
  auto len = trace(n.input(0), depth);
  if (!len || len->size() != 1 || !(*len)[0].known || (*len)[0].value < 0 || (*len)[0].value > 64 ||
      !n.has("value"))
    return std::nullopt;
  const Tensor* fill = n.tensor("value");
  if (!fill || fill->numel() != 1 || !isIntType(fill->dtype())) return std::nullopt;
  return Sizes(static_cast<std::size_t>((*len)[0].value), knownSize(fill->toInt64()[0]));
}

// A small integer value whose elements cannot be told (a network or subgraph
// input, an op not traced here) still has a known count: that many unknown
// sizes, so that Concat(N, [2, 3]) keeps its known tail ([?, 2, 3]).
std::optional<Sizes> unknownSizes(const Value* v) {
  if (!isIntType(v->dtype) || v->shape.size() > 1) return std::nullopt;
  if (!v->shape.empty() && isDataDependentDim(v->shape[0])) return std::nullopt;  // a bound, not a count
  const int64_t len = v->shape.empty() ? 1 : v->shape[0].value;  // -1 when unknown
  if (len < 0 || len > 64) return std::nullopt;
  return Sizes(static_cast<std::size_t>(len), SizeValue{});
}

std::optional<Sizes> trace(const Value* v, int depth) {
  if (!v || depth > kMaxDepth) return std::nullopt;
  if (v->constant) {
    if (!isIntType(v->constant->dtype()) || v->constant->dims().size() > 1) return std::nullopt;
    Sizes out;
    for (int64_t x : v->constant->toInt64()) out.push_back(knownSize(x));
    return out;
  }
  const Node* n = v->producer;
  if (!isIntType(v->dtype) || v->shape.size() > 1) return std::nullopt;
  if (!n || n->outputs.empty() || n->outputs[0] != v) return unknownSizes(v);
  auto traced = traceProducer(*n, depth);
  return traced ? traced : unknownSizes(v);
}

// The sizes that `n`, the producer of a small integer value, computes; nullopt when it cannot tell.
std::optional<Sizes> traceProducer(const Node& nd, int depth) {
  const Node* n = &nd;
  const std::string& op = n->op;
  if (op == "Shape") return traceShape(*n);
  if (op == "Gather") return traceGather(*n, depth + 1);
  if (op == "Slice") return traceSlice(*n, depth + 1);
  if (op == "Concat") return traceConcat(*n, depth + 1);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Mod")
    return traceArithmetic(*n, depth + 1);
  if (op == "Neg") return traceNeg(*n, depth + 1);
  if (op == "Size") return traceSize(*n);
  if (op == "ConstantOfShape") return traceConstantOfShape(*n, depth + 1);
  // Element order is unchanged by these (all values are scalars or 1-D).
  if (op == "Unsqueeze" || op == "Squeeze" || op == "Reshape" || op == "Flatten" || op == "Identity" ||
      op == "Cast")
    return trace(n->input(0), depth + 1);
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<SizeValue>> sizeValues(const InferContext& ctx, std::size_t i) {
  if (!ctx.hasInput(i)) return std::nullopt;
  if (ctx.constInput(i)) {  // constants of a wrong type are errors, not "unknown"
    auto ints = constInts(ctx, i, "shape input");
    Sizes out;
    for (int64_t x : *ints) out.push_back(knownSize(x));
    return out;
  }
  return trace(&ctx.in(i), 0);
}

Shape shapeFromSizes(const InferContext& ctx, const std::vector<SizeValue>& sizes, const char* what) {
  Shape out;
  for (const SizeValue& s : sizes) {
    ctx.check(!s.known || s.value >= 0, what, " has a negative dim ", s.value);
    out.push_back(s.known ? Dim(s.value) : s.dim);
  }
  return out;
}

}  // namespace kiln::ir::tensor_ops
