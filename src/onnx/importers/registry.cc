// The importer table, built once from every op family.
#include <algorithm>

#include "onnx/importers/importers.h"

namespace kiln::onnx {

const ImporterTable& importerTable() {
  static const ImporterTable table = [] {
    ImporterTable t;
    addNnImporters(t);
    addElementwiseImporters(t);
    addReduceImporters(t);
    addTensorImporters(t);
    addControlFlowImporters(t);
    addRnnImporters(t);
    addDetectionImporters(t);
    addQuantImporters(t);
    addTensorIndexImporters(t);
    std::sort(t.begin(), t.end(), [](const OpImporter& a, const OpImporter& b) {
      return std::string_view(a.op) < std::string_view(b.op);
    });
    return t;
  }();
  return table;
}

const OpImporter* findImporter(std::string_view op) {
  const ImporterTable& t = importerTable();
  auto it = std::lower_bound(t.begin(), t.end(), op,
                             [](const OpImporter& a, std::string_view b) { return std::string_view(a.op) < b; });
  return it != t.end() && it->op == op ? &*it : nullptr;
}

void importSame(NodeContext& ctx) { ctx.emit(ctx.op(), ctx.inputs(), ctx.attrs()); }

}  // namespace kiln::onnx
