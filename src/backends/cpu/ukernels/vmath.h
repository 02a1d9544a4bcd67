// Vectorized transcendental math for the elementwise and normalization
// kernels: exp and the exp/erf/tanh-based activations, softmax and
// layer-norm rows. The same source (vmath_impl.inc) is compiled once per ISA
// (vmath_avx512.cc, vmath_avx2.cc, vmath_generic.cc); the table for this CPU
// is picked once through hostIsa(), as the GEMM micro-kernels are.
//
// Accuracy (checked by tests/unit/ops_eltwise/vmath_test.cc against double
// precision, on every ISA the CPU has): exp within 2 ulp for x in
// [-87.3, 88.7] (results below FLT_MIN may flush toward 0 by up to 1 ulp of
// FLT_MIN); sigmoid, SiLU, tanh within 3 ulp (results below FLT_MIN may
// flush to 0); erf-GELU and tanh-GELU within 1e-6 relative + 2e-7 (1 + |x|)
// absolute (GELU's 1 + erf(x) cancels for
// x < 0, as in every float implementation); softmax within 1e-6 relative of
// the exact softmax of the float differences x - max; layer norm within
// 2e-6 of (x - mean) / std scaled. exp(+inf) = inf, exp(-inf) = 0, NaN in gives
// NaN out, tanh(+-inf) = +-1, sigmoid(+-inf) = 1 / 0.
#pragma once
#include <cstdint>

#include "backends/cpu/activation.h"

namespace kiln::cpu::vmath {

struct Kernels {
  const char* isa;
  //! y[i] = exp(x[i]); y may be x.
  void (*exp)(const float* x, float* y, int64_t n);
  //! x[i] = act(x[i]) in place for the costly activations (isCostlyActivation()); others: no-op.
  void (*activate)(ActKind kind, float* x, int64_t n);
  //! y = softmax(x) over a contiguous row of n (> 0) values; y may be x.
  void (*softmaxRow)(const float* x, float* y, int64_t n);
  //! y = log(softmax(x)) over a contiguous row; y may be x.
  void (*logSoftmaxRow)(const float* x, float* y, int64_t n);
  //! y = (x - mean) / sqrt(var + eps) * scale (+ bias) over a row of n (> 0)
  //! values; scale and bias have n values (bias may be null). Returns mean
  //! and 1 / sqrt(var + eps) through *mean / *invStd.
  void (*layerNormRow)(const float* x, float* y, int64_t n, const float* scale, const float* bias, float eps,
                       float* mean, float* invStd);
  //! y = exp(x - max(x)) over a contiguous row of n (> 0) values; returns
  //! the sum of y: softmax without its division, for callers that divide
  //! something smaller (attention: the Dv outputs of a row, not its Sk
  //! probabilities). y may be x.
  float (*expShiftedRow)(const float* x, float* y, int64_t n);
};


//! The kernels for this CPU (chosen once).
const Kernels& hostKernels();
//! The kernels of one ISA ("avx512", "avx2", "generic"), or nullptr when
//! this CPU cannot run them (the tests run every ISA the CPU has).
const Kernels* kernelsForIsa(const char* isa);

const Kernels& genericKernels();
const Kernels& avx2Kernels();
const Kernels& avx512Kernels();

}  // namespace kiln::cpu::vmath
