#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
void registerNormKernels(TacticRegistry& r) { (void)r; }
}  // namespace kiln::cpu
