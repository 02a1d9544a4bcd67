// Scaled dot-product attention written out in ops becomes one KilnAttention
// node (contract in ir/ops/kiln.cc), which a backend computes without
// writing the [B, H, Sq, Sk] scores and probabilities to memory:
//
//   MatMul(Q, Kt) -> [Mul | Div by a scalar constant] -> [Add(mask)]
//     -> Softmax(last axis) -> MatMul(., V)
//
// and the SDPA export form (torch's scaled_dot_product_attention, as
// torchvision's ViT writes it), where Q and Kt are each multiplied by
// sqrt(scale) before the first MatMul. The scale of the node is the product
// of every scalar factor found.
//
// K for the node (not transposed) comes from Kt:
//   - Kt = Transpose(K') swapping the last two dims: K = K';
//   - Kt = Transpose(X, perm 0,2,3,1) of X [B, S, H, D] (BERT's export):
//     K = Transpose(X, perm 0,2,1,3), one transpose as Q's and V's;
//   - otherwise a Transpose swapping Kt's last two dims is inserted.
//
// Every intermediate (scores, scaled, masked, probabilities, scaled Q / Kt)
// must have its one reader in the pattern. Q, Kt and V must share rank 3 or 4
// and their leading dims exactly (MatMul's batch broadcasting is not part of
// the contract); the mask must broadcast to the scores without growing them.
// Only float32 graphs are fused (the CPU kernel's type; CUDA's precision pass
// retypes the fused node later). The pass runs only where the target backend
// has a KilnAttention kernel (PassContext::attentionFusion).
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

struct Match {
  ir::Value* q = nullptr;
  ir::Value* kt = nullptr;  //!< the first MatMul's B, past any scalar factor
  ir::Value* v = nullptr;
  ir::Value* mask = nullptr;
  float scale = 1.f;
  std::vector<ir::Node*> nodes;  //!< everything the KilnAttention replaces
  ir::Value* out = nullptr;
};

//! For Mul(x, c) / Mul(c, x) / Div(x, c) with c a scalar constant: x, and the
//! factor it is multiplied by.
std::optional<std::pair<ir::Value*, float>> scaledBy(const ir::Node* n) {
  if (!n || n->inputs.size() != 2 || !n->inputs[0] || !n->inputs[1] || n->outputs.size() != 1) return std::nullopt;
  std::optional<std::pair<ir::Value*, float>> r;
  if (n->op == "Mul") {
    if (auto c = scalarConstant(n->inputs[1]); c && !n->inputs[0]->isConstant()) r = std::pair{n->inputs[0], *c};
    else if (auto c0 = scalarConstant(n->inputs[0]); c0 && !n->inputs[1]->isConstant()) r = std::pair{n->inputs[1], *c0};
  } else if (n->op == "Div") {
    if (auto c = scalarConstant(n->inputs[1]); c && *c != 0.f && !n->inputs[0]->isConstant())
      r = std::pair{n->inputs[0], 1.f / *c};
  }
  // A one-element factor of higher rank would add dims: not a plain scale.
  if (r && !sameShape(r->first->shape, n->outputs[0]->shape)) return std::nullopt;
  return r;
}

//! Strips a scalar factor off the MatMul operand `x` (the SDPA form), when
//! the factor's node has the MatMul as its one reader.
ir::Value* unscale(const ir::Graph& g, ir::Value* x, const ir::Node* matmul, Match* m) {
  ir::Node* p = producerOf(x);
  if (!p || soleConsumer(g, x) != matmul) return x;
  auto s = scaledBy(p);
  if (!s) return x;
  m->scale *= s->second;
  m->nodes.push_back(p);
  return s->first;
}

bool isPlainMatMul(const ir::Node* n) { return n && n->op == "MatMul" && n->inputs.size() == 2 && !n->has("kiln_act"); }

//! Whether the ranks and leading dims of Q, Kt and V fit the contract.
bool shapesFit(const Match& m) {
  const ir::Shape &q = m.q->shape, &kt = m.kt->shape, &v = m.v->shape;
  const std::size_t r = q.size();
  if ((r != 3 && r != 4) || kt.size() != r || v.size() != r) return false;
  for (std::size_t i = 0; i + 2 < r; ++i)
    if (!sameDim(q[i], kt[i]) || !sameDim(q[i], v[i])) return false;
  return sameDim(q[r - 1], kt[r - 2]) && sameDim(kt[r - 1], v[r - 2]);
}

//! From `x`, read only by `reader`: [scale] <- MatMul(Q, Kt), filling the
//! rest of `m`; false when it is not there or the shapes do not fit.
bool matchScores(const ir::Graph& g, ir::Value* x, const ir::Node* reader, Match* m, std::string* qkName) {
  if (soleConsumer(g, x) != reader) return false;
  if (ir::Node* p = producerOf(x); p && p->op != "MatMul") {
    auto s = scaledBy(p);
    if (!s) return false;
    m->scale *= s->second;
    m->nodes.push_back(p);
    x = s->first;
    if (soleConsumer(g, x) != p) return false;
  }
  ir::Node* qk = producerOf(x, "MatMul");
  if (!isPlainMatMul(qk)) return false;
  m->nodes.push_back(qk);
  *qkName = qk->name;
  m->q = unscale(g, qk->inputs[0], qk, m);
  m->kt = unscale(g, qk->inputs[1], qk, m);
  for (const ir::Value* t : {m->q, m->kt, m->v, m->mask, m->out})
    if (t && t->dtype != DType::kFLOAT) return false;
  return shapesFit(*m);
}

//! The pattern ending in the Softmax `sm`.
std::optional<Match> matchAt(const ir::Graph& g, ir::Node* sm, std::string* qkName) {
  if (sm->inputs.size() != 1 || !sm->inputs[0]) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(sm->inputs[0]->shape.size());
  const int64_t axis = sm->i("axis", -1);
  if (rank == 0 || (axis != -1 && axis != rank - 1)) return std::nullopt;
  ir::Node* pv = soleConsumer(g, sm->outputs[0]);
  if (!isPlainMatMul(pv) || pv->inputs[0] != sm->outputs[0]) return std::nullopt;

  Match base;
  base.v = pv->inputs[1];
  base.out = pv->outputs[0];
  base.nodes = {sm, pv};
  // Walk up from the Softmax: [Add(mask)] <- [scale] <- MatMul, each value
  // read only by the node below it.
  ir::Value* x = sm->inputs[0];
  if (soleConsumer(g, x) != sm) return std::nullopt;
  ir::Node* add = producerOf(x, "Add");
  if (!add || add->inputs.size() != 2) {
    if (matchScores(g, x, sm, &base, qkName)) return base;
    return std::nullopt;
  }
  for (int k = 0; k < 2; ++k) {  // either side of the Add may be the scores
    ir::Value *scores = add->inputs[k], *mask = add->inputs[1 - k];
    // The mask must not broadcast the scores up: the Add keeps their shape.
    if (!scores || !mask || !sameShape(scores->shape, x->shape) || !broadcastsTo(mask->shape, x->shape)) continue;
    Match m = base;
    m.mask = mask;
    m.nodes.push_back(add);
    if (matchScores(g, scores, add, &m, qkName)) return m;
  }
  return std::nullopt;
}

//! Whether `perm` swaps the last two axes and keeps the others.
bool swapsLastTwo(const std::vector<int64_t>& perm) {
  const std::size_t r = perm.size();
  if (r < 2) return false;
  for (std::size_t i = 0; i + 2 < r; ++i)
    if (perm[i] != static_cast<int64_t>(i)) return false;
  return perm[r - 2] == static_cast<int64_t>(r - 1) && perm[r - 1] == static_cast<int64_t>(r - 2);
}

//! A Transpose of `x` by `perm` appended to the graph; its output value.
ir::Value* addTranspose(ir::Graph& g, ir::Value* x, std::vector<int64_t> perm, const std::string& name) {
  ir::Shape shape;
  if (x->shape.size() == perm.size())
    for (int64_t a : perm) shape.push_back(x->shape[static_cast<std::size_t>(a)]);
  ir::Value* y = g.addValue(name, x->dtype, shape);
  ir::Node* t = g.addNode("Transpose", name, {x}, {y});
  t->attrs["perm"] = std::move(perm);
  return y;
}

//! K [B..., Sk, D] from Kt [B..., D, Sk] (see the header comment).
ir::Value* untransposedK(ir::Graph& g, ir::Value* kt, const std::string& name) {
  if (ir::Node* t = producerOf(kt, "Transpose")) {
    const std::vector<int64_t> perm = t->ints("perm");
    if (swapsLastTwo(perm)) return t->inputs[0];
    if (perm == std::vector<int64_t>{0, 2, 3, 1} && t->inputs[0]->shape.size() == 4)
      return addTranspose(g, t->inputs[0], {0, 2, 1, 3}, name);
  }
  std::vector<int64_t> perm(kt->shape.size());
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
  std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
  return addTranspose(g, kt, std::move(perm), name);
}

}  // namespace

bool fuseAttention(ir::Graph& graph, PassContext& ctx) {
  if (!ctx.attentionFusion) return false;
  Rewriter rw(graph);
  int fused = rw.forEachNode([&](ir::Node* n) {
    if (n->op != "Softmax") return false;
    std::string qkName;
    std::optional<Match> m = matchAt(graph, n, &qkName);
    if (!m) return false;
    // A layer the user gave a precision (ILayer::setPrecision / setOutputType:
    // builder/device_precision.h's attributes) keeps its own node, so the
    // constraint still has a layer to hold it.
    for (const ir::Node* r : m->nodes)
      if (hasPrecisionPin(*r)) return false;
    const std::string name = qkName + "/attention";
    ir::Value* k = untransposedK(graph, m->kt, name + "/k");
    for (ir::Node* r : m->nodes) rw.remove(r);
    std::vector<ir::Value*> inputs = {m->q, k, m->v};
    if (m->mask) inputs.push_back(m->mask);
    ir::Node* attn = graph.addNode("KilnAttention", name, inputs, {m->out});
    attn->attrs["scale"] = m->scale;
    return true;
  });
  if (!fused) return false;
  graph.topoSort();  // the new nodes were appended
  ctx.log.push_back(strCat("fuse_attention: fused ", fused, " attention patterns"));
  return true;
}

}  // namespace kiln::passes
