// Portable build of the 2-D pooling row kernel (the code is pool_impl.inc),
// and the choice of the row kernels for this CPU.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "backends/cpu/kernel.h"
#include "backends/cpu/ukernels/pool.h"

namespace kiln::cpu::pool {
namespace {
#include "backends/cpu/ukernels/pool_impl.inc"
}  // namespace

const Kernels& genericKernels() { return kKernels; }

const Kernels& hostKernels() {
  static const Kernels& k = []() -> const Kernels& {
    const std::string host = hostIsa();
    if (host == "avx512") return avx512Kernels();
    if (host == "avx2") return avx2Kernels();
    return genericKernels();
  }();
  return k;
}

}  // namespace kiln::cpu::pool
