// ir::Graph: the one representation every stage reads and writes.
// Nodes carry ONNX op names and ONNX semantics of the latest opset Kiln knows
// (the parser upgrades older forms, e.g. Squeeze's `axes` attribute becomes
// its second input). Kiln-internal ops start with "Kiln" (KilnFusedElementwise).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "ir/tensor.h"

namespace kiln::ir {

class Graph;
class Node;

//! A subgraph attribute (If's branches, Loop's and Scan's body). A subgraph is
//! self-contained: values of the enclosing graph that it reads (ONNX lets
//! subgraphs name them implicitly) are explicit trailing inputs of both the
//! node and the subgraph (see `kiln_captures` in ir/ops/control_flow.cc), so
//! topological order, liveness and dead-code elimination see them as ordinary
//! node inputs. Graph::clone() deep-copies it; each node owns its subgraphs.
using GraphAttr = std::shared_ptr<Graph>;

using Attribute = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                               std::vector<std::string>, Tensor, GraphAttr>;

struct Value {
  std::string name;
  DType dtype = DType::kFLOAT;
  Shape shape;
  //! Set for constants (initializers, folded values); they have no producer.
  std::shared_ptr<const Tensor> constant;
  Node* producer = nullptr;
  bool isConstant() const { return constant != nullptr; }
};

class Node {
 public:
  std::string op;
  std::string name;
  std::map<std::string, Attribute> attrs;
  //! Absent optional inputs are nullptr.
  std::vector<Value*> inputs;
  std::vector<Value*> outputs;
  //! Kernel chosen by the builder (a tactic name); empty before tactic selection.
  std::string tactic;

  bool has(const std::string& attr) const { return attrs.count(attr) != 0; }
  int64_t i(const std::string& attr, int64_t dflt) const;
  float f(const std::string& attr, float dflt) const;
  std::string s(const std::string& attr, const std::string& dflt) const;
  std::vector<int64_t> ints(const std::string& attr, std::vector<int64_t> dflt = {}) const;
  std::vector<float> floats(const std::string& attr, std::vector<float> dflt = {}) const;
  const Tensor* tensor(const std::string& attr) const;
  //! The subgraph attribute `attr`, or nullptr when absent.
  Graph* graph(const std::string& attr) const;
  //! Input `index`, or nullptr when absent.
  Value* input(std::size_t index) const { return index < inputs.size() ? inputs[index] : nullptr; }
  //! "Conv node "stem/conv1"": the prefix of every error about this node.
  std::string describe() const;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  //! A deep copy (constants' storage is shared: constants are immutable).
  std::unique_ptr<Graph> clone() const;

  std::string name;
  std::vector<Value*> inputs;
  std::vector<Value*> outputs;

  //! A new value named `name` (made unique when taken).
  Value* addValue(const std::string& name, DType dtype = DType::kFLOAT, Shape shape = {});
  Value* addConstant(const std::string& name, Tensor tensor);
  Node* addNode(const std::string& op, const std::string& name, std::vector<Value*> inputs,
                std::vector<Value*> outputs);
  Value* findValue(const std::string& name) const;
  std::string uniqueName(const std::string& base) const;

  //! Nodes in their current order (topological after topoSort()).
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  std::vector<Node*> nodeList() const;
  //! Values, constants included, in creation order.
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }
  //! Nodes reading `v`.
  std::vector<Node*> consumers(const Value* v) const;
  bool isGraphOutput(const Value* v) const;
  bool isGraphInput(const Value* v) const;

  void removeNode(Node* node);
  //! Every reader of `from` (and the graph outputs) reads `to` instead.
  void replaceAllUses(Value* from, Value* to);
  //! Renames `v`, keeping names unique; returns the name it got.
  std::string rename(Value* v, const std::string& name);
  //! Orders nodes so that producers come before consumers; throws on a cycle.
  void topoSort();
  //! Drops values that no node reads or writes and that are not graph IO.
  void removeUnusedValues();

 private:
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Value>> values_;
  std::unordered_map<std::string, Value*> byName_;
};

}  // namespace kiln::ir
