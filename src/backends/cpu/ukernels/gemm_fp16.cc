// The CPU check of the FP16 GEMM, in a file built without AVX512-FP16 (it
// runs on every CPU); the kernels are in gemm_fp16_avx512fp16.cc.
#include "backends/cpu/ukernels/gemm_fp16.h"

#include <cstring>

#include "backends/cpu/kernel.h"

namespace kiln::cpu::gemm16 {

bool hostSupportsFP16() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return std::strcmp(hostIsa(), "avx512") == 0 && __builtin_cpu_supports("avx512fp16");
  }();
  return yes;
}

}  // namespace kiln::cpu::gemm16
