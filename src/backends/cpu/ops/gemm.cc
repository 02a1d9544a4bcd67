#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
void registerGemmKernels(TacticRegistry& r) { (void)r; }
}  // namespace kiln::cpu
