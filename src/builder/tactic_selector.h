// Chooses a CPU tactic for each node: the only candidate, the timing cache's
// answer, or the fastest by timing on the node's real shapes.
#pragma once
#include <functional>
#include <string>
#include <vector>

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

//! Scores `count` candidates in milliseconds per run, where runMs(c) runs
//! candidate c once and returns its time. Each runs once to warm up; then in
//! each of a few rounds every candidate still racing runs ceil(iterations /
//! rounds) times back to back; its score is its fastest timed run (load from
//! other work only adds time).
//! Candidates far behind (a warm-up of 5x the fastest and >= 20 ms; 3x the
//! best after two rounds) stop early and keep the time they had. Interleaving is the point: load from
//! other work on the machine then slows all candidates alike.
std::vector<double> timeCandidates(int count, const std::function<double(int)>& runMs, int iterations);

//! Milliseconds one run of `tactic` takes on `node` (timeCandidates of one).
double timeTactic(const ir::Node& node, const std::string& tactic, int iterations, ThreadPool& pool);

}  // namespace kiln::builder
