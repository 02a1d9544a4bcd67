// Reference kernel of KilnFusedElementwise (schema and semantics: ir/ops/kiln.cc).
//
// The output is walked in broadcast runs (ops/broadcast.h); each run is cut
// into tiles small enough to stay in L1, and every step is applied to the
// whole tile before the next one, so the op dispatch costs once per tile and
// step, not per element. Tiles live on the stack, not in the output, so the
// kernel stays correct when the memory planner lets the output share an
// input's buffer. Each step computes exactly what the standalone kernel of
// the same op computes (activation.h, ops/elementwise.h).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/broadcast.h"
#include "backends/cpu/ops/elementwise.h"

namespace kiln::cpu {
namespace {

enum class FOp { kAct, kExp, kLog, kSqrt, kAbs, kNeg, kReciprocal, kErf,
                 kAdd, kSub, kMul, kDiv, kPow, kMax, kMin };

struct Step {
  FOp op = FOp::kAct;
  ActKind act = ActKind::kNone;
  int operand = -1;
  bool swapped = false;
  float alpha = 0.f, beta = 0.f;
};

bool parseStep(const std::string& name, Step* s) {
  static const std::pair<const char*, FOp> table[] = {
      {"Exp", FOp::kExp}, {"Log", FOp::kLog}, {"Sqrt", FOp::kSqrt}, {"Abs", FOp::kAbs}, {"Neg", FOp::kNeg},
      {"Reciprocal", FOp::kReciprocal}, {"Erf", FOp::kErf}, {"Add", FOp::kAdd}, {"Sub", FOp::kSub},
      {"Mul", FOp::kMul}, {"Div", FOp::kDiv}, {"Pow", FOp::kPow}, {"Max", FOp::kMax}, {"Min", FOp::kMin}};
  for (auto& [n, op] : table)
    if (name == n) {
      s->op = op;
      return true;
    }
  s->op = FOp::kAct;
  return !name.empty() && parseActKind(name, &s->act);
}

bool isBinary(FOp op) { return op >= FOp::kAdd; }

constexpr int64_t kTile = 512;

// flatten: inline applyActivation so that its switch folds for the constant kind.
template <ActKind K>
[[gnu::flatten]] void actTile(float* acc, int64_t m, float alpha, float beta) {
  if constexpr (isCostlyActivation(K)) return applyActivation(Activation{K, alpha, beta}, acc, m);  // vector math
  for (int64_t i = 0; i < m; ++i) acc[i] = applyActivation(K, acc[i], alpha, beta);
}

void activationTile(const Step& s, float* acc, int64_t m) {
  switch (s.act) {
    case ActKind::kNone: return;
    case ActKind::kRelu: return actTile<ActKind::kRelu>(acc, m, s.alpha, s.beta);
    case ActKind::kLeakyRelu: return actTile<ActKind::kLeakyRelu>(acc, m, s.alpha, s.beta);
    case ActKind::kSigmoid: return actTile<ActKind::kSigmoid>(acc, m, s.alpha, s.beta);
    case ActKind::kTanh: return actTile<ActKind::kTanh>(acc, m, s.alpha, s.beta);
    case ActKind::kClip: return actTile<ActKind::kClip>(acc, m, s.alpha, s.beta);
    case ActKind::kHardSigmoid: return actTile<ActKind::kHardSigmoid>(acc, m, s.alpha, s.beta);
    case ActKind::kHardSwish: return actTile<ActKind::kHardSwish>(acc, m, s.alpha, s.beta);
    case ActKind::kGelu: return actTile<ActKind::kGelu>(acc, m, s.alpha, s.beta);
    case ActKind::kGeluTanh: return actTile<ActKind::kGeluTanh>(acc, m, s.alpha, s.beta);
    case ActKind::kSilu: return actTile<ActKind::kSilu>(acc, m, s.alpha, s.beta);
    case ActKind::kSoftplus: return actTile<ActKind::kSoftplus>(acc, m, s.alpha, s.beta);
  }
}

template <typename F>
[[gnu::flatten]] void unaryTile(float* acc, int64_t m, F f) {
  for (int64_t i = 0; i < m; ++i) acc[i] = f(acc[i]);
}

//! acc = f(acc, b) (or f(b, acc) when swapped); b is contiguous or one repeated value.
template <typename F>
[[gnu::flatten]] void binaryTile(float* acc, const float* b, bool vec, bool swapped, int64_t m, F f) {
  if (vec) {
    if (swapped) for (int64_t i = 0; i < m; ++i) acc[i] = f(b[i], acc[i]);
    else for (int64_t i = 0; i < m; ++i) acc[i] = f(acc[i], b[i]);
  } else {
    const float s = *b;
    if (swapped) for (int64_t i = 0; i < m; ++i) acc[i] = f(s, acc[i]);
    else for (int64_t i = 0; i < m; ++i) acc[i] = f(acc[i], s);
  }
}

void applyStep(const Step& s, float* acc, const float* b, bool vec, int64_t m) {
  switch (s.op) {
    case FOp::kAct: return activationTile(s, acc, m);
    case FOp::kExp: return unaryTile(acc, m, [](float v) { return std::exp(v); });
    case FOp::kLog: return unaryTile(acc, m, [](float v) { return std::log(v); });
    case FOp::kSqrt: return unaryTile(acc, m, [](float v) { return std::sqrt(v); });
    case FOp::kAbs: return unaryTile(acc, m, [](float v) { return std::fabs(v); });
    case FOp::kNeg: return unaryTile(acc, m, [](float v) { return -v; });
    case FOp::kReciprocal: return unaryTile(acc, m, [](float v) { return 1.f / v; });
    case FOp::kErf: return unaryTile(acc, m, [](float v) { return std::erf(v); });
    case FOp::kAdd: return binaryTile(acc, b, vec, s.swapped, m, [](float x, float y) { return x + y; });
    case FOp::kSub: return binaryTile(acc, b, vec, s.swapped, m, [](float x, float y) { return x - y; });
    case FOp::kMul: return binaryTile(acc, b, vec, s.swapped, m, [](float x, float y) { return x * y; });
    case FOp::kDiv: return binaryTile(acc, b, vec, s.swapped, m, [](float x, float y) { return x / y; });
    case FOp::kPow: return binaryTile(acc, b, vec, s.swapped, m, [](float x, float y) { return ew::pow(x, y); });
    case FOp::kMax: return binaryTile(acc, b, vec, s.swapped, m, [](float x, float y) { return ew::max(x, y); });
    case FOp::kMin: return binaryTile(acc, b, vec, s.swapped, m, [](float x, float y) { return ew::min(x, y); });
  }
}

class FusedElementwiseKernel final : public Kernel {
 public:
  FusedElementwiseKernel(std::vector<Step> steps, int numInputs) : steps_(std::move(steps)), numInputs_(numInputs) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    Broadcast p = planBroadcast(out[0], in, numInputs_);
    float* y = out[0].as<float>();
    parallelRuns(ctx, p, kGrainCostly, [&](const int64_t* off, int64_t o, int64_t len) {
      alignas(64) float acc[kTile];
      for (int64_t s = 0; s < len; s += kTile) {
        int64_t m = std::min(kTile, len - s);
        const float* x0 = in[0].as<float>() + off[0];
        if (p.innerContiguous(0)) std::copy(x0 + s, x0 + s + m, acc);
        else std::fill(acc, acc + m, *x0);
        for (const Step& st : steps_) {
          const float* b = nullptr;
          bool vec = false;
          if (st.operand >= 0) {
            vec = p.innerContiguous(st.operand);
            b = in[st.operand].as<float>() + off[st.operand] + (vec ? s : 0);
          }
          applyStep(st, acc, b, vec, m);
        }
        std::copy(acc, acc + m, y + o + s);
      }
    });
  }

 private:
  std::vector<Step> steps_;
  int numInputs_;
};

bool supportsFused(const ir::Node& node) {
  if (node.inputs.empty() || node.inputs.size() > kMaxBroadcastInputs || node.outputs.size() != 1) return false;
  for (const ir::Value* v : node.inputs)
    if (!v || v->dtype != DType::kFLOAT) return false;
  return node.outputs[0]->dtype == DType::kFLOAT;
}

std::unique_ptr<Kernel> createFused(const ir::Node& node) {
  std::vector<std::string> ops;
  if (auto it = node.attrs.find("ops"); it != node.attrs.end())
    if (auto* v = std::get_if<std::vector<std::string>>(&it->second)) ops = *v;
  std::size_t n = ops.size();
  std::vector<int64_t> operands = node.ints("operands");
  std::vector<int64_t> swapped = node.ints("swapped", std::vector<int64_t>(n, 0));
  std::vector<float> alphas = node.floats("alphas", std::vector<float>(n, 0.f));
  std::vector<float> betas = node.floats("betas", std::vector<float>(n, 0.f));
  KILN_CHECK(n > 0 && operands.size() == n && swapped.size() == n && alphas.size() == n && betas.size() == n,
             node.describe(), ": 'ops', 'operands', 'swapped', 'alphas' and 'betas' must have one entry per step");
  int numInputs = static_cast<int>(node.inputs.size());
  std::vector<Step> steps(n);
  for (std::size_t k = 0; k < n; ++k) {
    Step& s = steps[k];
    KILN_CHECK(parseStep(ops[k], &s), node.describe(), ": step ", k, " has op '", ops[k], "', which cannot be fused");
    s.operand = static_cast<int>(operands[k]);
    s.swapped = swapped[k] != 0;
    s.alpha = alphas[k];
    s.beta = betas[k];
    bool binary = isBinary(s.op);
    KILN_CHECK(binary ? (s.operand >= 0 && s.operand < numInputs) : s.operand == -1, node.describe(), ": step ", k,
               " (", ops[k], ") has operand ", operands[k]);
  }
  return std::make_unique<FusedElementwiseKernel>(std::move(steps), numInputs);
}

}  // namespace

void registerFusedElementwiseKernels(TacticRegistry& r) {
  r.add(Tactic{"KilnFusedElementwise.ref", "KilnFusedElementwise", 0, supportsFused, createFused, nullptr});
}

}  // namespace kiln::cpu
