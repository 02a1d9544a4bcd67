// The device form of kernels::Unary (the formulas of backends/cpu/activation.h),
// shared by kernels.cu and the layout kernels (layout.cu). nvcc only.
#pragma once
#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {

__device__ __forceinline__ float applyUnary(const UnaryParams& p, float x) {
  switch (p.op) {
    case Unary::kIdentity: return x;
    case Unary::kRelu: return x > 0.f ? x : 0.f;
    case Unary::kLeakyRelu: return x >= 0.f ? x : p.alpha * x;
    case Unary::kSigmoid: return 1.f / (1.f + expf(-x));
    case Unary::kTanh: return tanhf(x);
    case Unary::kGeluErf: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case Unary::kGeluTanh: return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case Unary::kErf: return erff(x);
    case Unary::kExp: return expf(x);
    case Unary::kLog: return logf(x);
    case Unary::kSqrt: return sqrtf(x);
    case Unary::kReciprocal: return 1.f / x;
    case Unary::kNeg: return -x;
    case Unary::kAbs: return fabsf(x);
    case Unary::kClip: return fminf(fmaxf(x, p.alpha), p.beta);
    case Unary::kHardSigmoid: return fmaxf(0.f, fminf(1.f, p.alpha * x + p.beta));
    case Unary::kHardSwish: return x * fmaxf(0.f, fminf(1.f, x / 6.f + 0.5f));
    case Unary::kSilu: return x / (1.f + expf(-x));
    case Unary::kSoftplus: return x > 20.f ? x : log1pf(expf(x));
  }
  return x;
}

}  // namespace kiln::cuda::kernels
