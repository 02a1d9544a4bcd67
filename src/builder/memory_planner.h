// Packs a graph's activations into one arena by liveness.
//
// Every value that is not a constant and not a graph input/output gets an
// offset. Values whose lifetimes don't overlap may share bytes. Ops that only
// reinterpret their input (Reshape, Flatten, Squeeze, Unsqueeze, Identity)
// run in place when their input dies there: the output gets the input's
// offset and the kernel sees equal pointers and copies nothing.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include "ir/graph.h"

namespace kiln::builder {

struct MemoryPlan {
  std::unordered_map<std::string, int64_t> offsets;  //!< by value name
  int64_t arenaBytes = 0;
  int64_t naiveBytes = 0;  //!< sum of all activation sizes (what no reuse would cost)
};

constexpr int64_t kArenaAlignment = 64;

//! `graph` must be topologically sorted with static shapes.
MemoryPlan planMemory(const ir::Graph& graph);
//! The same with each value's size given by `bytesOf` (for a graph with
//! dynamic shapes: the value's largest size over the profiles).
MemoryPlan planMemory(const ir::Graph& graph, const std::function<int64_t(const ir::Value&)>& bytesOf);

//! True for ops whose output is their first input's bytes unchanged.
bool isInPlaceAlias(const ir::Node& node);

}  // namespace kiln::builder
