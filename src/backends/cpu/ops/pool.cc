#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
void registerPoolKernels(TacticRegistry& r) { (void)r; }
}  // namespace kiln::cpu
