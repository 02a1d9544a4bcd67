// The build phase: network graph -> optimized, tactic-chosen, memory-planned
// plan bytes. The API's IBuilder::buildSerializedNetwork is a thin wrapper.
#pragma once
#include "plan/plan.h"
#include <cstdint>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "builder/cpu_precision.h"
#include "builder/timing_cache.h"
#include "ir/graph.h"
#include "kiln/types.h"

namespace kiln::backends {
class DeviceBackend;
}

namespace kiln::builder {

struct ProfileShape {
  std::string input;
  std::vector<int64_t> min, opt, max;
  //! A shape-tensor input's value range (setShapeValues); empty for other inputs.
  std::vector<int64_t> minValues, optValues, maxValues;
};

struct BuildOptions {
  //! Plugin libraries to embed in the plan (IBuilderConfig::setPluginsToSerialize).
  std::vector<plan::PluginLibrary> pluginLibraries;
  int threads = 0;                  //!< 0 = all cores
  TimingCache* timingCache = nullptr;  //!< read and updated; may be null
  //! Optimization profiles: the shape ranges of the dynamic inputs, one list per profile.
  std::vector<std::vector<ProfileShape>> profiles;
  int timingIterations = 7;  //!< 0: no timing, each node takes its highest-priority tactic
  //! Tactics needing more scratch memory than this are not chosen (kWORKSPACE pool).
  std::size_t workspaceLimit = SIZE_MAX;
  bool onednnTactics = true;  //!< TacticSource::kONEDNN: the "<Op>.onednn" tactics may be chosen
  //! CPU builds: kBF16 and the precision-constraint flags (builder/cpu_precision.h).
  CpuPrecisionOptions cpuPrecision;
  std::function<void(ILogger::Severity, const std::string&)> log;
  //! "cpu", or "cuda": tactics from the CUDA backend (needs a GPU to build, as TensorRT does).
  std::string device = "cpu";
  //! Tests: a stand-in for the CUDA backend (its host() decides whether a GPU is there).
  const backends::DeviceBackend* deviceBackend = nullptr;
  //! Device builds: BuilderFlag kTF32 / kFP16 / kBF16 / kOBEY_ / kPREFER_PRECISION_CONSTRAINTS
  //! (builder/device_precision.h). The CPU backend builds FP32 whatever these say.
  bool tf32 = true;
  bool fp16 = false, bf16 = false;
  //! CUDA builds: channels-last (NHWC) convolutions and pools (builder/device_layout.h). FP16/BF16
  //! convs go NHWC where a tactic supports it; FP32 ones too with `channelsLastFp32`.
  bool channelsLast = true;
  bool channelsLastFp32 = false;
  bool obeyPrecisionConstraints = false, preferPrecisionConstraints = false;
};

struct BuildStats {
  int layers = 0;
  int timedLayers = 0;    //!< layers whose tactic was chosen by timing
  int cachedLayers = 0;   //!< layers whose tactic came from the timing cache
  int64_t arenaBytes = 0;
  int64_t naiveActivationBytes = 0;
  double seconds = 0;
};

//! Computes one node on the host CPU from constant inputs: what the builder
//! folds constants with, and what the ONNX parser evaluates If conditions with.
std::vector<ir::Tensor> evaluateOnHost(const ir::Node& node, const std::vector<const ir::Tensor*>& inputs);

//! Builds a plan for options.device from `network` (which is not modified). Throws kiln::Error.
std::vector<uint8_t> buildPlan(const ir::Graph& network, const BuildOptions& options, BuildStats* stats = nullptr);

}  // namespace kiln::builder
