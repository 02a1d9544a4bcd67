#include "builder/device_layout.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "core/error.h"
#include "ir/op_schema.h"
#include "ir/ops/spatial.h"

namespace kiln::builder {
namespace {

// Layers whose output element i is a function of their inputs' elements i
// alone, so a Transpose commutes with them. Which inputs are such data: all
// of a binary op's (broadcasting; PRelu's slope too; every input of a fused
// elementwise chain, KilnFusedElementwise, whose steps are such ops), only
// input 0 of the others (Clip's min/max are scalars).
const std::set<std::string>& unaryOps() {
  static const std::set<std::string> ops = {
      "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Softplus",
      "Softsign", "Gelu", "Erf", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Clip", "Cast", "Identity",
      "Floor", "Ceil", "Round", "Sign", "Not", "KilnSilu"};
  return ops;
}
const std::set<std::string>& binaryOps() {
  static const std::set<std::string> ops = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Sum", "Mean", "PRelu",
                                            "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
                                            "And", "Or", "Xor", "KilnFusedElementwise"};
  return ops;
}
bool isPool(const std::string& op) { return op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool"; }

bool isPerm(const ir::Node& n, const std::vector<int64_t>& perm) {
  return n.op == "Transpose" && n.inputs.size() == 1 && n.ints("perm") == perm;
}
bool isIdentity(const std::vector<int64_t>& p) {
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] != static_cast<int64_t>(i)) return false;
  return true;
}

//! `t` transposed: out.dims[i] = t.dims[perm[i]] (any element size).
ir::Tensor permute(const ir::Tensor& t, const std::vector<int64_t>& perm) {
  const std::vector<int64_t>& in = t.dims();
  const std::size_t r = in.size();
  std::vector<int64_t> outDims(r), inStrides(r, 1);
  for (std::size_t i = r; i-- > 1;) inStrides[i - 1] = inStrides[i] * in[i];
  for (std::size_t i = 0; i < r; ++i) outDims[i] = in[perm[i]];
  ir::Tensor out(t.dtype(), outDims);
  const std::size_t es = dtypeSize(t.dtype());
  const auto* src = static_cast<const uint8_t*>(t.data());
  auto* dst = static_cast<uint8_t*>(out.mutableData());
  std::vector<int64_t> idx(r, 0);
  for (int64_t o = 0; o < out.numel(); ++o) {
    int64_t off = 0;
    for (std::size_t i = 0; i < r; ++i) off += idx[i] * inStrides[perm[i]];
    std::memcpy(dst + o * es, src + off * es, es);
    for (std::size_t i = r; i-- > 0;) {
      if (++idx[i] < outDims[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

ir::Shape permuteShape(const ir::Shape& s, const std::vector<int64_t>& perm) {
  ir::Shape out;
  for (int64_t p : perm) out.push_back(s[p]);
  return out;
}

std::vector<int64_t> inverse(const std::vector<int64_t>& p) {
  std::vector<int64_t> q(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) q[p[i]] = static_cast<int64_t>(i);
  return q;
}

class Rewriter {
 public:
  Rewriter(ir::Graph& g, const LayoutSupport& supported, LayoutResult& result)
      : g_(g), supported_(supported), result_(result) {
    const std::vector<ir::Node*> nodes = g.nodeList();
    for (std::size_t i = 0; i < nodes.size(); ++i) index_[nodes[i]] = i, names_.insert(nodes[i]->name);
  }

  //! `base`, or `base_2`, `base_3`, ... where a layer has that name (layers are named uniquely).
  std::string nodeName(const std::string& base) {
    std::string name = base;
    for (int k = 2; names_.count(name); ++k) name = strCat(base, "_", k);
    names_.insert(name);
    return name;
  }

  bool asked(const ir::Node* n) {
    auto it = index_.find(n);
    return it != index_.end() && supported_(it->second);
  }

  //! A Transpose `perm` of `v` (for Conv inputs: NCHW -> NHWC).
  ir::Value* transposed(ir::Value* v, const std::vector<int64_t>& perm, const std::string& base) {
    ir::Value* out = g_.addValue(v->name + "/nhwc", v->dtype, permuteShape(v->shape, perm));
    ir::Node* t = g_.addNode("Transpose", nodeName(base), {v}, {out});
    t->attrs["perm"] = perm;
    return out;
  }

  //! `n` writes output `k` in the permuted layout `inner`; a Transpose `perm`
  //! gives the original value back (its name and consumers unchanged).
  void transposeOutput(ir::Node& n, const std::vector<int64_t>& perm, const std::string& base, std::size_t k = 0) {
    ir::Value* y = n.outputs[k];
    ir::Value* inner = g_.addValue(y->name + "/nhwc", y->dtype, permuteShape(y->shape, inverse(perm)));
    n.outputs[k] = inner;
    inner->producer = &n;
    ir::Node* t = g_.addNode("Transpose", nodeName(base), {inner}, {y});
    t->attrs["perm"] = perm;
    y->producer = t;
  }

  void convertConv(ir::Node& n) {
    const std::size_t r = n.inputs[0]->shape.size();
    const std::vector<int64_t> toLast = ir::channelsLastPerm(r), toFirst = ir::channelsFirstPerm(r);
    ir::Value* x = n.inputs[0];
    n.inputs[0] = transposed(x, toLast, n.name + "/kiln_to_nhwc");
    ir::Value* w = n.inputs[1];
    n.inputs[1] = g_.addConstant(w->name + "/krsc", permute(*w->constant, toLast));
    if (n.input(3))
      n.inputs[3] = n.inputs[3] == x ? n.inputs[0] : transposed(n.inputs[3], toLast, n.name + "/kiln_residual_to_nhwc");
    transposeOutput(n, toFirst, n.name + "/kiln_to_nchw");
    n.attrs[ir::kLayoutAttr] = std::string("NHWC");
    ++result_.channelsLastLayers;
    result_.log.push_back(strCat("layout: ", n.describe(), " runs NHWC"));
  }

  //! Two Transposes in a row: the second reads the first's input with the
  //! composed perm, or is bypassed where that is the identity.
  bool fold(ir::Node& t2) {
    if (t2.op != "Transpose" || t2.inputs.size() != 1 || !t2.inputs[0]->producer) return false;
    ir::Node& t1 = *t2.inputs[0]->producer;
    if (t1.op != "Transpose" || !t1.has("perm") || !t2.has("perm")) return false;
    const std::vector<int64_t> p1 = t1.ints("perm"), p2 = t2.ints("perm");
    if (p1.size() != p2.size()) return false;
    std::vector<int64_t> q(p2.size());
    for (std::size_t i = 0; i < q.size(); ++i) q[i] = p1[p2[i]];
    ir::Value* x = t1.inputs[0];
    if (isIdentity(q) && !g_.isGraphOutput(t2.outputs[0])) {
      g_.replaceAllUses(t2.outputs[0], x);
      g_.removeNode(&t2);
      return true;
    }
    t2.inputs[0] = x;
    t2.attrs["perm"] = q;
    return true;
  }

  //! Which inputs of `n` are elementwise data (the ones a Transpose commutes with), or none.
  std::vector<std::size_t> dataInputs(const ir::Node& n) {
    if (binaryOps().count(n.op)) {
      std::vector<std::size_t> all;
      for (std::size_t j = 0; j < n.inputs.size(); ++j)
        if (n.inputs[j]) all.push_back(j);
      return all;
    }
    if (unaryOps().count(n.op) || isPool(n.op) || n.op == "Resize" || n.op == "Split") return {0};
    return {};
  }

  //! Resize works per axis (each output axis reads its own input axis), so it
  //! commutes with a Transpose once its per-axis inputs (roi, scales, sizes:
  //! constants) are reordered; not with `axes` or a keep-aspect-ratio policy.
  static bool resizeMovable(const ir::Node& n, std::size_t rank) {
    if (n.has("axes") || n.s("keep_aspect_ratio_policy", "stretch") != "stretch" || n.i("antialias", 0) != 0)
      return false;
    for (std::size_t j = 1; j < n.inputs.size(); ++j) {
      const ir::Value* v = n.inputs[j];
      if (!v) continue;
      if (!v->isConstant() || v->constant->dims().size() != 1) return false;
      const int64_t r = static_cast<int64_t>(rank), len = v->constant->numel(), want = j == 1 ? 2 * r : r;
      if (len != 0 && len != want) return false;
    }
    return true;
  }

  //! A per-axis 1-D constant (length rank, or 2 * rank for roi's starts then ends) for the axes `order`.
  static ir::Tensor reorderPerAxis(const ir::Tensor& t, const std::vector<int64_t>& order) {
    const std::size_t rank = order.size(), es = dtypeSize(t.dtype());
    ir::Tensor out(t.dtype(), t.dims());
    const auto* src = static_cast<const uint8_t*>(t.data());
    auto* dst = static_cast<uint8_t*>(out.mutableData());
    for (int64_t half = 0; half * static_cast<int64_t>(rank) < t.numel(); ++half)
      for (std::size_t j = 0; j < rank; ++j)
        std::memcpy(dst + (half * rank + j) * es, src + (half * rank + order[j]) * es, es);
    return out;
  }

  //! Pushes the NHWC -> NCHW Transpose `t` below its consumer `n` where the
  //! layout does not matter to `n` (or `n` has an NHWC form).
  bool push(ir::Node& t, ir::Node& n) {
    const std::vector<int64_t> perm = t.ints("perm");  // y = transpose(y', perm)
    const std::vector<int64_t> inv = inverse(perm);
    const std::size_t rank = perm.size();
    if (n.outputs.empty() || (n.outputs.size() != 1 && n.op != "Split")) return false;
    for (const ir::Value* y : n.outputs)  // a network output's Transpose could only move, never cancel
      if (!y || y->shape.size() != rank || g_.isGraphOutput(y)) return false;
    std::vector<std::size_t> data = n.op == "Concat" ? std::vector<std::size_t>{} : dataInputs(n);
    if (n.op == "Concat")
      for (std::size_t j = 0; j < n.inputs.size(); ++j) data.push_back(j);
    if (data.empty()) return false;
    if (isPool(n.op) && (ir::channelsLast(n) || !asked(&n))) return false;
    if (n.op == "Resize" && !resizeMovable(n, rank)) return false;
    // Every data input: the output of a Transpose of this perm, or a constant of rank <= `rank`.
    for (std::size_t j : data) {
      ir::Value* v = n.inputs[j];
      if (!v) return false;
      if (v->producer && isPerm(*v->producer, perm)) continue;
      if (v->isConstant() && !v->producer && v->shape.size() <= rank && n.op != "Concat" && !isPool(n.op)) continue;
      return false;
    }
    for (std::size_t j : data) {
      ir::Value* v = n.inputs[j];
      if (v->producer && isPerm(*v->producer, perm)) {
        n.inputs[j] = v->producer->inputs[0];
        continue;
      }
      std::vector<int64_t> dims = v->constant->dims();  // broadcast to `rank` (leading 1s), then permuted
      dims.insert(dims.begin(), rank - dims.size(), 1);
      ir::Tensor c(v->constant->dtype(), dims, v->constant->data());
      n.inputs[j] = g_.addConstant(v->name + "/nhwc", permute(c, inv));
    }
    if (n.op == "Resize")  // roi, scales, sizes: per axis of y, so per axis of y' = y's axes in `inv` order
      for (std::size_t j = 1; j < n.inputs.size(); ++j)
        if (n.inputs[j] && n.inputs[j]->constant->numel() > 0)
          n.inputs[j] = g_.addConstant(n.inputs[j]->name + "/nhwc", reorderPerAxis(*n.inputs[j]->constant, inv));
    if (n.op == "Concat" || n.op == "Split") {  // the same axis of y, as an axis of y'
      int64_t axis = n.i("axis", 0);
      if (axis < 0) axis += static_cast<int64_t>(rank);
      n.attrs["axis"] = perm[axis];
    }
    if (isPool(n.op)) {
      n.attrs[ir::kLayoutAttr] = std::string("NHWC");
      ++result_.channelsLastLayers;
      result_.log.push_back(strCat("layout: ", n.describe(), " runs NHWC"));
    }
    for (std::size_t k = 0; k < n.outputs.size(); ++k) transposeOutput(n, perm, n.name + "/kiln_to_nchw", k);
    return true;
  }

  //! One sweep over the graph (in topological order, so a Transpose pushed
  //! below a layer is met again further down); whether it changed anything.
  //! A fold that removes a node ends the sweep (the node list is stale then).
  bool sweep() {
    bool changed = false;
    for (ir::Node* n : g_.nodeList()) {
      const std::size_t before = g_.nodes().size();
      if (fold(*n)) {
        changed = true;
        if (g_.nodes().size() != before) return true;
      }
      if (n->op != "Transpose" || n->outputs.size() != 1) continue;
      const std::vector<int64_t> perm = n->ints("perm");
      if (perm.size() < 3 || perm != ir::channelsFirstPerm(perm.size())) continue;
      for (ir::Node* c : g_.consumers(n->outputs[0])) changed = push(*n, *c) || changed;
    }
    return changed;
  }

  //! Drops Transposes nothing reads any more.
  void removeDead() {
    bool again = true;
    while (again) {
      again = false;
      for (ir::Node* n : g_.nodeList()) {
        if (n->op != "Transpose" || g_.isGraphOutput(n->outputs[0]) || !g_.consumers(n->outputs[0]).empty()) continue;
        g_.removeNode(n);
        again = true;
      }
    }
  }

 private:
  ir::Graph& g_;
  const LayoutSupport& supported_;
  LayoutResult& result_;
  std::map<const ir::Node*, std::size_t> index_;
  std::set<std::string> names_;
};

}  // namespace

bool channelsLastCandidate(const ir::Node& n, const LayoutOptions& o) {
  if (ir::channelsLast(n) || n.outputs.size() != 1 || !n.outputs[0] || !n.input(0)) return false;
  const DType t = n.inputs[0]->dtype;
  if (!(t == DType::kHALF || t == DType::kBF16 || (o.fp32 && t == DType::kFLOAT))) return false;
  if (n.inputs[0]->shape.size() != 4) return false;
  if (n.op == "Conv")
    return n.input(1) && n.inputs[1]->isConstant() && n.inputs[1]->shape.size() == 4 && !n.has("kiln_packed");
  if (n.op == "MaxPool") return n.inputs.size() == 1;
  return n.op == "AveragePool" || n.op == "GlobalAveragePool";
}

LayoutTrial channelsLastTrial(const ir::Node& node) {
  LayoutTrial trial;
  trial.node.op = node.op;
  trial.node.name = node.name;
  trial.node.attrs = node.attrs;
  trial.node.attrs[ir::kLayoutAttr] = std::string("NHWC");
  auto copy = [&](const ir::Value* v, bool activation) -> ir::Value* {
    if (!v) return nullptr;
    trial.values.push_back(std::make_unique<ir::Value>(*v));
    ir::Value* c = trial.values.back().get();
    c->producer = nullptr;
    if (activation || (node.op == "Conv" && v == node.input(1))) c->shape = ir::toChannelsLast(v->shape);
    return c;
  };
  for (std::size_t j = 0; j < node.inputs.size(); ++j) {
    const bool activation = j == 0 || (node.op == "Conv" && j == 3);
    trial.node.inputs.push_back(copy(node.inputs[j], activation));
  }
  for (const ir::Value* v : node.outputs) trial.node.outputs.push_back(copy(v, true));
  return trial;
}

LayoutResult assignDeviceLayouts(ir::Graph& graph, const LayoutOptions& options, const LayoutSupport& supported) {
  LayoutResult result;
  Rewriter rw(graph, supported, result);
  for (ir::Node* n : graph.nodeList())
    if (n->op == "Conv" && channelsLastCandidate(*n, options) && rw.asked(n)) rw.convertConv(*n);
  if (result.channelsLastLayers == 0) return result;
  // Each sweep either folds two Transposes (one fewer Transpose node) or pushes
  // one below a layer (nearer the outputs): bounded, but capped to be safe.
  const std::size_t cap = 8 * graph.nodes().size() + 64;
  for (std::size_t i = 0; i < cap; ++i) {
    graph.topoSort();
    if (!rw.sweep()) break;
  }
  rw.removeDead();
  graph.topoSort();
  graph.removeUnusedValues();
  for (ir::Node* n : graph.nodeList())
    if (n->op == "Transpose" && (n->name.find("_to_nhwc") != std::string::npos ||
                                 n->name.find("_to_nchw") != std::string::npos))
      ++result.transposesRemaining;
  // Network outputs keep their shapes: the schemas (Conv's and the pools' NHWC forms) are the arbiter.
  std::map<const ir::Value*, ir::Shape> before;
  for (const ir::Value* v : graph.outputs) before[v] = v->shape;
  ir::inferGraph(graph);
  for (const ir::Value* v : graph.outputs)
    KILN_CHECK(before.at(v) == v->shape, "device layout: network output \"", v->name, "\" changed shape from ",
               ir::toString(before.at(v)), " to ", ir::toString(v->shape));
  return result;
}

}  // namespace kiln::builder
