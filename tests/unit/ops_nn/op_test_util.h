// Test helpers for op kernels: build a one-node graph, infer its shapes, run
// a named tactic on it (prepack on a copy of the graph, create, run with a
// pool of 2 threads and a poisoned, guarded workspace), and compare tensors.
#pragma once
#include <gtest/gtest.h>

// Test cases are written with designated initializers that leave most
// fields at their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"
#include "core/error.h"
#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::test {

struct OpInput {
  ir::Tensor value;
  bool constant = false;
  bool absent = false;
};

inline OpInput dyn(ir::Tensor t) { return {std::move(t), false, false}; }
inline OpInput cst(ir::Tensor t) { return {std::move(t), true, false}; }
inline OpInput none() { return {ir::Tensor(), false, true}; }

struct OpSpec {
  std::string op;
  std::map<std::string, ir::Attribute> attrs;
  std::vector<OpInput> inputs;
  int numOutputs = 1;
  std::string name = "node0";
};

//! Uniform values in [lo, hi), reproducible from `seed`.
inline ir::Tensor randomTensor(std::vector<int64_t> dims, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  ir::Tensor t(DType::kFLOAT, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.mutableAs<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

inline ir::Tensor floats(std::vector<int64_t> dims, std::vector<float> values) {
  ir::Tensor t = ir::Tensor::fromFloat(values, std::move(dims));
  return t;
}

inline ir::Tensor ints(std::vector<int64_t> dims, std::vector<int64_t> values) {
  return ir::Tensor::fromInt64(values, std::move(dims));
}

struct BuiltGraph {
  std::unique_ptr<ir::Graph> graph;
  ir::Node* node = nullptr;
};

//! A graph with one node: dynamic inputs are graph inputs, constants are
//! constants; output shapes come from the op's schema.
inline BuiltGraph buildGraph(const OpSpec& spec) {
  BuiltGraph b;
  b.graph = std::make_unique<ir::Graph>();
  std::vector<ir::Value*> ins;
  for (std::size_t i = 0; i < spec.inputs.size(); ++i) {
    const OpInput& in = spec.inputs[i];
    if (in.absent) {
      ins.push_back(nullptr);
    } else if (in.constant) {
      ins.push_back(b.graph->addConstant("in" + std::to_string(i), in.value));
    } else {
      ir::Value* v = b.graph->addValue("in" + std::to_string(i), in.value.dtype(), ir::shapeOf(in.value.dims()));
      b.graph->inputs.push_back(v);
      ins.push_back(v);
    }
  }
  std::vector<ir::Value*> outs;
  for (int i = 0; i < spec.numOutputs; ++i) outs.push_back(b.graph->addValue("out" + std::to_string(i)));
  b.node = b.graph->addNode(spec.op, spec.name, ins, outs);
  b.node->attrs = spec.attrs;
  for (ir::Value* o : outs) b.graph->outputs.push_back(o);
  ir::inferNode(*b.node);
  return b;
}

//! Runs a kernel made for `node` on tensors: constants come from the node's
//! (possibly prepacked) inputs, the others from `dynamic` by input position.
inline std::vector<ir::Tensor> runKernel(const cpu::Kernel& kernel, const ir::Node& node,
                                         const std::vector<OpInput>& dynamic, ThreadPool& pool) {
  std::vector<cpu::TensorView> in(node.inputs.size()), out(node.outputs.size());
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    const ir::Value* v = node.inputs[i];
    if (!v) continue;
    const ir::Tensor& t = v->isConstant() ? *v->constant : dynamic.at(i).value;
    in[i] = cpu::makeView(const_cast<void*>(t.data()), t.dtype(), t.dims());
  }
  std::vector<ir::Tensor> results;
  results.reserve(node.outputs.size());
  for (std::size_t i = 0; i < node.outputs.size(); ++i) {
    const ir::Value* v = node.outputs[i];
    results.emplace_back(v->dtype, ir::staticDims(v->shape));
    // Poison the output: a kernel must write every element.
    std::memset(results.back().mutableData(), 0xff, results.back().bytes());
    out[i] = cpu::makeView(results.back().mutableData(), v->dtype, results.back().dims());
  }
  // A poisoned workspace (NaN bytes) with a guard after it: kernels may not
  // rely on zeroed scratch nor write past what they asked for.
  const std::size_t ws = kernel.workspaceBytes(), guard = 256;
  std::vector<uint8_t> scratch(ws + guard + 64, 0xff);
  uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  std::memset(base + ws, 0xa5, guard);
  cpu::ExecContext ctx;
  ctx.pool = &pool;
  ctx.workspace = base;
  kernel.run(ctx, in.data(), out.data());
  for (std::size_t i = 0; i < guard; ++i)
    if (base[ws + i] != 0xa5) {
      ADD_FAILURE() << node.describe() << " (" << node.tactic << "): wrote past its workspace of " << ws << " bytes";
      break;
    }
  return results;
}

//! Builds the node, prepacks a copy of the graph when the tactic has a
//! prepack step, creates the kernel and runs it.
inline std::vector<ir::Tensor> runTactic(const OpSpec& spec, const std::string& tacticName, ThreadPool& pool) {
  const cpu::Tactic* tactic = cpu::tactics().find(tacticName);
  if (!tactic) throw Error("no tactic " + tacticName);
  BuiltGraph b = buildGraph(spec);
  if (!tactic->supports(*b.node)) throw Error(tacticName + " does not support " + b.node->describe());
  std::unique_ptr<ir::Graph> copy = b.graph->clone();
  ir::Node* node = copy->nodes().front().get();
  if (tactic->prepack) {
    tactic->prepack(*node, *copy);
    // Prepacking rewrites the copy only; and the packed node still infers.
    EXPECT_TRUE(tactic->supports(*node)) << tacticName << " declines its own prepacked node";
    ir::inferNode(*node);
  }
  node->tactic = tacticName;
  auto kernel = tactic->create(*node);
  return runKernel(*kernel, *node, spec.inputs, pool);
}

inline std::vector<ir::Tensor> runTactic(const OpSpec& spec, const std::string& tacticName) {
  ThreadPool pool(2);
  return runTactic(spec, tacticName, pool);
}

//! |got - want| <= atol + rtol * |want| everywhere (NaN never passes).
inline ::testing::AssertionResult near(const ir::Tensor& got, const ir::Tensor& want, float atol = 1e-5f,
                                       float rtol = 1e-4f) {
  if (got.dims() != want.dims())
    return ::testing::AssertionFailure() << "shape " << ir::toString(got.dims()) << " vs " << ir::toString(want.dims());
  if (got.dtype() != want.dtype()) return ::testing::AssertionFailure() << "dtypes differ";
  if (got.dtype() != DType::kFLOAT) {
    if (std::memcmp(got.data(), want.data(), got.bytes()) != 0) return ::testing::AssertionFailure() << "bytes differ";
    return ::testing::AssertionSuccess();
  }
  const float* g = got.as<float>();
  const float* w = want.as<float>();
  for (int64_t i = 0; i < got.numel(); ++i) {
    const float err = std::fabs(g[i] - w[i]);
    if (!(err <= atol + rtol * std::fabs(w[i])))
      return ::testing::AssertionFailure() << "element " << i << " of " << got.numel() << ": got " << g[i]
                                           << ", want " << w[i] << " (shape " << ir::toString(got.dims()) << ")";
  }
  return ::testing::AssertionSuccess();
}

//! Runs `nodes` in order, each with `tactic` (empty: the node's own tactic),
//! `input` holding `x`; returns `output`'s tensor. For graphs whose values
//! pass between kernels in layouts only those kernels read (oneDNN chains).
inline ir::Tensor runNodes(const std::vector<ir::Node*>& nodes, const ir::Value* input, const ir::Tensor& x,
                           const ir::Value* output, const std::string& tactic = "") {
  std::map<const ir::Value*, ir::Tensor> vals;
  vals.emplace(input, x);
  ThreadPool pool(2);
  for (const ir::Node* n : nodes) {
    auto kernel = cpu::tactics().find(tactic.empty() ? n->tactic : tactic)->create(*n);
    std::vector<cpu::TensorView> in;
    for (const ir::Value* v : n->inputs) {
      if (!v) {  // an absent optional input
        in.emplace_back();
        continue;
      }
      const ir::Tensor& t = v->isConstant() ? *v->constant : vals.at(v);
      in.push_back(cpu::makeView(const_cast<void*>(t.data()), t.dtype(), t.dims()));
    }
    ir::Tensor& y =
        vals.emplace(n->outputs[0], ir::Tensor(DType::kFLOAT, ir::staticDims(n->outputs[0]->shape))).first->second;
    cpu::TensorView out = cpu::makeView(y.mutableData(), DType::kFLOAT, y.dims());
    std::vector<uint8_t> ws(kernel->workspaceBytes() + 64);
    cpu::ExecContext ctx;
    ctx.pool = &pool;
    ctx.workspace = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(ws.data()) + 63) & ~uintptr_t{63});
    kernel->run(ctx, in.data(), &out);
  }
  return vals.at(output);
}

//! Reduced precision (the BF16 and FP16 tactics): max |got - want| <= 2e-2 *
//! range(want), the bound the engine and benchmark checks use (NaN never passes).
inline constexpr float kReducedRangeTolerance = 2e-2f;
inline ::testing::AssertionResult withinRange(const ir::Tensor& got, const ir::Tensor& want) {
  if (got.dims() != want.dims()) return ::testing::AssertionFailure() << "shapes differ";
  const float* g = got.as<float>();
  const float* w = want.as<float>();
  float lo = w[0], hi = w[0], worst = 0.f;
  for (int64_t i = 0; i < want.numel(); ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  int64_t at = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const float e = std::fabs(g[i] - w[i]);
    if (!(e <= worst)) {  // NaN lands here and stays the worst
      worst = std::isnan(e) ? INFINITY : e;
      at = i;
    }
  }
  const float bound = kReducedRangeTolerance * std::max(hi - lo, 1e-6f);
  if (worst <= bound) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max error " << worst << " at " << at << " (got " << g[at] << ", want "
                                       << w[at] << ") exceeds " << bound << " = 2e-2 of the range " << hi - lo;
}

inline ::testing::AssertionResult equals(const ir::Tensor& got, const std::vector<int64_t>& dims,
                                         const std::vector<float>& values, float atol = 1e-5f) {
  return near(got, floats(dims, values), atol, 0.f);
}

//! Every tactic of spec.op that supports the node and is not ".ref" is run
//! and compared with ".ref". Returns how many tactics were compared.
inline int compareWithRef(const OpSpec& spec, float atol = 1e-4f, float rtol = 1e-4f) {
  ThreadPool pool(2);
  BuiltGraph b = buildGraph(spec);
  const std::vector<ir::Tensor> want = runTactic(spec, spec.op + ".ref", pool);
  int compared = 0;
  for (const cpu::Tactic* t : cpu::tactics().forOp(spec.op)) {
    if (t->name == spec.op + ".ref" || !t->supports(*b.node)) continue;
    const std::vector<ir::Tensor> got = runTactic(spec, t->name, pool);
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(near(got[i], want[i], atol, rtol)) << t->name;
    ++compared;
  }
  return compared;
}

//! Expects `fn` to throw kiln::Error whose message contains `needle`.
template <typename Fn>
::testing::AssertionResult throwsWith(Fn&& fn, const std::string& needle) {
  try {
    fn();
  } catch (const Error& e) {
    if (std::string(e.what()).find(needle) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "message '" << e.what() << "' lacks '" << needle << "'";
  }
  return ::testing::AssertionFailure() << "no kiln::Error thrown (wanted '" << needle << "')";
}

//! Shape inference only: the output shape of a node with inputs of the given
//! (possibly symbolic) shapes; constants are given as tensors.
struct ShapeCase {
  std::string op;
  std::map<std::string, ir::Attribute> attrs;
  std::vector<ir::Shape> shapes;                    //!< dynamic inputs (empty optional => absent)
  std::map<std::size_t, ir::Tensor> constants;      //!< by input index
  int numOutputs = 1;
};

inline std::vector<ir::Shape> inferShapes(const ShapeCase& c, std::string name = "n") {
  ir::Graph g;
  std::vector<ir::Value*> ins;
  const std::size_t n = std::max(c.shapes.size(), c.constants.empty() ? 0 : c.constants.rbegin()->first + 1);
  for (std::size_t i = 0; i < n; ++i) {
    auto it = c.constants.find(i);
    if (it != c.constants.end()) {
      ins.push_back(g.addConstant(strCat("c", i), it->second));
    } else if (i < c.shapes.size() && !(c.shapes[i].size() == 1 && c.shapes[i][0].symbol == "<absent>")) {
      ins.push_back(g.addValue(strCat("x", i), DType::kFLOAT, c.shapes[i]));
    } else {
      ins.push_back(nullptr);
    }
  }
  std::vector<ir::Value*> outs;
  for (int i = 0; i < c.numOutputs; ++i) outs.push_back(g.addValue(strCat("y", i)));  // strCat: GCC 12 warns (-Wrestrict) on "y" + to_string here
  ir::Node* node = g.addNode(c.op, name, ins, outs);
  node->attrs = c.attrs;
  ir::inferNode(*node);
  std::vector<ir::Shape> result;
  for (ir::Value* o : outs) result.push_back(o->shape);
  return result;
}

//! Marks an absent optional input in ShapeCase::shapes.
inline ir::Shape absentShape() { return ir::Shape{ir::Dim(std::string("<absent>"))}; }

}  // namespace kiln::test
