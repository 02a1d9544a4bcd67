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

}  // namespace

void addElementwiseImporters(ImporterTable& t) {
  // Ops whose opset-7+ forms all mean what the IR's latest form means.
  for (const char* op : {"Add",     "Sub",        "Mul",      "Div",         "Pow",       "Max",     "Min",
                         "Mod",     "Sum",        "Mean",     "And",         "Or",        "Xor",     "Not",
                         "Equal",   "Less",       "Greater",  "Relu",        "Sigmoid",   "Tanh",    "Exp",
                         "Log",     "Sqrt",       "Abs",      "Neg",         "Reciprocal", "Floor",  "Ceil",
                         "Sin",     "Cos",        "Softplus", "Softsign",    "Elu",       "Selu",    "LeakyRelu",
                         "HardSigmoid", "PRelu",  "Identity", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh",
                         "Asinh",   "Acosh",      "Atanh"})
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
                        // `to` keeps its ONNX value; the schema maps DOUBLE to float as TensorRT does.
                        {"Cast", 1, importSame},
                        {"Dropout", 1, importDropout},
                    });
}

}  // namespace kiln::onnx
