// AVX2 + FMA build of the im2col panel writer (the code is im2col_impl.inc).
#include <cstdint>

#include "backends/cpu/ukernels/im2col.h"

namespace kiln::cpu::im2col {
namespace {
#include "backends/cpu/ukernels/im2col_impl.inc"
}  // namespace

PanelFn avx2PanelKernel() { return panel; }

}  // namespace kiln::cpu::im2col
