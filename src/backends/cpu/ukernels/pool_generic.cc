// Portable build of the 2-D pooling row kernel (the code is pool_impl.inc),
// and the choice of the row kernel for this CPU.
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

RowFn genericRowKernel() { return row; }

RowFn hostRowKernel() {
  static const RowFn fn = [] {
    const std::string host = hostIsa();
    if (host == "avx512") return avx512RowKernel();
    if (host == "avx2") return avx2RowKernel();
    return genericRowKernel();
  }();
  return fn;
}

}  // namespace kiln::cpu::pool
