#include "ir/ops/families.h"

namespace kiln::ir {
void registerNnSchemas(SchemaRegistry& r) { (void)r; }
}  // namespace kiln::ir
