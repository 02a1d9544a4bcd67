#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
void registerTensorKernels(TacticRegistry& r) { (void)r; }
}  // namespace kiln::cpu
