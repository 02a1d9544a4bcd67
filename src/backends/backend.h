// The contract between the builder/runtime and a device backend (CUDA today).
//
// Both backends have the same shape: per op, a list of *tactics*, each saying
// whether it supports a node and making a *kernel* for it; the builder picks a
// tactic per node and writes its name into the plan; the runtime finds the
// tactic by name, creates the kernel once per engine and profile, and runs it
// on TensorViews. The CPU backend's form (backends/cpu/kernel.h) runs
// synchronously on a thread pool in host memory; the device form below
// *enqueues* on a stream, into device memory, and returns at once. The
// builder and the runtime never include a backend's own headers: they reach
// the CPU backend through cpu/kernel.h's registry and a device backend only
// through this interface (backends/available.cc says which ones this build has).
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/device.h"
#include "backends/tensor_view.h"
#include "core/error.h"
#include "ir/graph.h"

namespace kiln::backends {

//! What a device kernel gets for one run.
struct DeviceLaunch {
  void* stream = nullptr;     //!< the cudaStream_t of enqueueV3 (null: the legacy default stream)
  void* workspace = nullptr;  //!< device memory of workspaceBytes(), 256-byte aligned
  void* libraries = nullptr;  //!< the context's library state (DeviceBackend::createLibraries)
};

class DeviceKernel {
 public:
  virtual ~DeviceKernel() = default;
  //! Enqueues the op on `launch.stream` and returns without waiting. Views
  //! hold device pointers. Contexts share kernels: must be const-safe.
  virtual void enqueue(const DeviceLaunch& launch, const TensorView* inputs, const TensorView* outputs) const = 0;
  //! Device scratch memory per run, for the shapes the node was created with.
  virtual std::size_t workspaceBytes() const { return 0; }
};

//! One variant of a tactic: node attributes that make create() build one
//! particular algorithm (one cuBLASLt algorithm, say). The builder times a
//! tactic's variants and sets the winner's attributes on the node, so the
//! choice travels in the plan and the runtime's create() makes the same kernel.
using TacticVariant = std::map<std::string, ir::Attribute>;

struct DeviceTactic {
  std::string name;  //!< unique, "<op>.<how>", e.g. "MatMul.cublaslt"
  std::string op;
  int priority = 0;  //!< higher is chosen first when tactics are not timed
  bool (*supports)(const ir::Node& node) = nullptr;
  //! Makes the kernel; the node carries static shapes (a profile's largest).
  std::unique_ptr<DeviceKernel> (*create)(const ir::Node& node) = nullptr;
  //! The variants worth timing for `node` (static shapes), best guess first;
  //! `libraries` as DeviceBackend::createLibraries makes them. Null, or an
  //! empty list: one kernel, create()'s default.
  std::vector<TacticVariant> (*variants)(const ir::Node& node, void* libraries) = nullptr;
  //! Build-time work whose result travels in the plan as node attributes (the
  //! NVRTC tactic's cubin, compiled for `target`, the build GPU): called on the
  //! plan's node once the builder has chosen this tactic (and its variant), so
  //! the runtime's create() finds it. Null: nothing to do. Errors fail the build.
  void (*prepare)(ir::Node& node, const DeviceTarget& target) = nullptr;
};

enum class CopyKind { kHostToDevice, kDeviceToHost, kDeviceToDevice };

//! What a pointer given to a device engine points to (cudaPointerGetAttributes).
//! kHost is ordinary host memory, which device kernels cannot read; pinned host
//! memory (cudaMallocHost) is mapped into the device's address space and works.
enum class PointerKind { kUnknown, kDevice, kManaged, kPinnedHost, kHost };

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual const char* device() const = 0;  //!< "cuda"
  //! This machine's GPU (device 0), queried once; `available` false with the reason when none.
  virtual const HostDevice& host() const = 0;
  //! Tactics for `op`, highest priority first.
  virtual std::vector<const DeviceTactic*> tacticsFor(const std::string& op) const = 0;
  virtual const DeviceTactic* findTactic(const std::string& name) const = 0;
  //! Device memory of `bytes` (256-byte aligned), freed when the last holder lets go.
  virtual std::shared_ptr<void> allocate(std::size_t bytes) const = 0;
  virtual void copyAsync(void* dst, const void* src, std::size_t bytes, CopyKind kind, void* stream) const = 0;
  //! Waits for everything enqueued on `stream`; throws the first error it reports.
  virtual void synchronize(void* stream) const = 0;
  //! Per-context library handles (cuBLASLt, cuDNN) that DeviceLaunch::libraries points to.
  virtual std::shared_ptr<void> createLibraries() const = 0;
  //! The builder's timer: the median milliseconds of one `enqueue(stream)`
  //! over `iterations` runs on a stream of the backend's own, after warm-up
  //! runs, measured with device events. Negative where the backend cannot time
  //! (a stand-in without a GPU); then the builder goes by priority.
  virtual double timeEnqueue(const std::function<void(void* stream)>& enqueue, int iterations) const {
    (void)enqueue;
    (void)iterations;
    return -1;
  }

  // Checks and timing for the runtime. The defaults suit a stand-in backend
  // that never runs (the builder's tests): no pointer check, no events.
  virtual PointerKind pointerKind(const void*) const { return PointerKind::kUnknown; }
  //! A timing event (cudaEvent_t), released with the last holder. Made once
  //! per context (the profiler's), never per run.
  virtual std::shared_ptr<void> createEvent() const { fail(device(), " backend has no events"); }
  virtual void recordEvent(void*, void*) const { fail(device(), " backend has no events"); }
  //! Milliseconds from `start` to `end` (both recorded); waits until `end` has completed.
  virtual float elapsedMs(void*, void*) const { fail(device(), " backend has no events"); }
  //! Whether `stream` is being captured into a CUDA graph (nothing may wait on it then).
  virtual bool capturing(void*) const { return false; }
};

//! The CUDA backend when this build has one (KILN_CUDA), else nullptr.
const DeviceBackend* cudaBackend();

//! This machine's GPU, or `available` false with the reason (no CUDA in this
//! build, no driver, no device).
HostDevice cudaHost();

}  // namespace kiln::backends
