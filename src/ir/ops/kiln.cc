// Schemas of Kiln's internal ops, made by passes (never by the parser).
//
// KilnFusedElementwise: a chain of float32 elementwise steps run in one pass
// over memory. acc = inputs[0] broadcast to the output shape; then for step k
// acc = ops[k](acc) when operands[k] == -1, else
// acc = ops[k](acc, inputs[operands[k]]) (or ops[k](inputs[operands[k]], acc)
// when swapped[k] == 1). alphas[k] / betas[k] parameterize activations
// (LeakyRelu slope, HardSigmoid alpha/beta, Clip min/max).
#include <algorithm>
#include <string>
#include <vector>

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
  for (int64_t i = 0; i < numInputs; ++i)
    ctx.check(ctx.in(i).dtype == DType::kFLOAT, "input ", i, " is ", dataTypeName(ctx.in(i).dtype),
              "; only float32 is fused");
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
  ctx.setOutput(0, DType::kFLOAT, out);
}

}  // namespace

void registerKilnSchemas(SchemaRegistry& r) {
  OpSchema s;
  s.op = "KilnFusedElementwise";
  s.minInputs = 1;
  s.maxInputs = 1 << 20;
  s.infer = inferFusedElementwise;
  r.add(std::move(s));
}

}  // namespace kiln::ir
