// Moves a Transpose that only reorders rows (its last dim stays last) across
// the row-wise linear layers next to an attention, so fold_attention_views
// can make it part of the KilnAttention's views. torch's MultiheadAttention
// with batch_first (torchvision's ViT) at batch > 1:
//   x [B,S,E] -> Transpose(1,0,2) -> MatMul(in_proj) -> Add(bias) -> (heads)
//     becomes x -> MatMul -> Add -> Transpose -> (heads): sunk below each
//     MatMul by a 2-D constant and each elementwise op whose other operand
//     varies along the last dim only;
//   (heads) y -> [S*B,E] -> Gemm(out_proj) -> Reshape [S,B,E] -> Transpose(1,0,2)
//     becomes y -> Reshape [S,B,E] -> Transpose -> Reshape [B*S,E] -> Gemm ->
//     Reshape [B,S,E]: the Gemm (or MatMul by a 2-D constant) computes its
//     rows in the transposed order.
// A move only happens when the Transpose then meets a KilnAttention through
// layout ops alone (Reshape-likes, Transpose, Gather: what fold_attention_views
// follows); elsewhere moving it would only change which tensor is copied.
// Static shapes only (the hoist writes Reshape shapes).
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

bool isLayoutOp(const ir::Node* n) { return isRegroup(*n) || n->op == "Transpose" || n->op == "Gather"; }

//! Whether every path from `v` down through layout ops ends in an operand of a KilnAttention (or in a
//! dead end: the fusion leaves K^T's Transpose unread until eliminate_dead_code); `reached` counts the attentions.
bool onlyToAttentions(const ir::Graph& g, const ir::Value* v, int* reached, int depth = 0) {
  if (depth > 16 || g.isGraphOutput(v)) return false;
  for (const ir::Node* u : g.consumers(v)) {
    if (u->op == "KilnAttention") {
      for (std::size_t i = 3; i < u->inputs.size(); ++i)
        if (u->inputs[i] == v) return false;  // the mask: not a view
      ++*reached;
      continue;
    }
    if (!isLayoutOp(u) || u->inputs[0] != v || u->outputs.size() != 1 ||
        !onlyToAttentions(g, u->outputs[0], reached, depth + 1))
      return false;
  }
  return true;
}

bool feedsAttention(const ir::Graph& g, const ir::Value* v) {
  int reached = 0;
  return onlyToAttentions(g, v, &reached) && reached > 0;
}

//! Whether `v` comes from a KilnAttention's output through layout ops each read only by the next.
bool fromAttention(const ir::Graph& g, const ir::Value* v) {
  for (int depth = 0; depth < 16; ++depth) {
    const ir::Node* p = v->producer;
    if (!p) return false;
    if (p->op == "KilnAttention") return true;
    if (!isLayoutOp(p) || p->inputs.empty() || !soleConsumer(g, p->inputs[0])) return false;
    v = p->inputs[0];
  }
  return false;
}

//! Transpose's perm when it keeps the last dim last and its input's shape is static.
std::optional<std::vector<int64_t>> rowPerm(const ir::Node* t) {
  if (!t || t->op != "Transpose" || !t->input(0) || t->outputs.size() != 1 || !t->has("perm")) return std::nullopt;
  const std::vector<int64_t> perm = t->ints("perm");
  const std::size_t r = t->inputs[0]->shape.size();
  if (r < 2 || perm.size() != r || perm.back() != static_cast<int64_t>(r - 1) || !ir::isStatic(t->inputs[0]->shape))
    return std::nullopt;
  return perm;
}

bool isConst2d(const ir::Value* w) { return w && w->isConstant() && w->shape.size() == 2; }

//! Whether `c` varies along the last dim at most (broadcast over every other dim of a rank-`r` tensor).
bool lastDimOnly(const ir::Value* c, std::size_t r) {
  if (!c || c->shape.size() > r) return false;
  for (std::size_t i = 0; i + 1 < c->shape.size(); ++i)
    if (!c->shape[i].known() || c->shape[i].value != 1) return false;
  return true;
}

//! The row-wise op `n` reading Transpose output `v` that the Transpose can go below: the
//! index of `v` in its inputs, or -1.
int sinkable(const ir::Node* n, const ir::Value* v) {
  if (!n || n->outputs.size() != 1 || hasPrecisionPin(*n)) return -1;
  const std::size_t r = v->shape.size();
  if (n->op == "MatMul" && n->inputs.size() == 2 && n->inputs[0] == v && isConst2d(n->inputs[1])) return 0;
  if ((n->op == "Add" || n->op == "Sub" || n->op == "Mul" || n->op == "Div") && n->inputs.size() == 2) {
    for (int k = 0; k < 2; ++k)
      if (n->inputs[k] == v && n->inputs[1 - k] != v && lastDimOnly(n->inputs[1 - k], r)) return k;
  }
  return -1;
}

ir::Shape permuted(const ir::Shape& s, const std::vector<int64_t>& perm) {
  ir::Shape out;
  for (int64_t a : perm) out.push_back(s[static_cast<std::size_t>(a)]);
  return out;
}

ir::Shape unpermuted(const ir::Shape& s, const std::vector<int64_t>& perm) {
  ir::Shape out(s.size());
  for (std::size_t i = 0; i < perm.size(); ++i) out[static_cast<std::size_t>(perm[i])] = s[i];
  return out;
}

//! Sinks Transpose `t` below the row-wise ops after it, when it then feeds an attention.
bool sink(ir::Graph& g, ir::Node* t) {
  const std::optional<std::vector<int64_t>> perm = rowPerm(t);
  if (!perm) return false;
  // Dry run: how far it goes, and whether it then meets the attention.
  std::vector<ir::Node*> ops;
  const ir::Value* v = t->outputs[0];
  for (ir::Node* n = soleConsumer(g, v); n && sinkable(n, v) >= 0 && ir::isStatic(n->outputs[0]->shape);
       n = soleConsumer(g, v)) {
    ops.push_back(n);
    v = n->outputs[0];
    if (v->shape.size() != perm->size()) return false;  // a broadcast grew the rank
  }
  if (ops.empty() || !feedsAttention(g, v)) return false;
  for (ir::Node* n : ops) {
    ir::Value* tin = t->inputs[0];
    ir::Value* tout = t->outputs[0];
    ir::Value* out = n->outputs[0];
    n->inputs[static_cast<std::size_t>(sinkable(n, tout))] = tin;
    ir::Value* mid = g.addValue(g.uniqueName(out->name + "/rows"), out->dtype, unpermuted(out->shape, *perm));
    redirectOutput(n, 0, mid);
    t->inputs[0] = mid;
    redirectOutput(t, 0, out);
  }
  return true;
}

//! Transpose(Reshape(rows op(A))) -> Reshape(rows op(A with its rows transposed)), when A comes from an attention.
bool hoist(ir::Graph& g, Rewriter& rw, ir::Node* t) {
  const std::optional<std::vector<int64_t>> perm = rowPerm(t);
  if (!perm || !ir::isStatic(t->outputs[0]->shape)) return false;
  ir::Node* split = producerOf(t->inputs[0], "Reshape");
  if (!split || soleConsumer(g, t->inputs[0]) != t) return false;
  ir::Value* rows = split->inputs[0];
  ir::Node* op = producerOf(rows);
  if (!op || soleConsumer(g, rows) != split || hasPrecisionPin(*op)) return false;
  const bool gemm = op->op == "Gemm" && op->i("transA", 0) == 0 && op->inputs.size() >= 2 && isConst2d(op->inputs[1]) &&
                    (op->inputs.size() < 3 || !op->inputs[2] || lastDimOnly(op->inputs[2], 2));
  const bool matmul = op->op == "MatMul" && op->inputs.size() == 2 && isConst2d(op->inputs[1]);
  if (!gemm && !matmul) return false;
  ir::Value* a = op->inputs[0];
  const ir::Shape& u = t->inputs[0]->shape;  // [d0, ..., N]: the split rows
  if (a->shape.size() != 2 || rows->shape.size() != 2 || !ir::isStatic(a->shape) || !ir::isStatic(rows->shape) ||
      !sameDim(u.back(), rows->shape[1]) || !fromAttention(g, a))
    return false;
  int64_t m = 1;
  for (std::size_t i = 0; i + 1 < u.size(); ++i) m *= u[i].value;
  if (m != rows->shape[0].value) return false;
  // A's rows split as u's, transposed, merged again: the op then writes its rows in t's order.
  ir::Shape a3(u.begin(), u.end() - 1);
  a3.push_back(a->shape[1]);
  const std::string name = g.uniqueName(t->name + "/rows");
  ir::Value* split3 = reshapeTo(g, a, a3, name + "/split");
  ir::Value* tr = g.addValue(name, a->dtype, permuted(a3, *perm));
  g.addNode("Transpose", name, {split3}, {tr})->attrs["perm"] = *perm;
  op->inputs[0] = reshapeTo(g, tr, a->shape, name + "/merge");
  ir::Value* out = t->outputs[0];
  rw.remove(t);
  rw.remove(split);
  reshapeInto(g, rows, out, name + "/out");
  return true;
}

}  // namespace

bool moveRowTransposes(ir::Graph& graph, PassContext& ctx) {
  Rewriter rw(graph);
  int sunk = 0;
  int hoisted = rw.forEachNode([&](ir::Node* n) {
    if (n->op != "Transpose") return false;
    if (sink(graph, n)) {
      ++sunk;
      return false;
    }
    return hoist(graph, rw, n);
  });
  if (!sunk && !hoisted) return false;
  graph.topoSort();
  ctx.log.push_back(strCat("move_row_transposes: ", sunk, " Transposes sunk, ", hoisted, " hoisted next to attentions"));
  return true;
}

}  // namespace kiln::passes
