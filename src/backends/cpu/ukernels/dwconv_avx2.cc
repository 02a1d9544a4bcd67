// AVX2 + FMA build (-mavx2 -mfma) of the depthwise plane kernel (the code is dwconv_impl.inc).
#include <algorithm>
#include <cstdint>

#include "backends/cpu/ukernels/dwconv.h"
#include "backends/cpu/ukernels/gemm.h"

namespace kiln::cpu::dw {
namespace {
#include "backends/cpu/ukernels/dwconv_impl.inc"
}  // namespace

PlaneFn avx2PlaneKernel() { return plane; }

}  // namespace kiln::cpu::dw
