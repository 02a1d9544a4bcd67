// What an op importer sees while it turns one ONNX NodeProto into IR nodes:
// the node's inputs (already resolved to ir::Values), its attributes, the
// opset, and helpers that add constants and nodes to the graph (each added
// node is shape-inferred at once so the next importer sees its shapes).
#pragma once
#include <initializer_list>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <onnx/onnx_pb.h>

#include "core/error.h"
#include "ir/graph.h"
#include "ir/shape_resolver.h"
#include "onnx/importer.h"

namespace kiln::onnx {

//! An import problem with its ErrorCode and the place in Kiln that raised it.
class ImportFailure : public Error {
 public:
  ImportFailure(ErrorCode code, const char* file, int line, const char* func, const std::string& msg)
      : Error(msg), code(code), file(file), line(line), func(func) {}
  ErrorCode code;
  const char* file;
  int line;
  const char* func;
};

#define KILN_IMPORT_FAIL(code, ...) \
  throw ::kiln::onnx::ImportFailure(code, __FILE__, __LINE__, __func__, ::kiln::strCat(__VA_ARGS__))
#define KILN_IMPORT_CHECK(cond, code, ...)   \
  do {                                       \
    if (!(cond)) KILN_IMPORT_FAIL(code, __VA_ARGS__); \
  } while (0)

//! State shared by all nodes of one model import.
struct ModelState {
  ir::Graph& graph;
  std::string modelDir;
  int64_t opset = 0;
  //! ONNX tensor name -> the value holding it (names in the graph may differ
  //! when the graph already had a value of that name).
  std::unordered_map<std::string, ir::Value*> tensors;
  //! Names read by some node or listed as graph outputs: lets importers drop
  //! outputs nobody reads (e.g. BatchNormalization's training statistics).
  std::unordered_set<std::string> used;
  //! While importing a subgraph: the enclosing graph's state (nullptr at the top).
  ModelState* parent = nullptr;
  //! Values of an enclosing graph that this subgraph reads (ONNX lets it name
  //! them implicitly), as (outer value, this graph's input standing for it).
  std::vector<std::pair<ir::Value*, ir::Value*>> captures;
  //! Subgraph nesting depth (0 at the top); bounded so a hostile model can't exhaust the stack.
  int depth = 0;
  //! Computes a node from constant inputs (null: nothing is evaluated at parse time).
  const ir::NodeEvaluator* evaluate = nullptr;

  //! The value that `name` denotes here: this graph's own, or an enclosing
  //! graph's, which is then captured (constants are shared instead, so they
  //! stay constants in the subgraph). nullptr when no scope has it.
  ir::Value* lookup(const std::string& name);
};

//! The type a subgraph input receives from its node (ONNX subgraphs often
//! declare inputs without shapes; the node's inputs decide them).
struct SubgraphInput {
  DType dtype = DType::kFLOAT;
  ir::Shape shape;
};

//! An imported subgraph: its inputs are the formal ones, then one per capture.
struct SubgraphImport {
  std::shared_ptr<ir::Graph> graph;
  std::size_t formalInputs = 0;
  //! The values of the importing node's graph that the subgraph reads, in the order of its capture inputs.
  std::vector<ir::Value*> captures;
};

using Attrs = std::map<std::string, ir::Attribute>;

class NodeContext {
 public:
  NodeContext(ModelState& model, const ::onnx::NodeProto& proto, int index, std::string name);

  const ::onnx::NodeProto& proto() const { return proto_; }
  const std::string& name() const { return name_; }
  const std::string& op() const { return proto_.op_type(); }
  int64_t opset() const { return model_.opset; }
  ir::Graph& graph() const { return model_.graph; }
  //! `node "conv1" (Conv, opset 13)`: the prefix of this node's error messages.
  std::string describe() const;

  // Inputs (resolved by the caller before the importer runs).
  std::size_t numInputs() const { return inputs_.size(); }
  //! Input `i`, or nullptr when absent (empty name or past the end).
  ir::Value* input(std::size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  const std::vector<ir::Value*>& inputs() const { return inputs_; }
  //! Input `i` that must be present.
  ir::Value* requireInput(std::size_t i) const;
  //! The constant values of input `i`, or nullptr when it is absent or not constant.
  const ir::Tensor* constInput(std::size_t i) const;

  // Outputs.
  std::size_t numOutputs() const { return static_cast<std::size_t>(proto_.output_size()); }
  //! True when output `i` has a name that some node or the graph outputs read.
  bool outputUsed(std::size_t i) const;
  //! Makes `v` the value of ONNX output `i` (for importers that add no node).
  void bindOutput(std::size_t i, ir::Value* v);

  // Attributes.
  const ::onnx::AttributeProto* attr(std::string_view name) const;
  bool hasAttr(std::string_view name) const { return attr(name) != nullptr; }
  int64_t attrInt(std::string_view name, int64_t dflt) const;
  float attrFloat(std::string_view name, float dflt) const;
  std::string attrString(std::string_view name, const std::string& dflt) const;
  std::vector<int64_t> attrInts(std::string_view name) const;
  std::vector<float> attrFloats(std::string_view name) const;
  //! Every attribute converted to an ir::Attribute, except those in `drop`.
  Attrs attrs(std::initializer_list<std::string_view> drop = {}) const;
  //! One attribute converted to an ir::Attribute.
  ir::Attribute convert(const ::onnx::AttributeProto& a) const;

  // Building.
  //! A new graph constant named "<node>/<suffix>".
  ir::Value* constant(const std::string& suffix, ir::Tensor t) const;
  ir::Value* constInts(const std::string& suffix, const std::vector<int64_t>& values) const;
  //! A 0-D constant of `dtype` (a float dtype or an integer one) holding `v`.
  ir::Value* constScalar(const std::string& suffix, DType dtype, float v) const;
  //! Adds the node that produces this ONNX node's outputs (the first
  //! `maxOutputs`, default all; trailing empty names dropped; trailing absent
  //! inputs dropped) and infers its shapes.
  ir::Node* emit(const std::string& op, std::vector<ir::Value*> inputs, Attrs attrs = {},
                 int maxOutputs = -1);
  //! The values of `v` when parse time can know them: a constant, or a small
  //! integer/bool value computed from constants and static shapes (Size,
  //! Shape, comparisons...) through the model's evaluator. nullopt otherwise.
  std::optional<ir::Tensor> tryEvaluate(const ir::Value* v) const;
  //! Imports the graph attribute `attr` as a subgraph whose formal inputs get
  //! `inputs`' types (their count must match the subgraph's). Names it reads
  //! from this node's graph (or further out) become captures.
  SubgraphImport importSubgraph(std::string_view attr, const std::vector<SubgraphInput>& inputs) const;
  //! Adds a helper node named "<node>/<suffix>" with one new output and infers it.
  ir::Value* emitInner(const std::string& op, const std::string& suffix, std::vector<ir::Value*> inputs,
                       Attrs attrs = {});

 private:
  void infer(ir::Node* node) const;

  ModelState& model_;
  const ::onnx::NodeProto& proto_;
  int index_;
  std::string name_;
  std::vector<ir::Value*> inputs_;
};

//! Fails with kINVALID_NODE (or `code`) naming the node: `node "x" (Op, opset N): <message>`.
#define KILN_NODE_CHECK(ctx, cond, code, ...) \
  KILN_IMPORT_CHECK(cond, code, (ctx).describe(), ": ", __VA_ARGS__)
#define KILN_NODE_FAIL(ctx, code, ...) KILN_IMPORT_FAIL(code, (ctx).describe(), ": ", __VA_ARGS__)

}  // namespace kiln::onnx
