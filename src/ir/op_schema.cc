#include "ir/op_schema.h"

#include <algorithm>
#include <unordered_set>

namespace kiln::ir {

const Value& InferContext::in(std::size_t i) const {
  Value* v = node_.input(i);
  if (!v) error("input ", i, " is missing");
  return *v;
}

Value& InferContext::out(std::size_t i) const {
  if (i >= node_.outputs.size() || !node_.outputs[i]) error("output ", i, " is missing");
  return *node_.outputs[i];
}

const Tensor* InferContext::constInput(std::size_t i) const {
  Value* v = node_.input(i);
  return v && v->constant ? v->constant.get() : nullptr;
}

void InferContext::setOutput(std::size_t i, DType dtype, Shape shape) const {
  Value& v = out(i);
  v.dtype = dtype;
  v.shape = std::move(shape);
}

int64_t InferContext::axis(int64_t axis, int64_t rank, const char* what) const {
  check(axis >= -rank && axis < std::max<int64_t>(rank, 1), what, " ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

void SchemaRegistry::add(OpSchema schema) {
  std::string op = schema.op;
  schemas_[op] = std::move(schema);
}

const OpSchema* SchemaRegistry::find(std::string_view op) const {
  auto it = schemas_.find(std::string(op));
  return it == schemas_.end() ? nullptr : &it->second;
}

std::vector<std::string> SchemaRegistry::ops() const {
  std::vector<std::string> out;
  for (auto& [name, s] : schemas_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

void inferNode(Node& node) {
  const OpSchema* schema = schemas().find(node.op);
  KILN_CHECK(schema, node.describe(), ": Kiln has no op '", node.op, "'");
  int nin = static_cast<int>(node.inputs.size());
  int nout = static_cast<int>(node.outputs.size());
  KILN_CHECK(nin >= schema->minInputs && nin <= schema->maxInputs, node.describe(), ": has ", nin,
             " inputs, expected ", schema->minInputs,
             schema->maxInputs == schema->minInputs ? std::string() : strCat(" to ", schema->maxInputs));
  KILN_CHECK(nout >= schema->minOutputs && nout <= schema->maxOutputs, node.describe(), ": has ", nout,
             " outputs, expected ", schema->minOutputs,
             schema->maxOutputs == schema->minOutputs ? std::string() : strCat(" to ", schema->maxOutputs));
  for (int i = 0; i < schema->minInputs; ++i)
    KILN_CHECK(node.inputs[i], node.describe(), ": required input ", i, " is missing");
  InferContext ctx(node);
  schema->infer(ctx);
}

Dim dataDependentDim(const Node& node, int64_t bound) {
  Dim d(bound);
  d.symbol = "?" + node.name;
  return d;
}

bool isDataDependentDim(const Dim& d) { return !d.symbol.empty() && d.symbol[0] == '?'; }

bool isDataDependentOutput(const Node& node, std::size_t index) {
  const OpSchema* schema = schemas().find(node.op);
  return schema && index < 32 && (schema->dataDependentOutputs >> index & 1u);
}

bool dependsOnDataDependentShape(const Value& v) {
  std::vector<const Value*> todo{&v};
  std::unordered_set<const Value*> seen;
  while (!todo.empty()) {
    const Value* x = todo.back();
    todo.pop_back();
    if (!x || !x->producer || !seen.insert(x).second) continue;
    const Node& n = *x->producer;
    if (n.op == "Shape" || n.op == "Size") continue;  // their size is the input's rank, not its dims
    for (std::size_t i = 0; i < n.outputs.size(); ++i)
      if (n.outputs[i] == x && isDataDependentOutput(n, i)) return true;
    for (const Value* in : n.inputs) todo.push_back(in);
  }
  return false;
}

void inferGraph(Graph& graph) {
  for (auto& n : graph.nodes()) inferNode(*n);
}

Dim mulDims(const Dim& a, const Dim& b) {
  if (a.known() && b.known()) return Dim(a.value * b.value);
  if ((a.known() && a.value == 0) || (b.known() && b.value == 0)) return Dim(int64_t{0});
  return Dim();
}

Shape broadcastShapes(const InferContext& ctx, const Shape& a, const Shape& b) {
  std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const Dim* da = i < rank - a.size() ? nullptr : &a[i - (rank - a.size())];
    const Dim* db = i < rank - b.size() ? nullptr : &b[i - (rank - b.size())];
    if (!da) { out[i] = *db; continue; }
    if (!db) { out[i] = *da; continue; }
    if (da->known() && db->known() && da->value != db->value && (isDataDependentDim(*da) || isDataDependentDim(*db))) {
      // A data-dependent dim is only an upper bound here: at run time it must be 1 or match the other.
      const Dim* dd = isDataDependentDim(*da) ? da : db;
      const Dim* other = dd == da ? db : da;
      out[i] = other->value == 1 || isDataDependentDim(*other) ? (dd->value >= other->value ? *dd : *other) : *other;
    } else if (da->known() && db->known()) {
      ctx.check(da->value == db->value || da->value == 1 || db->value == 1, "cannot broadcast shapes ",
                toString(a), " and ", toString(b));
      out[i] = Dim(da->value == 1 ? db->value : da->value);
    } else if (da->known() && da->value == 1) {
      out[i] = *db;
    } else if (db->known() && db->value == 1) {
      out[i] = *da;
    } else if (da->known()) {
      out[i] = *da;  // the unknown side must be 1 or equal: the known side wins
    } else if (db->known()) {
      out[i] = *db;
    } else {
      out[i] = *da == *db ? *da : Dim();
    }
  }
  return out;
}

}  // namespace kiln::ir
