// Importers of RNN, GRU and LSTM (opset 7+; opset 14 added `layout`, whose
// default 0 is the older ops' only layout, so every opset maps 1:1 onto the IR op).
#include "onnx/importers/importers.h"

namespace kiln::onnx {
namespace {

void importRecurrent(NodeContext& ctx) {
  int64_t layout = ctx.attrInt("layout", 0);
  KILN_NODE_CHECK(ctx, layout == 0 || layout == 1, ErrorCode::kINVALID_NODE, "layout must be 0 or 1, got ", layout);
  ctx.emit(ctx.op(), ctx.inputs(), ctx.attrs({"output_sequence"}));
}

}  // namespace

void addRnnImporters(ImporterTable& t) {
  t.push_back({"RNN", 7, importRecurrent});
  t.push_back({"GRU", 7, importRecurrent});
  t.push_back({"LSTM", 7, importRecurrent});
}

}  // namespace kiln::onnx
