// AVX2 build of the 2-D pooling row kernel (the code is pool_impl.inc).
#include <algorithm>
#include <cstdint>
#include <limits>

#include "backends/cpu/ukernels/pool.h"

namespace kiln::cpu::pool {
namespace {
#include "backends/cpu/ukernels/pool_impl.inc"
}  // namespace

const Kernels& avx2Kernels() { return kKernels; }

}  // namespace kiln::cpu::pool
