// Small helpers shared by the rewrite passes. A rewrite is written as a match
// function (does the pattern start at this node? collect its nodes and
// values) and a rewrite (change the graph), run over the nodes by a Rewriter.
#pragma once
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

//! The node producing `v` when its op is `op` (any op when `op` is empty).
inline ir::Node* producerOf(const ir::Value* v, std::string_view op = {}) {
  if (!v || !v->producer) return nullptr;
  return op.empty() || v->producer->op == op ? v->producer : nullptr;
}

//! The one node reading `v`, when `v` is read by exactly one node, once, and
//! is not a graph output (so the value may disappear into a fused node).
inline ir::Node* soleConsumer(const ir::Graph& g, const ir::Value* v) {
  if (!v || g.isGraphOutput(v)) return nullptr;
  std::vector<ir::Node*> users = g.consumers(v);
  if (users.size() != 1) return nullptr;
  if (std::count(users[0]->inputs.begin(), users[0]->inputs.end(), v) != 1) return nullptr;
  return users[0];
}

//! soleConsumer(), when its op is `op`.
inline ir::Node* soleConsumer(const ir::Graph& g, const ir::Value* v, std::string_view op) {
  ir::Node* n = soleConsumer(g, v);
  return n && n->op == op ? n : nullptr;
}

//! Whether anything reads `v` (a node or the graph's outputs).
inline bool isUsed(const ir::Graph& g, const ir::Value* v) {
  return v && (g.isGraphOutput(v) || !g.consumers(v).empty());
}

//! For a node with two inputs, one of which is `v`: the other one.
inline ir::Value* otherInput(const ir::Node* n, const ir::Value* v) {
  if (!n || n->inputs.size() != 2) return nullptr;
  if (n->inputs[0] == v) return n->inputs[1];
  if (n->inputs[1] == v) return n->inputs[0];
  return nullptr;
}

//! The value of a one-element numeric constant.
inline std::optional<float> scalarConstant(const ir::Value* v) {
  if (!v || !v->constant || v->constant->numel() != 1) return std::nullopt;
  return v->constant->toFloat()[0];
}

//! Whether `v` is a one-element constant equal to `want` (to a relative 1e-3:
//! exporters write sqrt(2) as 1.4142 or 1.41421356).
inline bool isScalar(const ir::Value* v, float want) {
  std::optional<float> x = scalarConstant(v);
  return x && std::fabs(*x - want) <= 1e-3f * std::max(1.f, std::fabs(want));
}

//! Whether the user pinned the node's precision (ILayer::setPrecision / setOutputType:
//! builder/device_precision.h's attributes): fusions keep such a node for the constraint.
inline bool hasPrecisionPin(const ir::Node& n) { return n.has("kiln_precision") || n.has("kiln_output_types"); }

//! Whether `n` only regroups dims in row-major order (a free alias): Reshape, Flatten, Squeeze, Unsqueeze.
inline bool isRegroup(const ir::Node& n) {
  return n.op == "Reshape" || n.op == "Flatten" || n.op == "Squeeze" || n.op == "Unsqueeze";
}

//! The constant `t` of `n` elements as a [n] vector: `v` itself when it is one already, else a new
//! constant "<v>_1d" ([1, .., n] biases, which the kernels' bias inputs do not take).
inline ir::Value* asVectorConstant(ir::Graph& g, ir::Value* v, const ir::Tensor& t, int64_t n) {
  if (t.dims().size() == 1) return v;
  return g.addConstant(g.uniqueName(v->name + "_1d"), ir::Tensor(t.dtype(), {n}, t.data()));
}

//! Whether every value of an int list attribute (pads, strides, dilations) is `want`.
inline bool allEqual(const std::vector<int64_t>& v, int64_t want) {
  for (int64_t x : v)
    if (x != want) return false;
  return true;
}

//! A float32 constant, or nullptr.
inline const ir::Tensor* floatConstant(const ir::Value* v) {
  return v && v->constant && v->constant->dtype() == DType::kFLOAT ? v->constant.get() : nullptr;
}

//! Whether two dims are certainly equal (unknown dims only by a shared symbol).
inline bool sameDim(const ir::Dim& a, const ir::Dim& b) {
  if (a.known() || b.known()) return a.value == b.value;
  return !a.symbol.empty() && a.symbol == b.symbol;
}

//! Whether two shapes are certainly equal.
inline bool sameShape(const ir::Shape& a, const ir::Shape& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!sameDim(a[i], b[i])) return false;
  return true;
}

//! Whether `small` certainly broadcasts (numpy rules) to exactly `big`.
inline bool broadcastsTo(const ir::Shape& small, const ir::Shape& big) {
  if (small.size() > big.size()) return false;
  std::size_t off = big.size() - small.size();
  for (std::size_t i = 0; i < small.size(); ++i)
    if (!(small[i].known() && small[i].value == 1) && !sameDim(small[i], big[off + i])) return false;
  return true;
}

//! Makes `node` write `out` in its output slot `i`. The value it wrote before
//! is dropped; `out` keeps its name, so a graph output stays one.
inline void redirectOutput(ir::Node* node, std::size_t i, ir::Value* out) {
  node->outputs[i] = out;
  out->producer = node;
}

//! A Reshape of `x` writing `out` (static shape).
inline void reshapeInto(ir::Graph& g, ir::Value* x, ir::Value* out, const std::string& name) {
  const std::vector<int64_t> dims = ir::staticDims(out->shape);
  ir::Value* spec =
      g.addConstant(name + "/shape", ir::Tensor(DType::kINT64, {static_cast<int64_t>(dims.size())}, dims.data()));
  g.addNode("Reshape", name, {x, spec}, {out});
}

//! A new value `name` of `shape` (static), the Reshape of `x`.
inline ir::Value* reshapeTo(ir::Graph& g, ir::Value* x, const ir::Shape& shape, const std::string& name) {
  ir::Value* y = g.addValue(name, x->dtype, shape);
  reshapeInto(g, x, y, name);
  return y;
}

//! Applies a rule to every node of a snapshot of the graph, skipping nodes an
//! earlier rewrite of the same walk removed. Rules remove nodes through it.
class Rewriter {
 public:
  explicit Rewriter(ir::Graph& g) : graph(g) {}

  void remove(ir::Node* n) {
    removed_.insert(n);
    graph.removeNode(n);
  }

  //! Calls rule(node) on each node in order; returns how often it fired.
  template <typename Rule>
  int forEachNode(Rule&& rule) {
    removed_.clear();
    int fired = 0;
    for (ir::Node* n : graph.nodeList())
      if (!removed_.count(n) && rule(n)) ++fired;
    removed_.clear();
    return fired;
  }

  ir::Graph& graph;

 private:
  std::unordered_set<const ir::Node*> removed_;
};

}  // namespace kiln::passes
