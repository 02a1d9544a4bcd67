// Builds the schema registry once from every op family.
#include "ir/op_schema.h"
#include "ir/ops/families.h"

namespace kiln::ir {

const SchemaRegistry& schemas() {
  static const SchemaRegistry registry = [] {
    SchemaRegistry r;
    registerNnSchemas(r);
    registerElementwiseSchemas(r);
    registerReduceSchemas(r);
    registerTensorSchemas(r);
    registerMathSchemas(r);
    registerSignalSchemas(r);
    registerKilnSchemas(r);
    registerPluginSchemas(r);
    registerControlFlowSchemas(r);
    registerRnnSchemas(r);
    registerDetectionSchemas(r);
    registerTextSchemas(r);
    return r;
  }();
  return registry;
}

}  // namespace kiln::ir
