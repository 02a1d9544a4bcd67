#include "ir/ops/families.h"

namespace kiln::ir {
void registerKilnSchemas(SchemaRegistry& r) { (void)r; }
}  // namespace kiln::ir
