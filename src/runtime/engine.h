// The run phase: a loaded plan (Engine) and the state one caller needs to run
// it (ExecutionContext). The API's ICudaEngine / IExecutionContext wrap these.
//
// Every value of the graph is a *slot*: an offset in the context's arena, a
// constant inside the plan's weights, or a tensor the user binds (network
// inputs and outputs). Kernels are created once per engine and shared by all
// its contexts; everything mutable lives in the context.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"
#include "core/thread_pool.h"
#include "plan/plan.h"

namespace kiln::runtime {

struct IOTensor {
  std::string name;
  bool isInput = true;
  DType dtype = DType::kFLOAT;
  std::vector<int64_t> dims;
  std::vector<std::string> symbols;  //!< per dim: the model's symbolic name, or ""
  int64_t bytes() const { return ir::numElements(dims) * dtypeSize(dtype); }
};

enum class SlotKind : uint8_t { kArena, kConstant, kIO };

struct Slot {
  SlotKind kind = SlotKind::kArena;
  int64_t offset = 0;           //!< kArena
  const void* constant = nullptr;  //!< kConstant
  int io = -1;                  //!< kIO: index into Engine::io()
  DType dtype = DType::kFLOAT;
  std::vector<int64_t> dims;
};

struct Layer {
  const ir::Node* node = nullptr;
  std::string name;
  std::string op;
  std::string tactic;
  std::unique_ptr<cpu::Kernel> kernel;
  std::vector<int> inputs;   //!< slot per input, -1 when absent
  std::vector<int> outputs;  //!< slot per output
};

class Engine {
 public:
  //! Verifies and loads a plan; throws kiln::Error with the reason.
  static std::shared_ptr<const Engine> load(const void* data, std::size_t size);

  const plan::PlanMetadata& meta() const { return plan_.meta; }
  const std::vector<IOTensor>& io() const { return io_; }
  int findIO(const std::string& name) const;
  const std::vector<Layer>& layers() const { return layers_; }
  const std::vector<Slot>& slots() const { return slots_; }
  //! Outputs that no layer writes (constants or inputs passed through): copied after each run.
  const std::vector<std::pair<int, int>>& outputCopies() const { return outputCopies_; }
  int64_t arenaBytes() const { return plan_.arenaBytes; }
  int64_t workspaceBytes() const { return plan_.workspaceBytes; }
  const uint8_t* planData() const { return static_cast<const uint8_t*>(buffer_.get()); }
  std::size_t planSize() const { return size_; }

 private:
  Engine() = default;
  std::shared_ptr<void> buffer_;
  std::size_t size_ = 0;
  plan::PlanContents plan_;
  std::vector<IOTensor> io_;
  std::vector<Slot> slots_;
  std::vector<Layer> layers_;
  std::vector<std::pair<int, int>> outputCopies_;  //!< (source slot, io index)
};

class ExecutionContext {
 public:
  //! ownArena = false: the caller provides the arena with setUserArena before running.
  ExecutionContext(std::shared_ptr<const Engine> engine, int threads, bool ownArena = true);
  const Engine& engine() const { return *engine_; }

  void setAddress(int io, void* data) { addresses_[io] = data; }
  void* address(int io) const { return addresses_[io]; }
  //! Bytes the arena and workspace need (what setUserArena must provide).
  int64_t memoryBytes() const;
  //! Uses memory owned by the caller (memoryBytes(), 64-byte aligned) instead of its own.
  void setUserArena(void* memory);
  //! Runs all layers. Throws kiln::Error when an IO address is missing.
  //! `onLayer(index, ms)` is called after each layer when set (profiling).
  void execute(const std::function<void(int, float)>* onLayer = nullptr);
  void setThreads(int threads);

 private:
  void* slotData(int slot) const;

  std::shared_ptr<const Engine> engine_;
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<void> arena_;
  uint8_t* arenaBase_ = nullptr;
  uint8_t* workspace_ = nullptr;
  std::vector<void*> addresses_;
  //! Views per layer, prepared once; only data pointers are refreshed per run.
  std::vector<std::vector<cpu::TensorView>> inViews_, outViews_;
};

}  // namespace kiln::runtime
