// Activations shared by every kernel that fuses one (Conv, Gemm, MatMul,
// KilnFusedElementwise) and by the standalone unary kernels, so that a fused
// and an unfused graph compute exactly the same function.
//
// The costly ones (Sigmoid, Tanh, Gelu, GeluTanh, Silu) are defined by the
// vector math of ukernels/vmath.h for this CPU: the array form runs it over
// the array, the scalar form over one element (vector lanes are independent,
// so both give the same bits). Kernels with many values call the array form.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "ir/graph.h"

namespace kiln::cpu {

enum class ActKind { kNone, kRelu, kLeakyRelu, kSigmoid, kTanh, kClip, kHardSigmoid, kHardSwish, kGelu, kGeluTanh,
                     kSilu, kSoftplus };

namespace vmath {
//! x[i] = act(x[i]) with this CPU's vector math (ukernels/vmath.h); kind must be costly.
void activateCostly(ActKind kind, float* x, int64_t n);
}  // namespace vmath

//! The activations computed by the vector math (ukernels/vmath.h).
constexpr bool isCostlyActivation(ActKind k) {
  return k == ActKind::kSigmoid || k == ActKind::kTanh || k == ActKind::kGelu || k == ActKind::kGeluTanh ||
         k == ActKind::kSilu;
}

struct Activation {
  ActKind kind = ActKind::kNone;
  float alpha = 0.f;
  float beta = 0.f;
};

//! Parses an activation name ("Relu", "LeakyRelu", ...); kNone for "" and
//! nullopt-like kNone + false for an unknown name.
inline bool parseActKind(const std::string& name, ActKind* kind) {
  static const std::pair<const char*, ActKind> table[] = {
      {"", ActKind::kNone},           {"Relu", ActKind::kRelu},         {"LeakyRelu", ActKind::kLeakyRelu},
      {"Sigmoid", ActKind::kSigmoid}, {"Tanh", ActKind::kTanh},         {"Clip", ActKind::kClip},
      {"HardSigmoid", ActKind::kHardSigmoid}, {"HardSwish", ActKind::kHardSwish}, {"Gelu", ActKind::kGelu},
      {"GeluTanh", ActKind::kGeluTanh}, {"Silu", ActKind::kSilu},      {"Softplus", ActKind::kSoftplus}};
  for (auto& [n, k] : table)
    if (name == n) {
      *kind = k;
      return true;
    }
  return false;
}

//! The fused activation a node carries in `kiln_act` / `kiln_act_alpha` / `kiln_act_beta`.
inline Activation fusedActivation(const ir::Node& node) {
  Activation a;
  std::string name = node.s("kiln_act", "");
  KILN_CHECK(parseActKind(name, &a.kind), node.describe(), ": unknown fused activation '", name, "'");
  a.alpha = node.f("kiln_act_alpha", 0.f);
  a.beta = node.f("kiln_act_beta", 0.f);
  return a;
}

inline float applyActivation(ActKind kind, float x, float alpha, float beta) {
  switch (kind) {
    case ActKind::kNone: return x;
    case ActKind::kRelu: return x > 0.f ? x : 0.f;
    case ActKind::kLeakyRelu: return x >= 0.f ? x : alpha * x;
    case ActKind::kClip: return std::min(std::max(x, alpha), beta);
    case ActKind::kHardSigmoid: return std::max(0.f, std::min(1.f, alpha * x + beta));
    case ActKind::kHardSwish: return x * std::max(0.f, std::min(1.f, x / 6.f + 0.5f));
    case ActKind::kSoftplus: return x > 20.f ? x : std::log1p(std::exp(x));
    case ActKind::kSigmoid:  // 1 / (1 + exp(-x))
    case ActKind::kTanh:
    case ActKind::kGelu:      // 0.5 x (1 + erf(x / sqrt 2))
    case ActKind::kGeluTanh:  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    case ActKind::kSilu:      // x / (1 + exp(-x))
      vmath::activateCostly(kind, &x, 1);
      return x;
  }
  return x;
}

inline float applyActivation(const Activation& a, float x) { return applyActivation(a.kind, x, a.alpha, a.beta); }

//! Applies `a` in place to n floats.
inline void applyActivation(const Activation& a, float* data, int64_t n) {
  if (a.kind == ActKind::kNone) return;
  if (a.kind == ActKind::kRelu) {
    for (int64_t i = 0; i < n; ++i) data[i] = data[i] > 0.f ? data[i] : 0.f;
    return;
  }
  if (isCostlyActivation(a.kind)) return vmath::activateCostly(a.kind, data, n);
  for (int64_t i = 0; i < n; ++i) data[i] = applyActivation(a.kind, data[i], a.alpha, a.beta);
}

}  // namespace kiln::cpu
