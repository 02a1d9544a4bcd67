// The head split / merge around a KilnAttention (ir/ops/kiln.cc) becomes part
// of the attention: Q, K and V are read straight from the projections' layout
// and y is written in the next op's, through the node's views
// (ir/ops/attention_view.h), so the Transposes and Gathers of the export
// forms, each a full copy of the activation, disappear:
//   - BERT (HF): X [B,S,H,D] -> Transpose(0,2,1,3) -> Q, K, V; y ->
//     Transpose(0,2,1,3) -> [B,S,H,D] (then a free Reshape to [B,S,E]);
//   - torch's MultiheadAttention (torchvision's ViT): the packed in_proj
//     output [S,B,3E] -> Reshape/Unsqueeze -> Transpose -> Squeeze ->
//     Gather i -> Reshape [S,B*H,D] -> Transpose -> Reshape [B,H,S,D]: q, k
//     and v are one view each of [S,B,3,H,D] (select index i on dim 2, perm
//     1,2,0,3); y [B,H,S,D] -> Transpose(2,0,1,3) -> [S,B,H,D].
// Each operand's dims are followed as runs of the attention's logical dims
// ("atoms") through Transpose, Gather of a scalar constant index (one per
// operand: the select) and the ops that only regroup dims in row-major order
// (Reshape, Flatten, Squeeze, Unsqueeze: free, they alias). The walk stops
// at the input of the topmost copying op (Transpose, Gather); when that
// value's dims are not single atoms a Reshape to the atoms (free; one per
// value, shared by Q, K and V) is put in front. A layout op another node
// still reads stays for it (so this never adds a copy) and dead ones go
// with eliminate_dead_code. y's chain is absorbed only through ops the
// attention's output is the only reader of, up to the last Transpose; a
// Reshape from the atoms' layout to the chain's shape follows where needed.
// A chain that splits one logical dim, mixes the head dim with others or
// needs sizes that are unknown is left as it is.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "ir/ops/attention_view.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

using Groups = std::vector<std::vector<int>>;  //!< per dim of a value: the atoms it is, outer first

struct Atoms {
  std::vector<ir::Dim> size;  //!< atoms 0..r-1: the logical dims; r: the select's dim, if any
  int select = -1;
  int64_t selectIndex = 0;
  bool isOne(int a) const { return size[static_cast<std::size_t>(a)].known() && size[static_cast<std::size_t>(a)].value == 1; }
};

//! The atoms of `groups` in order, outer first.
std::vector<int> flatten(const Groups& groups) {
  std::vector<int> seq;
  for (const auto& g : groups) seq.insert(seq.end(), g.begin(), g.end());
  return seq;
}

//! `seq` (atoms in row-major order) split into the dims of `shape`; nullopt
//! when a dim does not end on an atom boundary or its size cannot be told.
std::optional<Groups> regroup(const Atoms& atoms, const std::vector<int>& seq, const ir::Shape& shape) {
  Groups out;
  std::size_t next = 0;
  for (const ir::Dim& d : shape) {
    std::vector<int> g;
    if (d.known() && d.value == 1) {
      if (next < seq.size() && atoms.isOne(seq[next])) g.push_back(seq[next++]);
    } else if (!d.known()) {  // one atom of that same unknown size
      if (next >= seq.size() || !sameDim(atoms.size[static_cast<std::size_t>(seq[next])], d)) return std::nullopt;
      g.push_back(seq[next++]);
    } else {
      int64_t product = 1;
      while (product < d.value && next < seq.size()) {
        const ir::Dim& a = atoms.size[static_cast<std::size_t>(seq[next])];
        if (!a.known()) return std::nullopt;
        product *= a.value;
        g.push_back(seq[next++]);
      }
      if (product != d.value) return std::nullopt;
    }
    out.push_back(std::move(g));
  }
  // Only size-1 atoms may be left over (placed freely later).
  for (; next < seq.size(); ++next)
    if (!atoms.isOne(seq[next])) return std::nullopt;
  return out;
}

//! Transpose's perm (empty: reversed dims).
std::vector<int64_t> permOf(const ir::Node* t, std::size_t rank) {
  std::vector<int64_t> perm = t->ints("perm");
  if (perm.empty())
    for (std::size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  return perm;
}

//! The layout the attention reads (or writes) in: one dim per atom, in the order of the
//! value with `groups` (so a Reshape turns one into the other), plus the size-1 logical
//! atoms no dim holds, just before the last (the head dim).
std::vector<int> layoutOf(const Atoms& atoms, const Groups& groups, int rank) {
  std::vector<int> list = flatten(groups);
  std::vector<bool> placed(atoms.size.size(), false);
  for (int a : list) placed[static_cast<std::size_t>(a)] = true;
  for (int a = 0; a < rank; ++a)
    if (!placed[static_cast<std::size_t>(a)]) list.insert(list.end() - (list.empty() ? 0 : 1), a);
  return list;
}

//! Whether `groups` is one atom per dim, all of `layout`: the value needs no Reshape.
bool oneAtomPerDim(const Groups& groups, const std::vector<int>& layout) {
  if (groups.size() != layout.size()) return false;
  for (std::size_t i = 0; i < groups.size(); ++i)
    if (groups[i].size() != 1 || groups[i][0] != layout[i]) return false;
  return true;
}

//! The ONNX Reshape spec from `from` (dims `groups`) to the atoms of `layout`: static sizes,
//! 0 where an unknown atom is `from`'s dim at the same index; nullopt when that is not enough.
std::optional<std::vector<int64_t>> reshapeSpec(const Atoms& atoms, const Groups& groups, const std::vector<int>& layout) {
  std::vector<int64_t> spec;
  for (std::size_t i = 0; i < layout.size(); ++i) {
    const ir::Dim& d = atoms.size[static_cast<std::size_t>(layout[i])];
    if (d.known()) spec.push_back(d.value);
    else if (i < groups.size() && groups[i] == std::vector<int>{layout[i]}) spec.push_back(0);
    else return std::nullopt;
  }
  return spec;
}

ir::Shape layoutShape(const Atoms& atoms, const std::vector<int>& layout) {
  ir::Shape s;
  for (int a : layout) s.push_back(atoms.size[static_cast<std::size_t>(a)]);
  return s;
}

struct InputView {
  ir::Value* source = nullptr;  //!< the topmost copying op's input
  Groups groups;
  Atoms atoms;
};

//! Follows operand `x` (logical rank r) up through layout ops; nullopt when no copying op is on the way.
std::optional<InputView> walkUp(const ir::Graph& g, ir::Value* x) {
  const int r = static_cast<int>(x->shape.size());
  InputView cur;
  cur.source = x;
  cur.atoms.size = x->shape;
  for (int i = 0; i < r; ++i) cur.groups.push_back({i});
  std::optional<InputView> best;
  for (ir::Node* p = producerOf(x); p && !hasPrecisionPin(*p) && !p->inputs.empty() && p->inputs[0]; p = producerOf(cur.source)) {
    ir::Value* in = p->inputs[0];
    InputView up = cur;
    up.source = in;
    if (p->op == "Transpose") {
      const std::vector<int64_t> perm = permOf(p, cur.groups.size());
      if (perm.size() != cur.groups.size() || in->shape.size() != perm.size()) break;
      up.groups.assign(perm.size(), {});
      for (std::size_t i = 0; i < perm.size(); ++i) up.groups[static_cast<std::size_t>(perm[i])] = cur.groups[i];
    } else if (p->op == "Gather") {
      const ir::Value* idx = p->input(1);
      if (cur.atoms.select >= 0 || !idx || !idx->constant || !idx->shape.empty() || in->shape.empty()) break;
      const int64_t rank = static_cast<int64_t>(in->shape.size());
      int64_t axis = p->i("axis", 0);
      if (axis < 0) axis += rank;
      if (axis < 0 || axis >= rank || !in->shape[static_cast<std::size_t>(axis)].known()) break;
      const ir::Dim& n = in->shape[static_cast<std::size_t>(axis)];
      int64_t index = static_cast<int64_t>(idx->constant->toFloat()[0]);
      if (index < 0) index += n.value;
      if (index < 0 || index >= n.value) break;
      up.atoms.select = static_cast<int>(up.atoms.size.size());
      up.atoms.size.push_back(n);
      up.atoms.selectIndex = index;
      up.groups.insert(up.groups.begin() + axis, std::vector<int>{up.atoms.select});
    } else if (isRegroup(*p)) {
      std::optional<Groups> gr = regroup(cur.atoms, flatten(cur.groups), in->shape);
      if (!gr) break;
      up.groups = std::move(*gr);
    } else {
      break;
    }
    cur = std::move(up);
    if (p->op == "Transpose" || p->op == "Gather") best = cur;
  }
  return best;
}

struct Fold {
  int operands = 0, outputs = 0;
  std::map<std::pair<ir::Value*, std::vector<int64_t>>, ir::Value*> reshapes;  //!< shared by Q, K, V
};

//! Rewires operand `i` (which: "q", "k", "v") of `attn` to read its chain's source through a view.
bool foldInput(ir::Graph& g, ir::Node* attn, std::size_t i, const char* which, Fold& fold) {
  ir::Value* x = attn->inputs[i];
  const int r = static_cast<int>(x->shape.size());
  std::optional<InputView> w = walkUp(g, x);
  if (!w) return false;
  const std::vector<int> layout = layoutOf(w->atoms, w->groups, r);
  if (static_cast<int>(layout.size()) != r + (w->atoms.select >= 0 ? 1 : 0)) return false;  // an atom went missing
  ir::Value* src = w->source;
  if (!oneAtomPerDim(w->groups, layout)) {
    std::optional<std::vector<int64_t>> spec = reshapeSpec(w->atoms, w->groups, layout);
    if (!spec) return false;
    ir::Value*& reshaped = fold.reshapes[{src, *spec}];
    if (!reshaped) {
      const std::string name = g.uniqueName(src->name + "/heads");
      ir::Value* shape = g.addConstant(name + "/shape", ir::Tensor(DType::kINT64, {static_cast<int64_t>(spec->size())},
                                                                    spec->data()));
      reshaped = g.addValue(name, src->dtype, layoutShape(w->atoms, layout));
      g.addNode("Reshape", name, {src, shape}, {reshaped});
    }
    src = reshaped;
  }
  ir::AttentionView view;
  std::vector<int> kept;
  for (std::size_t a = 0; a < layout.size(); ++a) {
    if (layout[a] == w->atoms.select) {
      view.selectAxis = static_cast<int64_t>(a);
      view.selectIndex = w->atoms.selectIndex;
    } else {
      kept.push_back(layout[a]);
    }
  }
  view.perm.assign(static_cast<std::size_t>(r), -1);
  for (std::size_t k = 0; k < kept.size(); ++k)
    if (kept[k] < r) view.perm[static_cast<std::size_t>(kept[k])] = static_cast<int64_t>(k);
  std::string why;
  if (attentionViewAxes(view, static_cast<int>(layout.size()), &why).empty()) return false;  // e.g. head dim not last
  attn->inputs[i] = src;
  attn->attrs[std::string(which) + "_perm"] = view.perm;
  if (view.selectAxis >= 0) attn->attrs[std::string(which) + "_select"] = std::vector<int64_t>{view.selectAxis, view.selectIndex};
  ++fold.operands;
  return true;
}

//! Makes `attn` write y's chain's last Transpose output (or what a Reshape turns into it) through y's view.
bool foldOutput(ir::Graph& g, Rewriter& rw, ir::Node* attn, Fold& fold) {
  ir::Value* y = attn->outputs[0];
  const int r = static_cast<int>(y->shape.size());
  Atoms atoms;
  atoms.size = y->shape;
  Groups groups;
  for (int i = 0; i < r; ++i) groups.push_back({i});
  std::vector<ir::Node*> chain, best;
  Groups bestGroups;
  ir::Value* cur = y;
  for (ir::Node* n = soleConsumer(g, cur); n && !hasPrecisionPin(*n) && n->inputs[0] == cur && n->outputs.size() == 1;
       n = soleConsumer(g, cur)) {
    ir::Value* out = n->outputs[0];
    if (n->op == "Transpose") {
      const std::vector<int64_t> perm = permOf(n, groups.size());
      if (perm.size() != groups.size()) break;
      Groups next;
      for (int64_t p : perm) next.push_back(groups[static_cast<std::size_t>(p)]);
      groups = std::move(next);
    } else if (isRegroup(*n)) {
      std::optional<Groups> gr = regroup(atoms, flatten(groups), out->shape);
      if (!gr) break;
      groups = std::move(*gr);
    } else {
      break;
    }
    chain.push_back(n);
    cur = out;
    if (n->op == "Transpose") {
      best = chain;
      bestGroups = groups;
    }
  }
  if (best.empty()) return false;
  ir::Value* z = best.back()->outputs[0];
  const std::vector<int> layout = layoutOf(atoms, bestGroups, r);
  if (static_cast<int>(layout.size()) != r) return false;
  ir::AttentionView view;
  view.perm.assign(static_cast<std::size_t>(r), -1);
  for (std::size_t k = 0; k < layout.size(); ++k) view.perm[static_cast<std::size_t>(layout[k])] = static_cast<int64_t>(k);
  std::string why;
  if (attentionViewAxes(view, r, &why).empty()) return false;
  const bool direct = oneAtomPerDim(bestGroups, layout);
  if (!direct && !ir::isStatic(z->shape)) return false;
  // The chain's nodes go; y's old value with them.
  for (ir::Node* n : best) rw.remove(n);
  if (direct) {
    redirectOutput(attn, 0, z);
  } else {
    const std::string name = g.uniqueName(z->name + "/heads");
    ir::Value* ya = g.addValue(name, y->dtype, layoutShape(atoms, layout));
    redirectOutput(attn, 0, ya);
    const std::vector<int64_t> dims = ir::staticDims(z->shape);
    ir::Value* shape = g.addConstant(name + "/shape", ir::Tensor(DType::kINT64, {static_cast<int64_t>(dims.size())},
                                                                  dims.data()));
    g.addNode("Reshape", name, {ya, shape}, {z});
  }
  attn->attrs["y_perm"] = view.perm;
  ++fold.outputs;
  return true;
}

bool hasViews(const ir::Node* n) {
  for (const char* a : {"q_perm", "k_perm", "v_perm", "y_perm", "q_select", "k_select", "v_select"})
    if (n->has(a)) return true;
  return false;
}

}  // namespace

bool foldAttentionViews(ir::Graph& graph, PassContext& ctx) {
  Rewriter rw(graph);
  Fold fold;
  int changed = rw.forEachNode([&](ir::Node* n) {
    if (n->op != "KilnAttention" || n->inputs.size() < 3 || n->outputs.size() != 1 || hasViews(n)) return false;
    for (std::size_t i = 0; i < 3; ++i)
      if (!n->inputs[i]) return false;
    bool any = false;
    const char* names[] = {"q", "k", "v"};
    for (std::size_t i = 0; i < 3; ++i) any |= foldInput(graph, n, i, names[i], fold);
    any |= foldOutput(graph, rw, n, fold);
    return any;
  });
  if (!changed) return false;
  graph.topoSort();  // the Reshapes were appended
  ctx.log.push_back(strCat("fold_attention_views: ", fold.operands, " operands and ", fold.outputs,
                           " outputs of ", changed, " attentions read / written through views"));
  return true;
}

}  // namespace kiln::passes
