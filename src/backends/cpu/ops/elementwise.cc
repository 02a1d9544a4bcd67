#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
void registerElementwiseKernels(TacticRegistry& r) { (void)r; }
}  // namespace kiln::cpu
