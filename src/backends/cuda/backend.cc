#include "backends/cuda/backend.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "backends/cuda/check.h"
#include "backends/cuda/cublaslt_lazy.h"
#include "backends/cuda/ops/families.h"

namespace kiln::cuda {
namespace {

//! The current device's arch and name and the libraries' versions; `available`
//! false with the reason when the driver or the device is missing.
backends::HostDevice query() {
  backends::HostDevice h;
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls report their own
    h.unavailable = strCat("no usable CUDA device (cudaGetDeviceCount: ", cudaGetErrorName(status), ", ",
                           cudaGetErrorString(status), ")");
    return h;
  }
  if (count == 0) {
    h.unavailable = "no CUDA device is present (cudaGetDeviceCount returned 0)";
    return h;
  }
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  h.target.device = "cuda";
  h.target.arch = backends::archName(prop.major, prop.minor);
  h.target.name = prop.name;
  KILN_CUDA_CHECK(cudaRuntimeGetVersion(&h.target.cudaRuntime));
  if (std::string why = cublasLtLoadError(); !why.empty()) {  // no engine of ours runs without it
    h.unavailable = strCat("the CUDA backend needs cuBLASLt: ", why);
    return h;
  }
  h.target.cudnn = static_cast<int64_t>(cudnnGetVersion());
  h.target.cublasLt = static_cast<int64_t>(cublasLtGetVersion());
  h.available = true;
  return h;
}

class CudaBackend final : public backends::DeviceBackend {
 public:
  CudaBackend() {
    registerGemmTactics(all_);
    registerConvTactics(all_);
    registerConvGraphTactics(all_);
    registerConvDirectTactics(all_);
    registerElementwiseTactics(all_);
    registerSoftmaxTactics(all_);
    registerPoolTactics(all_);
    registerTensorTactics(all_);
    registerNormTactics(all_);
    registerReduceTactics(all_);
    registerCastTactics(all_);
    registerResizeTactics(all_);
    registerPluginTactics(all_);
    registerLogicalTactics(all_);
    registerWhereTactics(all_);
    registerSplitTactics(all_);
    registerAttentionTactics(all_);
    registerAttentionGemmTactics(all_);
    registerLayoutTactics(all_);
    registerFusedElementwiseTactics(all_);
    for (const backends::DeviceTactic& t : all_) {
      KILN_CHECK(t.supports && t.create, "CUDA tactic '", t.name, "' lacks supports() or create()");
      KILN_CHECK(byName_.emplace(t.name, &t).second, "CUDA tactic '", t.name, "' registered twice");
      byOp_[t.op].push_back(&t);
    }
    for (auto& [op, list] : byOp_)
      std::stable_sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->priority > b->priority; });
  }

  const char* device() const override { return "cuda"; }

  const backends::HostDevice& host() const override {
    static const backends::HostDevice h = [] {
      try {
        return query();
      } catch (const Error& e) {
        backends::HostDevice failed;
        failed.unavailable = e.what();
        return failed;
      }
    }();
    return h;
  }

  std::vector<const backends::DeviceTactic*> tacticsFor(const std::string& op) const override {
    auto it = byOp_.find(op);
    return it == byOp_.end() ? std::vector<const backends::DeviceTactic*>{} : it->second;
  }

  const backends::DeviceTactic* findTactic(const std::string& name) const override {
    auto it = byName_.find(name);
    return it == byName_.end() ? nullptr : it->second;
  }

  std::shared_ptr<void> allocate(std::size_t bytes) const override {
    void* p = nullptr;
    if (bytes) KILN_CUDA_CHECK(cudaMalloc(&p, bytes));  // cudaMalloc aligns to 256 bytes
    return std::shared_ptr<void>(p, [](void* q) {
      if (q) cudaFree(q);
    });
  }

  void copyAsync(void* dst, const void* src, std::size_t bytes, backends::CopyKind kind, void* stream) const override {
    if (!bytes) return;
    cudaMemcpyKind k = kind == backends::CopyKind::kHostToDevice   ? cudaMemcpyHostToDevice
                       : kind == backends::CopyKind::kDeviceToHost ? cudaMemcpyDeviceToHost
                                                                   : cudaMemcpyDeviceToDevice;
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, k, static_cast<cudaStream_t>(stream)));
  }

  void synchronize(void* stream) const override {
    KILN_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
  }

  std::shared_ptr<void> createLibraries() const override {
    std::string why = cublasLtLoadError();
    KILN_CHECK(why.empty(), "the CUDA backend needs cuBLASLt: ", why);
    auto libs = std::make_shared<Libraries>();
    KILN_CUDA_CHECK(cublasLtCreate(&libs->cublasLt));
    KILN_CUDA_CHECK(cudnnCreate(&libs->cudnn));
    return libs;
  }

  double timeEnqueue(const std::function<void(void*)>& enqueue, int iterations) const override {
    // A stream and events of our own, released however the runs end.
    struct Timer {
      cudaStream_t stream = nullptr;
      std::vector<cudaEvent_t> events;
      ~Timer() {
        for (cudaEvent_t e : events) cudaEventDestroy(e);
        if (stream) cudaStreamDestroy(stream);
      }
    } t;
    iterations = std::max(iterations, 1);
    KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&t.stream, cudaStreamNonBlocking));
    for (int i = 0; i < 2 * iterations; ++i) {
      cudaEvent_t e = nullptr;
      KILN_CUDA_CHECK(cudaEventCreate(&e));
      t.events.push_back(e);
    }
    for (int i = 0; i < 3; ++i) enqueue(t.stream);  // warm-up: lazy library state, caches, clocks
    for (int i = 0; i < iterations; ++i) {
      KILN_CUDA_CHECK(cudaEventRecord(t.events[2 * i], t.stream));
      enqueue(t.stream);
      KILN_CUDA_CHECK(cudaEventRecord(t.events[2 * i + 1], t.stream));
    }
    KILN_CUDA_CHECK(cudaStreamSynchronize(t.stream));
    std::vector<double> ms;
    for (int i = 0; i < iterations; ++i) {
      float m = 0;
      KILN_CUDA_CHECK(cudaEventElapsedTime(&m, t.events[2 * i], t.events[2 * i + 1]));
      ms.push_back(m);
    }
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    return ms[ms.size() / 2];
  }

  backends::PointerKind pointerKind(const void* p) const override {
    cudaPointerAttributes a{};
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
      cudaGetLastError();  // not sticky, but leave no error for the next call to report
      return backends::PointerKind::kUnknown;
    }
    switch (a.type) {
      case cudaMemoryTypeDevice: return backends::PointerKind::kDevice;
      case cudaMemoryTypeManaged: return backends::PointerKind::kManaged;
      case cudaMemoryTypeHost: return backends::PointerKind::kPinnedHost;
      case cudaMemoryTypeUnregistered: return backends::PointerKind::kHost;
    }
    return backends::PointerKind::kUnknown;
  }

  std::shared_ptr<void> createEvent() const override {
    cudaEvent_t e = nullptr;
    KILN_CUDA_CHECK(cudaEventCreate(&e));
    return std::shared_ptr<void>(e, [](void* q) { cudaEventDestroy(static_cast<cudaEvent_t>(q)); });
  }

  void recordEvent(void* event, void* stream) const override {
    KILN_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)));
  }

  float elapsedMs(void* start, void* end) const override {
    KILN_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(end)));
    float ms = 0;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)));
    return ms;
  }

  bool capturing(void* stream) const override {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    KILN_CUDA_CHECK(cudaStreamIsCapturing(static_cast<cudaStream_t>(stream), &status));
    return status != cudaStreamCaptureStatusNone;
  }

 private:
  // Filled once in the constructor, so the pointers below stay valid.
  TacticList all_;
  std::unordered_map<std::string, const backends::DeviceTactic*> byName_;
  std::unordered_map<std::string, std::vector<const backends::DeviceTactic*>> byOp_;
};

}  // namespace

Libraries::~Libraries() {
  if (cublasLt) cublasLtDestroy(cublasLt);
  if (cudnn) cudnnDestroy(cudnn);
}

backends::HostDevice queryHost() { return query(); }

const backends::DeviceBackend& backend() {
  static const CudaBackend b;
  return b;
}

}  // namespace kiln::cuda
