// ONNX ModelProto -> ir::Graph. The public kiln::onnx::IParser (src/api) is a
// thin wrapper around these functions; everything here reports problems as
// ImportErrors (never throws, never crashes on a malformed model).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/shape_resolver.h"
#include "kiln/onnx_parser.h"

namespace kiln::onnx {

struct ImportError {
  ErrorCode code = ErrorCode::kINTERNAL_ERROR;
  std::string desc;
  //! Index of the failing node in the ONNX graph, -1 when not about one node.
  int node = -1;
  std::string nodeName, nodeOperator;
  //! Where in Kiln's source the error was raised (as TensorRT's IParserError).
  std::string file;
  int line = 0;
  std::string func;
};

struct ImportResult {
  bool ok = true;
  std::vector<ImportError> errors;
};

//! The ai.onnx opsets Kiln imports. Opset 22 only widened type lists, so its
//! ops mean the same as in 21.
constexpr int64_t kMinOpset = 6;  // opset 6 binary ops broadcast the legacy way (importers/elementwise.cc)
constexpr int64_t kMaxOpset = 22;

//! Parses a serialized ModelProto and appends it to `graph`: graph inputs and
//! outputs are appended to graph.inputs/outputs, initializers (and graph inputs
//! that have an initializer) become constants. `modelDir` locates external-data
//! files (empty: the current directory). On failure the graph may hold a part
//! of the model; callers discard it.
//! `evaluate` (optional) computes a node from constant inputs; with it, an If
//! whose condition is computable at parse time imports only the branch it
//! takes (as TensorRT's parser does).
ImportResult importModel(const void* data, std::size_t size, const std::string& modelDir, ir::Graph& graph,
                         const ir::NodeEvaluator& evaluate = {});

//! True when Kiln has an importer for the ai.onnx op `opType` (at some opset)
//! or a plugin creator named `opType` (version "1", namespace "") is registered.
bool isOperatorSupported(const std::string& opType);

//! Checks that every node of the model can be imported: all unsupported nodes
//! are reported, then the model is imported into a scratch graph. No graph the
//! caller owns is touched.
ImportResult checkModelSupport(const void* data, std::size_t size, const std::string& modelDir,
                               const ir::NodeEvaluator& evaluate = {});

//! A maximal run of consecutive nodes (in the order the importer visits them,
//! a topological order) that Kiln either supports or does not.
struct SubgraphSupport {
  std::vector<int64_t> nodes;  //!< indices into the ONNX graph's node list
  bool supported = false;
};

struct ModelSupport {
  //! ok: every node and the graph's inputs/outputs import. errors: one per
  //! unsupported node (node index, name, op, reason), plus graph-level ones.
  ImportResult result;
  //! Empty when the model itself cannot be read (bytes, opset).
  std::vector<SubgraphSupport> subgraphs;
};

//! TensorRT's supportsModelV2: imports the model into a scratch graph, going
//! on past a failing node, and partitions the nodes into supported and
//! unsupported runs. A node is supported when its importer (or a registered
//! plugin) accepts it at the model's opset with its attributes and input
//! types. A node that reads, directly or not, the output of a failed node
//! cannot be imported without it; it is judged by its op alone (an importer or
//! plugin exists at this opset), as TensorRT's parser, which stops at the
//! first failure, leaves such nodes in a candidate subgraph.
ModelSupport analyzeModelSupport(const void* data, std::size_t size, const std::string& modelDir,
                                 const ir::NodeEvaluator& evaluate = {});

}  // namespace kiln::onnx
