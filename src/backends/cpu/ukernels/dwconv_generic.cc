// Portable build of the depthwise plane kernel (the code is dwconv_impl.inc),
// and the choice of the plane kernel for this CPU.
#include <algorithm>
#include <cstdint>
#include <string>

#include "backends/cpu/kernel.h"

#include "backends/cpu/ukernels/dwconv.h"
#include "backends/cpu/ukernels/gemm.h"

namespace kiln::cpu::dw {
namespace {
#include "backends/cpu/ukernels/dwconv_impl.inc"
}  // namespace

PlaneFn genericPlaneKernel() { return plane; }

PlaneFn planeKernelForIsa(const char* isa) {
  const std::string want = isa, host = hostIsa();
  if (want == "generic") return genericPlaneKernel();
  if (want == "avx2") return host == "avx2" || host == "avx512" ? avx2PlaneKernel() : nullptr;
  if (want == "avx512") return host == "avx512" ? avx512PlaneKernel() : nullptr;
  return nullptr;
}

PlaneFn hostPlaneKernel() {
  static const PlaneFn fn = [] {
    PlaneFn f = planeKernelForIsa(hostIsa());
    return f ? f : genericPlaneKernel();
  }();
  return fn;
}

}  // namespace kiln::cpu::dw
