#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
void registerReduceKernels(TacticRegistry& r) { (void)r; }
}  // namespace kiln::cpu
