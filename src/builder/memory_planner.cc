#include "builder/memory_planner.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace kiln::builder {

bool isInPlaceAlias(const ir::Node& node) {
  static const char* ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};
  for (const char* op : ops)
    if (node.op == op) return node.outputs.size() == 1;
  return false;
}

namespace {

struct Block {
  int64_t size = 0;
  int first = 0, last = 0;  // node indices where the block is born and last read
  int64_t offset = -1;
  std::vector<const ir::Value*> values;
};

int64_t alignUp(int64_t n) { return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

int64_t staticBytes(const ir::Value& v) { return ir::numElements(ir::staticDims(v.shape)) * dtypeSize(v.dtype); }

}  // namespace

MemoryPlan planMemory(const ir::Graph& graph) { return planMemory(graph, staticBytes); }

MemoryPlan planMemory(const ir::Graph& graph, const std::function<int64_t(const ir::Value&)>& bytesOf) {
  const auto& nodes = graph.nodes();
  std::unordered_map<const ir::Value*, int> blockOf;
  std::vector<Block> blocks;
  auto inArena = [&](const ir::Value* v) {
    return v && !v->isConstant() && !graph.isGraphInput(v) && !graph.isGraphOutput(v);
  };
  // Last reader of every value.
  std::unordered_map<const ir::Value*, int> lastUse;
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i)
    for (const ir::Value* in : nodes[i]->inputs)
      if (in) lastUse[in] = i;

  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    const ir::Node& n = *nodes[i];
    for (const ir::Value* out : n.outputs) {
      if (!inArena(out)) continue;
      const ir::Value* src = n.inputs.empty() ? nullptr : n.inputs[0];
      bool alias = isInPlaceAlias(n) && inArena(src) && lastUse[src] == i && blockOf.count(src) &&
                   bytesOf(*src) == bytesOf(*out);
      if (alias) {
        blockOf[out] = blockOf[src];
        blocks[blockOf[src]].values.push_back(out);
        continue;
      }
      Block b;
      b.size = alignUp(std::max<int64_t>(bytesOf(*out), 1));
      b.first = b.last = i;
      b.values.push_back(out);
      blockOf[out] = static_cast<int>(blocks.size());
      blocks.push_back(std::move(b));
    }
  }
  for (auto& [v, blk] : blockOf) {
    auto it = lastUse.find(v);
    // A value nobody reads still lives while its producer runs.
    if (it != lastUse.end()) blocks[blk].last = std::max(blocks[blk].last, it->second);
  }

  // Greedy by size: place the biggest blocks first, each at the lowest offset
  // that doesn't overlap a block whose lifetime intersects its own.
  std::vector<int> order(blocks.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return blocks[a].size > blocks[b].size; });
  std::vector<int> placed;
  MemoryPlan plan;
  for (int bi : order) {
    Block& b = blocks[bi];
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (int pi : placed) {
      const Block& p = blocks[pi];
      if (p.first <= b.last && b.first <= p.last) busy.push_back({p.offset, p.offset + p.size});
    }
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (auto& [lo, hi] : busy) {
      if (offset + b.size <= lo) break;
      offset = std::max(offset, hi);
    }
    b.offset = offset;
    placed.push_back(bi);
    plan.arenaBytes = std::max(plan.arenaBytes, offset + b.size);
    plan.naiveBytes += b.size;
  }
  for (const Block& b : blocks)
    for (const ir::Value* v : b.values) plan.offsets[v->name] = b.offset;
  return plan;
}

}  // namespace kiln::builder
