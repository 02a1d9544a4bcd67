// One OpSchema per op kind: arity, attribute checks, and type + shape
// inference. Nothing else in Kiln infers shapes.
//
// Schemas live in src/ir/ops/, one file per op family; each family file has a
// register*Schemas(SchemaRegistry&) function that schemas.cc calls (explicit
// registration: static-initializer tricks are dropped by the linker).
#pragma once
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "ir/graph.h"

namespace kiln::ir {

//! What an inference function sees: the node, its inputs (dtype, shape and,
//! for constants, their values), and the outputs it must fill.
class InferContext {
 public:
  explicit InferContext(Node& node) : node_(node) {}
  Node& node() const { return node_; }
  std::size_t numInputs() const { return node_.inputs.size(); }
  bool hasInput(std::size_t i) const { return node_.input(i) != nullptr; }
  const Value& in(std::size_t i) const;
  Value& out(std::size_t i) const;
  std::size_t numOutputs() const { return node_.outputs.size(); }
  //! Values of input `i` when it is a constant, else nullptr.
  const Tensor* constInput(std::size_t i) const;
  //! Rank of input `i`.
  int64_t rank(std::size_t i) const { return static_cast<int64_t>(in(i).shape.size()); }

  void setOutput(std::size_t i, DType dtype, Shape shape) const;

  //! Throws kiln::Error("<Op> node "<name>": <message>").
  template <typename... Args>
  [[noreturn]] void error(const Args&... args) const {
    fail(node_.describe(), ": ", args...);
  }
  template <typename... Args>
  void check(bool cond, const Args&... args) const {
    if (!cond) error(args...);
  }
  //! Normalizes a possibly negative axis against `rank`; errors when out of range.
  int64_t axis(int64_t axis, int64_t rank, const char* what = "axis") const;

 private:
  Node& node_;
};

using InferFn = void (*)(InferContext&);

struct OpSchema {
  std::string op;
  int minInputs = 1;
  int maxInputs = 1;
  int minOutputs = 1;
  int maxOutputs = 1;
  InferFn infer = nullptr;
  //! Bit i set: output i's shape depends on the input *values* (NonZero,
  //! NonMaxSuppression). Inference gives an upper bound for such a shape (what
  //! memory is sized for); the kernel reports the actual dims per run
  //! (cpu::ExecContext::actualOutputs) and the runtime re-resolves the shapes
  //! of everything downstream.
  uint32_t dataDependentOutputs = 0;
};

class SchemaRegistry {
 public:
  void add(OpSchema schema);
  const OpSchema* find(std::string_view op) const;
  std::vector<std::string> ops() const;

 private:
  std::unordered_map<std::string, OpSchema> schemas_;
};

//! The registry with every schema Kiln has.
const SchemaRegistry& schemas();

//! A data-dependent dim of `node`'s output: `bound` (its upper bound, or -1
//! when that is unknown too), marked by a symbol "?<node name>" that ops which
//! pass dims through keep, so the runtime can report it as -1.
Dim dataDependentDim(const Node& node, int64_t bound);
bool isDataDependentDim(const Dim& d);
//! Whether output `index` of `node` has a data-dependent shape (its schema says so).
bool isDataDependentOutput(const Node& node, std::size_t index);
//! Whether `v`'s shape may depend on input values: it is a data-dependent
//! output or is computed (transitively) from one.
bool dependsOnDataDependentShape(const Value& v);

//! Checks arity, then runs the op's inference. Throws kiln::Error naming the node.
void inferNode(Node& node);
//! inferNode over all nodes in order (call topoSort first).
void inferGraph(Graph& graph);

// Shared helpers for inference functions.
//! Numpy-style broadcast of two shapes; error names the node.
Shape broadcastShapes(const InferContext& ctx, const Shape& a, const Shape& b);
//! Dim arithmetic that keeps unknowns unknown.
Dim mulDims(const Dim& a, const Dim& b);

}  // namespace kiln::ir
