#include "ir/control_flow.h"

#include "core/error.h"

namespace kiln::ir::control_flow {

std::size_t captures(const Node& node) {
  int64_t k = node.i(kCapturesAttr, 0);
  KILN_CHECK(k >= 0 && static_cast<std::size_t>(k) <= node.inputs.size(), node.describe(), ": attribute '",
             kCapturesAttr, "' is ", k, " but the node has ", node.inputs.size(), " inputs");
  return static_cast<std::size_t>(k);
}

Graph& subgraph(const Node& node, const char* attr) {
  Graph* g = node.graph(attr);
  KILN_CHECK(g, node.describe(), ": subgraph attribute '", attr, "' is missing");
  return *g;
}

LoopArity loopArity(const Node& node) {
  const Graph& body = subgraph(node, "body");
  LoopArity a;
  a.captures = captures(node);
  KILN_CHECK(body.inputs.size() >= 2 + a.captures, node.describe(), ": the body has ", body.inputs.size(),
             " inputs; it needs the iteration number, the condition and ", a.captures, " captured values");
  a.carried = body.inputs.size() - 2 - a.captures;
  KILN_CHECK(body.outputs.size() >= 1 + a.carried, node.describe(), ": the body has ", body.outputs.size(),
             " outputs; it needs the condition and ", a.carried, " loop-carried values");
  a.scanOutputs = body.outputs.size() - 1 - a.carried;
  // Trailing absent inputs may have been dropped: the node has at most 2 + N + K.
  KILN_CHECK(node.inputs.size() <= 2 + a.carried + a.captures &&
                 (a.captures == 0 || node.inputs.size() == 2 + a.carried + a.captures),
             node.describe(), ": has ", node.inputs.size(), " inputs for a body with ", a.carried,
             " loop-carried values and ", a.captures, " captured values");
  for (std::size_t i = 0; i < a.carried; ++i)
    KILN_CHECK(node.input(2 + i), node.describe(), ": the initial value of loop-carried value ", i, " is missing");
  KILN_CHECK(node.outputs.size() == a.carried + a.scanOutputs, node.describe(), ": has ", node.outputs.size(),
             " outputs; its body makes ", a.carried, " loop-carried values and ", a.scanOutputs, " scan outputs");
  return a;
}

ScanArity scanArity(const Node& node) {
  const Graph& body = subgraph(node, "body");
  ScanArity a;
  a.captures = captures(node);
  int64_t m = node.i("num_scan_inputs", -1);
  KILN_CHECK(m >= 1, node.describe(), ": attribute 'num_scan_inputs' must be at least 1, got ", m);
  a.scanInputs = static_cast<std::size_t>(m);
  KILN_CHECK(node.inputs.size() >= a.scanInputs + a.captures, node.describe(), ": has ", node.inputs.size(),
             " inputs, fewer than num_scan_inputs (", m, ") plus ", a.captures, " captured values");
  a.states = node.inputs.size() - a.scanInputs - a.captures;
  KILN_CHECK(body.inputs.size() == node.inputs.size(), node.describe(), ": the body has ", body.inputs.size(),
             " inputs, the node ", node.inputs.size());
  KILN_CHECK(body.outputs.size() >= a.states, node.describe(), ": the body has ", body.outputs.size(),
             " outputs, fewer than its ", a.states, " state values");
  a.scanOutputs = body.outputs.size() - a.states;
  KILN_CHECK(node.outputs.size() == body.outputs.size(), node.describe(), ": has ", node.outputs.size(),
             " outputs, its body ", body.outputs.size());
  for (std::size_t i = 0; i < node.inputs.size(); ++i)
    KILN_CHECK(node.inputs[i], node.describe(), ": input ", i, " is missing");
  return a;
}

namespace {

bool constantTrue(const Value* v) {
  if (!v || !v->constant || v->constant->numel() != 1) return false;
  return v->constant->toInt64()[0] != 0;
}

//! The body's condition output is its condition input (directly or through Identity), or a constant true.
bool bodyKeepsGoing(const Graph& body) {
  const Value* out = body.outputs[0];
  const Value* in = body.inputs[1];
  for (int hops = 0; out && hops < 64; ++hops) {
    if (out == in || constantTrue(out)) return true;
    const Node* p = out->producer;
    if (!p || p->op != "Identity" || p->inputs.size() != 1) return false;
    out = p->inputs[0];
  }
  return false;
}

}  // namespace

std::optional<int64_t> loopTripCount(const Node& node) {
  const Value* cond = node.input(1);
  if (cond && cond->constant && cond->constant->numel() == 1 && cond->constant->toInt64()[0] == 0) return 0;
  const Value* m = node.input(0);
  if (!m || !m->constant || m->constant->numel() != 1) return std::nullopt;
  if (cond && !constantTrue(cond)) return std::nullopt;
  if (!bodyKeepsGoing(subgraph(node, "body"))) return std::nullopt;
  return std::max<int64_t>(0, m->constant->toInt64()[0]);
}

}  // namespace kiln::ir::control_flow
