#include "inference_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine_setup.h"

namespace kilnexec {

namespace {

using Clock = std::chrono::steady_clock;

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    throw ToolError(std::string("CUDA error in ") + call + ": " + cudaGetErrorName(status) + " (" +
                    cudaGetErrorString(status) + ")");
}
#define KILNEXEC_CUDA(call) check((call), #call)

// Owners of CUDA objects, released in reverse order of their making.
using DevicePtr = std::unique_ptr<void, cudaError_t (*)(void*)>;
using StreamPtr = std::unique_ptr<CUstream_st, cudaError_t (*)(cudaStream_t)>;
using EventPtr = std::unique_ptr<CUevent_st, cudaError_t (*)(cudaEvent_t)>;
using GraphPtr = std::unique_ptr<CUgraph_st, cudaError_t (*)(cudaGraph_t)>;
using GraphExecPtr = std::unique_ptr<CUgraphExec_st, cudaError_t (*)(cudaGraphExec_t)>;

DevicePtr deviceMemory(std::size_t bytes) {
  void* p = nullptr;
  KILNEXEC_CUDA(cudaMalloc(&p, std::max<std::size_t>(bytes, 1)));
  return DevicePtr(p, cudaFree);
}
DevicePtr pinnedMemory(std::size_t bytes) {
  void* p = nullptr;
  KILNEXEC_CUDA(cudaMallocHost(&p, std::max<std::size_t>(bytes, 1)));
  return DevicePtr(p, cudaFreeHost);
}
StreamPtr makeStream() {
  cudaStream_t s = nullptr;
  KILNEXEC_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return StreamPtr(s, cudaStreamDestroy);
}
//! Blocking-sync events unless spinning (--useSpinWait), as trtexec makes them.
EventPtr makeEvent(bool spin) {
  cudaEvent_t e = nullptr;
  KILNEXEC_CUDA(cudaEventCreateWithFlags(&e, spin ? cudaEventDefault : cudaEventBlockingSync));
  return EventPtr(e, cudaEventDestroy);
}

//! Waits for `e`: spinning on cudaEventQuery (--useSpinWait), else blocking in cudaEventSynchronize.
void waitFor(cudaEvent_t e, bool spin) {
  if (!spin) return KILNEXEC_CUDA(cudaEventSynchronize(e));
  cudaError_t status;
  while ((status = cudaEventQuery(e)) == cudaErrorNotReady) {
  }
  check(status, "cudaEventQuery");
}

double elapsedMs(cudaEvent_t from, cudaEvent_t to) {
  float ms = 0;
  KILNEXEC_CUDA(cudaEventElapsedTime(&ms, from, to));
  return ms;
}

//! One IO tensor of one context: its device buffer and its pinned host staging.
struct IoBuffer {
  std::string name;
  bool isInput = false;
  std::size_t bytes = 0;
  DevicePtr device{nullptr, cudaFree};
  DevicePtr pinned{nullptr, cudaFreeHost};
};

enum Event { kInputStart, kInputEnd, kComputeStart, kComputeEnd, kOutputStart, kOutputEnd, kNumEvents };
enum StreamRole { kInput, kCompute, kOutput, kNumStreams };

//! One inference stream (trtexec's Iteration): an execution context, its
//! buffers, an input, a compute and an output stream, and two sets of events
//! so that one query can be enqueued while the previous one runs.
class StreamRun {
 public:
  StreamRun(int id, kiln::ICudaEngine& engine, const std::map<std::string, std::vector<int64_t>>& shapes,
            const Options& o, Logger& logger, std::vector<TensorBuffer>& host)
      : id_(id), spin_(o.useSpinWait) {
    int before = logger.errorCount();
    ctx_.reset(engine.createExecutionContext());
    if (!ctx_) failStep(logger, before, "could not create the execution context of stream " + std::to_string(id));
    selectProfile(engine, *ctx_, o, logger);
    setInputShapes(engine, *ctx_, shapes, o.profile, logger);
    if (host.empty()) makeHostTensors(engine, *ctx_, o, logger, true, host);  // every stream gets the same inputs
    for (const TensorBuffer& t : host) {
      IoBuffer b;
      b.name = t.name;
      b.isInput = t.isInput;
      b.bytes = t.bytes;
      b.device = deviceMemory(t.bytes);
      b.pinned = pinnedMemory(t.bytes);
      if (t.isInput && t.bytes) std::memcpy(b.pinned.get(), t.data.get(), t.bytes);
      before = logger.errorCount();
      if (!ctx_->setTensorAddress(b.name.c_str(), b.device.get()))
        failStep(logger, before, "could not set the device address of tensor '" + b.name + "'");
      buffers_.push_back(std::move(b));
    }
    for (int s = 0; s < kNumStreams; ++s) streams_.push_back(makeStream());
    for (Slot& slot : slots_)
      for (int e = 0; e < kNumEvents; ++e) slot.events.push_back(makeEvent(spin_));
    // The inputs reach the device once up front, so --noDataTransfers runs on real data too.
    copy(true, stream(kCompute));
    KILNEXEC_CUDA(cudaStreamSynchronize(stream(kCompute)));
  }

  cudaStream_t stream(StreamRole r) const { return streams_[r].get(); }

  //! Captures one enqueueV3 on the compute stream into a CUDA graph (after one
  //! plain run, so that nothing initializes during the capture). A failed
  //! capture is reported and the stream keeps calling enqueueV3, as in trtexec.
  void captureGraph(Logger& logger) {
    logger.info("Capturing CUDA graph for the current execution context");
    cudaStream_t s = stream(kCompute);
    int before = logger.errorCount();
    if (!ctx_->enqueueV3(s)) failStep(logger, before, "inference failed (enqueueV3 returned false)");
    KILNEXEC_CUDA(cudaStreamSynchronize(s));
    KILNEXEC_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    bool ok = ctx_->enqueueV3(s);
    cudaGraph_t graph = nullptr;
    cudaError_t ended = cudaStreamEndCapture(s, &graph);
    if (graph) graph_.reset(graph);
    cudaGraphExec_t exec = nullptr;
    ok = ok && ended == cudaSuccess && graph && cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
    if (ok) {
      exec_.reset(exec);
      logger.info("Successfully captured CUDA graph for the current execution context.");
      return;
    }
    cudaGetLastError();  // the failed capture's error must not surface in a later call
    logger.warning("The built Kiln engine contains operations that are not permitted under CUDA graph capture mode" +
                   std::string(ended != cudaSuccess ? std::string(" (") + cudaGetErrorString(ended) + ")" : "") + ".");
    logger.warning("CUDA graph capture failed. The inference will be launched without using CUDA graph.");
  }

  //! Every stream of this run waits for `start`, so that event times count from it.
  void startAfter(cudaEvent_t start) {
    for (const StreamPtr& s : streams_) KILNEXEC_CUDA(cudaStreamWaitEvent(s.get(), start, 0));
  }

  //! Enqueues one query in the free slot: H2D copies (unless --noDataTransfers),
  //! the inference, D2H copies, each phase between two events.
  void query(bool transfers, Logger& logger) {
    Slot& slot = slots_[next_];
    if (transfers) {
      record(slot, kInputStart, kInput);
      copy(true, stream(kInput));
      record(slot, kInputEnd, kInput);
      KILNEXEC_CUDA(cudaStreamWaitEvent(stream(kCompute), slot.event(kInputEnd), 0));
    }
    record(slot, kComputeStart, kCompute);
    slot.enqueueStart = Clock::now();
    if (exec_) {
      KILNEXEC_CUDA(cudaGraphLaunch(exec_.get(), stream(kCompute)));
    } else {
      int before = logger.errorCount();
      if (!ctx_->enqueueV3(stream(kCompute))) failStep(logger, before, "inference failed (enqueueV3 returned false)");
    }
    slot.enqueueEnd = Clock::now();
    record(slot, kComputeEnd, kCompute);
    if (transfers) {
      KILNEXEC_CUDA(cudaStreamWaitEvent(stream(kOutput), slot.event(kComputeEnd), 0));
      record(slot, kOutputStart, kOutput);
      copy(false, stream(kOutput));
      record(slot, kOutputEnd, kOutput);
    }
    slot.active = true;
    slot.transfers = transfers;
    next_ = 1 - next_;
  }

  //! Waits for the older query in flight, if any, and appends its times
  //! (ms from cpuStart / gpuStart) to `trace`.
  void sync(Clock::time_point cpuStart, cudaEvent_t gpuStart, std::vector<InferenceTime>& trace) {
    Slot& slot = slots_[next_];
    if (!slot.active) return;
    waitFor(slot.event(slot.transfers ? kOutputEnd : kComputeEnd), spin_);
    InferenceTime t;
    t.stream = id_;
    t.enqStart = msBetween(cpuStart, slot.enqueueStart);
    t.enqEnd = msBetween(cpuStart, slot.enqueueEnd);
    t.computeStart = elapsedMs(gpuStart, slot.event(kComputeStart));
    t.computeEnd = elapsedMs(gpuStart, slot.event(kComputeEnd));
    t.h2dStart = slot.transfers ? elapsedMs(gpuStart, slot.event(kInputStart)) : t.computeStart;
    t.h2dEnd = slot.transfers ? elapsedMs(gpuStart, slot.event(kInputEnd)) : t.computeStart;
    t.d2hStart = slot.transfers ? elapsedMs(gpuStart, slot.event(kOutputStart)) : t.computeEnd;
    t.d2hEnd = slot.transfers ? elapsedMs(gpuStart, slot.event(kOutputEnd)) : t.computeEnd;
    trace.push_back(t);
    slot.active = false;
  }

  void syncAll(Clock::time_point cpuStart, cudaEvent_t gpuStart, std::vector<InferenceTime>& trace) {
    for (int d = 0; d < 2; ++d) {
      sync(cpuStart, gpuStart, trace);
      next_ = 1 - next_;
    }
  }

  //! The profiling run: enqueueV3 with the profiler attached (it times each
  //! layer with CUDA events and waits), never the graph.
  void profile(LayerProfiler& profiler, int iterations, double durationMs, Logger& logger) {
    ctx_->setProfiler(&profiler);
    Clock::time_point t0 = Clock::now();
    while (profiler.runs < iterations || msBetween(t0, Clock::now()) < durationMs) {
      int before = logger.errorCount();
      if (!ctx_->enqueueV3(stream(kCompute))) failStep(logger, before, "inference failed (enqueueV3 returned false)");
      KILNEXEC_CUDA(cudaStreamSynchronize(stream(kCompute)));
      ++profiler.runs;
    }
    ctx_->setProfiler(nullptr);
  }

  //! The outputs of the last query into `host` (--dumpOutput, --exportOutput).
  void fetchOutputs(std::vector<TensorBuffer>& host) {
    copy(false, stream(kCompute));
    KILNEXEC_CUDA(cudaStreamSynchronize(stream(kCompute)));
    for (std::size_t i = 0; i < host.size(); ++i)
      if (!host[i].isInput && host[i].bytes) std::memcpy(host[i].data.get(), buffers_[i].pinned.get(), host[i].bytes);
  }

 private:
  struct Slot {
    std::vector<EventPtr> events;
    bool active = false, transfers = false;
    Clock::time_point enqueueStart, enqueueEnd;
    cudaEvent_t event(Event e) const { return events[e].get(); }
  };

  void record(Slot& slot, Event e, StreamRole r) { KILNEXEC_CUDA(cudaEventRecord(slot.event(e), stream(r))); }

  //! Inputs pinned -> device, or outputs device -> pinned, on `s`.
  void copy(bool inputs, cudaStream_t s) {
    for (const IoBuffer& b : buffers_) {
      if (b.isInput != inputs || !b.bytes) continue;
      if (inputs) KILNEXEC_CUDA(cudaMemcpyAsync(b.device.get(), b.pinned.get(), b.bytes, cudaMemcpyHostToDevice, s));
      else KILNEXEC_CUDA(cudaMemcpyAsync(b.pinned.get(), b.device.get(), b.bytes, cudaMemcpyDeviceToHost, s));
    }
  }

  int id_;
  bool spin_;
  // Buffers and streams outlive the context that points at them (declared first, released last).
  std::vector<IoBuffer> buffers_;
  std::vector<StreamPtr> streams_;
  std::unique_ptr<kiln::IExecutionContext> ctx_;
  GraphPtr graph_{nullptr, cudaGraphDestroy};
  GraphExecPtr exec_{nullptr, cudaGraphExecDestroy};
  Slot slots_[2];
  int next_ = 0;
};

//! trtexec's inference loop: each round enqueues one query per stream, then
//! waits for each stream's previous query, until `iterations` rounds AND
//! `durationMs` have passed; then drains. Times count from one start event
//! that every stream waits for; `walltimeS` runs to the last completion.
void runLoop(std::vector<std::unique_ptr<StreamRun>>& runs, int iterations, double durationMs, bool transfers,
             Logger& logger, std::vector<InferenceTime>& trace, double& walltimeS) {
  trace.clear();
  StreamPtr main = makeStream();
  EventPtr gpuStart = makeEvent(false);
  KILNEXEC_CUDA(cudaEventRecord(gpuStart.get(), main.get()));
  for (auto& r : runs) r->startAfter(gpuStart.get());
  Clock::time_point cpuStart = Clock::now();
  double elapsed = 0;
  for (int i = 0; i < iterations || elapsed < durationMs; ++i) {
    for (auto& r : runs) r->query(transfers, logger);
    for (auto& r : runs) r->sync(cpuStart, gpuStart.get(), trace);
    elapsed = msBetween(cpuStart, Clock::now());
  }
  for (auto& r : runs) r->syncAll(cpuStart, gpuStart.get(), trace);
  walltimeS = msBetween(cpuStart, Clock::now()) / 1000.0;
  std::sort(trace.begin(), trace.end(),
            [](const InferenceTime& a, const InferenceTime& b) { return a.h2dStart < b.h2dStart; });
}

std::string uuidText(const cudaUUID_t& u) {
  std::string s = "GPU-";
  char hex[3];
  for (int i = 0; i < 16; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(u.bytes[i]));
    s += hex;
    if (i == 3 || i == 5 || i == 7 || i == 9) s += '-';
  }
  return s;
}

}  // namespace

void printCudaDevice(Logger& log) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    cudaGetLastError();
    log.info(std::string("Selected Device: none (") +
             (status != cudaSuccess ? cudaGetErrorString(status) : "no CUDA device is present") + ")");
    return;
  }
  int current = 0;
  KILNEXEC_CUDA(cudaGetDevice(&current));
  log.info("Available Devices: ");
  cudaDeviceProp p{};
  for (int d = 0; d < count; ++d) {
    KILNEXEC_CUDA(cudaGetDeviceProperties(&p, d));
    log.info("  Device " + std::to_string(d) + ": \"" + p.name + "\" UUID: " + uuidText(p.uuid));
  }
  KILNEXEC_CUDA(cudaGetDeviceProperties(&p, current));
  log.info(std::string("Selected Device: ") + p.name);
  log.info("Selected Device ID: " + std::to_string(current));
  log.info("Selected Device UUID: " + uuidText(p.uuid));
  log.info("Compute Capability: " + std::to_string(p.major) + "." + std::to_string(p.minor));
  log.info("SMs: " + std::to_string(p.multiProcessorCount));
  log.info("Device Global Memory: " + std::to_string(p.totalGlobalMem >> 20) + " MiB");
  log.info("Shared Memory per SM: " + std::to_string(p.sharedMemPerMultiprocessor >> 10) + " KiB");
  log.info("Memory Bus Width: " + std::to_string(p.memoryBusWidth) + " bits (ECC " +
           (p.ECCEnabled ? "enabled" : "disabled") + ")");
}

void runInferenceCuda(kiln::ICudaEngine& engine, const std::map<std::string, std::vector<int64_t>>& shapes,
                      const Options& o, Logger& logger, InferenceResult& result) {
  result.device = true;
  std::vector<std::unique_ptr<StreamRun>> runs;
  for (int s = 0; s < o.streams; ++s)
    runs.push_back(std::make_unique<StreamRun>(s, engine, shapes, o, logger, result.tensors));
  if (o.useCudaGraph)
    for (auto& r : runs) r->captureGraph(logger);
  const bool transfers = !o.noDataTransfers;

  logger.info("Starting inference");
  std::vector<InferenceTime> warmup;
  double warmupS = 0;
  runLoop(runs, 0, o.warmUpMs, transfers, logger, warmup, warmupS);
  result.warmupQueries = static_cast<int>(warmup.size());
  result.warmupMs = warmupS * 1000.0;
  logWarmup(result, logger);

  runLoop(runs, o.iterations, o.durationS * 1000.0, transfers, logger, result.trace, result.walltimeS);
  logTrace(result, logger);

  if (o.profiling()) {
    // Layer timing waits for the GPU after each query, and a CUDA graph has no
    // profiler: profiled queries run apart from the timed ones, without the graph.
    if (!o.separateProfileRun) logger.info("Layer profiling on the GPU runs after the timing run (as with "
                                           "--separateProfileRun), so that the timed queries are undisturbed");
    logger.info("Starting the separate profiling run");
    runs.front()->profile(result.profiler, o.iterations, o.durationS * 1000.0, logger);
  }
  runs.front()->fetchOutputs(result.tensors);
  result.profiled = o.profiling();
  logger.info("Inference finished");
}

}  // namespace kilnexec
