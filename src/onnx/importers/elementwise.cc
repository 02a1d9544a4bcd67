// Importers for unary/binary math, comparisons, logic, activations, Clip,
// Where, Cast, Dropout and Identity. Most map 1:1 onto the IR op.
#include "onnx/importers/importers.h"

namespace kiln::onnx {

namespace {

//! Clip before opset 11 keeps min/max in attributes; the IR takes them as inputs 1 and 2.
void importClip(NodeContext& ctx) {
  if (ctx.opset() >= 11) return importSame(ctx);
  ir::Value* x = ctx.requireInput(0);
  ir::Value* lo = ctx.hasAttr("min") ? ctx.constScalar("min", x->dtype, ctx.attrFloat("min", 0)) : nullptr;
  ir::Value* hi = ctx.hasAttr("max") ? ctx.constScalar("max", x->dtype, ctx.attrFloat("max", 0)) : nullptr;
  ctx.emit("Clip", {x, lo, hi});
}

//! Dropout is the identity at inference. Before opset 12 `ratio` was an
//! attribute (it becomes input 1) and `is_test` existed.
void importDropout(NodeContext& ctx) {
  if (ctx.opset() >= 12) return importSame(ctx);
  ir::Value* ratio = ctx.hasAttr("ratio") ? ctx.constScalar("ratio", DType::kFLOAT, ctx.attrFloat("ratio", 0.5f))
                                          : nullptr;
  ctx.emit("Dropout", {ctx.requireInput(0), ratio}, ctx.attrs({"ratio", "is_test", "consumed_inputs"}));
}

//! Before opset 7 the binary ops broadcast only with `broadcast` = 1, and then
//! B lines up with A's dims from `axis` on (without `axis`: A's trailing dims,
//! as numpy). Trailing 1s appended to B make numpy broadcasting mean the same.
void importLegacyBinary(NodeContext& ctx) {
  if (ctx.opset() >= 7) return importSame(ctx);
  ir::Value* a = ctx.requireInput(0);
  ir::Value* b = ctx.requireInput(1);
  if (ctx.attrInt("broadcast", 0) && ctx.hasAttr("axis")) {
    const auto ra = static_cast<int64_t>(a->shape.size()), rb = static_cast<int64_t>(b->shape.size());
    int64_t axis = ctx.attrInt("axis", 0);
    if (axis < 0) axis += ra;
    KILN_NODE_CHECK(ctx, axis >= 0 && axis + rb <= ra, ErrorCode::kINVALID_NODE, "axis ", ctx.attrInt("axis", 0),
                    " does not place B (rank ", rb, ") inside A (rank ", ra, ")");
    if (axis + rb < ra) {
      std::vector<int64_t> trailing;
      for (int64_t k = rb; k < ra - axis; ++k) trailing.push_back(k);
      b = ctx.emitInner("Unsqueeze", "legacy_broadcast", {b, ctx.constInts("legacy_broadcast_axes", trailing)});
    }
  }
  ctx.emit(ctx.op(), {a, b}, ctx.attrs({"broadcast", "axis", "consumed_inputs"}));
}

//! PRelu before opset 7 took a slope of one value per channel as a 1-D [C]
//! (numpy broadcasting would line it up with the last dim instead).
void importPRelu(NodeContext& ctx) {
  ir::Value* x = ctx.requireInput(0);
  ir::Value* slope = ctx.requireInput(1);
  const std::size_t rx = x->shape.size();
  if (ctx.opset() < 7 && slope->shape.size() == 1 && rx >= 3 && slope->shape[0] == x->shape[1] &&
      !(slope->shape[0] == ir::Dim(int64_t{1}))) {
    std::vector<int64_t> trailing;
    for (std::size_t k = 1; k + 1 < rx; ++k) trailing.push_back(static_cast<int64_t>(k));
    slope = ctx.emitInner("Unsqueeze", "per_channel", {slope, ctx.constInts("per_channel_axes", trailing)});
  }
  ctx.emit("PRelu", {x, slope}, ctx.attrs({"consumed_inputs"}));
}

}  // namespace

void addElementwiseImporters(ImporterTable& t) {
  // Binary ops whose opset < 7 forms broadcast the legacy way.
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Less", "Greater"})
    t.push_back({op, 1, importLegacyBinary});
  t.push_back({"PRelu", 1, importPRelu});
  // Ops whose opset-7+ forms all mean what the IR's latest form means.
  for (const char* op : {"Max",     "Min",        "Mod",      "Sum",         "Mean",      "Not",     "Relu",
                         "Sigmoid", "Tanh",       "Exp",      "Log",         "Sqrt",      "Abs",     "Neg",
                         "Reciprocal", "Floor",   "Ceil",     "Sin",         "Cos",       "Softplus", "Softsign",
                         "Elu",     "Selu",       "LeakyRelu", "HardSigmoid", "Identity", "Tan",     "Asin",
                         "Acos",    "Atan",       "Sinh",     "Cosh",        "Asinh",     "Acosh",   "Atanh"})
    t.push_back({op, 1, importSame});
  t.insert(t.end(), {
                        {"Erf", 9, importSame},
                        {"Sign", 9, importSame},
                        {"Where", 9, importSame},
                        {"Round", 11, importSame},
                        {"LessOrEqual", 12, importSame},
                        {"GreaterOrEqual", 12, importSame},
                        {"HardSwish", 14, importSame},
                        {"CastLike", 15, importSame},
                        {"Gelu", 20, importSame},
                        {"Clip", 1, importClip},
                        {"IsNaN", 9, importSame},
                        {"IsInf", 10, importSame},
                        {"ThresholdedRelu", 10, importSame},
                        {"Celu", 12, importSame},
                        {"Mish", 18, importSame},
                        {"Shrink", 9, importSame},
                        {"BitShift", 11, importSame},
                        {"BitwiseAnd", 18, importSame},
                        {"BitwiseOr", 18, importSame},
                        {"BitwiseXor", 18, importSame},
                        {"BitwiseNot", 18, importSame},
                        // `to` keeps its ONNX value; the schema maps it to a Kiln dtype.
                        {"Cast", 1, importSame},
                        {"Dropout", 1, importDropout},
                    });
}

}  // namespace kiln::onnx
