// Dead code elimination: a node lives when one of its outputs reaches a graph
// output; every other node goes. Graph inputs stay even when unread (they are
// part of the engine's interface).
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "passes/passes.h"

namespace kiln::passes {

bool eliminateDeadCode(ir::Graph& graph, PassContext& ctx) {
  std::unordered_map<const ir::Value*, ir::Node*> producer;
  for (ir::Node* n : graph.nodeList())
    for (ir::Value* o : n->outputs)
      if (o) producer[o] = n;

  // Walk back from the graph outputs.
  std::unordered_set<const ir::Node*> live;
  std::vector<const ir::Value*> work(graph.outputs.begin(), graph.outputs.end());
  while (!work.empty()) {
    const ir::Value* v = work.back();
    work.pop_back();
    auto it = producer.find(v);
    if (it == producer.end() || !live.insert(it->second).second) continue;
    for (const ir::Value* in : it->second->inputs)
      if (in) work.push_back(in);
  }

  int removed = 0;
  for (ir::Node* n : graph.nodeList())
    if (!live.count(n)) {
      graph.removeNode(n);
      ++removed;
    }
  if (!removed) return false;
  graph.removeUnusedValues();
  ctx.log.push_back(strCat("eliminate_dead_code: removed ", removed, " nodes"));
  return true;
}

}  // namespace kiln::passes
