#include "passes/passes.h"

namespace kiln::passes {
bool eliminateDeadCode(ir::Graph& graph, PassContext& ctx) { (void)graph; (void)ctx; return false; }
}  // namespace kiln::passes
