// GELU written out in elementwise ops becomes one Gelu node, which
// fuse_bias_activation then folds into a preceding Conv / Gemm / MatMul and
// the CPU computes with its vector math (ukernels/vmath.h) instead of
// five to eight memory passes:
//   erf form:  x * 0.5 * (1 + Erf(x / sqrt2))                          -> Gelu
//   tanh form: x * 0.5 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))  -> Gelu(approximate = "tanh")
// with x / sqrt2 also as x * 0.7071, x^3 as Pow(x, 3), and the final
// product in the orders exporters write: (x * a) * 0.5, (x * 0.5) * a,
// x * (a * 0.5), where a = 1 + Erf(..) / 1 + Tanh(..). Every value inside the
// pattern must have its one reader there (x may have others).
#include <optional>
#include <vector>

#include "core/error.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

struct Match {
  ir::Value* x = nullptr;
  std::vector<ir::Node*> nodes;  //!< everything the Gelu replaces
  ir::Value* out = nullptr;
  bool tanh = false;
};

//! The other input of a binary node `n` when one input is the scalar `c`.
ir::Value* byScalar(const ir::Node* n, float c) {
  if (!n || n->inputs.size() != 2) return nullptr;
  if (isScalar(n->inputs[1], c)) return n->inputs[0];
  if (isScalar(n->inputs[0], c)) return n->inputs[1];
  return nullptr;
}

//! From `add` (a = 1 + f(..)), the product x * 0.5 * a in one of its orders.
bool matchTail(const ir::Graph& g, ir::Node* add, Match* m) {
  ir::Value* a = add->outputs[0];
  ir::Node* ca = soleConsumer(g, a, "Mul");
  if (!ca) return false;
  ir::Value* other = otherInput(ca, a);
  if (other == m->x) {  // (x * a) * 0.5
    ir::Node* half = soleConsumer(g, ca->outputs[0], "Mul");
    if (!half || byScalar(half, 0.5f) != ca->outputs[0]) return false;
    m->nodes.insert(m->nodes.end(), {ca, half});
    m->out = half->outputs[0];
    return true;
  }
  if (ir::Node* hx = producerOf(other, "Mul"); hx && byScalar(hx, 0.5f) == m->x && soleConsumer(g, other) == ca) {
    m->nodes.insert(m->nodes.end(), {hx, ca});  // (x * 0.5) * a
    m->out = ca->outputs[0];
    return true;
  }
  if (byScalar(ca, 0.5f) == a) {  // x * (a * 0.5)
    ir::Node* mul = soleConsumer(g, ca->outputs[0], "Mul");
    if (!mul || otherInput(mul, ca->outputs[0]) != m->x) return false;
    m->nodes.insert(m->nodes.end(), {ca, mul});
    m->out = mul->outputs[0];
    return true;
  }
  return false;
}

//! 1 + f(..): the Add reading f's output with the constant 1.
ir::Node* plusOne(const ir::Graph& g, const ir::Node* f) {
  ir::Node* add = soleConsumer(g, f->outputs[0], "Add");
  return add && byScalar(add, 1.f) == f->outputs[0] ? add : nullptr;
}

std::optional<Match> matchErf(const ir::Graph& g, ir::Node* erf) {
  constexpr float kSqrt2 = 1.41421356f;
  ir::Node* scale = producerOf(erf->input(0));
  if (!scale || soleConsumer(g, erf->input(0)) != erf) return std::nullopt;
  Match m;
  if (scale->op == "Div" && scale->inputs.size() == 2 && isScalar(scale->inputs[1], kSqrt2)) m.x = scale->inputs[0];
  else if (scale->op == "Mul") m.x = byScalar(scale, 1.f / kSqrt2);
  ir::Node* add = plusOne(g, erf);
  if (!m.x || !add) return std::nullopt;
  m.nodes = {scale, erf, add};
  if (!matchTail(g, add, &m)) return std::nullopt;
  return m;
}

std::optional<Match> matchTanh(const ir::Graph& g, ir::Node* tanh) {
  constexpr float kSqrt2OverPi = 0.7978845608f;
  ir::Node* scale = producerOf(tanh->input(0), "Mul");
  if (!scale || soleConsumer(g, tanh->input(0)) != tanh) return std::nullopt;
  ir::Value* u = byScalar(scale, kSqrt2OverPi);  // x + 0.044715 x^3
  ir::Node* sum = producerOf(u, "Add");
  if (!sum || soleConsumer(g, u) != scale || sum->inputs.size() != 2) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    Match m;
    m.x = sum->inputs[k];
    ir::Value* c = sum->inputs[1 - k];
    ir::Node* cubeScale = producerOf(c, "Mul");
    ir::Value* cube = cubeScale ? byScalar(cubeScale, 0.044715f) : nullptr;
    ir::Node* pow = producerOf(cube, "Pow");
    if (!pow || soleConsumer(g, c) != sum || soleConsumer(g, cube) != cubeScale || pow->input(0) != m.x ||
        !isScalar(pow->input(1), 3.f))
      continue;
    ir::Node* add = plusOne(g, tanh);
    if (!add) return std::nullopt;
    m.nodes = {pow, cubeScale, sum, scale, tanh, add};
    m.tanh = true;
    if (matchTail(g, add, &m)) return m;
  }
  return std::nullopt;
}

}  // namespace

bool fuseGelu(ir::Graph& graph, PassContext& ctx) {
  Rewriter rw(graph);
  int fused = rw.forEachNode([&](ir::Node* n) {
    std::optional<Match> m;
    if (n->op == "Erf") m = matchErf(graph, n);
    else if (n->op == "Tanh") m = matchTanh(graph, n);
    if (!m || m->x->dtype != DType::kFLOAT || m->out->dtype != DType::kFLOAT) return false;
    const std::string name = n->name + "/gelu";
    for (ir::Node* r : m->nodes) rw.remove(r);
    ir::Node* gelu = rw.graph.addNode("Gelu", name, {m->x}, {m->out});
    if (m->tanh) gelu->attrs["approximate"] = std::string("tanh");
    return true;
  });
  if (!fused) return false;
  graph.topoSort();  // the Gelu nodes were appended
  ctx.log.push_back(strCat("fuse_gelu: fused ", fused, " GELU patterns"));
  return true;
}

}  // namespace kiln::passes
