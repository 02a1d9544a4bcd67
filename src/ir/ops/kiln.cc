// Schemas of Kiln's internal ops, made by passes (never by the parser).
//
// KilnFusedElementwise: a chain of elementwise steps run in one pass over
// memory, inputs and output of one float type (FP32; FP16/BF16 once the device
// precision pass retypes it: the CUDA kernel loads and stores that type and
// computes in FP32; the CPU kernel takes FP32 only). acc = inputs[0] broadcast
// to the output shape; then for step k acc = ops[k](acc) when operands[k] == -1, else
// acc = ops[k](acc, inputs[operands[k]]) (or ops[k](inputs[operands[k]], acc)
// when swapped[k] == 1). alphas[k] / betas[k] parameterize activations
// (LeakyRelu slope, HardSigmoid alpha/beta, Clip min/max).
//
// KilnAttention: scaled dot-product attention, made by the attention fusion
// from MatMul -> [Mul|Div by a scalar] -> [Add mask] -> Softmax(last axis) ->
// MatMul. y = softmax(scale * Q @ K^T + mask) @ V, with
//   inputs[0] Q [B..., Sq, D], inputs[1] K [B..., Sk, D] (not transposed),
//   inputs[2] V [B..., Sk, Dv], inputs[3] (optional) an additive mask of Q's
//   float type, broadcastable to [B..., Sq, Sk];
//   attribute `scale` (float, default 1/sqrt(D)).
// Q, K and V share one float type and one rank (3 or 4) and the same leading
// dims; y is [B..., Sq, Dv] in that type. Softmax and accumulation are FP32.
// Q, K, V and y may be strided views of the tensors passed (ir/ops/
// attention_view.h: attributes q_perm / k_perm / v_perm / y_perm and
// q_select / k_select / v_select, made by the pass fold_attention_views): the
// shapes above are then the views' (logical) ones, and the output tensor is
// y's view laid out by y_perm.
//
// KilnReformat: y = Transpose(Cast(x, to), perm) in one pass, as TensorRT's
// reformatting copy nodes change layout and type together; made on device
// graphs by builder/device_reformat.h from a boundary Cast next to a layout
// Transpose (an FP32 NCHW network input becoming FP16 NHWC). x and y are
// float32, float16 or bfloat16; `to` is y's DType value, `perm` a permutation
// of x's axes (y.dims[i] = x.dims[perm[i]]).
#include <algorithm>
#include <string>
#include <vector>

#include "ir/ops/attention_view.h"
#include "ir/ops/families.h"

namespace kiln::ir {
namespace {

constexpr const char* kFusedUnary[] = {"Relu",     "Sigmoid",   "Tanh",        "Exp",       "Log",  "Sqrt",
                                       "Abs",      "Neg",       "Reciprocal",  "Erf",       "LeakyRelu",
                                       "HardSigmoid", "HardSwish", "Gelu",     "GeluTanh",  "Softplus", "Silu",
                                       "Clip"};
constexpr const char* kFusedBinary[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"};

bool contains(const auto& list, const std::string& s) {
  return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

void inferFusedElementwise(InferContext& ctx) {
  const Node& node = ctx.node();
  ctx.check(node.has("ops") && node.has("operands"), "needs the attributes 'ops' and 'operands'");
  std::vector<std::string> ops;
  if (auto it = node.attrs.find("ops"); it != node.attrs.end()) {
    auto* v = std::get_if<std::vector<std::string>>(&it->second);
    ctx.check(v != nullptr, "attribute 'ops' must be a list of strings");
    ops = *v;
  }
  ctx.check(!ops.empty(), "has no steps ('ops' is empty)");
  std::size_t n = ops.size();
  std::vector<int64_t> operands = node.ints("operands");
  ctx.check(operands.size() == n, "'operands' has ", operands.size(), " entries for ", n, " ops");
  // swapped / alphas / betas may be left out (all zero) but never be of another length.
  std::vector<int64_t> swapped = node.ints("swapped", std::vector<int64_t>(n, 0));
  ctx.check(swapped.size() == n, "'swapped' has ", swapped.size(), " entries for ", n, " ops");
  for (const char* name : {"alphas", "betas"}) {
    std::size_t len = node.floats(name, std::vector<float>(n, 0.f)).size();
    ctx.check(len == n, "'", name, "' has ", len, " entries for ", n, " ops");
  }

  int64_t numInputs = static_cast<int64_t>(ctx.numInputs());
  const DType type = ctx.in(0).dtype;
  ctx.check(isFloat32Or16(type), "input 0 is ",
            dataTypeName(type), "; only float32, float16 and bfloat16 are fused");
  for (int64_t i = 1; i < numInputs; ++i)
    ctx.check(ctx.in(i).dtype == type, "input ", i, " is ", dataTypeName(ctx.in(i).dtype), ", input 0 is ",
              dataTypeName(type), "; the inputs must share one type");
  for (std::size_t k = 0; k < n; ++k) {
    const std::string& op = ops[k];
    if (contains(kFusedUnary, op)) {
      ctx.check(operands[k] == -1, "step ", k, " (", op, ") is unary but has operand ", operands[k]);
      ctx.check(swapped[k] == 0, "step ", k, " (", op, ") is unary but is marked swapped");
    } else if (contains(kFusedBinary, op)) {
      ctx.check(operands[k] >= 0 && operands[k] < numInputs, "step ", k, " (", op, ") has operand ", operands[k],
                ", out of range for ", numInputs, " inputs");
      ctx.check(swapped[k] == 0 || swapped[k] == 1, "step ", k, " has swapped = ", swapped[k], ", expected 0 or 1");
    } else {
      ctx.error("step ", k, " has op '", op, "', which cannot be fused");
    }
  }

  Shape out = ctx.in(0).shape;
  for (int64_t i = 1; i < numInputs; ++i) out = broadcastShapes(ctx, out, ctx.in(i).shape);
  ctx.setOutput(0, type, out);
}

//! The logical shape of operand `i` ("q", "k" or "v") under its view.
Shape viewedInput(InferContext& ctx, std::size_t i, const char* which) {
  const AttentionView view = attentionView(ctx.node(), which);
  const Shape& x = ctx.in(i).shape;
  std::string why;
  const std::vector<int> axes = attentionViewAxes(view, static_cast<int>(x.size()), &why);
  ctx.check(!axes.empty(), which, " ", toString(x), ": ", why);
  Shape logical;
  for (int a : axes) logical.push_back(x[static_cast<std::size_t>(a)]);
  if (view.selectAxis >= 0) {
    const Dim& n = x[static_cast<std::size_t>(view.selectAxis)];
    ctx.check(!n.known() || view.selectIndex < n.value, which, "_select index ", view.selectIndex, " is beyond dim ",
              view.selectAxis, " of ", toString(x));
  }
  return logical;
}

void inferAttention(InferContext& ctx) {
  const Value &qv = ctx.in(0), &kv = ctx.in(1), &vv = ctx.in(2);
  ctx.check(isFloat(qv.dtype), "Q is ", dataTypeName(qv.dtype), "; attention takes a float type");
  ctx.check(kv.dtype == qv.dtype && vv.dtype == qv.dtype, "Q, K and V must share one type (", dataTypeName(qv.dtype),
            ", ", dataTypeName(kv.dtype), ", ", dataTypeName(vv.dtype), ")");
  const Shape q = viewedInput(ctx, 0, "q"), k = viewedInput(ctx, 1, "k"), v = viewedInput(ctx, 2, "v");
  const int64_t rank = static_cast<int64_t>(q.size());
  ctx.check(static_cast<int64_t>(k.size()) == rank && static_cast<int64_t>(v.size()) == rank,
            "Q, K and V must share one rank (", rank, ", ", k.size(), ", ", v.size(), ")");
  auto agree = [&](const Dim& a, const Dim& b, const char* what) {
    ctx.check(!a.known() || !b.known() || a.value == b.value, what, " disagree (", a.value, " vs ", b.value, ")");
  };
  for (int64_t i = 0; i + 2 < rank; ++i) {
    agree(q[i], k[i], "leading dims of Q and K");
    agree(q[i], v[i], "leading dims of Q and V");
  }
  agree(q[rank - 1], k[rank - 1], "head sizes of Q and K (last dims)");
  agree(k[rank - 2], v[rank - 2], "key lengths of K and V (dim -2)");
  Shape scores = q;
  scores[rank - 1] = k[rank - 2];
  if (ctx.hasInput(3)) {
    ctx.check(ctx.in(3).dtype == qv.dtype, "the mask is ", dataTypeName(ctx.in(3).dtype), "; it must be Q's type (",
              dataTypeName(qv.dtype), ")");
    ctx.check(ctx.rank(3) <= rank, "the mask has rank ", ctx.rank(3), ", more than the scores' ", rank);
    Shape b = broadcastShapes(ctx, scores, ctx.in(3).shape);
    ctx.check(b.size() == scores.size(), "the mask does not broadcast to the scores");
    for (std::size_t i = 0; i < b.size(); ++i)
      agree(b[i], scores[i], "the mask's broadcast and the scores' dims");
  }
  Shape out = q;
  out[rank - 1] = v[rank - 1];
  const AttentionView yView = attentionView(ctx.node(), "y");
  ctx.check(yView.selectAxis < 0, "y cannot have a select");
  std::string why;
  ctx.check(!attentionViewAxes(yView, static_cast<int>(rank), &why).empty(), "y: ", why);
  ctx.setOutput(0, qv.dtype, viewedOutputShape(yView, out));
}

void inferReformat(InferContext& ctx) {
  const Node& node = ctx.node();
  const Value& x = ctx.in(0);
  ctx.check(isFloat32Or16(x.dtype), "input is ",
            dataTypeName(x.dtype), "; a reformat takes float32, float16 or bfloat16");
  ctx.check(node.has("to") && node.has("perm"), "needs the attributes 'to' and 'perm'");
  const auto to = static_cast<DType>(node.i("to", 0));
  ctx.check(isFloat32Or16(to), "'to' is ", node.i("to", 0),
            "; a reformat writes float32, float16 or bfloat16");
  const std::vector<int64_t> perm = node.ints("perm");
  const std::size_t rank = x.shape.size();
  ctx.check(perm.size() == rank, "'perm' has ", perm.size(), " axes, the input has rank ", rank);
  std::vector<bool> seen(rank, false);
  Shape out;
  for (int64_t p : perm) {
    ctx.check(p >= 0 && static_cast<std::size_t>(p) < rank && !seen[static_cast<std::size_t>(p)], "'perm' is not a ",
              "permutation of ", rank, " axes");
    seen[static_cast<std::size_t>(p)] = true;
    out.push_back(x.shape[static_cast<std::size_t>(p)]);
  }
  ctx.setOutput(0, to, out);
}

}  // namespace

void registerKilnSchemas(SchemaRegistry& r) {
  OpSchema s;
  s.op = "KilnFusedElementwise";
  s.minInputs = 1;
  s.maxInputs = 1 << 20;
  s.infer = inferFusedElementwise;
  r.add(std::move(s));

  OpSchema attention;
  attention.op = "KilnAttention";
  attention.minInputs = 3;
  attention.maxInputs = 4;
  attention.infer = inferAttention;
  r.add(std::move(attention));

  OpSchema reformat;
  reformat.op = "KilnReformat";
  reformat.minInputs = 1;
  reformat.maxInputs = 1;
  reformat.infer = inferReformat;
  r.add(std::move(reformat));
}

}  // namespace kiln::ir
