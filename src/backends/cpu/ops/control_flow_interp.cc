#include "backends/cpu/ops/control_flow_interp.h"

#include <cstring>
#include <variant>

#include "core/error.h"
#include "ir/op_schema.h"

namespace kiln::cpu {

SubgraphSession::SubgraphSession(const ir::Graph& graph, std::string where)
    : graph_(graph.clone()), where_(std::move(where)) {}

std::vector<std::shared_ptr<const ir::Tensor>> SubgraphSession::run(
    const std::vector<std::shared_ptr<const ir::Tensor>>& inputs, ThreadPool* pool) {
  ir::Graph& g = *graph_;
  KILN_CHECK(inputs.size() == g.inputs.size(), where_, ": ", inputs.size(), " inputs for a subgraph of ",
             g.inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    ir::Value* v = g.inputs[i];
    KILN_CHECK(inputs[i], where_, ": subgraph input \"", v->name, "\" has no data");
    KILN_CHECK(inputs[i]->dtype() == v->dtype, where_, ": subgraph input \"", v->name, "\" is ",
               dataTypeName(v->dtype), " but receives ", dataTypeName(inputs[i]->dtype()));
    v->shape = ir::shapeOf(inputs[i]->dims());
    v->constant = inputs[i];
  }
  std::vector<const ir::Tensor*> ins;
  for (ir::Node* n : g.nodeList()) {
    try {
      ir::inferNode(*n);
      ins.clear();
      for (const ir::Value* v : n->inputs) {
        KILN_CHECK(!v || v->constant, n->describe(), ": input \"", v ? v->name : "", "\" was not computed");
        ins.push_back(v ? v->constant.get() : nullptr);
      }
      std::vector<ir::Tensor> outs = evaluateNode(*n, ins, pool);
      for (std::size_t k = 0; k < outs.size() && k < n->outputs.size(); ++k)
        n->outputs[k]->constant = std::make_shared<const ir::Tensor>(std::move(outs[k]));
    } catch (const Error& e) {
      fail(where_, ": ", e.what());
    }
  }
  std::vector<std::shared_ptr<const ir::Tensor>> out;
  for (const ir::Value* v : g.outputs) {
    KILN_CHECK(v->constant, where_, ": subgraph output \"", v->name, "\" was not computed");
    out.push_back(v->constant);
  }
  return out;
}

std::shared_ptr<const ir::Tensor> borrowView(const TensorView& view) {
  return std::make_shared<const ir::Tensor>(ir::Tensor::borrow(view.dtype, view.shape(), view.data, nullptr));
}

void copyToView(const ir::Tensor& t, const TensorView& out, const std::string& what) {
  KILN_CHECK(t.dtype() == out.dtype, what, " is ", dataTypeName(t.dtype()), ", its buffer ", dataTypeName(out.dtype));
  KILN_CHECK(t.dims() == out.shape(), what, " has shape ", ir::toString(t.dims()), " at run time, but the engine sized it ",
             ir::toString(out.shape()), " (its shape changes from one iteration to the next or depends on data)");
  if (t.bytes()) std::memcpy(out.data, t.data(), t.bytes());
}

bool allOpsHaveKernels(const ir::Graph& g) {
  for (const auto& n : g.nodes()) {
    if (tactics().forOp(n->op).empty()) return false;
    for (const auto& [name, a] : n->attrs)
      if (auto* sub = std::get_if<ir::GraphAttr>(&a))
        if (*sub && !allOpsHaveKernels(**sub)) return false;
  }
  return true;
}

}  // namespace kiln::cpu
