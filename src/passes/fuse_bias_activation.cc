// Folds what follows a Conv / Gemm / MatMul into it, in three walks:
//  (a) bias: MatMul(A, constant 2-D B) + constant [N] / [1.., N] -> MatMul's
//      3rd input; Conv + constant [K,1,1] / [1,K,1,1] / scalar -> Conv bias;
//  (c) residual: Conv + Add(conv_out, other) with `other` of the output's
//      shape (ResNet) -> Conv's 4th input, added after the bias; likewise
//      MatMul's 4th input in device builds (PassContext::cpuFusions false),
//      also through Reshapes between the product and the Add, and for a
//      plain Gemm by a constant (rewritten as that MatMul);
//  (b) activation: Relu, LeakyRelu, Sigmoid, Tanh, Clip (constant bounds),
//      HardSigmoid, HardSwish, Gelu, x * Sigmoid(x) (Silu) and PyTorch's
//      erf-GELU x * 0.5 * (1 + Erf(x / sqrt2)) -> attributes kiln_act,
//      kiln_act_alpha, kiln_act_beta on the producer.
// Each fusion needs the producer's output to have no other reader. The
// kernels apply bias, then residual, then the activation, which is the order
// of the walks, so Conv -> Add(bias) -> Add(x) -> Relu becomes one Conv.
#include <limits>
#include <optional>

#include "core/error.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

//! A producer and the nodes after it that it absorbs; `out` is the value the
//! producer writes afterwards (the last absorbed node's output).
struct Absorb {
  ir::Node* producer;
  std::vector<ir::Node*> nodes;
  ir::Value* out;
};

void absorb(Rewriter& rw, const Absorb& a) {
  redirectOutput(a.producer, 0, a.out);
  for (ir::Node* n : a.nodes) rw.remove(n);
}

bool isFloatOutput(const ir::Node& n) { return !n.outputs.empty() && n.outputs[0]->dtype == DType::kFLOAT; }

// ---- (a) bias -------------------------------------------------------------

//! The constant other operand of the single Add reading the producer's output.
std::optional<std::pair<ir::Node*, const ir::Tensor*>> constantAdd(const ir::Graph& g, const ir::Node& p) {
  ir::Node* add = soleConsumer(g, p.outputs[0], "Add");
  const ir::Tensor* c = floatConstant(otherInput(add, p.outputs[0]));
  if (!c) return std::nullopt;
  return std::make_pair(add, c);
}

bool fuseMatMulBias(Rewriter& rw, ir::Node* mm) {
  if (mm->op != "MatMul" || mm->inputs.size() != 2 || mm->has("kiln_act") || !isFloatOutput(*mm)) return false;
  const ir::Tensor* b = floatConstant(mm->input(1));
  auto add = constantAdd(rw.graph, *mm);
  if (!b || b->dims().size() != 2 || !add) return false;
  // [N] or [1, .., 1, N], no wider than the output: the Add keeps the shape.
  const std::vector<int64_t>& d = add->second->dims();
  int64_t n = b->dims()[1];
  if (d.empty() || d.back() != n || d.size() > mm->outputs[0]->shape.size()) return false;
  for (std::size_t i = 0; i + 1 < d.size(); ++i)
    if (d[i] != 1) return false;
  ir::Value* bias = add->first->inputs[add->first->inputs[0] == mm->outputs[0] ? 1 : 0];
  mm->inputs.push_back(asVectorConstant(rw.graph, bias, *add->second, n));
  absorb(rw, {mm, {add->first}, add->first->outputs[0]});
  return true;
}

bool fuseConvBias(Rewriter& rw, ir::Node* conv) {
  if (conv->op != "Conv" || conv->inputs.size() > 3 || conv->has("kiln_act") || !isFloatOutput(*conv)) return false;
  const ir::Shape& out = conv->outputs[0]->shape;
  const ir::Tensor* old = conv->input(2) ? floatConstant(conv->input(2)) : nullptr;
  auto add = constantAdd(rw.graph, *conv);
  if (!add || (conv->input(2) && !old) || out.size() < 2 || !out[1].known()) return false;
  // [K, 1, ..], [1, K, 1, ..] or one element: a per-channel constant.
  int64_t k = out[1].value;
  const std::vector<int64_t>& d = add->second->dims();
  std::size_t rank = out.size();
  bool perChannel = add->second->numel() == k &&
                    ((d.size() == rank - 1 && d[0] == k) || (d.size() == rank && d[0] == 1 && d[1] == k));
  if (!perChannel && !(add->second->numel() == 1 && d.size() <= rank)) return false;
  std::vector<float> bias = old ? old->toFloat() : std::vector<float>(static_cast<std::size_t>(k), 0.f);
  std::vector<float> extra = add->second->toFloat();
  for (int64_t c = 0; c < k; ++c) bias[c] += extra[perChannel ? c : 0];
  conv->inputs.resize(3, nullptr);
  conv->inputs[2] = rw.graph.addConstant(conv->name + "_bias", ir::Tensor::fromFloat(bias, {k}));
  absorb(rw, {conv, {add->first}, add->first->outputs[0]});
  return true;
}

// ---- (c) residual ---------------------------------------------------------

bool fuseConvResidual(Rewriter& rw, ir::Node* conv) {
  if (conv->op != "Conv" || conv->inputs.size() > 3 || conv->has("kiln_act") || !isFloatOutput(*conv)) return false;
  ir::Value* y = conv->outputs[0];
  ir::Node* add = soleConsumer(rw.graph, y, "Add");
  ir::Value* other = otherInput(add, y);
  if (!other || other->dtype != DType::kFLOAT || !sameShape(other->shape, y->shape) ||
      !sameShape(add->outputs[0]->shape, y->shape))
    return false;
  conv->inputs.resize(3, nullptr);
  conv->inputs.push_back(other);
  absorb(rw, {conv, {add}, add->outputs[0]});
  return true;
}

//! The Add that adds a residual `other` to `y`, directly or through Reshapes
//! of `y` (move_row_transposes leaves one after torch MHA's out-projection:
//! Gemm [B*S, E] -> Reshape [B, S, E] -> Add; at batch 1 the batch-first
//! swap after it is a Transpose of a unit dim, which eliminate_identity makes
//! a second Reshape). `other` has the Add's shape, so the sum is elementwise
//! in `y`'s element order and `other` reshaped to `y`'s shape can be added
//! before the Reshapes.
struct ResidualAdd {
  ir::Node* add = nullptr;
  ir::Node* reshape = nullptr;  //!< the last of the Reshapes between `y` and the Add, or null
  ir::Value* other = nullptr;
};

std::optional<ResidualAdd> residualAddOf(const ir::Graph& g, ir::Value* y) {
  ResidualAdd r;
  ir::Value* sum = y;
  while (ir::Node* reshape = soleConsumer(g, sum, "Reshape")) {
    if (reshape->inputs[0] != sum || !ir::isStatic(sum->shape) || !ir::isStatic(reshape->outputs[0]->shape))
      return std::nullopt;
    r.reshape = reshape;
    sum = reshape->outputs[0];
  }
  r.add = soleConsumer(g, sum, "Add");
  r.other = otherInput(r.add, sum);
  if (!r.other || r.other == sum || r.other->dtype != DType::kFLOAT || !sameShape(r.other->shape, sum->shape) ||
      !sameShape(r.add->outputs[0]->shape, sum->shape))
    return std::nullopt;
  return r;
}

//! Makes `p` (bias in input 2 or none) add `r`'s residual as its 4th input and drops the Add.
void absorbResidual(Rewriter& rw, ir::Node* p, const ResidualAdd& r) {
  p->inputs.resize(3, nullptr);
  if (!r.reshape) {
    p->inputs.push_back(r.other);
    absorb(rw, {p, {r.add}, r.add->outputs[0]});
    return;
  }
  ir::Graph& g = rw.graph;
  p->inputs.push_back(reshapeTo(g, r.other, p->outputs[0]->shape, g.uniqueName(r.other->name + "/rows")));
  redirectOutput(r.reshape, 0, r.add->outputs[0]);
  rw.remove(r.add);
}

//! MatMul + Add(mm_out, other) with `other` of the output's shape -> MatMul's
//! 4th input (the transformer's residual after the output projection and the
//! MLP). Device builds only: cuBLASLt adds it as C with beta 1; the CPU's
//! packed and oneDNN MatMul kernels read no residual (MatMul.ref does).
bool fuseMatMulResidual(Rewriter& rw, ir::Node* mm) {
  if (mm->op != "MatMul" || mm->inputs.size() > 3 || mm->has("kiln_act") || !isFloatOutput(*mm)) return false;
  std::optional<ResidualAdd> r = residualAddOf(rw.graph, mm->outputs[0]);
  if (!r) return false;
  absorbResidual(rw, mm, *r);
  return true;
}

//! Gemm(A, constant B, [bias [N] / [1, N]]) with transA 0 and alpha = beta = 1
//! (torch MHA's out-projection) + a residual Add -> MatMul(A, B as [K, N], bias
//! [N], residual): the Gemm schema has no residual input. Device builds only.
bool fuseGemmResidual(Rewriter& rw, ir::Node* gm) {
  if (gm->op != "Gemm" || gm->has("kiln_act") || !isFloatOutput(*gm) || gm->i("transA", 0) != 0 ||
      gm->f("alpha", 1.f) != 1.f || gm->f("beta", 1.f) != 1.f)
    return false;
  const ir::Tensor* b = floatConstant(gm->input(1));
  if (!b || b->dims().size() != 2) return false;
  const bool transB = gm->i("transB", 0) != 0;
  const int64_t k = b->dims()[transB ? 1 : 0], n = b->dims()[transB ? 0 : 1];
  const ir::Tensor* c = gm->input(2) ? floatConstant(gm->input(2)) : nullptr;
  if (gm->input(2) && (!c || c->numel() != n || c->dims().empty() || c->dims().back() != n)) return false;
  std::optional<ResidualAdd> r = residualAddOf(rw.graph, gm->outputs[0]);
  if (!r) return false;
  ir::Graph& g = rw.graph;
  ir::Value* weights = gm->inputs[1];
  if (transB) {  // [N, K] -> [K, N]
    const float* src = b->as<float>();
    std::vector<float> t(static_cast<std::size_t>(k * n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k; ++j) t[static_cast<std::size_t>(j * n + i)] = src[i * k + j];
    weights = g.addConstant(g.uniqueName(weights->name + "/kn"), ir::Tensor::fromFloat(t, {k, n}));
  }
  ir::Value* bias = gm->input(2) ? asVectorConstant(g, gm->input(2), *c, n) : nullptr;
  gm->op = "MatMul";
  for (const char* a : {"transA", "transB", "alpha", "beta"}) gm->attrs.erase(a);
  gm->inputs = {gm->inputs[0], weights};
  if (bias) gm->inputs.push_back(bias);
  absorbResidual(rw, gm, *r);
  return true;
}

// ---- (b) activation -------------------------------------------------------

struct Act {
  std::string kind;
  float alpha = 0.f, beta = 0.f;
};

//! The activation a single node computes on its first input.
std::optional<Act> activationOf(const ir::Node& n) {
  if (n.op == "Relu" || n.op == "Sigmoid" || n.op == "Tanh" || n.op == "HardSwish") return Act{n.op};
  if (n.op == "LeakyRelu") return Act{n.op, n.f("alpha", 0.01f)};
  if (n.op == "HardSigmoid") return Act{n.op, n.f("alpha", 0.2f), n.f("beta", 0.5f)};
  if (n.op == "Gelu") {
    std::string approx = n.s("approximate", "none");
    if (approx == "none") return Act{"Gelu"};
    if (approx == "tanh") return Act{"GeluTanh"};
    return std::nullopt;
  }
  if (n.op == "Clip") {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    std::optional<float> lo = n.input(1) ? scalarConstant(n.input(1)) : -kInf;
    std::optional<float> hi = n.input(2) ? scalarConstant(n.input(2)) : kInf;
    if (!lo || !hi) return std::nullopt;
    return Act{"Clip", *lo, *hi};
  }
  return std::nullopt;
}

//! x * Sigmoid(x), the Mul reading both (either order).
std::optional<Absorb> matchSilu(const ir::Graph& g, ir::Node* p) {
  ir::Value* x = p->outputs[0];
  std::vector<ir::Node*> users = g.consumers(x);
  if (g.isGraphOutput(x) || users.size() != 2) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    ir::Node* sig = users[k];
    if (sig->op != "Sigmoid" || sig->input(0) != x) continue;
    ir::Node* mul = soleConsumer(g, sig->outputs[0], "Mul");
    if (mul == users[1 - k] && otherInput(mul, sig->outputs[0]) == x) return Absorb{p, {sig, mul}, mul->outputs[0]};
  }
  return std::nullopt;
}

//! PyTorch's exact GELU, x * 0.5 * (1 + Erf(x / sqrt2)), in the orders
//! exporters write it: ((x * a) * 0.5), ((x * 0.5) * a), (x * (a * 0.5)),
//! where a = 1 + Erf(x / sqrt2) (or x * 0.7071).
std::optional<Absorb> matchErfGelu(const ir::Graph& g, ir::Node* p) {
  constexpr float kSqrt2 = 1.41421356f;
  ir::Value* x = p->outputs[0];
  std::vector<ir::Node*> users = g.consumers(x);
  if (g.isGraphOutput(x) || users.size() != 2) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    ir::Node* div = users[k];
    ir::Node* mul = users[1 - k];
    bool scaled = (div->op == "Div" && div->input(0) == x && isScalar(div->input(1), kSqrt2)) ||
                  (div->op == "Mul" && isScalar(otherInput(div, x), 1.f / kSqrt2));
    if (!scaled || mul->op != "Mul") continue;
    ir::Node* erf = soleConsumer(g, div->outputs[0], "Erf");
    ir::Node* add = erf ? soleConsumer(g, erf->outputs[0], "Add") : nullptr;
    if (!add || !isScalar(otherInput(add, erf->outputs[0]), 1.f)) continue;
    ir::Value* a = add->outputs[0];
    ir::Value* m = mul->outputs[0];
    ir::Node* next = soleConsumer(g, m, "Mul");
    if (otherInput(mul, x) == a && soleConsumer(g, a) == mul && next &&
        isScalar(otherInput(next, m), 0.5f))  // (x * a) * 0.5
      return Absorb{p, {div, erf, add, mul, next}, next->outputs[0]};
    if (isScalar(otherInput(mul, x), 0.5f) && next && otherInput(next, m) == a && soleConsumer(g, a) == next)
      return Absorb{p, {div, erf, add, mul, next}, next->outputs[0]};  // (x * 0.5) * a
    ir::Node* half = soleConsumer(g, a, "Mul");                        // x * (a * 0.5)
    if (half && isScalar(otherInput(half, a), 0.5f) && otherInput(mul, x) == half->outputs[0] &&
        soleConsumer(g, half->outputs[0]) == mul)
      return Absorb{p, {div, erf, add, half, mul}, m};
  }
  return std::nullopt;
}

bool fuseActivation(Rewriter& rw, ir::Node* p) {
  if ((p->op != "Conv" && p->op != "Gemm" && p->op != "MatMul") || p->has("kiln_act") || !isFloatOutput(*p))
    return false;
  const ir::Graph& g = rw.graph;
  Act act;
  std::optional<Absorb> m;
  ir::Node* next = soleConsumer(g, p->outputs[0]);
  std::optional<Act> single = next && next->input(0) == p->outputs[0] ? activationOf(*next) : std::nullopt;
  if (single) {
    act = *single;
    m = Absorb{p, {next}, next->outputs[0]};
  } else if ((m = matchSilu(g, p))) {
    act.kind = "Silu";
  } else if ((m = matchErfGelu(g, p))) {
    act.kind = "Gelu";
  } else {
    return false;
  }
  if (m->out->dtype != DType::kFLOAT) return false;
  p->attrs["kiln_act"] = act.kind;
  p->attrs["kiln_act_alpha"] = act.alpha;
  p->attrs["kiln_act_beta"] = act.beta;
  absorb(rw, *m);
  return true;
}

}  // namespace

bool fuseBiasActivation(ir::Graph& graph, PassContext& ctx) {
  Rewriter rw(graph);
  int bias = rw.forEachNode([&](ir::Node* n) { return fuseMatMulBias(rw, n) || fuseConvBias(rw, n); });
  int residual = rw.forEachNode(
      [&](ir::Node* n) {
        return fuseConvResidual(rw, n) || (!ctx.cpuFusions && (fuseMatMulResidual(rw, n) || fuseGemmResidual(rw, n)));
      });
  int act = rw.forEachNode([&](ir::Node* n) { return fuseActivation(rw, n); });
  if (bias + residual + act == 0) return false;
  ctx.log.push_back(
      strCat("fuse_bias_activation: fused ", bias, " bias adds, ", residual, " residual adds, ", act, " activations"));
  return true;
}

}  // namespace kiln::passes
