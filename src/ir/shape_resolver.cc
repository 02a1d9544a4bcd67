#include "ir/shape_resolver.h"

#include <algorithm>

#include "core/error.h"
#include "ir/op_schema.h"

namespace kiln::ir {

namespace {

bool isShapeMath(DType t) { return t == DType::kINT64 || t == DType::kINT32 || t == DType::kBOOL; }

//! Worth evaluating on the host: small integer outputs computed from known values.
bool hostEvaluable(const Node& n, int64_t maxElements) {
  if (n.op == "Shape" || n.op == "Size") return n.input(0) && isStatic(n.inputs[0]->shape);
  for (const Value* in : n.inputs)
    if (in && !in->constant) return false;
  for (const Value* out : n.outputs) {
    if (!isShapeMath(out->dtype) || !isStatic(out->shape)) return false;
    if (numElements(staticDims(out->shape)) > maxElements) return false;
  }
  return !n.outputs.empty();
}

}  // namespace

ResolveResult resolveShapes(Graph& graph, const std::map<std::string, std::vector<int64_t>>& inputShapes,
                            const NodeEvaluator& evaluate, int64_t maxHostElements,
                            const std::map<std::string, std::vector<int64_t>>* actualShapes,
                            const std::map<std::string, std::vector<int64_t>>* inputValues) {
  for (Value* in : graph.inputs) {
    auto it = inputShapes.find(in->name);
    if (it == inputShapes.end()) {
      KILN_CHECK(isStatic(in->shape), "input \"", in->name, "\" has dynamic shape ", toString(in->shape),
                 " and no shape was given for it");
      continue;
    }
    const std::vector<int64_t>& dims = it->second;
    KILN_CHECK(dims.size() == in->shape.size(), "input \"", in->name, "\": rank ", dims.size(), " given, the network's is ",
               in->shape.size());
    for (std::size_t i = 0; i < dims.size(); ++i) {
      KILN_CHECK(dims[i] >= 0, "input \"", in->name, "\": dimension ", i, " is negative (", dims[i], ")");
      KILN_CHECK(!in->shape[i].known() || in->shape[i].value == dims[i], "input \"", in->name, "\": dimension ", i,
                 " is ", dims[i], " but the network fixes it at ", in->shape[i].value);
    }
    in->shape = shapeOf(dims);
  }
  if (inputValues)
    for (const auto& [name, values] : *inputValues) {
      Value* in = graph.findValue(name);
      KILN_CHECK(in && graph.isGraphInput(in), "shape values given for \"", name, "\", which is not a network input");
      KILN_CHECK(in->dtype == DType::kINT32 || in->dtype == DType::kINT64, "shape-tensor input \"", name, "\" is ",
                 dataTypeName(in->dtype), "; shape tensors are int32 or int64");
      KILN_CHECK(isStatic(in->shape) && numElements(staticDims(in->shape)) == static_cast<int64_t>(values.size()),
                 "shape-tensor input \"", name, "\" has shape ", toString(in->shape), " but ", values.size(),
                 " values were given");
      Tensor t = Tensor::fromInt64(values, staticDims(in->shape));
      in->constant = std::make_shared<const Tensor>(in->dtype == DType::kINT64 ? std::move(t) : t.castTo(in->dtype));
    }
  ResolveResult result;
  for (Node* n : graph.nodeList()) {
    inferNode(*n);
    if (actualShapes)
      for (Value* out : n->outputs)
        if (auto it = actualShapes->find(out->name); it != actualShapes->end()) out->shape = shapeOf(it->second);
    if (!evaluate || !hostEvaluable(*n, maxHostElements)) continue;
    if (n->op == "Shape" || n->op == "Size") {  // from the input's shape alone: its data is not on the host
      std::vector<int64_t> dims = staticDims(n->inputs[0]->shape);
      int64_t rank = static_cast<int64_t>(dims.size());
      auto clampAxis = [&](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
      Tensor t = n->op == "Size" ? Tensor::fromInt64({numElements(dims)}, {})
                                 : [&] {
                                     int64_t b = clampAxis(n->i("start", 0)), e = clampAxis(n->i("end", rank));
                                     std::vector<int64_t> picked(dims.begin() + b, dims.begin() + std::max(b, e));
                                     return Tensor::fromInt64(picked, {static_cast<int64_t>(picked.size())});
                                   }();
      n->outputs[0]->constant = std::make_shared<const Tensor>(std::move(t));
      result.hostEvaluated.push_back(n);
      continue;
    }
    std::vector<const Tensor*> ins;
    for (const Value* v : n->inputs) ins.push_back(v && v->constant ? v->constant.get() : nullptr);
    std::vector<Tensor> outs = evaluate(*n, ins);
    for (std::size_t i = 0; i < outs.size() && i < n->outputs.size(); ++i) {
      n->outputs[i]->shape = shapeOf(outs[i].dims());  // a data-dependent output's actual shape
      n->outputs[i]->constant = std::make_shared<const Tensor>(std::move(outs[i]));
    }
    result.hostEvaluated.push_back(n);
  }
  for (auto& n : graph.nodes())
    for (const Value* v : n->outputs)
      KILN_CHECK(isStatic(v->shape), n->describe(), ": the shape of \"", v->name, "\" is ", toString(v->shape),
                 " even with every input shape known",
                 n->op == "Loop" ? "; a Loop's scan outputs need a trip count known at build time (M a constant "
                                   "or computed from shapes, and a condition that cannot end the loop early): "
                                   "data-dependent output sizes are not supported for Loop yet"
                                 : "");
  return result;
}

}  // namespace kiln::ir
