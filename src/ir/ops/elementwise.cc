// Schemas of the elementwise ops (ONNX opset 21 semantics): broadcasting
// binary and variadic math, comparisons, logic, unary math and activations,
// PRelu, Clip, Where, Cast and CastLike.
#include <string>
#include <vector>

#include "ir/ops/families.h"

namespace kiln::ir {
namespace {

bool isNumeric(DType t) { return t != DType::kBOOL && !isFp8(t); }

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

bool isIntegerDtype(DType t) {
  switch (t) {
    case DType::kINT8: case DType::kUINT8: case DType::kINT16: case DType::kUINT16: case DType::kINT32:
    case DType::kUINT32: case DType::kINT64: case DType::kUINT64: return true;
    default: return false;
  }
}

// BitwiseAnd/Or/Xor: one integer type, broadcast.
void inferBitwise(InferContext& ctx) {
  checkSameDtype(ctx);
  ctx.check(isIntegerDtype(ctx.in(0).dtype), "needs integer inputs, got ", dataTypeName(ctx.in(0).dtype));
  ctx.setOutput(0, ctx.in(0).dtype, broadcastAll(ctx));
}

// BitShift: unsigned integers; direction "LEFT" or "RIGHT".
void inferBitShift(InferContext& ctx) {
  checkSameDtype(ctx);
  DType t = ctx.in(0).dtype;
  ctx.check(t == DType::kUINT8 || t == DType::kUINT16 || t == DType::kUINT32 || t == DType::kUINT64,
            "needs unsigned integer inputs, got ", dataTypeName(t));
  std::string dir = ctx.node().s("direction", "");
  ctx.check(dir == "LEFT" || dir == "RIGHT", "attribute 'direction' must be \"LEFT\" or \"RIGHT\", got \"", dir,
            "\"");
  ctx.setOutput(0, t, broadcastAll(ctx));
}

void inferBitwiseNot(InferContext& ctx) {
  ctx.check(isIntegerDtype(ctx.in(0).dtype), "needs an integer input, got ", dataTypeName(ctx.in(0).dtype));
  ctx.setOutput(0, ctx.in(0).dtype, ctx.in(0).shape);
}

// Shrink: numeric in and out; lambd must not be negative.
void inferShrink(InferContext& ctx) {
  ctx.check(isNumeric(ctx.in(0).dtype) && ctx.in(0).dtype != DType::kHALF && ctx.in(0).dtype != DType::kBF16,
            "does not accept a ", dataTypeName(ctx.in(0).dtype), " input");
  float lambd = ctx.node().f("lambd", 0.5f);
  ctx.check(lambd >= 0, "attribute 'lambd' must not be negative, got ", lambd);
  ctx.setOutput(0, ctx.in(0).dtype, ctx.in(0).shape);
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
    case 4: *out = DType::kUINT16; return true;
    case 5: *out = DType::kINT16; return true;
    case 6: *out = DType::kINT32; return true;
    case 7: *out = DType::kINT64; return true;
    case 9: *out = DType::kBOOL; return true;
    case 10: *out = DType::kHALF; return true;
    case 11: *out = DType::kDOUBLE; return true;
    case 12: *out = DType::kUINT32; return true;
    case 13: *out = DType::kUINT64; return true;
    case 16: *out = DType::kBF16; return true;
    case 17: *out = DType::kFP8; return true;  // FLOAT8E4M3FN
    case 18: *out = DType::kFP8E4M3FNUZ; return true;
    case 19: *out = DType::kFP8E5M2; return true;
    case 20: *out = DType::kFP8E5M2FNUZ; return true;
    default: return false;
  }
}

//! `saturate` (opset 19) only matters for casts to float8.
void checkSaturate(InferContext& ctx) {
  int64_t saturate = ctx.node().i("saturate", 1);
  ctx.check(saturate == 0 || saturate == 1, "attribute 'saturate' must be 0 or 1, got ", saturate);
}

void inferCast(InferContext& ctx) {
  ctx.check(ctx.node().has("to"), "lacks the attribute 'to'");
  checkSaturate(ctx);
  int64_t to = ctx.node().i("to", 0);
  DType out = DType::kFLOAT;
  ctx.check(onnxToDType(to, &out), "attribute 'to' is ONNX type ", to, ", which Kiln cannot cast to (Kiln has ",
            "float32/64, float16, bfloat16, the four float8 types, int8/16/32/64, uint8/16/32/64 and bool)");
  ctx.setOutput(0, out, ctx.in(0).shape);
}

void inferCastLike(InferContext& ctx) {
  checkSaturate(ctx);
  ctx.setOutput(0, ctx.in(1).dtype, ctx.in(0).shape);
}

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
  for (const char* op : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"}) add(r, op, 2, 2, inferBitwise);
  add(r, "BitShift", 2, 2, inferBitShift);
  add(r, "BitwiseNot", 1, 1, inferBitwiseNot);
  add(r, "Shrink", 1, 1, inferShrink);
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
