// Kiln public API: runtime, engine, execution context, profiler.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kiln/builder.h"
#include "kiln/types.h"

namespace kiln {

//! Receives per-layer times after each execution when set on a context.
class IProfiler {
 public:
  virtual void reportLayerTime(const char* layerName, float ms) noexcept = 0;
  virtual ~IProfiler() = default;
};

class IExecutionContext;

//! Lets the application allocate an output when its size is known, at each
//! execution (TensorRT 10's IOutputAllocator): for outputs whose shape depends
//! on the input shapes (dynamic shapes) or, later, on the data.
class IOutputAllocator {
 public:
  //! Returns memory of at least `size` bytes, aligned to `alignment`, for
  //! `tensorName` (`currentMemory` is the previous answer, or null); null fails the run.
  virtual void* reallocateOutputAsync(const char* tensorName, void* currentMemory, uint64_t size, uint64_t alignment,
                                      void* stream) = 0;
  //! Called after the run with the output's actual shape.
  virtual void notifyShape(const char* tensorName, const Dims& dims) noexcept = 0;
  virtual ~IOutputAllocator() = default;
};

enum class ExecutionContextAllocationStrategy : int32_t {
  kSTATIC = 0,
  kON_PROFILE_CHANGE = 1,
  kUSER_MANAGED = 2,
};

class ICudaEngine {
 public:
  virtual ~ICudaEngine() = default;
  virtual int32_t getNbIOTensors() const noexcept = 0;
  virtual const char* getIOTensorName(int32_t index) const noexcept = 0;
  virtual TensorIOMode getTensorIOMode(const char* tensorName) const noexcept = 0;
  virtual Dims getTensorShape(const char* tensorName) const noexcept = 0;
  virtual DataType getTensorDataType(const char* tensorName) const noexcept = 0;
  virtual TensorLocation getTensorLocation(const char* tensorName) const noexcept = 0;
  virtual int32_t getNbLayers() const noexcept = 0;
  virtual int32_t getNbOptimizationProfiles() const noexcept = 0;
  virtual Dims getProfileShape(const char* tensorName, int32_t profileIndex,
                               OptProfileSelector select) const noexcept = 0;
  //! Whether `tensorName` is a shape-tensor input (its values decide shapes and
  //! are read from host memory: give it with setInputTensorAddress).
  virtual bool isShapeInferenceIO(const char* tensorName) const noexcept = 0;
  //! A shape-tensor input's profile values (nullptr for other tensors).
  virtual const int32_t* getProfileTensorValues(const char* tensorName, int32_t profileIndex,
                                                OptProfileSelector select) const noexcept = 0;
  virtual const int64_t* getProfileTensorValuesV2(const char* tensorName, int32_t profileIndex,
                                                  OptProfileSelector select) const noexcept = 0;
  //! Bytes of the activation arena one execution context needs.
  virtual std::size_t getDeviceMemorySize() const noexcept = 0;
  virtual IExecutionContext* createExecutionContext(
      ExecutionContextAllocationStrategy strategy = ExecutionContextAllocationStrategy::kSTATIC) noexcept = 0;
  virtual IHostMemory* serialize() const noexcept = 0;
  //! Kiln: the device the plan was built for (kCPU or kGPU).
  virtual DeviceType getDeviceType() const noexcept = 0;
  //! Kiln: one line per layer: name, op, tactic, inputs and outputs (JSON in `json` mode).
  virtual const char* getLayerInformation(int32_t layerIndex) const noexcept = 0;
};

class IExecutionContext {
 public:
  virtual ~IExecutionContext() = default;
  virtual const ICudaEngine& getEngine() const noexcept = 0;
  virtual bool setTensorAddress(const char* tensorName, void* data) noexcept = 0;
  virtual const void* getTensorAddress(const char* tensorName) const noexcept = 0;
  virtual bool setInputTensorAddress(const char* tensorName, const void* data) noexcept = 0;
  virtual bool setInputShape(const char* tensorName, const Dims& dims) noexcept = 0;
  virtual Dims getTensorShape(const char* tensorName) const noexcept = 0;
  virtual bool allInputDimensionsSpecified() const noexcept = 0;
  //! Resolves every shape from the inputs' shapes. Returns 0 when all are
  //! known; otherwise the number of input names written to `tensorNames`
  //! (up to nbMaxNames) whose shape is missing.
  virtual int32_t inferShapes(int32_t nbMaxNames, const char** tensorNames) noexcept = 0;
  //! Selects optimization profile `profileIndex`; dynamic input shapes must be set again.
  virtual bool setOptimizationProfileAsync(int32_t profileIndex, void* stream) noexcept = 0;
  virtual int32_t getOptimizationProfile() const noexcept = 0;
  //! Runs with `bindings` in IO-tensor order; blocks until done.
  virtual bool executeV2(void* const* bindings) noexcept = 0;
  //! Runs with the addresses given by setTensorAddress. On the CPU the call
  //! completes before it returns; `stream` (a cudaStream_t) is ignored there.
  virtual bool enqueueV3(void* stream) noexcept = 0;
  //! Outputs with an allocator get their memory from it at each run (instead of setTensorAddress).
  virtual bool setOutputAllocator(const char* tensorName, IOutputAllocator* outputAllocator) noexcept = 0;
  virtual IOutputAllocator* getOutputAllocator(const char* tensorName) const noexcept = 0;
  virtual void setProfiler(IProfiler* profiler) noexcept = 0;
  virtual IProfiler* getProfiler() const noexcept = 0;
  virtual void setDeviceMemory(void* memory) noexcept = 0;
  virtual void setName(const char* name) noexcept = 0;
  virtual const char* getName() const noexcept = 0;
  //! Kiln: CPU threads this context runs with (0 = all cores). Call before the first run.
  virtual void setNbThreads(int32_t threads) noexcept = 0;
};

//! A plan read piece by piece (TensorRT's IStreamReader): the runtime reads it
//! straight into the engine's own buffer, so the caller never holds a second
//! copy of the plan in memory.
class IStreamReader {
 public:
  //! Reads up to `nbBytes` into `destination`; returns the bytes read (0 or
  //! less: the stream has ended or failed).
  virtual int64_t read(void* destination, int64_t nbBytes) = 0;
  virtual ~IStreamReader() = default;
};

enum class SeekPosition : int32_t { kSET = 0, kCUR = 1, kEND = 2 };

//! TensorRT 10's IStreamReaderV2: seekable, and `read` takes the stream that
//! a reader filling device memory would copy on (Kiln reads into host memory
//! and passes null).
class IStreamReaderV2 {
 public:
  virtual bool seek(int64_t offset, SeekPosition where) noexcept = 0;
  virtual int64_t read(void* destination, int64_t nbBytes, void* stream) noexcept = 0;
  virtual ~IStreamReaderV2() = default;
};

class IRuntime {
 public:
  virtual ~IRuntime() = default;
  //! Deserializes a plan for whichever backend it was built for (the TensorRT
  //! name is kept). Null, with the reason logged, for a corrupt or foreign plan.
  virtual ICudaEngine* deserializeCudaEngine(const void* blob, std::size_t size) noexcept = 0;
  //! The same, reading the plan from `reader` from its current position: its
  //! 64-byte header says how many bytes follow. Null, with the reason logged,
  //! for a plan that is corrupt, foreign or cut short.
  virtual ICudaEngine* deserializeCudaEngine(IStreamReader& reader) noexcept = 0;
  virtual ICudaEngine* deserializeCudaEngine(IStreamReaderV2& reader) noexcept = 0;
  //! Whether plans may bring plugin libraries (host code) that deserialization
  //! loads (IBuilderConfig::setPluginsToSerialize). Off by default, as in TensorRT.
  virtual void setEngineHostCodeAllowed(bool allowed) noexcept = 0;
  virtual bool getEngineHostCodeAllowed() const noexcept = 0;
  virtual ILogger* getLogger() const noexcept = 0;
};

IRuntime* createInferRuntime(ILogger& logger) noexcept;

}  // namespace kiln
