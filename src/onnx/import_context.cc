#include "onnx/import_context.h"

#include <algorithm>

#include "ir/op_schema.h"
#include "onnx/tensor_proto.h"

namespace kiln::onnx {

using AP = ::onnx::AttributeProto;

namespace {
std::optional<ir::Tensor> evaluateValue(const ir::Value* v, const ir::NodeEvaluator* evaluate, int depth);
}  // namespace

ir::Value* ModelState::lookup(const std::string& name) {
  auto it = tensors.find(name);
  if (it != tensors.end()) return it->second;
  if (!parent) return nullptr;
  ir::Value* outer = parent->lookup(name);
  if (!outer) return nullptr;
  ir::Value* inner = graph.addValue(name, outer->dtype, outer->shape);
  std::optional<ir::Tensor> known;
  if (!outer->constant && evaluate) {
    try {  // a small value computable at parse time (an If's folded condition): the subgraph gets it as a constant
      known = evaluateValue(outer, evaluate, 0);
    } catch (const Error&) {
    }
  }
  if (outer->constant) inner->constant = outer->constant;
  else if (known) inner->constant = std::make_shared<const ir::Tensor>(std::move(*known));
  else captures.emplace_back(outer, inner);
  tensors[name] = inner;
  return inner;
}

NodeContext::NodeContext(ModelState& model, const ::onnx::NodeProto& proto, int index, std::string name)
    : model_(model), proto_(proto), index_(index), name_(std::move(name)) {
  for (const std::string& in : proto.input()) {
    if (in.empty()) {  // an absent optional input
      inputs_.push_back(nullptr);
      continue;
    }
    ir::Value* v = model.lookup(in);
    KILN_IMPORT_CHECK(v, ErrorCode::kINVALID_GRAPH, describe(), ": input \"", in,
                      "\" is not produced by any node, initializer or graph input");
    inputs_.push_back(v);
  }
}

std::string NodeContext::describe() const {
  return strCat("node \"", name_, "\" (", proto_.op_type(), ", opset ", model_.opset, ")");
}

ir::Value* NodeContext::requireInput(std::size_t i) const {
  ir::Value* v = input(i);
  KILN_NODE_CHECK(*this, v, ErrorCode::kINVALID_NODE, "required input ", i, " is missing");
  return v;
}

const ir::Tensor* NodeContext::constInput(std::size_t i) const {
  ir::Value* v = input(i);
  return v && v->constant ? v->constant.get() : nullptr;
}

bool NodeContext::outputUsed(std::size_t i) const {
  return i < numOutputs() && !proto_.output(i).empty() && model_.used.count(proto_.output(i));
}

void NodeContext::bindOutput(std::size_t i, ir::Value* v) {
  const std::string& name = proto_.output(static_cast<int>(i));
  if (name.empty()) return;
  KILN_IMPORT_CHECK(!model_.tensors.count(name), ErrorCode::kINVALID_GRAPH, describe(), ": output \"", name,
                    "\" is already produced by another node, initializer or graph input");
  model_.tensors[name] = v;
}

// Attributes ---------------------------------------------------------------

const AP* NodeContext::attr(std::string_view name) const {
  for (const AP& a : proto_.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t NodeContext::attrInt(std::string_view name, int64_t dflt) const {
  const AP* a = attr(name);
  if (!a) return dflt;
  KILN_NODE_CHECK(*this, a->type() == AP::INT || (a->type() == AP::UNDEFINED && a->has_i()),
                  ErrorCode::kINVALID_NODE, "attribute '", name, "' must be an int");
  return a->i();
}

float NodeContext::attrFloat(std::string_view name, float dflt) const {
  const AP* a = attr(name);
  if (!a) return dflt;
  if (a->type() == AP::INT) return static_cast<float>(a->i());
  KILN_NODE_CHECK(*this, a->type() == AP::FLOAT || (a->type() == AP::UNDEFINED && a->has_f()),
                  ErrorCode::kINVALID_NODE, "attribute '", name, "' must be a float");
  return a->f();
}

std::string NodeContext::attrString(std::string_view name, const std::string& dflt) const {
  const AP* a = attr(name);
  if (!a) return dflt;
  KILN_NODE_CHECK(*this, a->type() == AP::STRING || (a->type() == AP::UNDEFINED && a->has_s()),
                  ErrorCode::kINVALID_NODE, "attribute '", name, "' must be a string");
  return a->s();
}

std::vector<int64_t> NodeContext::attrInts(std::string_view name) const {
  const AP* a = attr(name);
  if (!a) return {};
  KILN_NODE_CHECK(*this, a->type() == AP::INTS || a->type() == AP::UNDEFINED, ErrorCode::kINVALID_NODE,
                  "attribute '", name, "' must be a list of ints");
  return {a->ints().begin(), a->ints().end()};
}

std::vector<float> NodeContext::attrFloats(std::string_view name) const {
  const AP* a = attr(name);
  if (!a) return {};
  if (a->type() == AP::INTS) return {a->ints().begin(), a->ints().end()};
  KILN_NODE_CHECK(*this, a->type() == AP::FLOATS || a->type() == AP::UNDEFINED, ErrorCode::kINVALID_NODE,
                  "attribute '", name, "' must be a list of floats");
  return {a->floats().begin(), a->floats().end()};
}

ir::Attribute NodeContext::convert(const AP& a) const {
  auto type = a.type();
  if (type == AP::UNDEFINED) {  // IR version 1 models leave the type out: infer it from the field set
    if (a.has_f()) type = AP::FLOAT;
    else if (a.has_i()) type = AP::INT;
    else if (a.has_s()) type = AP::STRING;
    else if (a.has_t()) type = AP::TENSOR;
    else if (a.floats_size()) type = AP::FLOATS;
    else if (a.ints_size()) type = AP::INTS;
    else if (a.strings_size()) type = AP::STRINGS;
  }
  switch (type) {
    case AP::INT: return a.i();
    case AP::FLOAT: return a.f();
    case AP::STRING: return a.s();
    case AP::INTS: return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    case AP::FLOATS: return std::vector<float>(a.floats().begin(), a.floats().end());
    case AP::STRINGS: return std::vector<std::string>(a.strings().begin(), a.strings().end());
    case AP::TENSOR:
      return tensorFromProto(a.t(), model_.modelDir, strCat(describe(), ": attribute '", a.name(), "'"));
    default:
      KILN_NODE_FAIL(*this, ErrorCode::kUNSUPPORTED_NODE_ATTR, "attribute '", a.name(), "' of type ",
                     AP::AttributeType_Name(type), " is not supported");
  }
}

Attrs NodeContext::attrs(std::initializer_list<std::string_view> drop) const {
  Attrs out;
  for (const AP& a : proto_.attribute()) {
    if (std::find(drop.begin(), drop.end(), a.name()) != drop.end()) continue;
    out[a.name()] = convert(a);
  }
  return out;
}

// Parse-time evaluation ----------------------------------------------------

namespace {

bool smallIntegral(const ir::Value* v) {
  bool integral = v->dtype == DType::kINT64 || v->dtype == DType::kINT32 || v->dtype == DType::kBOOL;
  return integral && ir::isStatic(v->shape) && ir::numElements(ir::staticDims(v->shape)) <= 64;
}

std::optional<ir::Tensor> evaluateValue(const ir::Value* v, const ir::NodeEvaluator* evaluate, int depth) {
  if (v->constant) return *v->constant;
  const ir::Node* p = v->producer;
  if (!p || depth > 16 || !smallIntegral(v)) return std::nullopt;
  const ir::Value* x = p->input(0);
  if ((p->op == "Size" || p->op == "Shape") && x && ir::isStatic(x->shape) && p->outputs.size() == 1) {
    std::vector<int64_t> dims = ir::staticDims(x->shape);
    if (p->op == "Size") return ir::Tensor::fromInt64({ir::numElements(dims)}, {});
    int64_t rank = static_cast<int64_t>(dims.size());
    auto clampAxis = [&](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
    int64_t b = clampAxis(p->i("start", 0)), e = std::max(b, clampAxis(p->i("end", rank)));
    std::vector<int64_t> picked(dims.begin() + b, dims.begin() + e);
    return ir::Tensor::fromInt64(picked, {static_cast<int64_t>(picked.size())});
  }
  if (!evaluate || p->op == "Loop" || p->op == "Scan") return std::nullopt;  // If: small, and often folded itself
  std::vector<ir::Tensor> held;
  held.reserve(p->inputs.size());
  std::vector<const ir::Tensor*> ins;
  for (const ir::Value* in : p->inputs) {
    if (!in) {
      ins.push_back(nullptr);
      continue;
    }
    std::optional<ir::Tensor> t = evaluateValue(in, evaluate, depth + 1);
    if (!t) return std::nullopt;
    held.push_back(std::move(*t));
    ins.push_back(&held.back());
  }
  std::vector<ir::Tensor> outs = (*evaluate)(*p, ins);
  for (std::size_t k = 0; k < p->outputs.size() && k < outs.size(); ++k)
    if (p->outputs[k] == v) return std::move(outs[k]);
  return std::nullopt;
}

}  // namespace

std::optional<ir::Tensor> NodeContext::tryEvaluate(const ir::Value* v) const {
  if (!v) return std::nullopt;
  try {
    return evaluateValue(v, model_.evaluate, 0);
  } catch (const Error&) {  // not computable here after all: the node stays dynamic
    return std::nullopt;
  }
}

// Building -----------------------------------------------------------------

ir::Value* NodeContext::constant(const std::string& suffix, ir::Tensor t) const {
  return model_.graph.addConstant(strCat(name_, "/", suffix), std::move(t));
}

ir::Value* NodeContext::constInts(const std::string& suffix, const std::vector<int64_t>& values) const {
  return constant(suffix, ir::Tensor::fromInt64(values, {static_cast<int64_t>(values.size())}));
}

ir::Value* NodeContext::constScalar(const std::string& suffix, DType dtype, float v) const {
  return constant(suffix, ir::Tensor::fromFloat({v}, {}).castTo(dtype));
}

void NodeContext::infer(ir::Node* node) const {
  // Schema errors are kiln::Errors that already name the IR node; the caller
  // records them as kINVALID_NODE for this ONNX node.
  ir::inferNode(*node);
}

ir::Node* NodeContext::emit(const std::string& op, std::vector<ir::Value*> ins, Attrs attrs, int maxOutputs) {
  while (!ins.empty() && !ins.back()) ins.pop_back();
  std::size_t n = maxOutputs < 0 ? numOutputs() : std::min<std::size_t>(maxOutputs, numOutputs());
  while (n > 0 && proto_.output(static_cast<int>(n - 1)).empty()) --n;
  std::vector<ir::Value*> outs;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& onnxName = proto_.output(static_cast<int>(i));
    // An unnamed output in the middle (e.g. an omitted optional output) still
    // needs a value to keep the output positions.
    ir::Value* v = model_.graph.addValue(onnxName.empty() ? strCat(name_, "/unused_", i) : onnxName);
    bindOutput(i, v);
    outs.push_back(v);
  }
  ir::Node* node = model_.graph.addNode(op, name_, std::move(ins), std::move(outs));
  node->attrs = std::move(attrs);
  infer(node);
  return node;
}

ir::Value* NodeContext::emitInner(const std::string& op, const std::string& suffix, std::vector<ir::Value*> ins,
                                  Attrs attrs) {
  while (!ins.empty() && !ins.back()) ins.pop_back();
  std::string innerName = strCat(name_, "/", suffix);
  ir::Value* out = model_.graph.addValue(innerName);
  ir::Node* node = model_.graph.addNode(op, innerName, std::move(ins), {out});
  node->attrs = std::move(attrs);
  infer(node);
  return out;
}

}  // namespace kiln::onnx
