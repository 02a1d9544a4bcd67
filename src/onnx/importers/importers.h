// The op importer table. Each family file (nn.cc, elementwise.cc, tensor.cc,
// reduce.cc) states next to each importer the op and the first opset it
// serves; an importer handles every later opset, upgrading older forms to the
// latest-opset form the IR uses.
#pragma once
#include <string_view>
#include <vector>

#include "onnx/import_context.h"

namespace kiln::onnx {

using ImporterFn = void (*)(NodeContext&);

struct OpImporter {
  const char* op;
  int minOpset;
  ImporterFn fn;
};

using ImporterTable = std::vector<OpImporter>;

void addNnImporters(ImporterTable& t);
void addElementwiseImporters(ImporterTable& t);
void addReduceImporters(ImporterTable& t);
void addTensorImporters(ImporterTable& t);
void addControlFlowImporters(ImporterTable& t);  // If, Loop, Scan (control_flow.cc)
void addRnnImporters(ImporterTable& t);          // RNN, GRU, LSTM (rnn.cc)
void addDetectionImporters(ImporterTable& t);
void addQuantImporters(ImporterTable& t);  // quantization, extra normalizations, LpPool (nn_quant.cc)
void addTensorIndexImporters(ImporterTable& t);  // tensor_index.cc

//! The importer for `op`, or nullptr.
const OpImporter* findImporter(std::string_view op);
//! Every importer, sorted by op name.
const ImporterTable& importerTable();

//! The importer for ops that map 1:1 onto the IR op of the same name with the
//! same inputs and attributes.
void importSame(NodeContext& ctx);

}  // namespace kiln::onnx
