// Constant folding and shape folding. In topological order, each node's
// shapes are re-inferred (so a Reshape whose shape input was just folded gets
// a static shape), then the node is replaced by constants when
//  - all its inputs are constants: it is run once through ctx.evaluate, or
//  - it is Shape / Size of a value whose dims are known, or a Gather of known
//    dims out of a Shape: the Shape -> Gather -> Concat -> Reshape chains that
//    PyTorch exports vanish for static shapes (and the Concat folds next).
// Skipped: random ops, nodes whose outputs nobody reads, nodes writing a graph
// output (an engine output is always computed), results over maxFoldBytes.
#include <algorithm>
#include <optional>
#include <unordered_set>

#include "core/error.h"
#include "ir/op_schema.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

bool isRandom(const std::string& op) {
  return op == "RandomNormal" || op == "RandomUniform" || op == "RandomNormalLike" || op == "RandomUniformLike" ||
         op == "Multinomial" || op == "Bernoulli";
}

//! The dims Shape(start, end) of a rank-`rank` value reports: [first, last).
std::pair<int64_t, int64_t> shapeRange(const ir::Node& shapeNode, int64_t rank) {
  auto clamp = [&](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + rank : i, 0, rank); };
  return {clamp(shapeNode.i("start", 0)), clamp(shapeNode.i("end", rank))};
}

//! Dims [first, last) of `s` when all are known.
std::optional<std::vector<int64_t>> knownDims(const ir::Shape& s, int64_t first, int64_t last) {
  std::vector<int64_t> dims;
  for (int64_t i = first; i < last; ++i) {
    if (!s[i].known()) return std::nullopt;
    dims.push_back(s[i].value);
  }
  return dims;
}

//! Gather(Shape(x), constant indices) picks dims of x; they may be known even
//! when other dims of x (the batch) are not.
std::optional<ir::Tensor> foldGatherOfShape(const ir::Node& n) {
  const ir::Node* shape = producerOf(n.input(0), "Shape");
  const ir::Value* indices = n.input(1);
  if (!shape || !indices || !indices->constant || n.i("axis", 0) != 0 || !shape->input(0)) return std::nullopt;
  const ir::Shape& s = shape->inputs[0]->shape;
  auto [first, last] = shapeRange(*shape, static_cast<int64_t>(s.size()));
  std::vector<int64_t> picked;
  for (int64_t idx : indices->constant->toInt64()) {
    if (idx < 0) idx += last - first;
    if (idx < 0 || idx >= last - first || !s[first + idx].known()) return std::nullopt;
    picked.push_back(s[first + idx].value);
  }
  return ir::Tensor::fromInt64(picked, indices->constant->dims());
}

//! Shape folding: the node's values computed from static dims alone.
std::optional<ir::Tensor> foldShape(const ir::Node& n) {
  const ir::Value* x = n.input(0);
  if (!x || n.outputs.size() != 1) return std::nullopt;
  if (n.op == "Gather") {
    const ir::Node* shape = producerOf(x, "Shape");
    if (shape && shape->input(0) && ir::dependsOnDataDependentShape(*shape->inputs[0])) return std::nullopt;
    return foldGatherOfShape(n);
  }
  // A data-dependent shape is only an upper bound until the graph runs.
  if ((n.op == "Size" || n.op == "Shape") && ir::dependsOnDataDependentShape(*x)) return std::nullopt;
  if (n.op == "Size") {
    if (!ir::isStatic(x->shape)) return std::nullopt;
    return ir::Tensor::fromInt64({ir::numElements(ir::staticDims(x->shape))}, {});
  }
  if (n.op == "Shape") {
    auto [first, last] = shapeRange(n, static_cast<int64_t>(x->shape.size()));
    std::optional<std::vector<int64_t>> dims = knownDims(x->shape, first, last);
    if (!dims) return std::nullopt;
    return ir::Tensor::fromInt64(*dims, {static_cast<int64_t>(dims->size())});
  }
  return std::nullopt;
}

bool allInputsConstant(const ir::Node& n) {
  for (const ir::Value* in : n.inputs)
    if (in && !in->constant) return false;
  return true;
}

//! Bytes of the node's outputs, or nullopt when a shape is not static.
std::optional<std::size_t> outputBytes(const ir::Node& n) {
  std::size_t bytes = 0;
  for (const ir::Value* o : n.outputs) {
    if (!o) continue;
    if (!ir::isStatic(o->shape)) return std::nullopt;
    bytes += static_cast<std::size_t>(ir::numElements(ir::staticDims(o->shape))) * dtypeSize(o->dtype);
  }
  return bytes;
}

//! Runs an all-constant node through ctx.evaluate; nullopt when it cannot.
std::optional<std::vector<ir::Tensor>> evaluate(const ir::Node& n, PassContext& ctx) {
  if (!ctx.evaluate || isRandom(n.op) || !allInputsConstant(n)) return std::nullopt;
  std::optional<std::size_t> bytes = outputBytes(n);
  if (!bytes || *bytes > ctx.maxFoldBytes) return std::nullopt;
  std::vector<const ir::Tensor*> inputs;
  for (const ir::Value* in : n.inputs) inputs.push_back(in ? in->constant.get() : nullptr);
  try {
    std::vector<ir::Tensor> out = ctx.evaluate(n, inputs);
    if (out.size() != n.outputs.size()) return std::nullopt;
    return out;
  } catch (const Error& e) {
    // Not an error of the model: the node simply runs at inference time.
    ctx.log.push_back(strCat("fold_constants: not folding ", n.describe(), ": ", e.what()));
    return std::nullopt;
  }
}

//! Whether some node reads an output and none is a graph output. `read` is
//! the set of values nodes read, taken once: folding a node only stops reads
//! of values made before it, which the walk has passed already.
bool worthFolding(const ir::Graph& g, const ir::Node& n, const std::unordered_set<const ir::Value*>& read) {
  bool used = false;
  for (const ir::Value* o : n.outputs) {
    if (o && g.isGraphOutput(o)) return false;
    used |= read.count(o) != 0;
  }
  return used;
}

}  // namespace

bool foldConstants(ir::Graph& graph, PassContext& ctx) {
  graph.topoSort();
  int folded = 0;
  std::unordered_set<const ir::Value*> read;
  for (const ir::Node* n : graph.nodeList()) read.insert(n->inputs.begin(), n->inputs.end());
  // A node is removed only while it is visited, so the snapshot stays valid.
  for (ir::Node* n : graph.nodeList()) {
    ir::inferNode(*n);
    if (!worthFolding(graph, *n, read)) continue;
    std::optional<std::vector<ir::Tensor>> values;
    if (std::optional<ir::Tensor> t = foldShape(*n)) {
      values.emplace();
      values->push_back(std::move(*t));
    } else {
      values = evaluate(*n, ctx);
    }
    if (!values) continue;
    for (std::size_t i = 0; i < n->outputs.size(); ++i) {
      ir::Value* v = n->outputs[i];
      if (!v) continue;
      v->dtype = (*values)[i].dtype();
      v->shape = ir::shapeOf((*values)[i].dims());
      v->constant = std::make_shared<const ir::Tensor>(std::move((*values)[i]));
    }
    graph.removeNode(n);
    ++folded;
  }
  if (folded) ctx.log.push_back(strCat("fold_constants: folded ", folded, " nodes"));
  return folded > 0;
}

}  // namespace kiln::passes
