#include "builder/device_reformat.h"

#include <set>
#include <string>
#include <vector>

namespace kiln::builder {
namespace {

bool isFloatCast(const ir::Node& n) {
  return n.op == "Cast" && n.inputs.size() == 1 && n.inputs[0] && n.outputs.size() == 1 &&
         isFloat32Or16(n.inputs[0]->dtype) && isFloat32Or16(n.outputs[0]->dtype);
}

//! The explicit permutation of Transpose `n` (ONNX's default reverses the axes).
std::vector<int64_t> permOf(const ir::Node& n) {
  std::vector<int64_t> perm = n.ints("perm");
  if (perm.empty())
    for (std::size_t i = n.inputs[0]->shape.size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
  return perm;
}

bool isTranspose(const ir::Node& n) {
  return n.op == "Transpose" && n.inputs.size() == 1 && n.inputs[0] && n.outputs.size() == 1 &&
         isFloat32Or16(n.inputs[0]->dtype);
}

}  // namespace

int fuseDeviceReformats(ir::Graph& graph) {
  struct Pair {
    ir::Node *first, *second;
  };
  std::vector<Pair> pairs;
  std::set<const ir::Node*> taken;
  for (ir::Node* first : graph.nodeList()) {
    if (taken.count(first) || (!isFloatCast(*first) && !isTranspose(*first))) continue;
    ir::Value* mid = first->outputs[0];
    if (graph.isGraphOutput(mid)) continue;
    const std::vector<ir::Node*> readers = graph.consumers(mid);
    if (readers.size() != 1 || readers[0]->inputs.size() != 1) continue;
    ir::Node* second = readers[0];
    if (first->op == "Cast" ? !isTranspose(*second) : !isFloatCast(*second)) continue;
    pairs.push_back({first, second});
    taken.insert(first);
    taken.insert(second);
  }
  for (const Pair& p : pairs) {
    ir::Node* transpose = p.first->op == "Transpose" ? p.first : p.second;
    const std::vector<int64_t> perm = permOf(*transpose);
    const std::string name = transpose->name + "/kiln_reformat";
    ir::Value* x = p.first->inputs[0];
    ir::Value* y = p.second->outputs[0];
    graph.removeNode(p.second);
    graph.removeNode(p.first);
    ir::Node* fused = graph.addNode("KilnReformat", name, {x}, {y});
    fused->attrs["perm"] = perm;
    fused->attrs["to"] = static_cast<int64_t>(y->dtype);
  }
  if (!pairs.empty()) {
    graph.topoSort();
    graph.removeUnusedValues();
  }
  return static_cast<int>(pairs.size());
}

}  // namespace kiln::builder
