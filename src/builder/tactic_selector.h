// Chooses a CPU tactic for each node: the only candidate, the timing cache's
// answer, or the fastest by timing on the node's real shapes.
#pragma once
#include <string>

#include "backends/cpu/kernel.h"
#include "builder/build_plan.h"
#include "core/thread_pool.h"
#include "ir/graph.h"

namespace kiln::builder {

//! A copy of a node in a scratch graph of its own, so a tactic can prepack
//! (or a variant's attributes be set) without touching the real graph.
struct ScratchNode {
  ir::Graph graph;
  ir::Node* node = nullptr;
};
void makeScratch(const ir::Node& node, ScratchNode& s);

struct TacticChoice {
  std::string tactic;
  bool timed = false;
  bool cached = false;
};

//! Picks the tactic for `node`; doesn't change the node. Throws kiln::Error
//! naming the node when no CPU tactic supports it.
//! Whether the options' tactic sources let `tactic` be chosen.
bool allowed(const cpu::Tactic& tactic, const BuildOptions& options);

TacticChoice chooseTactic(const ir::Node& node, const BuildOptions& options, ThreadPool& pool);

//! Milliseconds one run of `tactic` takes on `node` (median of `iterations`).
//! A tactic whose first run already takes longer than `cutoffMs` is not timed
//! further: that first time is returned (it has lost already).
double timeTactic(const ir::Node& node, const std::string& tactic, int iterations, ThreadPool& pool,
                  double cutoffMs = 1e30);

}  // namespace kiln::builder
