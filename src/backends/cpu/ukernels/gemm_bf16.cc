// The CPU check of the BF16 micro-kernels, in a file built without
// AVX512_BF16 (it runs on every CPU); the kernels are in gemm_bf16_avx512bf16.cc.
#include "backends/cpu/ukernels/gemm_bf16.h"

#include <cstring>

#include "backends/cpu/kernel.h"

namespace kiln::cpu::gemmbf16 {

bool hostSupportsBF16() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return std::strcmp(hostIsa(), "avx512") == 0 && __builtin_cpu_supports("avx512bf16");
  }();
  return yes;
}

}  // namespace kiln::cpu::gemmbf16
