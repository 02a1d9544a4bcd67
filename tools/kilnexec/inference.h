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

//! One timed inference, in ms from the start of the timing run. On the CPU
//! enqueueV3 computes before it returns, so enqueue = compute = latency and
//! there are no host/device transfers.
struct InferenceTime {
  double startMs = 0;
  double endMs = 0;
  double ms() const { return endMs - startMs; }
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
  int warmupQueries = 0;
  double warmupMs = 0;
  std::vector<InferenceTime> trace;
  double walltimeS = 0;
  bool profiled = false;
  LayerProfiler profiler;
  std::vector<TensorBuffer> tensors;  //!< inputs and outputs after the last run
};

//! Sets inputs (shapes, data), runs and times. Throws ToolError on failure.
void runInference(kiln::ICudaEngine& engine, const std::map<std::string, std::vector<int64_t>>& shapes,
                  const Options& options, Logger& logger, InferenceResult& result);

}  // namespace kilnexec
