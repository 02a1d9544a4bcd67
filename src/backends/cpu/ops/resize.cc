#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
void registerResizeKernels(TacticRegistry& r) { (void)r; }
}  // namespace kiln::cpu
