// Helpers for the elementwise / reduction op tests: build a graph holding one
// node, infer it with its schema, and run it with the CPU reference kernel;
// plus a straightforward numpy-broadcast oracle to check results against.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"
#include "core/thread_pool.h"
#include "ir/op_schema.h"

namespace kiln::test {

using Attrs = std::map<std::string, ir::Attribute>;

//! One node input: a tensor fed at run time, a constant in the graph, or absent.
struct Arg {
  ir::Tensor tensor;
  bool constant = false;
  bool absent = false;
  //! For schema-only tests: the shape the graph declares (may be symbolic); default: the tensor's.
  std::optional<ir::Shape> shape;
};

inline Arg in(ir::Tensor t) {
  Arg a;
  a.tensor = std::move(t);
  return a;
}
inline Arg constant(ir::Tensor t) {
  Arg a;
  a.tensor = std::move(t);
  a.constant = true;
  return a;
}
inline Arg absent() {
  Arg a;
  a.absent = true;
  return a;
}
//! A runtime input known only by dtype and (possibly symbolic) shape.
inline Arg typed(DType dtype, ir::Shape shape) {
  Arg a;
  a.tensor = ir::Tensor(dtype, {});
  a.shape = std::move(shape);
  return a;
}

// Tensor factories.
inline ir::Tensor F(std::vector<float> v, std::vector<int64_t> dims) { return ir::Tensor::fromFloat(v, std::move(dims)); }
inline ir::Tensor I64(std::vector<int64_t> v, std::vector<int64_t> dims) {
  return ir::Tensor::fromInt64(v, std::move(dims));
}
inline ir::Tensor I32(const std::vector<int32_t>& v, std::vector<int64_t> dims) {
  ir::Tensor t(DType::kINT32, std::move(dims));
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel());
  if (!v.empty()) std::memcpy(t.mutableData(), v.data(), t.bytes());
  return t;
}
inline ir::Tensor B(const std::vector<int>& v, std::vector<int64_t> dims) {
  ir::Tensor t(DType::kBOOL, std::move(dims));
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel());
  for (std::size_t i = 0; i < v.size(); ++i) t.mutableAs<uint8_t>()[i] = v[i] != 0;
  return t;
}
//! Uniform floats in [lo, hi), reproducible by seed.
inline ir::Tensor randomF(std::vector<int64_t> dims, uint32_t seed, float lo = -2.f, float hi = 2.f) {
  ir::Tensor t(DType::kFLOAT, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutableAs<float>()[i] = dist(rng);
  return t;
}

//! A graph with one node whose inputs are graph inputs or constants.
struct OneNode {
  ir::Graph graph;
  ir::Node* node = nullptr;
};

inline std::unique_ptr<OneNode> makeNode(const std::string& op, const std::vector<Arg>& args, const Attrs& attrs = {},
                                         int numOutputs = 1, const std::string& name = "n0") {
  auto g = std::make_unique<OneNode>();
  std::vector<ir::Value*> ins;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const Arg& a = args[i];
    std::string vname = "in" + std::to_string(i);
    if (a.absent) {
      ins.push_back(nullptr);
    } else if (a.constant) {
      ins.push_back(g->graph.addConstant(vname, a.tensor));
    } else {
      ir::Value* v = g->graph.addValue(vname, a.tensor.dtype(), a.shape ? *a.shape : ir::shapeOf(a.tensor.dims()));
      g->graph.inputs.push_back(v);
      ins.push_back(v);
    }
  }
  std::vector<ir::Value*> outs;
  for (int i = 0; i < numOutputs; ++i) outs.push_back(g->graph.addValue("out" + std::to_string(i)));
  g->node = g->graph.addNode(op, name, ins, outs);
  g->node->attrs = attrs;
  for (ir::Value* v : outs) g->graph.outputs.push_back(v);
  return g;
}

//! Infers then runs the node with its reference tactic ("<op>.ref" unless given).
inline std::vector<ir::Tensor> runAll(const std::string& op, const std::vector<Arg>& args, const Attrs& attrs = {},
                                      ThreadPool* pool = nullptr, int numOutputs = 1) {
  auto g = makeNode(op, args, attrs, numOutputs);
  ir::inferNode(*g->node);
  std::vector<const ir::Tensor*> inputs;
  for (const Arg& a : args) inputs.push_back(a.absent ? nullptr : &a.tensor);
  return cpu::evaluateNode(*g->node, inputs, pool, op + ".ref");
}

inline ir::Tensor run(const std::string& op, const std::vector<Arg>& args, const Attrs& attrs = {},
                      ThreadPool* pool = nullptr) {
  return runAll(op, args, attrs, pool).at(0);
}

//! The output Value of a one-node graph after inference (for schema tests).
inline ir::Value inferOut(const std::string& op, const std::vector<Arg>& args, const Attrs& attrs = {}) {
  auto g = makeNode(op, args, attrs);
  ir::inferNode(*g->node);
  return *g->node->outputs[0];
}

//! Expects inference of the node to throw a kiln::Error whose message names the node and contains `what`.
inline void expectSchemaError(const std::string& op, const std::vector<Arg>& args, const Attrs& attrs,
                              const std::string& what) {
  auto g = makeNode(op, args, attrs, 1, "bad_node");
  try {
    ir::inferNode(*g->node);
    ADD_FAILURE() << op << ": expected a kiln::Error containing '" << what << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(op + " node \"bad_node\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

//! Numpy broadcast of shapes (the test's own, independent of the IR's).
inline std::vector<int64_t> broadcastDims(std::vector<std::vector<int64_t>> shapes) {
  std::size_t rank = 0;
  for (auto& s : shapes) rank = std::max(rank, s.size());
  std::vector<int64_t> out(rank, 1);
  for (auto& s : shapes)
    for (std::size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[rank - s.size() + i];
      if (s[i] != 1) o = s[i];
    }
  return out;
}

//! Flat index into a tensor of `dims` for output coordinate `coord` (rank >= dims), broadcasting.
inline int64_t broadcastIndex(const std::vector<int64_t>& coord, const std::vector<int64_t>& dims) {
  int64_t idx = 0;
  std::size_t off = coord.size() - dims.size();
  for (std::size_t i = 0; i < dims.size(); ++i) idx = idx * dims[i] + (dims[i] == 1 ? 0 : coord[off + i]);
  return idx;
}

//! Calls fn(coord, flatIndex) for every element of `dims` in row-major order.
inline void forEachIndex(const std::vector<int64_t>& dims, const std::function<void(const std::vector<int64_t>&, int64_t)>& fn) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<int64_t> coord(dims.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    fn(coord, i);
    for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
      if (++coord[d] < dims[d]) break;
      coord[d] = 0;
    }
  }
}

//! Reference binary op on float tensors with numpy broadcasting.
inline std::vector<float> refBinary(const ir::Tensor& a, const ir::Tensor& b, const std::function<float(float, float)>& f) {
  std::vector<int64_t> out = broadcastDims({a.dims(), b.dims()});
  std::vector<float> r(static_cast<std::size_t>(ir::numElements(out)));
  forEachIndex(out, [&](const std::vector<int64_t>& c, int64_t i) {
    r[i] = f(a.as<float>()[broadcastIndex(c, a.dims())], b.as<float>()[broadcastIndex(c, b.dims())]);
  });
  return r;
}

inline std::vector<float> values(const ir::Tensor& t) { return t.toFloat(); }
inline std::vector<int64_t> ints(const ir::Tensor& t) { return t.toInt64(); }

//! Element-by-element comparison with a relative + absolute tolerance; NaNs must match NaNs.
inline void expectClose(const ir::Tensor& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  std::vector<float> g = got.toFloat();
  int bad = 0;
  for (std::size_t i = 0; i < want.size() && bad < 5; ++i) {
    if (std::isnan(want[i])) {
      if (!std::isnan(g[i])) { ADD_FAILURE() << "element " << i << ": got " << g[i] << ", want NaN"; ++bad; }
      continue;
    }
    if (std::isinf(want[i])) {
      if (g[i] != want[i]) { ADD_FAILURE() << "element " << i << ": got " << g[i] << ", want " << want[i]; ++bad; }
      continue;
    }
    float t = tol * std::max(1.f, std::fabs(want[i]));
    if (!(std::fabs(g[i] - want[i]) <= t)) {
      ADD_FAILURE() << "element " << i << ": got " << g[i] << ", want " << want[i];
      ++bad;
    }
  }
}

}  // namespace kiln::test
