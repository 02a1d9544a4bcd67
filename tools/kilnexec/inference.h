// kilnexec: running an engine the way trtexec times it: warm up for --warmUp
// ms, then run at least --iterations times AND at least --duration seconds.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kiln/kiln.h"
#include "logger.h"
#include "options.h"

namespace kilnexec {

//! Memory for an output whose shape only a run tells (NonZero's, NMS's):
//! grows to what the engine asks for and records the shape it reports.
class OutputAllocator final : public kiln::IOutputAllocator {
 public:
  void* reallocateOutputAsync(const char* name, void* current, uint64_t size, uint64_t alignment,
                              void* stream) noexcept override;
  void notifyShape(const char* name, const kiln::Dims& dims) noexcept override;
  std::unique_ptr<std::byte, decltype(&std::free)> data{nullptr, &std::free};
  std::size_t capacity = 0;
  std::vector<int64_t> dims;
};

//! One IO tensor and its host buffer (64-byte aligned, as the runtime prefers).
struct TensorBuffer {
  std::string name;
  bool isInput = false;
  kiln::DataType type = kiln::DataType::kFLOAT;
  std::vector<int64_t> dims;
  std::size_t bytes = 0;
  std::unique_ptr<std::byte, decltype(&std::free)> data{nullptr, &std::free};
  //! Set for an output of data-dependent shape; data/dims are copied from it after the runs.
  std::unique_ptr<OutputAllocator> allocator;
};

//! One timed inference, trtexec's InferenceTrace: host times of the enqueue
//! call and GPU times of the phases (CUDA events), all in ms from the start of
//! the timing run. On the CPU enqueueV3 computes before it returns, so enqueue
//! = compute = latency and the transfer phases take no time (hostRun).
struct InferenceTime {
  int stream = 0;
  double enqStart = 0, enqEnd = 0;
  double h2dStart = 0, h2dEnd = 0, computeStart = 0, computeEnd = 0, d2hStart = 0, d2hEnd = 0;
  static InferenceTime hostRun(double startMs, double endMs) {
    return {0, startMs, endMs, startMs, startMs, startMs, endMs, endMs, endMs};
  }
  double enqueueMs() const { return enqEnd - enqStart; }
  double h2dMs() const { return h2dEnd - h2dStart; }
  double computeMs() const { return computeEnd - computeStart; }
  double d2hMs() const { return d2hEnd - d2hStart; }
  //! trtexec's latency: the sum of the three phases.
  double latencyMs() const { return h2dMs() + computeMs() + d2hMs(); }
  double endToEndMs() const { return d2hEnd - h2dStart; }
};

//! Collects IProfiler reports: per layer, the time of each run.
class LayerProfiler final : public kiln::IProfiler {
 public:
  void reportLayerTime(const char* layerName, float ms) noexcept override;
  struct Layer {
    std::string name;
    std::vector<float> ms;
  };
  const std::vector<Layer>& layers() const { return layers_; }
  int runs = 0;  //!< runs made while this profiler was attached

 private:
  std::vector<Layer> layers_;
  std::unordered_map<std::string, std::size_t> index_;
};

struct InferenceResult {
  bool device = false;  //!< run on a CUDA engine (the trace holds GPU event times)
  int warmupQueries = 0;
  double warmupMs = 0;
  std::vector<InferenceTime> trace;
  double walltimeS = 0;
  bool profiled = false;
  LayerProfiler profiler;
  std::vector<TensorBuffer> tensors;  //!< inputs and outputs after the last run
};

// Shared by the CPU path (inference.cc) and the CUDA path (inference_cuda.cc).

//! Input shapes: --shapes (or the profile's opt shape) where given, else the engine's.
void setInputShapes(const kiln::ICudaEngine& engine, kiln::IExecutionContext& ctx,
                    const std::map<std::string, std::vector<int64_t>>& shapes, int profile, Logger& logger);
//! Selects --profile on `ctx` when the engine has profiles.
void selectProfile(const kiln::ICudaEngine& engine, kiln::IExecutionContext& ctx, const Options& o, Logger& logger);
//! A host buffer per IO tensor at the context's shapes, inputs filled (--loadInputs or deterministic data).
//! `deviceTensors`: the buffers are staging for device copies, so data-dependent outputs are refused.
void makeHostTensors(const kiln::ICudaEngine& engine, kiln::IExecutionContext& ctx, const Options& o, Logger& logger,
                     bool deviceTensors, std::vector<TensorBuffer>& tensors);
//! (Re)allocates t.data for t.dims.
void allocate(TensorBuffer& t);
//! "Warmup completed ..." / "Timing trace has ..." lines.
void logWarmup(const InferenceResult& r, Logger& logger);
void logTrace(const InferenceResult& r, Logger& logger);

//! Sets inputs (shapes, data), runs and times. Throws ToolError on failure.
void runInference(kiln::ICudaEngine& engine, const std::map<std::string, std::vector<int64_t>>& shapes,
                  const Options& options, Logger& logger, InferenceResult& result);

}  // namespace kilnexec
