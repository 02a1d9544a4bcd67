#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
void registerConvKernels(TacticRegistry& r) { (void)r; }
}  // namespace kiln::cpu
