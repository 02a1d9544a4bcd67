// The build phase: network graph -> optimized, tactic-chosen, memory-planned
// plan bytes. The API's IBuilder::buildSerializedNetwork is a thin wrapper.
#pragma once
#include <cstdint>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "builder/timing_cache.h"
#include "ir/graph.h"
#include "kiln/types.h"

namespace kiln::builder {

struct ProfileShape {
  std::string input;
  std::vector<int64_t> min, opt, max;
};

struct BuildOptions {
  int threads = 0;                  //!< 0 = all cores
  TimingCache* timingCache = nullptr;  //!< read and updated; may be null
  //! Optimization profiles: the shape ranges of the dynamic inputs, one list per profile.
  std::vector<std::vector<ProfileShape>> profiles;
  int timingIterations = 7;  //!< 0: no timing, each node takes its highest-priority tactic
  //! Tactics needing more scratch memory than this are not chosen (kWORKSPACE pool).
  std::size_t workspaceLimit = SIZE_MAX;
  bool onednnTactics = true;  //!< TacticSource::kONEDNN: the "<Op>.onednn" tactics may be chosen
  std::function<void(ILogger::Severity, const std::string&)> log;
};

struct BuildStats {
  int layers = 0;
  int timedLayers = 0;    //!< layers whose tactic was chosen by timing
  int cachedLayers = 0;   //!< layers whose tactic came from the timing cache
  int64_t arenaBytes = 0;
  int64_t naiveActivationBytes = 0;
  double seconds = 0;
};

//! Builds a CPU plan from `network` (which is not modified). Throws kiln::Error.
std::vector<uint8_t> buildPlan(const ir::Graph& network, const BuildOptions& options, BuildStats* stats = nullptr);

}  // namespace kiln::builder
