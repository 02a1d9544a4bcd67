#include "ir/ops/families.h"

namespace kiln::ir {
void registerReduceSchemas(SchemaRegistry& r) { (void)r; }
}  // namespace kiln::ir
