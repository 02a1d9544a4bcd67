// An If whose condition is a constant is replaced by the nodes of the branch
// it takes (as TensorRT's parser does for exported models whose conditions
// fold, e.g. a shape check). The branch's capture inputs map back onto the
// If's inputs (ir/control_flow.h); the branch's constants become constants of
// the graph; an If output that is a graph output keeps its name through an
// Identity, which eliminate_identity then folds into the producer.
#include <unordered_map>

#include "core/error.h"
#include "ir/control_flow.h"
#include "passes/passes.h"

namespace kiln::passes {
namespace {

bool constantCondition(const ir::Node& n, bool& value) {
  const ir::Value* c = n.input(0);
  if (!c || !c->constant || c->constant->numel() != 1) return false;
  value = c->constant->toInt64()[0] != 0;
  return true;
}

void inlineBranch(ir::Graph& graph, ir::Node* ifNode, const ir::Graph& taken) {
  std::unique_ptr<ir::Graph> branch = taken.clone();
  std::unordered_map<const ir::Value*, ir::Value*> map;
  KILN_CHECK(branch->inputs.size() + 1 == ifNode->inputs.size(), ifNode->describe(), ": the branch has ",
             branch->inputs.size(), " inputs for ", ifNode->inputs.size() - 1, " captured values");
  for (std::size_t i = 0; i < branch->inputs.size(); ++i) map[branch->inputs[i]] = ifNode->inputs[1 + i];
  std::string prefix = ifNode->name + "/";
  auto mapped = [&](ir::Value* v) -> ir::Value* {
    if (!v) return nullptr;
    auto it = map.find(v);
    if (it != map.end()) return it->second;
    ir::Value* outer = graph.addValue(prefix + v->name, v->dtype, v->shape);
    outer->constant = v->constant;
    map[v] = outer;
    return outer;
  };
  std::vector<ir::Value*> ifOutputs = ifNode->outputs;
  std::vector<ir::Value*> results;
  for (ir::Node* n : branch->nodeList()) {
    std::vector<ir::Value*> ins, outs;
    for (ir::Value* v : n->inputs) ins.push_back(mapped(v));
    for (ir::Value* v : n->outputs) outs.push_back(mapped(v));
    ir::Node* c = graph.addNode(n->op, prefix + n->name, std::move(ins), std::move(outs));
    c->attrs = std::move(n->attrs);
  }
  for (ir::Value* v : branch->outputs) results.push_back(mapped(v));
  graph.removeNode(ifNode);
  for (std::size_t i = 0; i < ifOutputs.size(); ++i) {
    if (graph.isGraphOutput(ifOutputs[i])) {
      graph.addNode("Identity", prefix + "output_" + std::to_string(i), {results[i]}, {ifOutputs[i]});
    } else {
      graph.replaceAllUses(ifOutputs[i], results[i]);
    }
  }
}

}  // namespace

bool inlineConstantIf(ir::Graph& graph, PassContext& ctx) {
  int inlined = 0;
  for (ir::Node* n : graph.nodeList()) {
    bool cond = false;
    if (n->op != "If" || !constantCondition(*n, cond)) continue;
    std::string name = n->describe();
    inlineBranch(graph, n, ir::control_flow::subgraph(*n, cond ? "then_branch" : "else_branch"));
    ctx.log.push_back(strCat("inline_constant_if: ", name, " takes its ", cond ? "then" : "else", " branch"));
    ++inlined;
  }
  return inlined > 0;
}

}  // namespace kiln::passes
