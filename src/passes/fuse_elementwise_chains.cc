// Chains of float32 elementwise ops become one KilnFusedElementwise node that
// makes a single pass over memory. A chain follows one value (the
// accumulator) through ops whose intermediate results have exactly one reader
// and are no graph output; the other operand of a binary op (a side operand)
// may be any tensor that broadcasts to the accumulator's shape, so the
// accumulator has the chain's output shape from the first step on (the chain
// head carries the largest tensor). Only chains of two or more ops are fused,
// and only when ctx.elementwiseChains (the backend has the kernel: the CPU's,
// or CUDA's NVRTC-compiled one). A layer the user gave a precision
// (kiln_precision / kiln_output_types, builder/device_precision.h) is never
// swallowed, so the constraint keeps a layer to hold it; a chain stops before
// it would need more than kMaxInputs inputs (what the kernels take).
#include <algorithm>
#include <limits>
#include <optional>

#include "core/error.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

constexpr const char* kUnary[] = {"Relu",      "Sigmoid", "Tanh",       "Exp",  "Log",       "Sqrt",
                                  "Abs",       "Neg",     "Reciprocal", "Erf",  "LeakyRelu", "HardSigmoid",
                                  "HardSwish", "Gelu",    "Softplus",   "Silu", "Clip"};
constexpr const char* kBinary[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"};

bool isOneOf(const auto& list, const std::string& op) {
  return std::find(std::begin(list), std::end(list), op) != std::end(list);
}

bool isFloat(const ir::Value* v) { return v && v->dtype == DType::kFLOAT; }

//! The most inputs a fused node may have (cpu/ops/broadcast.h kMaxBroadcastInputs, cuda fused::kMaxInputs).
constexpr std::size_t kMaxInputs = 16;

//! One step of a chain: op_k(acc) or op_k(acc, side) (op_k(side, acc) when swapped).
struct Step {
  std::string op;
  ir::Value* side = nullptr;
  bool swapped = false;
  float alpha = 0.f, beta = 0.f;
};

//! The step node `n` performs on the accumulator `acc`, if it can join a chain.
std::optional<Step> stepOf(const ir::Node& n, const ir::Value* acc) {
  if (n.outputs.size() != 1 || !isFloat(n.outputs[0]) || !isFloat(acc)) return std::nullopt;
  if (hasPrecisionPin(n)) return std::nullopt;
  Step s{n.op};
  if (isOneOf(kUnary, n.op)) {
    if (n.input(0) != acc) return std::nullopt;
    if (n.op == "LeakyRelu") s.alpha = n.f("alpha", 0.01f);
    if (n.op == "HardSigmoid") s = Step{n.op, nullptr, false, n.f("alpha", 0.2f), n.f("beta", 0.5f)};
    if (n.op == "Gelu") {
      std::string approx = n.s("approximate", "none");
      if (approx != "none" && approx != "tanh") return std::nullopt;
      if (approx == "tanh") s.op = "GeluTanh";
    }
    if (n.op == "Clip") {
      constexpr float kInf = std::numeric_limits<float>::infinity();
      std::optional<float> lo = n.input(1) ? scalarConstant(n.input(1)) : -kInf;
      std::optional<float> hi = n.input(2) ? scalarConstant(n.input(2)) : kInf;
      if (!lo || !hi) return std::nullopt;
      s.alpha = *lo;
      s.beta = *hi;
    } else if (n.inputs.size() != 1) {
      return std::nullopt;
    }
    return s;
  }
  if (!isOneOf(kBinary, n.op) || n.inputs.size() != 2 || n.inputs[0] == n.inputs[1]) return std::nullopt;
  s.side = otherInput(&n, acc);
  s.swapped = n.inputs[1] == acc;
  // The side operand must not widen the accumulator.
  if (!isFloat(s.side) || !broadcastsTo(s.side->shape, acc->shape)) return std::nullopt;
  return s;
}

//! The input a chain starting at `head` accumulates: the one already as
//! large as the output (the first such one).
ir::Value* headAccumulator(const ir::Node& head) {
  if (isOneOf(kUnary, head.op)) return head.input(0);
  for (ir::Value* in : head.inputs)
    if (in && stepOf(head, in)) return in;
  return nullptr;
}

struct Chain {
  std::vector<ir::Node*> nodes;
  std::vector<Step> steps;
};

Chain growChain(const ir::Graph& g, ir::Node* head) {
  Chain c;
  ir::Value* acc = headAccumulator(*head);
  std::optional<Step> s = acc ? stepOf(*head, acc) : std::nullopt;
  if (!s) return c;
  std::vector<const ir::Value*> inputs{acc};  // as fuse() will number them
  auto fits = [&](const Step& st) {
    if (!st.side || std::find(inputs.begin(), inputs.end(), st.side) != inputs.end()) return true;
    if (inputs.size() == kMaxInputs) return false;
    inputs.push_back(st.side);
    return true;
  };
  fits(*s);
  c.nodes.push_back(head);
  c.steps.push_back(*s);
  ir::Value* cur = head->outputs[0];
  while (ir::Node* next = soleConsumer(g, cur)) {
    if (!(s = stepOf(*next, cur)) || !fits(*s)) break;
    c.nodes.push_back(next);
    c.steps.push_back(*s);
    cur = next->outputs[0];
  }
  return c;
}

void fuse(Rewriter& rw, const Chain& c) {
  ir::Node* head = c.nodes.front();
  std::vector<ir::Value*> inputs{headAccumulator(*head)};
  std::vector<std::string> ops;
  std::vector<int64_t> operands, swapped;
  std::vector<float> alphas, betas;
  for (const Step& s : c.steps) {
    int64_t operand = -1;
    if (s.side) {  // reuse an input already there: x * Sigmoid(x) needs x once
      auto it = std::find(inputs.begin(), inputs.end(), s.side);
      operand = it - inputs.begin();
      if (it == inputs.end()) inputs.push_back(s.side);
    }
    ops.push_back(s.op);
    operands.push_back(operand);
    swapped.push_back(s.swapped ? 1 : 0);
    alphas.push_back(s.alpha);
    betas.push_back(s.beta);
  }
  ir::Value* out = c.nodes.back()->outputs[0];
  std::string name = head->name + "/fused";
  for (ir::Node* n : c.nodes) rw.remove(n);
  ir::Node* f = rw.graph.addNode("KilnFusedElementwise", name, inputs, {out});
  f->attrs["ops"] = ops;
  f->attrs["operands"] = operands;
  f->attrs["swapped"] = swapped;
  f->attrs["alphas"] = alphas;
  f->attrs["betas"] = betas;
}

}  // namespace

bool fuseElementwiseChains(ir::Graph& graph, PassContext& ctx) {
  if (!ctx.elementwiseChains) return false;
  graph.topoSort();  // a chain is met first at its head
  Rewriter rw(graph);
  int nodes = 0;
  int chains = rw.forEachNode([&](ir::Node* n) {
    Chain c = growChain(graph, n);
    if (c.nodes.size() < 2) return false;
    nodes += static_cast<int>(c.nodes.size());
    fuse(rw, c);
    return true;
  });
  if (!chains) return false;
  graph.topoSort();  // fused nodes were appended
  ctx.log.push_back(strCat("fuse_elementwise_chains: fused ", nodes, " nodes into ", chains, " chains"));
  return true;
}

}  // namespace kiln::passes
