// Depthwise 2-D convolution of one channel plane (direct loops). The same
// source (dwconv_impl.inc) is compiled once per ISA so the compiler can
// vectorize it for each; the plane kernel for this CPU is picked once.
#pragma once
#include <cstdint>

#include "backends/cpu/activation.h"

namespace kiln::cpu::dw {

struct Plane {
  const float* x = nullptr;  //!< h x w input channel
  int64_t h = 0, w = 0;
  const float* k = nullptr;  //!< kh x kw filter
  int64_t kh = 0, kw = 0;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
  float* y = nullptr;  //!< oh x ow output channel
  int64_t oh = 0, ow = 0;
  float bias = 0.f;
  const float* residual = nullptr;  //!< oh x ow, added after the bias
  Activation act;
};

using PlaneFn = void (*)(const Plane& p);

//! The plane kernel for this CPU (chosen once through hostIsa()).
PlaneFn hostPlaneKernel();
//! The plane kernel of one ISA, or nullptr when this CPU lacks it.
PlaneFn planeKernelForIsa(const char* isa);

PlaneFn genericPlaneKernel();
PlaneFn avx2PlaneKernel();
PlaneFn avx512PlaneKernel();

}  // namespace kiln::cpu::dw
