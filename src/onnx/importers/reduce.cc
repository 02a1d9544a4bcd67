// Importers for Reduce* and ArgMax/ArgMin.
#include "onnx/importers/importers.h"

namespace kiln::onnx {

namespace {

//! Reduce ops took `axes` as an attribute until opset 18 (ReduceSum until 13);
//! the IR takes it as input 1. No axes (or an empty list) means all axes.
template <int kAxesInputSince>
void importReduce(NodeContext& ctx) {
  if (ctx.opset() >= kAxesInputSince) return importSame(ctx);
  std::vector<int64_t> axes = ctx.attrInts("axes");
  ir::Value* axesIn = axes.empty() ? nullptr : ctx.constInts("axes", axes);
  ctx.emit(ctx.op(), {ctx.requireInput(0), axesIn}, ctx.attrs({"axes"}));
}

}  // namespace

void addReduceImporters(ImporterTable& t) {
  for (const char* op : {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                         "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"})
    t.push_back({op, 1, importReduce<18>});
  t.insert(t.end(), {
                        {"ReduceSum", 1, importReduce<13>},
                        {"ArgMax", 1, importSame},
                        {"ArgMin", 1, importSame},
                    });
}

}  // namespace kiln::onnx
