// Schemas of the neural-network ops: convolutions, GEMM / MatMul, the
// normalizations and softmax (pools and Resize are in nn_pool.cc).
// Unknown dims stay unknown; dims the op carries through (batch) keep their
// symbols.
#include <algorithm>

#include "ir/ops/families.h"
#include "ir/ops/nn_internal.h"
#include "ir/ops/spatial.h"

namespace kiln::ir {

void requireFloat(const InferContext& ctx, std::size_t i, const char* what) {
  DType t = ctx.in(i).dtype;
  ctx.check(t == DType::kFLOAT, what, " is ", dataTypeName(t), "; only float32 is supported");
}

void requireFloating(const InferContext& ctx, std::size_t i, const char* what) {
  DType t = ctx.in(i).dtype;
  ctx.check(t == DType::kFLOAT || t == DType::kHALF || t == DType::kBF16, what, " is ", dataTypeName(t),
            "; expected float32, float16 or bfloat16");
  if (i > 0)
    ctx.check(t == ctx.in(0).dtype, what, " is ", dataTypeName(t), " but the input is ", dataTypeName(ctx.in(0).dtype));
}

Shape logicalWeightShape(const InferContext& ctx, std::size_t index) {
  const Node& n = ctx.node();
  if (!n.has("kiln_packed")) return ctx.in(index).shape;
  std::vector<int64_t> dims = n.ints("kiln_weight_shape");
  ctx.check(!dims.empty(), "has a packed weight ('", n.s("kiln_packed", ""), "') but no 'kiln_weight_shape'");
  return shapeOf(dims);
}

namespace {

// Optional per-channel vector input (bias) of length `len`.
void checkVector(const InferContext& ctx, std::size_t i, const Dim& len, const char* what) {
  if (!ctx.hasInput(i)) return;
  const Shape& s = ctx.in(i).shape;
  ctx.check(s.size() == 1, what, " has rank ", s.size(), ", expected 1");
  ctx.check(!s[0].known() || !len.known() || s[0].value == len.value, what, " has ", toString(s), " elements, expected ",
            len.value);
  requireFloating(ctx, i, what);
}

//! A fused residual (Kiln fusion, input `i`) has the output's shape.
void checkResidual(InferContext& ctx, std::size_t i, const Shape& out) {
  if (!ctx.hasInput(i)) return;
  const Shape& r = ctx.in(i).shape;
  requireFloating(ctx, i, "residual");
  bool ok = r.size() == out.size();
  for (std::size_t k = 0; ok && k < r.size(); ++k) ok = !(r[k].known() && out[k].known()) || r[k] == out[k];
  ctx.check(ok, "residual has shape ", toString(r), ", output has ", toString(out));
}

void inferConv(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloating(ctx, 0, "input");
  // Channels-last (kiln_layout NHWC, the device layout pass): x, y and the
  // residual are [N, spatial, C], the weight [K, spatial, C / group]; checked
  // and inferred in the channels-first form, the output given back channels-last.
  const bool last = channelsLast(node);
  const Shape x = last ? toChannelsFirst(ctx.in(0).shape) : ctx.in(0).shape;
  Shape w = last ? toChannelsFirst(logicalWeightShape(ctx, 1)) : logicalWeightShape(ctx, 1);
  ctx.check(x.size() >= 3, "input has rank ", x.size(), ", expected N x C x spatial dims");
  ctx.check(w.size() == x.size(), "weight has rank ", w.size(), ", input has rank ", x.size());
  if (!node.has("kiln_packed")) requireFloating(ctx, 1, "weight");
  const std::size_t sp = x.size() - 2;
  WindowAttrs a = readWindowAttrs(node, sp);
  int64_t group = node.i("group", 1);
  ctx.check(group >= 1, "group ", group, " must be >= 1");
  if (w[0].known())
    ctx.check(w[0].value % group == 0, "weight has ", w[0].value, " output channels, not a multiple of group ", group);
  if (x[1].known() && w[1].known())
    ctx.check(x[1].value == w[1].value * group, "weight has ", w[1].value, " input channels",
              group > 1 ? strCat(" per group (group ", group, ")") : std::string(), ", input has ", x[1].value);
  Shape out{x[0], w[0]};
  for (std::size_t i = 0; i < sp; ++i) {
    Dim k = w[2 + i];
    if (!a.kernel.empty()) {
      ctx.check(!k.known() || k.value == a.kernel[i], "kernel_shape ", toString(a.kernel), " disagrees with weight ",
                toString(w));
      k = Dim(a.kernel[i]);
    }
    if (x[2 + i].known() && k.known())
      out.push_back(Dim(windowAxis(node, a, i, x[2 + i].value, k.value).out));
    else
      out.push_back(Dim());
  }
  checkVector(ctx, 2, w[0], "bias");
  const Shape outStored = last ? toChannelsLast(out) : out;  // the residual is stored like y
  checkResidual(ctx, 3, outStored);
  ctx.setOutput(0, ctx.in(0).dtype, outStored);
}

// KilnScaledConv (passes/fuse_channel_scale.cc, CPU builds): y = Conv(x * scale, w, [bias],
// [residual]) with inputs x, w, bias or absent, residual or absent, scale; `scale` is [N or 1,
// C, 1, 1] (one factor per image and input channel: a squeeze-excitation gate), x's float type;
// every attribute is Conv's.
void inferScaledConv(InferContext& ctx) {
  ctx.check(ctx.hasInput(4), "needs its input 4, the channel scale");
  const Shape& x = ctx.in(0).shape;
  const Shape& s = ctx.in(4).shape;
  requireFloating(ctx, 4, "scale");
  ctx.check(s.size() == x.size(), "scale has rank ", s.size(), ", input has rank ", x.size());
  bool ok = s.size() >= 3 && (!s[0].known() || !x[0].known() || s[0].value == 1 || s[0] == x[0]) &&
            (!s[1].known() || !x[1].known() || s[1] == x[1]);
  for (std::size_t i = 2; ok && i < s.size(); ++i) ok = s[i].known() && s[i].value == 1;
  ctx.check(ok, "scale has shape ", toString(s), ", expected [N or 1, C, 1...] for input ", toString(x));
  inferConv(ctx);
}

void inferConvTranspose(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloat(ctx, 0, "input");
  requireFloat(ctx, 1, "weight");
  const Shape& x = ctx.in(0).shape;
  const Shape& w = ctx.in(1).shape;
  ctx.check(x.size() >= 3, "input has rank ", x.size(), ", expected N x C x spatial dims");
  ctx.check(w.size() == x.size(), "weight has rank ", w.size(), ", input has rank ", x.size());
  const std::size_t sp = x.size() - 2;
  WindowAttrs a = readWindowAttrs(node, sp);
  int64_t group = node.i("group", 1);
  ctx.check(group >= 1, "group ", group, " must be >= 1");
  if (x[1].known() && w[0].known())
    ctx.check(x[1].value == w[0].value, "weight has ", w[0].value, " input channels, input has ", x[1].value);
  if (x[1].known()) ctx.check(x[1].value % group == 0, "input channels ", x[1].value, " not a multiple of group ", group);
  Dim k = w[1].known() ? Dim(w[1].value * group) : Dim();
  Shape out{x[0], k};
  for (std::size_t i = 0; i < sp; ++i) {
    Dim kd = w[2 + i];
    if (!a.kernel.empty()) {
      ctx.check(!kd.known() || kd.value == a.kernel[i], "kernel_shape ", toString(a.kernel), " disagrees with weight ",
                toString(w));
      kd = Dim(a.kernel[i]);
    }
    if (x[2 + i].known() && kd.known())
      out.push_back(Dim(transposedAxis(node, a, i, x[2 + i].value, kd.value).out));
    else
      out.push_back(Dim());
  }
  checkVector(ctx, 2, k, "bias");
  ctx.setOutput(0, DType::kFLOAT, out);
}

void inferGemm(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloating(ctx, 0, "A");
  const Shape& a = ctx.in(0).shape;
  Shape b = logicalWeightShape(ctx, 1);
  if (!node.has("kiln_packed")) requireFloating(ctx, 1, "B");
  ctx.check(a.size() == 2, "A has rank ", a.size(), ", expected 2");
  ctx.check(b.size() == 2, "B has rank ", b.size(), ", expected 2");
  bool ta = node.i("transA", 0) != 0, tb = node.i("transB", 0) != 0;
  Dim m = ta ? a[1] : a[0], k = ta ? a[0] : a[1];
  Dim kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  ctx.check(!(k.known() && kb.known()) || k.value == kb.value, "A ", toString(a), (ta ? " (transposed)" : ""),
            " and B ", toString(b), (tb ? " (transposed)" : ""), " disagree on K");
  if (ctx.hasInput(2)) {
    requireFloating(ctx, 2, "C");
    const Shape& c = ctx.in(2).shape;
    ctx.check(c.size() <= 2, "C has rank ", c.size(), ", expected at most 2");
    Shape mn{m, n};
    for (std::size_t i = 0; i < c.size(); ++i) {
      const Dim& cd = c[i];
      const Dim& od = mn[2 - c.size() + i];
      ctx.check(!cd.known() || cd.value == 1 || !od.known() || cd.value == od.value, "C ", toString(c),
                " does not broadcast to ", toString(mn));
    }
  }
  ctx.setOutput(0, ctx.in(0).dtype, Shape{m, n});
}

void inferMatMul(InferContext& ctx) {
  requireFloating(ctx, 0, "A");
  if (!ctx.node().has("kiln_packed")) requireFloating(ctx, 1, "B");
  Shape a = ctx.in(0).shape;
  Shape b = logicalWeightShape(ctx, 1);
  ctx.check(!a.empty() && !b.empty(), "operands must have rank >= 1 (A ", toString(a), ", B ", toString(b), ")");
  bool dropM = a.size() == 1, dropN = b.size() == 1;
  if (dropM) a.insert(a.begin(), Dim(int64_t{1}));
  if (dropN) b.push_back(Dim(int64_t{1}));
  const Dim& ka = a[a.size() - 1];
  const Dim& kb = b[b.size() - 2];
  ctx.check(!(ka.known() && kb.known()) || ka.value == kb.value, "A ", toString(ctx.in(0).shape), " and B ",
            toString(logicalWeightShape(ctx, 1)), " disagree on K");
  Shape out = broadcastShapes(ctx, Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  if (!dropM) out.push_back(a[a.size() - 2]);
  if (!dropN) out.push_back(b.back());
  if (ctx.hasInput(2)) {
    ctx.check(!dropN, "a bias needs a 2-D (or higher) B");
    checkVector(ctx, 2, b.back(), "bias");
  }
  checkResidual(ctx, 3, out);
  ctx.setOutput(0, ctx.in(0).dtype, out);
}

void inferBatchNorm(InferContext& ctx) {
  const Node& node = ctx.node();
  ctx.check(node.i("training_mode", 0) == 0, "training_mode is not supported (inference only)");
  ctx.check(ctx.numOutputs() == 1, "has ", ctx.numOutputs(),
            " outputs; running mean / variance outputs exist only in training mode");
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.in(0).shape;
  ctx.check(x.size() >= 2, "input has rank ", x.size(), ", expected at least 2 (N x C ...)");
  const char* names[] = {"", "scale", "B", "mean", "var"};
  for (std::size_t i = 1; i < 5; ++i) checkVector(ctx, i, x[1], names[i]);
  ctx.setOutput(0, DType::kFLOAT, x);
}

void inferLayerNorm(InferContext& ctx) {
  requireFloating(ctx, 0, "input");
  const Shape& x = ctx.in(0).shape;
  int64_t rank = static_cast<int64_t>(x.size());
  ctx.check(rank >= 1, "input must have rank >= 1");
  int64_t axis = ctx.axis(ctx.node().i("axis", -1), rank);
  for (std::size_t i = 1; i < 3; ++i) {
    if (!ctx.hasInput(i)) continue;
    requireFloating(ctx, i, i == 1 ? "scale" : "B");
    const Shape& s = ctx.in(i).shape;
    ctx.check(static_cast<int64_t>(s.size()) <= rank - axis, i == 1 ? "scale " : "B ", toString(s),
              " has more dims than the normalized part of the input ", toString(x));
    for (std::size_t j = 0; j < s.size(); ++j) {
      const Dim& xd = x[rank - s.size() + j];
      ctx.check(!s[j].known() || s[j].value == 1 || !xd.known() || s[j].value == xd.value, i == 1 ? "scale " : "B ",
                toString(s), " does not broadcast to input ", toString(x));
    }
  }
  ctx.setOutput(0, ctx.in(0).dtype, x);
  Shape stat(x.begin(), x.begin() + axis);
  stat.resize(rank, Dim(int64_t{1}));
  for (std::size_t i = 1; i < ctx.numOutputs(); ++i)
    if (ctx.node().outputs[i]) ctx.setOutput(i, DType::kFLOAT, stat);
}

void inferSoftmax(InferContext& ctx) {
  requireFloating(ctx, 0, "input");
  const Shape& x = ctx.in(0).shape;
  ctx.check(!x.empty(), "input must have rank >= 1");
  ctx.axis(ctx.node().i("axis", -1), static_cast<int64_t>(x.size()));
  ctx.setOutput(0, ctx.in(0).dtype, x);
}

void add(SchemaRegistry& r, const char* op, int minIn, int maxIn, int minOut, int maxOut, InferFn fn) {
  OpSchema s;
  s.op = op;
  s.minInputs = minIn;
  s.maxInputs = maxIn;
  s.minOutputs = minOut;
  s.maxOutputs = maxOut;
  s.infer = fn;
  r.add(std::move(s));
}

}  // namespace

void registerNnSchemas(SchemaRegistry& r) {
  add(r, "Conv", 2, 4, 1, 1, inferConv);  // X, W, [B], [residual (Kiln fusion)]
  add(r, "KilnScaledConv", 2, 5, 1, 1, inferScaledConv);  // X, W, [B], [residual], scale (required)
  add(r, "ConvTranspose", 2, 3, 1, 1, inferConvTranspose);
  add(r, "Gemm", 2, 3, 1, 1, inferGemm);
  add(r, "MatMul", 2, 4, 1, 1, inferMatMul);  // A, B, [bias], [residual] (Kiln fusions; the residual: device builds)
  add(r, "BatchNormalization", 5, 5, 1, 3, inferBatchNorm);
  add(r, "LayerNormalization", 2, 3, 1, 3, inferLayerNorm);
  add(r, "Softmax", 1, 1, 1, 1, inferSoftmax);
  add(r, "LogSoftmax", 1, 1, 1, 1, inferSoftmax);
  registerPoolResizeSchemas(r);
  registerLossSchemas(r);
  registerSampleSchemas(r);
  registerExtraNormSchemas(r);
  registerQuantSchemas(r);
  registerConvExtraSchemas(r);
}

}  // namespace kiln::ir
