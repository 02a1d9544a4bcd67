// The run phase: a loaded plan (Engine) and the state one caller needs to run
// it (ExecutionContext). The API's ICudaEngine / IExecutionContext wrap these.
//
// Every value of the graph is a *slot*: an offset in the context's arena, a
// constant inside the plan's weights, or a tensor the user binds (network
// inputs and outputs). Kernels are created once per engine (one set per
// optimization profile, each made at that profile's largest shapes) and shared
// by all its contexts; everything mutable, shapes included, lives in the context.
//
// A plan for a device ("cuda") runs through backends::DeviceBackend: the
// engine uploads the plan's weights to device memory once, contexts own a
// device arena (or take the caller's, kUSER_MANAGED) and enqueue every layer
// on the caller's stream without waiting (tests/unit/cuda/engine_gpu_test.cc
// runs it on a GPU).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/kernel.h"
#include "core/thread_pool.h"
#include "plan/plan.h"

namespace kiln::runtime {

struct IOTensor {
  std::string name;
  bool isInput = true;
  DType dtype = DType::kFLOAT;
  std::vector<int64_t> dims;  //!< -1 where the dimension is dynamic
  std::vector<std::string> symbols;  //!< per dim: the model's symbolic name, or ""
  //! An output whose shape depends on input values (NonZero downstream): its
  //! size is known only after a run; `dataDependentDims` marks the dims that vary.
  bool dataDependent = false;
  std::vector<bool> dataDependentDims;
  //! An input whose values decide shapes (a profile gives its value range): read from host memory.
  bool isShapeTensor = false;
  bool isStatic() const;
};

enum class SlotKind : uint8_t { kArena, kConstant, kIO };

struct Slot {
  SlotKind kind = SlotKind::kArena;
  int64_t offset = 0;              //!< kArena
  int64_t capacity = 0;            //!< kArena: bytes reserved
  const void* constant = nullptr;  //!< kConstant
  int io = -1;                     //!< kIO: index into Engine::io()
  int value = -1;                  //!< index into the plan graph's values()
  DType dtype = DType::kFLOAT;
};

struct Layer {
  const ir::Node* node = nullptr;  //!< in the engine's (symbolic) graph
  std::string name;
  std::string op;
  std::string tactic;
  std::vector<std::unique_ptr<cpu::Kernel>> kernels;  //!< one per profile (CPU plans)
  std::vector<std::unique_ptr<backends::DeviceKernel>> deviceKernels;  //!< one per profile (device plans)
  std::vector<int> inputs;   //!< slot per input, -1 when absent
  std::vector<int> outputs;  //!< slot per output
  //! Output indices whose shape only the kernel knows (ir::isDataDependentOutput).
  std::vector<int> dataDependentOutputs;
};

class Engine {
 public:
  //! Verifies and loads a plan; throws kiln::Error with the reason.
  static std::shared_ptr<const Engine> load(const void* data, std::size_t size);
  //! The same for a plan already in a 64-byte aligned buffer that the engine
  //! keeps (no copy: a stream reader's buffer).
  static std::shared_ptr<const Engine> adopt(std::shared_ptr<void> aligned, std::size_t size);

  const plan::PlanMetadata& meta() const { return plan_.meta; }
  const ir::Graph& graph() const { return *plan_.graph; }
  const std::vector<IOTensor>& io() const { return io_; }
  int findIO(const std::string& name) const;
  const std::vector<Layer>& layers() const { return layers_; }
  const std::vector<Slot>& slots() const { return slots_; }
  //! The slot of IO tensor `io`.
  int ioSlot(int io) const { return ioSlots_[io]; }
  //! Profiles of the plan; a static network has none (and runs as "profile 0").
  const std::vector<plan::Profile>& profiles() const { return plan_.profiles; }
  int numProfiles() const { return std::max<int>(1, static_cast<int>(plan_.profiles.size())); }
  //! The profile entry for input `name`, or nullptr.
  const plan::ProfileInput* profileInput(int profile, const std::string& name) const;
  //! Outputs that no layer writes (constants or inputs passed through): copied after each run.
  const std::vector<std::pair<int, int>>& outputCopies() const { return outputCopies_; }
  int64_t arenaBytes() const { return plan_.arenaBytes; }
  //! Bytes a context's memory needs: the arena, then the workspace at a 64-byte
  //! (CPU) or 256-byte (device) aligned offset. ICudaEngine::getDeviceMemorySize.
  int64_t contextMemoryBytes() const;
  //! The alignment setDeviceMemory requires: 64 (CPU) or 256 (device, as TensorRT).
  int64_t contextMemoryAlignment() const { return device_ ? 256 : 64; }
  int64_t workspaceBytes() const { return plan_.workspaceBytes; }
  const uint8_t* planData() const { return static_cast<const uint8_t*>(buffer_.get()); }
  std::size_t planSize() const { return size_; }
  //! The device backend running this plan, or null for a CPU plan.
  const backends::DeviceBackend* device() const { return device_; }
  //! Things worth a warning found while loading (library minor versions that differ).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  Engine() = default;
  std::shared_ptr<void> buffer_;
  std::size_t size_ = 0;
  plan::PlanContents plan_;
  std::vector<IOTensor> io_;
  std::vector<Slot> slots_;
  std::vector<int> ioSlots_;
  std::vector<Layer> layers_;
  std::vector<std::pair<int, int>> outputCopies_;  //!< (source slot, io index)
  const backends::DeviceBackend* device_ = nullptr;
  std::shared_ptr<void> devicePlan_;  //!< device plans: the plan bytes on the device; constants point into it
  std::vector<std::string> warnings_;
};

class ExecutionContext {
 public:
  //! ownArena = false: the caller provides the arena with setUserArena before running.
  ExecutionContext(std::shared_ptr<const Engine> engine, int threads, bool ownArena = true);
  const Engine& engine() const { return *engine_; }

  //! Binds IO tensor `io`. A device plan's tensors must be device memory (or
  //! pinned/managed host memory): ordinary host memory throws kiln::Error
  //! naming the tensor. Shape-tensor inputs are read on the host and take any pointer.
  void setAddress(int io, void* data);
  void* address(int io) const { return addresses_[io]; }
  //! Bytes the arena and workspace need (what setUserArena must provide).
  int64_t memoryBytes() const;
  //! Debug counter (tests): how many times this context resolved shapes from
  //! the graph (a shape set it resolved recently is taken from its memo).
  long fullResolves() const { return fullResolves_; }
  //! Uses memory owned by the caller (memoryBytes(), 64-byte aligned) instead of its own.
  void setUserArena(void* memory);
  void setThreads(int threads);

  //! Selects the optimization profile; dynamic input shapes must be set again.
  void setProfile(int profile);
  int profile() const { return profile_; }
  //! Sets a (dynamic) input's shape for the next runs and, once every input is
  //! known, resolves all shapes (shape subgraphs run on the host here, not per
  //! run). Throws kiln::Error for a shape outside the profile; the context's
  //! previous shapes stay in force then.
  void setInputShape(int io, const std::vector<int64_t>& dims);
  //! Current shape of IO tensor `io` (-1 dims while not resolved, and for
  //! data-dependent dims until a run has produced them).
  std::vector<int64_t> shapeOf(int io) const;
  //! The largest shape of IO tensor `io` at the current input shapes: its
  //! shape, or a data-dependent output's upper bound (what its memory must hold).
  std::vector<int64_t> boundShapeOf(int io) const;
  bool allInputShapesKnown() const { return resolved_; }
  //! Names of inputs whose shape must still be set (or, for shape tensors, whose address).
  std::vector<std::string> missingInputShapes() const;
  //! Reads the shape-tensor inputs' values from their (host) addresses and, when
  //! they changed, resolves the shapes again. Throws kiln::Error for values
  //! outside the profile (the context then needs valid values before it runs).
  void refreshShapeValues();

  //! Runs all layers. Throws kiln::Error when an IO address or shape is missing.
  //! `onLayer(index, ms)` is called after each layer when set (profiling).
  //! Device plans: enqueues on `stream` (a cudaStream_t) and returns without
  //! waiting: no allocation, no synchronization, so the call can be captured
  //! into a CUDA graph. Profiling records an event between layers and, after
  //! the last, waits for them to report each layer's GPU time (a stream that
  //! is being captured refuses that).
  void execute(const std::function<void(int, float)>* onLayer = nullptr, void* stream = nullptr);

 private:
  void* slotData(int slot) const;
  void resolve();
  void enqueueOnDevice(const std::function<void(int, float)>* onLayer, void* stream);
  //! The graph to resolve shapes in: the context's own copy of the engine's
  //! graph, its values' shapes and constants put back to the engine's (no
  //! clone per shape change; a graph with subgraphs is cloned afresh).
  ir::Graph& shapeGraph(std::unique_ptr<ir::Graph>& fresh);
  //! Slot dims and layer views from a resolved graph (in place: no allocation
  //! once the views exist).
  void applyShapes(const ir::Graph& shapes);
  //! After a data-dependent layer ran: its actual output dims, and the shapes
  //! of everything downstream of them, replace the upper bounds.
  void updateDataDependentShapes(const Layer& layer, const cpu::TensorView* actual);

  std::shared_ptr<const Engine> engine_;
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<void> arena_;
  std::shared_ptr<void> libraries_;  //!< device plans: the context's cuBLASLt/cuDNN handles
  std::vector<std::shared_ptr<void>> layerEvents_;  //!< device plans, profiling: one event per layer boundary
  uint8_t* arenaBase_ = nullptr;
  uint8_t* workspace_ = nullptr;
  std::vector<void*> addresses_;
  int profile_ = 0;
  std::vector<std::vector<int64_t>> inputShapes_;  //!< per IO tensor (inputs only); empty = not set
  std::vector<std::vector<int64_t>> slotDims_;     //!< per slot, after resolve
  bool resolved_ = false;
  //! Views per layer, prepared at resolve; only data pointers are refreshed per run.
  std::vector<std::vector<cpu::TensorView>> inViews_, outViews_;
  std::unique_ptr<ir::Graph> shapeGraph_;  //!< see shapeGraph()
  std::vector<std::vector<int64_t>> dimsScratch_;  //!< applyShapes' per-slot dims, kept for their capacity
  // Data-dependent shapes: the state at the upper bounds (restored before each
  // run), the actual dims seen in this run (by value name), whether a run has
  // produced actual shapes since the inputs' shapes were set.
  std::vector<std::vector<int64_t>> boundDims_;
  std::vector<std::vector<cpu::TensorView>> boundInViews_, boundOutViews_;
  std::map<std::string, std::vector<int64_t>> actualShapes_;
  bool shapesFromRun_ = false;
  bool hasDataDependent_ = false;
  //! Per IO tensor: the shape-tensor values the current shapes were resolved with.
  std::vector<std::vector<int64_t>> shapeValues_;
  std::vector<int> shapeTensors_;  //!< IO indices of shape-tensor inputs
  std::vector<cpu::TensorView> actualViews_;
  //! The last kResolvedMemo shape sets resolved (profile, input shapes,
  //! shape-tensor values) and what they resolved to, least recently used
  //! replaced: going back to a recent shape copies these instead of
  //! resolving again. Not for engines with data-dependent shapes.
  struct ResolvedShapes {
    int profile = -1;
    std::vector<std::vector<int64_t>> inputs, values, slotDims;
    std::vector<std::vector<cpu::TensorView>> in, out;
    uint64_t used = 0;
  };
  static constexpr std::size_t kResolvedMemo = 8;
  std::vector<ResolvedShapes> resolvedMemo_;
  uint64_t memoClock_ = 0;
  long fullResolves_ = 0;
};

}  // namespace kiln::runtime
