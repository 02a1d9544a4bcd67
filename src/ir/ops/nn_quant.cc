// Schemas of the quantization ops (part of the nn family, see nn.cc), opset
// 21 forms: QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked),
// DynamicQuantizeLinear, QLinearMatMul, MatMulInteger, ConvInteger,
// QLinearConv. QuantizeLinear / DequantizeLinear quantize to int8, uint8,
// int16, uint16 and the four float8 formats (and DequantizeLinear also reads
// int32); the integer ops take int8 / uint8. The parser turns
// QuantizeLinear's output_dtype into a zero point of that type, so the zero
// point decides the output type. int4 / uint4 have no DType: the parser
// rejects them.
#include <algorithm>

#include "ir/ops/nn_internal.h"
#include "ir/ops/spatial.h"

namespace kiln::ir {
namespace {

bool isInt8Like(DType t) { return t == DType::kINT8 || t == DType::kUINT8; }
// What QuantizeLinear writes and DequantizeLinear reads (besides int32).
bool isQuantType(DType t) { return isInt8Like(t) || t == DType::kINT16 || t == DType::kUINT16 || isFp8(t); }
constexpr const char* kQuantTypes = "int8, uint8, int16, uint16 or a float8 type (fp8, fp8e5m2, fp8e4m3fnuz, fp8e5m2fnuz)";
bool isScaleType(DType t) { return t == DType::kFLOAT || t == DType::kHALF; }

void requireInt8Like(const InferContext& ctx, std::size_t i, const char* what) {
  const DType t = ctx.in(i).dtype;
  ctx.check(isInt8Like(t), what, " is ", dataTypeName(t), "; expected int8 or uint8");
}

bool isScalarLike(const Shape& s) { return s.empty() || (s.size() == 1 && s[0].known() && s[0].value == 1); }

// The shape of a scale (or zero point) of QuantizeLinear / DequantizeLinear
// must say per tensor (scalar or [1]), per axis ([x.shape[axis]]) or blocked
// (x's shape with ceil(x.shape[axis] / block_size) on the axis).
void checkQuantParam(const InferContext& ctx, std::size_t i, const char* what, const Shape& x, int64_t axis,
                     int64_t block) {
  const Shape& s = ctx.in(i).shape;
  if (block == 0) {
    if (isScalarLike(s)) return;
    ctx.check(s.size() == 1, what, " has shape ", toString(s), "; expected a scalar (per tensor) or 1-D (per axis)");
    ctx.check(!s[0].known() || !x[axis].known() || s[0].value == x[axis].value, what, " has ", s[0].value,
              " values, but axis ", axis, " of the input ", toString(x), " has ", x[axis].value);
    return;
  }
  ctx.check(s.size() == x.size(), what, " has rank ", s.size(), "; blocked quantization (block_size ", block,
            ") needs the input's rank ", x.size());
  for (std::size_t a = 0; a < s.size(); ++a) {
    if (!s[a].known() || !x[a].known()) continue;
    const int64_t want = static_cast<int64_t>(a) == axis ? (x[a].value + block - 1) / block : x[a].value;
    ctx.check(s[a].value == want, what, " has shape ", toString(s), "; blocked quantization of ", toString(x),
              " on axis ", axis, " with block_size ", block, " needs ", want, " on axis ", a);
  }
}

void inferQuantizeCommon(InferContext& ctx, bool quantize) {
  const Node& node = ctx.node();
  const Shape& x = ctx.in(0).shape;
  if (quantize) {
    ctx.check(isScaleType(ctx.in(0).dtype), "x is ", dataTypeName(ctx.in(0).dtype), "; expected float32 or float16");
  } else {
    const DType t = ctx.in(0).dtype;
    ctx.check(isQuantType(t) || t == DType::kINT32, "x is ", dataTypeName(t), "; expected int32, ", kQuantTypes);
  }
  const DType st = ctx.in(1).dtype;
  ctx.check(isScaleType(st), "scale is ", dataTypeName(st), "; expected float32 or float16");
  if (quantize) ctx.check(st == ctx.in(0).dtype, "scale is ", dataTypeName(st), ", x is ", dataTypeName(ctx.in(0).dtype));
  const int64_t rank = static_cast<int64_t>(x.size());
  const int64_t block = node.i("block_size", 0);
  ctx.check(block >= 0, "attribute 'block_size' is ", block, "; expected >= 0");
  if (quantize) {
    const int64_t saturate = node.i("saturate", 1);
    ctx.check(saturate == 0 || saturate == 1, "attribute 'saturate' is ", saturate, "; expected 0 or 1");
  }
  const bool perTensor = isScalarLike(ctx.in(1).shape) && block == 0;
  int64_t axis = 0;
  if (!perTensor) axis = ctx.axis(node.i("axis", 1), rank);
  checkQuantParam(ctx, 1, "scale", x, axis, block);
  DType out = quantize ? DType::kUINT8 : st;
  if (ctx.hasInput(2)) {
    const DType zt = ctx.in(2).dtype;
    if (quantize) {
      ctx.check(isQuantType(zt), "zero point is ", dataTypeName(zt), "; Kiln quantizes to ", kQuantTypes);
      out = zt;
    } else {
      ctx.check(zt == ctx.in(0).dtype, "zero point is ", dataTypeName(zt), ", x is ", dataTypeName(ctx.in(0).dtype));
    }
    const Shape& zs = ctx.in(2).shape;
    const Shape& ss = ctx.in(1).shape;
    ctx.check(zs.size() == ss.size() || (isScalarLike(zs) && isScalarLike(ss)), "zero point has shape ", toString(zs),
              ", scale has ", toString(ss));
    checkQuantParam(ctx, 2, "zero point", x, axis, block);
  }
  ctx.setOutput(0, out, x);
}

void inferQuantize(InferContext& ctx) { inferQuantizeCommon(ctx, true); }
void inferDequantize(InferContext& ctx) { inferQuantizeCommon(ctx, false); }

void inferDynamicQuantize(InferContext& ctx) {
  requireFloat(ctx, 0, "x");
  ctx.setOutput(0, DType::kUINT8, ctx.in(0).shape);
  ctx.setOutput(1, DType::kFLOAT, Shape{});
  ctx.setOutput(2, DType::kUINT8, Shape{});
}

// MatMul's shape rule (numpy matmul) for a (index ia) and b (index ib).
Shape matmulShape(const InferContext& ctx, std::size_t ia, std::size_t ib) {
  Shape a = ctx.in(ia).shape, b = ctx.in(ib).shape;
  ctx.check(!a.empty() && !b.empty(), "operands must have rank >= 1 (A ", toString(a), ", B ", toString(b), ")");
  const bool dropM = a.size() == 1, dropN = b.size() == 1;
  if (dropM) a.insert(a.begin(), Dim(int64_t{1}));
  if (dropN) b.push_back(Dim(int64_t{1}));
  const Dim& ka = a[a.size() - 1];
  const Dim& kb = b[b.size() - 2];
  ctx.check(!(ka.known() && kb.known()) || ka.value == kb.value, "A ", toString(ctx.in(ia).shape), " and B ",
            toString(ctx.in(ib).shape), " disagree on K");
  Shape out = broadcastShapes(ctx, Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  if (!dropM) out.push_back(a[a.size() - 2]);
  if (!dropN) out.push_back(b.back());
  return out;
}

// A scale or zero point of the integer matmuls: a scalar, or a vector of
// `len` values (per row of A / per column of B).
void checkScalarOrVector(const InferContext& ctx, std::size_t i, const char* what, const Dim& len) {
  if (!ctx.hasInput(i)) return;
  const Shape& s = ctx.in(i).shape;
  if (isScalarLike(s)) return;
  ctx.check(s.size() == 1, what, " has shape ", toString(s), "; expected a scalar or a vector");
  ctx.check(!s[0].known() || !len.known() || s[0].value == len.value, what, " has ", s[0].value, " values, expected ",
            len.value);
}

void inferMatMulInteger(InferContext& ctx) {
  requireInt8Like(ctx, 0, "A");
  requireInt8Like(ctx, 1, "B");
  const Shape& a = ctx.in(0).shape;
  const Shape& b = ctx.in(1).shape;
  for (std::size_t i : {2, 3})
    if (ctx.hasInput(i))
      ctx.check(ctx.in(i).dtype == ctx.in(i - 2).dtype, i == 2 ? "a_zero_point" : "b_zero_point", " is ",
                dataTypeName(ctx.in(i).dtype), ", its operand is ", dataTypeName(ctx.in(i - 2).dtype));
  Shape out = matmulShape(ctx, 0, 1);
  checkScalarOrVector(ctx, 2, "a_zero_point", a.size() >= 2 ? a[a.size() - 2] : Dim(int64_t{1}));
  checkScalarOrVector(ctx, 3, "b_zero_point", b.size() >= 2 ? b.back() : Dim(int64_t{1}));
  ctx.setOutput(0, DType::kINT32, out);
}

void inferQLinearMatMul(InferContext& ctx) {
  requireInt8Like(ctx, 0, "a");
  requireInt8Like(ctx, 3, "b");
  const char* names[] = {"a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale", "y_zero_point"};
  for (std::size_t i : {1, 4, 6})
    ctx.check(isScaleType(ctx.in(i).dtype), names[i], " is ", dataTypeName(ctx.in(i).dtype),
              "; expected float32 or float16");
  for (std::size_t i : {2, 5, 7}) requireInt8Like(ctx, i, names[i]);
  ctx.check(ctx.in(2).dtype == ctx.in(0).dtype, "a_zero_point's type differs from a's");
  ctx.check(ctx.in(5).dtype == ctx.in(3).dtype, "b_zero_point's type differs from b's");
  const Shape& a = ctx.in(0).shape;
  const Shape& b = ctx.in(3).shape;
  Shape out = matmulShape(ctx, 0, 3);
  const Dim rows = a.size() >= 2 ? a[a.size() - 2] : Dim(int64_t{1});
  const Dim cols = b.size() >= 2 ? b.back() : Dim(int64_t{1});
  checkScalarOrVector(ctx, 1, "a_scale", rows);
  checkScalarOrVector(ctx, 2, "a_zero_point", rows);
  checkScalarOrVector(ctx, 4, "b_scale", cols);
  checkScalarOrVector(ctx, 5, "b_zero_point", cols);
  checkScalarOrVector(ctx, 6, "y_scale", Dim(int64_t{1}));
  checkScalarOrVector(ctx, 7, "y_zero_point", Dim(int64_t{1}));
  ctx.setOutput(0, ctx.in(7).dtype, out);
}

// Conv's output shape for input index ix and weight index iw.
Shape convShape(const InferContext& ctx, std::size_t ix, std::size_t iw) {
  const Node& node = ctx.node();
  const Shape& x = ctx.in(ix).shape;
  const Shape& w = ctx.in(iw).shape;
  ctx.check(x.size() >= 3 && x.size() <= 5, "input has rank ", x.size(), ", expected N x C x 1..3 spatial dims");
  ctx.check(w.size() == x.size(), "weight has rank ", w.size(), ", input has rank ", x.size());
  const std::size_t sp = x.size() - 2;
  WindowAttrs a = readWindowAttrs(node, sp);
  const int64_t group = node.i("group", 1);
  ctx.check(group >= 1, "group ", group, " must be >= 1");
  if (w[0].known())
    ctx.check(w[0].value % group == 0, "weight has ", w[0].value, " output channels, not a multiple of group ", group);
  if (x[1].known() && w[1].known())
    ctx.check(x[1].value == w[1].value * group, "weight has ", w[1].value, " input channels per group, input has ",
              x[1].value, " (group ", group, ")");
  Shape out{x[0], w[0]};
  for (std::size_t i = 0; i < sp; ++i) {
    Dim k = w[2 + i];
    if (!a.kernel.empty()) {
      ctx.check(!k.known() || k.value == a.kernel[i], "kernel_shape ", toString(a.kernel), " disagrees with weight ",
                toString(w));
      k = Dim(a.kernel[i]);
    }
    out.push_back(x[2 + i].known() && k.known() ? Dim(windowAxis(node, a, i, x[2 + i].value, k.value).out) : Dim());
  }
  return out;
}

void inferConvInteger(InferContext& ctx) {
  requireInt8Like(ctx, 0, "x");
  requireInt8Like(ctx, 1, "w");
  Shape out = convShape(ctx, 0, 1);
  checkScalarOrVector(ctx, 2, "x_zero_point", Dim(int64_t{1}));
  checkScalarOrVector(ctx, 3, "w_zero_point", ctx.in(1).shape[0]);
  ctx.setOutput(0, DType::kINT32, out);
}

void inferQLinearConv(InferContext& ctx) {
  requireInt8Like(ctx, 0, "x");
  requireInt8Like(ctx, 3, "w");
  for (std::size_t i : {2, 5, 7}) requireInt8Like(ctx, i, i == 2 ? "x_zero_point" : i == 5 ? "w_zero_point" : "y_zero_point");
  for (std::size_t i : {1, 4, 6})
    ctx.check(ctx.in(i).dtype == DType::kFLOAT, i == 1 ? "x_scale" : i == 4 ? "w_scale" : "y_scale", " is ",
              dataTypeName(ctx.in(i).dtype), "; expected float32");
  Shape out = convShape(ctx, 0, 3);
  const Dim m = ctx.in(3).shape[0];
  checkScalarOrVector(ctx, 1, "x_scale", Dim(int64_t{1}));
  checkScalarOrVector(ctx, 2, "x_zero_point", Dim(int64_t{1}));
  checkScalarOrVector(ctx, 4, "w_scale", m);
  checkScalarOrVector(ctx, 5, "w_zero_point", m);
  checkScalarOrVector(ctx, 6, "y_scale", Dim(int64_t{1}));
  checkScalarOrVector(ctx, 7, "y_zero_point", Dim(int64_t{1}));
  if (ctx.hasInput(8)) {
    ctx.check(ctx.in(8).dtype == DType::kINT32, "B is ", dataTypeName(ctx.in(8).dtype), "; expected int32");
    checkScalarOrVector(ctx, 8, "B", m);
  }
  ctx.setOutput(0, ctx.in(7).dtype, out);
}

void add(SchemaRegistry& r, const char* op, int minIn, int maxIn, int outs, InferFn fn) {
  OpSchema s;
  s.op = op;
  s.minInputs = minIn;
  s.maxInputs = maxIn;
  s.minOutputs = outs;
  s.maxOutputs = outs;
  s.infer = fn;
  r.add(std::move(s));
}

}  // namespace

void registerQuantSchemas(SchemaRegistry& r) {
  add(r, "QuantizeLinear", 2, 3, 1, inferQuantize);      // x, y_scale, [y_zero_point]
  add(r, "DequantizeLinear", 2, 3, 1, inferDequantize);  // x, x_scale, [x_zero_point]
  add(r, "DynamicQuantizeLinear", 1, 1, 3, inferDynamicQuantize);  // -> y, y_scale, y_zero_point
  add(r, "MatMulInteger", 2, 4, 1, inferMatMulInteger);  // A, B, [a_zero_point], [b_zero_point]
  add(r, "QLinearMatMul", 8, 8, 1, inferQLinearMatMul);
  add(r, "ConvInteger", 2, 4, 1, inferConvInteger);  // x, w, [x_zero_point], [w_zero_point]
  add(r, "QLinearConv", 8, 9, 1, inferQLinearConv);  // x, xs, xzp, w, ws, wzp, ys, yzp, [B]
}

}  // namespace kiln::ir
