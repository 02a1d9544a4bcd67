// Test helpers for the pass tests: a tiny graph builder, a graph interpreter
// that runs the nodes in order with the CPU reference path, and a check that
// a pass keeps what a graph computes.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cpu/kernel.h"
#include "ir/graph.h"
#include "ir/op_schema.h"
#include "passes/pass.h"

namespace kiln::testing {

//! Builds a graph one node at a time; every node has one output unless asked.
class Net {
 public:
  Net() : g(std::make_unique<ir::Graph>()) {}

  ir::Value* input(const std::string& name, std::vector<int64_t> dims, DType dtype = DType::kFLOAT) {
    ir::Value* v = g->addValue(name, dtype, ir::shapeOf(dims));
    g->inputs.push_back(v);
    return v;
  }
  ir::Value* constant(const std::string& name, ir::Tensor t) { return g->addConstant(name, std::move(t)); }
  ir::Value* scalar(const std::string& name, float v) { return constant(name, ir::Tensor::fromFloat({v}, {})); }
  ir::Value* ints(const std::string& name, std::vector<int64_t> v) {
    int64_t n = static_cast<int64_t>(v.size());
    return constant(name, ir::Tensor::fromInt64(v, {n}));
  }
  //! Adds `op` reading `ins`, writing one new value named after the node.
  ir::Value* node(const std::string& op, std::vector<ir::Value*> ins, std::map<std::string, ir::Attribute> attrs = {},
                  const std::string& name = "") {
    return nodeN(op, std::move(ins), 1, std::move(attrs), name)[0];
  }
  std::vector<ir::Value*> nodeN(const std::string& op, std::vector<ir::Value*> ins, int outputs,
                                std::map<std::string, ir::Attribute> attrs = {}, const std::string& name = "") {
    std::string n = name.empty() ? g->uniqueName(op) : name;
    std::vector<ir::Value*> outs;
    for (int i = 0; i < outputs; ++i) outs.push_back(g->addValue(i ? n + "_out" + std::to_string(i) : n));
    ir::Node* node = g->addNode(op, n, std::move(ins), outs);
    node->attrs = std::move(attrs);
    ir::inferNode(*node);
    return outs;
  }
  void output(ir::Value* v) { g->outputs.push_back(v); }

  std::unique_ptr<ir::Graph> g;
};

//! Deterministic pseudo-random floats in [lo, hi).
inline ir::Tensor randomTensor(std::vector<int64_t> dims, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  ir::Tensor t(DType::kFLOAT, std::move(dims));
  uint32_t s = seed * 2654435761u + 12345u;
  float* p = t.mutableAs<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = lo + (hi - lo) * static_cast<float>(s >> 8) / static_cast<float>(1u << 24);
  }
  return t;
}

//! Counts nodes with op `op`.
inline int countOps(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (auto& node : g.nodes()) n += node->op == op;
  return n;
}

//! Ops of the graph's nodes in order.
inline std::vector<std::string> opList(const ir::Graph& g) {
  std::vector<std::string> ops;
  for (auto& node : g.nodes()) ops.push_back(node->op);
  return ops;
}

//! The PassContext of the builder: folding through the CPU backend.
inline passes::PassContext cpuContext() {
  passes::PassContext ctx;
  ctx.evaluate = [](const ir::Node& n, const std::vector<const ir::Tensor*>& ins) { return cpu::evaluateNode(n, ins); };
  return ctx;
}

//! Runs `node` on `inputs` through a copy whose inputs are all constants, so
//! that inference sees every value and gives static output shapes (a Reshape
//! whose target is computed at run time included).
inline std::vector<ir::Tensor> evalNode(const ir::Node& node, const std::vector<const ir::Tensor*>& inputs) {
  std::vector<std::unique_ptr<ir::Value>> values;
  ir::Node copy;
  copy.op = node.op;
  copy.name = node.name;
  copy.attrs = node.attrs;
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    if (!inputs[i]) {
      copy.inputs.push_back(nullptr);
      continue;
    }
    values.push_back(std::make_unique<ir::Value>());
    values.back()->name = node.inputs[i]->name;
    values.back()->dtype = inputs[i]->dtype();
    values.back()->shape = ir::shapeOf(inputs[i]->dims());
    values.back()->constant = std::make_shared<const ir::Tensor>(*inputs[i]);
    copy.inputs.push_back(values.back().get());
  }
  for (const ir::Value* o : node.outputs) {
    values.push_back(std::make_unique<ir::Value>());
    values.back()->name = o ? o->name : "unused";
    copy.outputs.push_back(values.back().get());
  }
  ir::inferNode(copy);
  return cpu::evaluateNode(copy, inputs);
}

//! Runs the graph node by node in topological order; returns the graph
//! outputs by name.
inline std::map<std::string, ir::Tensor> evalGraph(ir::Graph& g, const std::map<std::string, ir::Tensor>& feeds) {
  g.topoSort();
  std::unordered_map<const ir::Value*, ir::Tensor> values;
  for (ir::Value* in : g.inputs) values[in] = feeds.at(in->name);
  auto lookup = [&](const ir::Value* v) -> const ir::Tensor* {
    if (!v) return nullptr;
    if (v->constant) return v->constant.get();
    auto it = values.find(v);
    if (it == values.end()) throw Error("evalGraph: value \"" + v->name + "\" was never computed");
    return &it->second;
  };
  for (auto& n : g.nodes()) {
    std::vector<const ir::Tensor*> ins;
    for (const ir::Value* v : n->inputs) ins.push_back(lookup(v));
    std::vector<ir::Tensor> outs = evalNode(*n, ins);
    for (std::size_t i = 0; i < outs.size(); ++i)
      if (n->outputs[i]) values[n->outputs[i]] = std::move(outs[i]);
  }
  std::map<std::string, ir::Tensor> result;
  for (const ir::Value* v : g.outputs) result[v->name] = *lookup(v);
  return result;
}

//! Whether two float (or integer) tensors agree within `tol` (relative to max(1, |a|)).
inline ::testing::AssertionResult tensorsNear(const ir::Tensor& a, const ir::Tensor& b, float tol = 1e-4f) {
  if (a.dims() != b.dims())
    return ::testing::AssertionFailure() << "shapes differ: " << ir::toString(a.dims()) << " vs "
                                         << ir::toString(b.dims());
  std::vector<float> x = a.toFloat(), y = b.toFloat();
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::fabs(x[i] - y[i]) <= tol * std::max(1.f, std::fabs(x[i]))))
      return ::testing::AssertionFailure() << "element " << i << ": " << x[i] << " vs " << y[i];
  return ::testing::AssertionSuccess();
}

//! Builds the graph twice with `build`, runs `pass` on the second copy (after
//! topoSort + inferGraph, as the pipeline does), checks both compute the same
//! outputs for `feeds`, and returns the rewritten graph for structural checks.
template <typename Build, typename PassFn>
std::unique_ptr<ir::Graph> checkSameOutputs(Build&& build, PassFn&& pass,
                                            const std::map<std::string, ir::Tensor>& feeds, float tol = 1e-4f) {
  std::unique_ptr<ir::Graph> before = build();
  std::unique_ptr<ir::Graph> after = build();
  after->topoSort();
  ir::inferGraph(*after);
  pass(*after);
  auto want = evalGraph(*before, feeds);
  auto got = evalGraph(*after, feeds);
  EXPECT_EQ(want.size(), got.size());
  for (auto& [name, t] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      ADD_FAILURE() << "output " << name << " is gone after the pass";
      continue;
    }
    EXPECT_TRUE(tensorsNear(t, it->second, tol)) << "output " << name;
  }
  return after;
}

}  // namespace kiln::testing
