// Schemas of the elementwise ops (ONNX opset 21 semantics): broadcasting
// binary and variadic math, comparisons, logic, unary math and activations,
// PRelu, Clip, Where, Cast and CastLike.
#include <string>
#include <vector>

#include "ir/ops/families.h"

namespace kiln::ir {
namespace {

bool isNumeric(DType t) { return t != DType::kBOOL && t != DType::kFP8; }

//! Every input present must have input 0's dtype (ONNX's single type variable T).
void checkSameDtype(const InferContext& ctx) {
  DType t = ctx.in(0).dtype;
  for (std::size_t i = 1; i < ctx.numInputs(); ++i)
    if (ctx.hasInput(i))
      ctx.check(ctx.in(i).dtype == t, "input ", i, " is ", dataTypeName(ctx.in(i).dtype), ", input 0 is ",
                dataTypeName(t));
}

//! The numpy broadcast of every present input's shape.
Shape broadcastAll(const InferContext& ctx) {
  Shape out = ctx.in(0).shape;
  for (std::size_t i = 1; i < ctx.numInputs(); ++i)
    if (ctx.hasInput(i)) out = broadcastShapes(ctx, out, ctx.in(i).shape);
  return out;
}

// Add, Sub, Mul, Div, Max, Min, Sum, Mean, Mod: one numeric type, broadcast.
void inferArith(InferContext& ctx) {
  checkSameDtype(ctx);
  ctx.check(isNumeric(ctx.in(0).dtype), "does not accept ", dataTypeName(ctx.in(0).dtype), " inputs");
  ctx.setOutput(0, ctx.in(0).dtype, broadcastAll(ctx));
}

void inferMod(InferContext& ctx) {
  int64_t fmod = ctx.node().i("fmod", 0);
  ctx.check(fmod == 0 || fmod == 1, "fmod must be 0 or 1, got ", fmod);
  inferArith(ctx);
}

// Pow: base and exponent may have different numeric types; the result has the base's.
void inferPow(InferContext& ctx) {
  ctx.check(isNumeric(ctx.in(0).dtype) && isNumeric(ctx.in(1).dtype), "does not accept ",
            dataTypeName(ctx.in(0).dtype), " ^ ", dataTypeName(ctx.in(1).dtype));
  ctx.setOutput(0, ctx.in(0).dtype, broadcastAll(ctx));
}

// Equal, Less, ...: one type in, bool out.
void inferCompare(InferContext& ctx) {
  checkSameDtype(ctx);
  ctx.setOutput(0, DType::kBOOL, broadcastAll(ctx));
}

// And, Or, Xor: bool in, bool out.
void inferLogic(InferContext& ctx) {
  for (std::size_t i = 0; i < ctx.numInputs(); ++i)
    ctx.check(ctx.in(i).dtype == DType::kBOOL, "input ", i, " must be bool, got ", dataTypeName(ctx.in(i).dtype));
  ctx.setOutput(0, DType::kBOOL, broadcastAll(ctx));
}

void inferNot(InferContext& ctx) {
  ctx.check(ctx.in(0).dtype == DType::kBOOL, "input must be bool, got ", dataTypeName(ctx.in(0).dtype));
  ctx.setOutput(0, DType::kBOOL, ctx.in(0).shape);
}

// Relu, Abs, Neg, Sign: any numeric type, same shape.
void inferUnaryNumeric(InferContext& ctx) {
  ctx.check(isNumeric(ctx.in(0).dtype), "does not accept a ", dataTypeName(ctx.in(0).dtype), " input");
  ctx.setOutput(0, ctx.in(0).dtype, ctx.in(0).shape);
}

// Exp, Sigmoid, ...: floating point only, same shape.
void inferUnaryFloat(InferContext& ctx) {
  ctx.check(isFloat(ctx.in(0).dtype), "needs a floating-point input, got ", dataTypeName(ctx.in(0).dtype));
  ctx.setOutput(0, ctx.in(0).dtype, ctx.in(0).shape);
}

void inferGelu(InferContext& ctx) {
  std::string approx = ctx.node().s("approximate", "none");
  ctx.check(approx == "none" || approx == "tanh", "approximate must be \"none\" or \"tanh\", got \"", approx, "\"");
  inferUnaryFloat(ctx);
}

// IsNaN, IsInf: float in, bool out.
void inferFloatPredicate(InferContext& ctx) {
  ctx.check(isFloat(ctx.in(0).dtype), "needs a floating-point input, got ", dataTypeName(ctx.in(0).dtype));
  ctx.setOutput(0, DType::kBOOL, ctx.in(0).shape);
}

// PRelu: slope broadcasts to X in one direction (the output has X's shape).
void inferPRelu(InferContext& ctx) {
  checkSameDtype(ctx);
  ctx.check(isNumeric(ctx.in(0).dtype), "does not accept a ", dataTypeName(ctx.in(0).dtype), " input");
  const Shape& x = ctx.in(0).shape;
  const Shape& slope = ctx.in(1).shape;
  ctx.check(slope.size() <= x.size(), "slope ", toString(slope), " has a higher rank than X ", toString(x));
  std::size_t off = x.size() - slope.size();
  for (std::size_t i = 0; i < slope.size(); ++i) {
    const Dim& s = slope[i];
    const Dim& d = x[off + i];
    ctx.check(!s.known() || s.value == 1 || !d.known() || s.value == d.value, "slope ", toString(slope),
              " does not broadcast to X ", toString(x));
  }
  ctx.setOutput(0, ctx.in(0).dtype, x);
}

// Clip: optional scalar min (input 1) and max (input 2) of X's type.
void inferClip(InferContext& ctx) {
  checkSameDtype(ctx);
  ctx.check(isNumeric(ctx.in(0).dtype), "does not accept a ", dataTypeName(ctx.in(0).dtype), " input");
  for (std::size_t i = 1; i < 3; ++i) {
    if (!ctx.hasInput(i)) continue;
    const Shape& s = ctx.in(i).shape;
    bool scalar = true;
    for (const Dim& d : s) scalar = scalar && (!d.known() || d.value == 1);
    ctx.check(scalar, i == 1 ? "min" : "max", " must be a scalar, got shape ", toString(s));
  }
  ctx.setOutput(0, ctx.in(0).dtype, ctx.in(0).shape);
}

// Where(cond, X, Y): three-way broadcast; X and Y share a type.
void inferWhere(InferContext& ctx) {
  ctx.check(ctx.in(0).dtype == DType::kBOOL, "condition must be bool, got ", dataTypeName(ctx.in(0).dtype));
  ctx.check(ctx.in(1).dtype == ctx.in(2).dtype, "X is ", dataTypeName(ctx.in(1).dtype), ", Y is ",
            dataTypeName(ctx.in(2).dtype));
  ctx.setOutput(0, ctx.in(1).dtype, broadcastAll(ctx));
}

//! ONNX TensorProto.DataType number -> Kiln dtype; false when Kiln has no such type.
bool onnxToDType(int64_t onnxType, DType* out) {
  switch (onnxType) {
    case 1: *out = DType::kFLOAT; return true;
    case 2: *out = DType::kUINT8; return true;
    case 3: *out = DType::kINT8; return true;
    case 6: *out = DType::kINT32; return true;
    case 7: *out = DType::kINT64; return true;
    case 9: *out = DType::kBOOL; return true;
    case 10: *out = DType::kHALF; return true;
    // Kiln has no float64: like TensorRT, a cast to double computes in float.
    case 11: *out = DType::kFLOAT; return true;
    case 16: *out = DType::kBF16; return true;
    default: return false;
  }
}

void inferCast(InferContext& ctx) {
  ctx.check(ctx.node().has("to"), "lacks the attribute 'to'");
  int64_t to = ctx.node().i("to", 0);
  DType out = DType::kFLOAT;
  ctx.check(onnxToDType(to, &out), "cannot cast to ONNX type ", to, " (Kiln supports float, float16, bfloat16, ",
            "int8, uint8, int32, int64, bool)");
  ctx.setOutput(0, out, ctx.in(0).shape);
}

void inferCastLike(InferContext& ctx) { ctx.setOutput(0, ctx.in(1).dtype, ctx.in(0).shape); }

void add(SchemaRegistry& r, const char* op, int minIn, int maxIn, InferFn fn) {
  OpSchema s;
  s.op = op;
  s.minInputs = minIn;
  s.maxInputs = maxIn;
  s.infer = fn;
  r.add(std::move(s));
}

}  // namespace

void registerElementwiseSchemas(SchemaRegistry& r) {
  constexpr int kMany = 1 << 20;  // variadic ops: no practical upper bound
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) add(r, op, 2, 2, inferArith);
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) add(r, op, 1, kMany, inferArith);
  add(r, "Mod", 2, 2, inferMod);
  add(r, "Pow", 2, 2, inferPow);
  for (const char* op : {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"}) add(r, op, 2, 2, inferCompare);
  for (const char* op : {"And", "Or", "Xor"}) add(r, op, 2, 2, inferLogic);
  add(r, "Not", 1, 1, inferNot);
  for (const char* op : {"Relu", "Abs", "Neg", "Sign"}) add(r, op, 1, 1, inferUnaryNumeric);
  for (const char* op : {"Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Erf", "Reciprocal", "Floor", "Ceil", "Round",
                         "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
                         "Softplus", "Softsign", "Elu", "Selu", "Celu", "LeakyRelu", "HardSigmoid", "HardSwish",
                         "ThresholdedRelu", "Mish"})
    add(r, op, 1, 1, inferUnaryFloat);
  add(r, "Gelu", 1, 1, inferGelu);
  add(r, "IsNaN", 1, 1, inferFloatPredicate);
  add(r, "IsInf", 1, 1, inferFloatPredicate);
  add(r, "PRelu", 2, 2, inferPRelu);
  add(r, "Clip", 1, 3, inferClip);
  add(r, "Where", 3, 3, inferWhere);
  add(r, "Cast", 1, 1, inferCast);
  add(r, "CastLike", 2, 2, inferCastLike);
}

}  // namespace kiln::ir
