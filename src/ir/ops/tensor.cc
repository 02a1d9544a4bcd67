#include "ir/ops/families.h"

namespace kiln::ir {
void registerTensorSchemas(SchemaRegistry& r) { (void)r; }
}  // namespace kiln::ir
