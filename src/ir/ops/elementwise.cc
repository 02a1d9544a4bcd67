#include "ir/ops/families.h"

namespace kiln::ir {
void registerElementwiseSchemas(SchemaRegistry& r) { (void)r; }
}  // namespace kiln::ir
