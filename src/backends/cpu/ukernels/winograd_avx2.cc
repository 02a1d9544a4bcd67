// AVX2 build of the Winograd tile transforms (the code is winograd_impl.inc).
#include <algorithm>
#include <cstdint>

#include "backends/cpu/ukernels/gemm.h"
#include "backends/cpu/ukernels/winograd.h"

namespace kiln::cpu::winograd {
namespace {
#include "backends/cpu/ukernels/winograd_impl.inc"
}  // namespace

const Kernels& avx2Kernels() {
  static const Kernels k{"avx2", inputPanel, outputPanel};
  return k;
}

}  // namespace kiln::cpu::winograd
