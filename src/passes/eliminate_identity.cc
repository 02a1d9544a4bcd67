// Removes nodes that copy their input unchanged: Identity, inference Dropout,
// Cast to the type the input already has, Transpose by the identity
// permutation, and reshaping ops (Reshape, Flatten, Squeeze, Unsqueeze,
// Expand) whose output has the input's static shape. Readers of the output
// read the input instead; when the output is a graph output, the input's
// producer writes it directly, so the graph keeps its output names.
// A Transpose that only moves size-1 dims (its other dims keep their order:
// torch MHA's [1,S,E] -> [S,1,E] at batch 1) leaves every element where it
// was: it becomes a Reshape, which the memory plan aliases.
#include <optional>

#include "core/error.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

struct Copy {
  ir::Value* in;
  ir::Value* out;
};

bool isNoopReshape(const ir::Node& n) {
  static const char* const kOps[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand"};
  bool reshaping = false;
  for (const char* op : kOps) reshaping |= n.op == op;
  const ir::Value* in = n.input(0);
  const ir::Value* out = n.outputs[0];
  return reshaping && ir::isStatic(in->shape) && sameShape(in->shape, out->shape);
}

bool isNoopTranspose(const ir::Node& n) {
  if (n.op != "Transpose") return false;
  std::size_t rank = n.input(0)->shape.size();
  if (!n.has("perm")) return rank <= 1;  // the default reverses the axes
  std::vector<int64_t> perm = n.ints("perm");
  for (std::size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != static_cast<int64_t>(i)) return false;
  return true;
}

bool isInferenceDropout(const ir::Graph& g, const ir::Node& n) {
  if (n.op != "Dropout") return false;
  const ir::Value* training = n.input(2);
  if (training && !(training->constant && scalarConstant(training) == 0.f)) return false;
  return n.outputs.size() < 2 || !isUsed(g, n.outputs[1]);  // the mask must go unread
}

std::optional<Copy> matchCopy(const ir::Graph& g, const ir::Node& n) {
  if (n.outputs.empty() || !n.outputs[0] || !n.input(0)) return std::nullopt;
  Copy c{n.inputs[0], n.outputs[0]};
  if (c.in->dtype != c.out->dtype) return std::nullopt;
  bool copy =
      n.op == "Identity" || n.op == "Cast" || isInferenceDropout(g, n) || isNoopTranspose(n) || isNoopReshape(n);
  return copy ? std::optional<Copy>(c) : std::nullopt;
}

bool bypass(Rewriter& rw, ir::Node* n, const Copy& c) {
  ir::Graph& g = rw.graph;
  if (!g.isGraphOutput(c.out)) {
    g.replaceAllUses(c.out, c.in);
    rw.remove(n);
    return true;
  }
  // The output must keep its name: let the input's producer write it instead.
  ir::Node* p = c.in->producer;
  if (!p || g.isGraphOutput(c.in) || g.isGraphInput(c.in)) return false;
  g.replaceAllUses(c.in, c.out);
  for (std::size_t i = 0; i < p->outputs.size(); ++i)
    if (p->outputs[i] == c.in) redirectOutput(p, i, c.out);
  rw.remove(n);
  return true;
}

//! Whether Transpose `n` keeps the order of its input's static dims other than 1.
bool movesOnlyUnitDims(const ir::Node& n) {
  if (n.op != "Transpose" || !n.input(0) || n.outputs.size() != 1 || !n.has("perm")) return false;
  const ir::Shape& in = n.input(0)->shape;
  const std::vector<int64_t> perm = n.ints("perm");
  if (!ir::isStatic(in) || perm.size() != in.size()) return false;
  int64_t last = -1;
  for (int64_t a : perm) {
    if (a < 0 || a >= static_cast<int64_t>(in.size())) return false;
    if (in[static_cast<std::size_t>(a)].value == 1) continue;
    if (a < last) return false;
    last = a;
  }
  return true;
}

//! Turns such a Transpose into a Reshape to its output's shape.
void toReshape(ir::Graph& g, ir::Node* n) {
  const ir::Shape& in = n->inputs[0]->shape;
  std::vector<int64_t> dims;
  for (int64_t a : n->ints("perm")) dims.push_back(in[static_cast<std::size_t>(a)].value);
  n->op = "Reshape";
  n->attrs.clear();
  n->inputs.push_back(g.addConstant(g.uniqueName(n->name + "/shape"),
                                    ir::Tensor(DType::kINT64, {static_cast<int64_t>(dims.size())}, dims.data())));
}

}  // namespace

bool eliminateIdentity(ir::Graph& graph, PassContext& ctx) {
  Rewriter rw(graph);
  int reshaped = 0;
  int removed = rw.forEachNode([&](ir::Node* n) {
    std::optional<Copy> c = matchCopy(graph, *n);
    if (c) return bypass(rw, n, *c);
    if (movesOnlyUnitDims(*n)) {
      toReshape(graph, n);
      ++reshaped;
    }
    return false;
  });
  if (removed) ctx.log.push_back(strCat("eliminate_identity: removed ", removed, " nodes"));
  if (reshaped) ctx.log.push_back(strCat("eliminate_identity: ", reshaped, " Transposes of unit dims made Reshapes"));
  return removed + reshaped > 0;
}

}  // namespace kiln::passes
