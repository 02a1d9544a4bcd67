// Kiln public API: builder, builder configuration, timing cache, profiles.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kiln/network.h"
#include "kiln/types.h"

namespace kiln {

enum class BuilderFlag : int32_t {
  kFP16 = 0,
  kINT8 = 1,
  kDEBUG = 2,
  kGPU_FALLBACK = 3,
  kREFIT = 5,
  kDISABLE_TIMING_CACHE = 6,
  kTF32 = 7,
  kSPARSE_WEIGHTS = 8,
  kSAFETY_SCOPE = 9,
  kOBEY_PRECISION_CONSTRAINTS = 10,
  kPREFER_PRECISION_CONSTRAINTS = 11,
  kDIRECT_IO = 12,
  kREJECT_EMPTY_ALGORITHMS = 13,
  kVERSION_COMPATIBLE = 14,
  kEXCLUDE_LEAN_RUNTIME = 15,
  kFP8 = 16,
  kBF16 = 17,
};

//! Where tactics come from (TensorRT's TacticSource), as bits of TacticSources.
//! Kiln's own CPU kernels are always available. kONEDNN (a Kiln addition) is
//! oneDNN's convolution and matmul primitives, in builds that have oneDNN; on
//! by default. oneDNN's primitive execution allocates a little bookkeeping per
//! call, so a plan that must never touch the heap while running clears it.
//! The CUDA sources are accepted and have no effect on the CPU backend.
enum class TacticSource : int32_t {
  kCUBLAS = 0,
  kCUBLAS_LT = 1,
  kCUDNN = 2,
  kEDGE_MASK_CONVOLUTIONS = 3,
  kJIT_CONVOLUTIONS = 4,
  kONEDNN = 16,
};
using TacticSources = uint32_t;

enum class MemoryPoolType : int32_t {
  kWORKSPACE = 0,
  kDLA_MANAGED_SRAM = 1,
  kDLA_LOCAL_DRAM = 2,
  kDLA_GLOBAL_DRAM = 3,
  kTACTIC_DRAM = 4,
  kTACTIC_SHARED_MEMORY = 5,
};

//! Where the engine runs. TensorRT has only the GPU; Kiln adds the CPU.
enum class DeviceType : int32_t { kGPU = 0, kDLA = 1, kCPU = 2 };

enum class OptProfileSelector : int32_t { kMIN = 0, kOPT = 1, kMAX = 2 };

class IOptimizationProfile {
 public:
  virtual bool setDimensions(const char* inputName, OptProfileSelector select, Dims dims) noexcept = 0;
  virtual Dims getDimensions(const char* inputName, OptProfileSelector select) const noexcept = 0;
  //! The range of a shape-tensor input's values (an int32/int64 input of static
  //! shape whose values decide other tensors' shapes, e.g. Expand's or Reshape's
  //! shape input). At run time its values are read from the host memory given
  //! with setInputTensorAddress (ICudaEngine::isShapeInferenceIO says which inputs).
  virtual bool setShapeValues(const char* inputName, OptProfileSelector select, const int32_t* values,
                              int32_t nbValues) noexcept = 0;
  virtual int32_t getNbShapeValues(const char* inputName) const noexcept = 0;
  //! The values set for `select`, or nullptr.
  virtual const int32_t* getShapeValues(const char* inputName, OptProfileSelector select) const noexcept = 0;
  //! setShapeValues with int64 values (TensorRT 10's V2).
  virtual bool setShapeValuesV2(const char* inputName, OptProfileSelector select, const int64_t* values,
                                int32_t nbValues) noexcept = 0;
  virtual const int64_t* getShapeValuesV2(const char* inputName, OptProfileSelector select) const noexcept = 0;
  virtual bool isValid() const noexcept = 0;

 protected:
  virtual ~IOptimizationProfile() = default;
};

//! Remembers the tactic chosen for each (op signature, shapes, dtypes, device),
//! so that a second build skips timing.
class ITimingCache {
 public:
  virtual ~ITimingCache() = default;
  virtual IHostMemory* serialize() const noexcept = 0;
  virtual bool combine(const ITimingCache& inputCache, bool ignoreMismatch) noexcept = 0;
  virtual bool reset() noexcept = 0;
};

class IBuilderConfig {
 public:
  virtual ~IBuilderConfig() = default;
  virtual void setFlag(BuilderFlag flag) noexcept = 0;
  virtual void clearFlag(BuilderFlag flag) noexcept = 0;
  virtual bool getFlag(BuilderFlag flag) const noexcept = 0;
  virtual void setMemoryPoolLimit(MemoryPoolType pool, std::size_t size) noexcept = 0;
  virtual std::size_t getMemoryPoolLimit(MemoryPoolType pool) const noexcept = 0;
  virtual void setDefaultDeviceType(DeviceType type) noexcept = 0;
  virtual DeviceType getDefaultDeviceType() const noexcept = 0;
  virtual int32_t addOptimizationProfile(const IOptimizationProfile* profile) noexcept = 0;
  //! Plugin libraries (.so paths) to embed in the plan: a runtime that allows
  //! host code (IRuntime::setEngineHostCodeAllowed) loads them when it
  //! deserializes the plan, so the plan runs without loading them by hand.
  virtual void setPluginsToSerialize(const char* const* paths, int32_t nbPaths) noexcept = 0;
  virtual int32_t getNbPluginsToSerialize() const noexcept = 0;
  virtual const char* getPluginToSerialize(int32_t index) const noexcept = 0;
  virtual int32_t getNbOptimizationProfiles() const noexcept = 0;
  //! A fresh cache, or one read from `blob` (a serialized cache); null on a bad blob.
  virtual ITimingCache* createTimingCache(const void* blob, std::size_t size) const noexcept = 0;
  virtual bool setTimingCache(const ITimingCache& cache, bool ignoreMismatch) noexcept = 0;
  virtual const ITimingCache* getTimingCache() const noexcept = 0;
  //! Kiln: CPU threads used while timing tactics and by the engine by default (0 = all cores).
  virtual void setNbThreads(int32_t threads) noexcept = 0;
  virtual int32_t getNbThreads() const noexcept = 0;
  //! As TensorRT's (0 to 5, default 3). Kiln: level 0 builds fastest and
  //! deterministically: no tactic is timed, each layer takes its highest-priority
  //! tactic; levels 1 to 5 time the candidates. Out-of-range levels are clamped.
  //! Which tactic sources the builder may use; returns false (and changes nothing) for an unknown bit.
  virtual bool setTacticSources(TacticSources sources) noexcept = 0;
  virtual TacticSources getTacticSources() const noexcept = 0;
  virtual void setBuilderOptimizationLevel(int32_t level) noexcept = 0;
  virtual int32_t getBuilderOptimizationLevel() const noexcept = 0;
};

class IBuilder {
 public:
  virtual ~IBuilder() = default;
  virtual INetworkDefinition* createNetworkV2(NetworkDefinitionCreationFlags flags) noexcept = 0;
  virtual IBuilderConfig* createBuilderConfig() noexcept = 0;
  virtual IOptimizationProfile* createOptimizationProfile() noexcept = 0;
  //! Builds and serializes; null (with the reason logged) on failure.
  virtual IHostMemory* buildSerializedNetwork(INetworkDefinition& network, IBuilderConfig& config) noexcept = 0;
  //! True where a GPU the CUDA backend runs FP16 on is present (kFP16 then pays off with
  //! setDefaultDeviceType(kGPU)); false on a machine without one (the CPU backend builds FP32).
  virtual bool platformHasFastFp16() const noexcept = 0;
  virtual bool platformHasFastInt8() const noexcept = 0;
  virtual ILogger* getLogger() const noexcept = 0;
};

//! Creates a builder; `logger` must outlive it.
IBuilder* createInferBuilder(ILogger& logger) noexcept;

}  // namespace kiln
