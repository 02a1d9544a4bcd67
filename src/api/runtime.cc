// IRuntime, ICudaEngine and IExecutionContext over runtime/.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <tuple>

#include "api/api_util.h"
#include "api/layers.h"
#include "core/host_buffer.h"
#include "kiln/runtime.h"
#include "ir/plugin.h"
#include "plan/plan.h"
#include "plan/plan_format.h"
#include "runtime/engine.h"

namespace kiln::api {

namespace {

class EngineImpl;

class ExecutionContextImpl final : public IExecutionContext {
 public:
  ExecutionContextImpl(const EngineImpl* owner, std::shared_ptr<const runtime::Engine> engine, ILogger* logger,
                       int threads, bool ownArena, std::shared_ptr<void> libraries)
      : libraries_(std::move(libraries)), owner_(owner), logger_(logger), ctx_(std::move(engine), threads, ownArena) {
    onLayer_ = [this](int index, float ms) {
      if (profiler_) profiler_->reportLayerTime(ctx_.engine().layers()[index].name.c_str(), ms);
    };
  }
  const ICudaEngine& getEngine() const noexcept override;

  bool setTensorAddress(const char* name, void* data) noexcept override {
    int io = find(name, "setTensorAddress");
    if (io < 0 || !bind(io, data, "setTensorAddress")) return false;
    readShapeValues(io);
    return true;
  }
  const void* getTensorAddress(const char* name) const noexcept override {
    int io = name ? ctx_.engine().findIO(name) : -1;
    return io < 0 ? nullptr : ctx_.address(io);
  }
  bool setInputTensorAddress(const char* name, const void* data) noexcept override {
    int io = find(name, "setInputTensorAddress");
    if (io < 0) return false;
    if (!ctx_.engine().io()[io].isInput) {
      logMessage(logger_, ILogger::Severity::kERROR,
                 strCat("setInputTensorAddress: \"", name, "\" is an output; use setTensorAddress"));
      return false;
    }
    if (!bind(io, const_cast<void*>(data), "setInputTensorAddress")) return false;
    readShapeValues(io);
    return true;
  }
  bool setInputShape(const char* name, const Dims& dims) noexcept override {
    int io = find(name, "setInputShape");
    if (io < 0) return false;
    return guarded(logger_, strCat("setInputShape: input \"", name, "\"").c_str(), false, [&] {
      KILN_CHECK(dims.nbDims >= 0 && dims.nbDims <= Dims::MAX_DIMS, "rank ", dims.nbDims, " is invalid");
      ctx_.setInputShape(io, toVector(dims));
      return true;
    });
  }
  Dims getTensorShape(const char* name) const noexcept override {
    int io = name ? ctx_.engine().findIO(name) : -1;
    if (io < 0) {
      Dims d;
      d.nbDims = -1;
      return d;
    }
    return toDims(ctx_.shapeOf(io));
  }
  bool allInputDimensionsSpecified() const noexcept override { return ctx_.allInputShapesKnown(); }
  int32_t inferShapes(int32_t nbMaxNames, const char** tensorNames) noexcept override {
    if (!guarded(logger_, "inferShapes", false, [&] {
          ctx_.refreshShapeValues();
          return true;
        }))
      return -1;
    if (ctx_.allInputShapesKnown()) return 0;
    missing_ = ctx_.missingInputShapes();
    for (int32_t i = 0; i < nbMaxNames && i < static_cast<int32_t>(missing_.size()); ++i)
      if (tensorNames) tensorNames[i] = missing_[i].c_str();
    return static_cast<int32_t>(missing_.size());
  }
  bool setOptimizationProfileAsync(int32_t profileIndex, void*) noexcept override {
    return guarded(logger_, "setOptimizationProfileAsync", false, [&] {
      ctx_.setProfile(profileIndex);
      return true;
    });
  }
  int32_t getOptimizationProfile() const noexcept override { return ctx_.profile(); }
  bool executeV2(void* const* bindings) noexcept override {
    if (!bindings) {
      logMessage(logger_, ILogger::Severity::kERROR, "executeV2: bindings is null");
      return false;
    }
    for (std::size_t i = 0; i < ctx_.engine().io().size(); ++i)
      if (!bind(static_cast<int>(i), bindings[i], "executeV2")) return false;
    if (!enqueueV3(nullptr)) return false;
    if (const backends::DeviceBackend* device = ctx_.engine().device())  // executeV2 is synchronous
      return guarded(logger_, "executeV2", false, [&] {
        device->synchronize(nullptr);
        return true;
      });
    return true;
  }
  bool enqueueV3(void* stream) noexcept override {
    return guarded(logger_, "enqueueV3", false, [&] {
      const auto& ioList = ctx_.engine().io();
      for (std::size_t io = 0; io < ioList.size(); ++io)
        KILN_CHECK(!ioList[io].dataDependent || (io < allocators_.size() && allocators_[io]), "output \"",
                   ioList[io].name,
                   "\" has a data-dependent shape (known only after the run): set an IOutputAllocator for it "
                   "with setOutputAllocator");
      for (std::size_t io = 0; io < allocators_.size(); ++io) {
        IOutputAllocator* a = allocators_[io];
        if (!a) continue;
        const runtime::IOTensor& t = ctx_.engine().io()[io];
        // A data-dependent output gets its upper bound: the kernel writes the actual elements first.
        uint64_t bytes =
            static_cast<uint64_t>(ir::numElements(ctx_.boundShapeOf(static_cast<int>(io))) * dtypeSize(t.dtype));
        void* mem = a->reallocateOutputAsync(t.name.c_str(), ctx_.address(static_cast<int>(io)), bytes, 64, stream);
        KILN_CHECK(mem || bytes == 0, "the output allocator of \"", t.name, "\" returned no memory for ", bytes, " bytes");
        ctx_.setAddress(static_cast<int>(io), mem);
      }
      ctx_.execute(profiler_ ? &onLayer_ : nullptr, stream);
      for (std::size_t io = 0; io < allocators_.size(); ++io)
        if (allocators_[io])
          allocators_[io]->notifyShape(ctx_.engine().io()[io].name.c_str(), toDims(ctx_.shapeOf(static_cast<int>(io))));
      return true;
    });
  }
  bool setOutputAllocator(const char* name, IOutputAllocator* allocator) noexcept override {
    int io = find(name, "setOutputAllocator");
    if (io < 0) return false;
    if (ctx_.engine().io()[io].isInput) {
      logMessage(logger_, ILogger::Severity::kERROR, strCat("setOutputAllocator: \"", name, "\" is an input"));
      return false;
    }
    allocators_.resize(ctx_.engine().io().size(), nullptr);
    allocators_[io] = allocator;
    return true;
  }
  IOutputAllocator* getOutputAllocator(const char* name) const noexcept override {
    int io = name ? ctx_.engine().findIO(name) : -1;
    return io >= 0 && io < static_cast<int>(allocators_.size()) ? allocators_[io] : nullptr;
  }
  void setProfiler(IProfiler* p) noexcept override { profiler_ = p; }
  IProfiler* getProfiler() const noexcept override { return profiler_; }
  void setDeviceMemory(void* memory) noexcept override {
    int64_t align = ctx_.engine().contextMemoryAlignment();
    if (reinterpret_cast<uintptr_t>(memory) % align) {
      logMessage(logger_, ILogger::Severity::kERROR, strCat("setDeviceMemory: memory must be ", align, "-byte aligned"));
      return;
    }
    ctx_.setUserArena(memory);
  }
  void setName(const char* name) noexcept override { name_ = name ? name : ""; }
  const char* getName() const noexcept override { return name_.c_str(); }
  void setNbThreads(int32_t threads) noexcept override {
    guarded(logger_, "setNbThreads", false, [&] {
      ctx_.setThreads(threads);
      return true;
    });
  }

 private:
  //! A shape tensor's values are read when its address is set, so that
  //! getTensorShape answers at once; bad values are reported by inferShapes and enqueueV3.
  void readShapeValues(int io) {
    if (!ctx_.engine().io()[io].isShapeTensor) return;
    try {
      ctx_.refreshShapeValues();
    } catch (const std::exception&) {
    }
  }
  //! Sets an address; false, with the reason logged, for memory the engine cannot use (host memory for a GPU engine).
  bool bind(int io, void* data, const char* where) {
    return guarded(logger_, where, false, [&] {
      ctx_.setAddress(io, data);
      return true;
    });
  }
  int find(const char* name, const char* where) const {
    int io = name ? ctx_.engine().findIO(name) : -1;
    if (io < 0)
      logMessage(logger_, ILogger::Severity::kERROR,
                 strCat(where, ": the engine has no input or output tensor named \"", name ? name : "(null)", "\""));
    return io;
  }

  //! Plugin libraries the plan brought (declared first: released after the kernels that use them).
  std::shared_ptr<void> libraries_;
  const EngineImpl* owner_;
  ILogger* logger_;
  runtime::ExecutionContext ctx_;
  IProfiler* profiler_ = nullptr;
  std::function<void(int, float)> onLayer_;
  std::string name_;
  std::vector<std::string> missing_;
  std::vector<IOutputAllocator*> allocators_;  //!< per IO tensor; empty until one is set
};

class EngineImpl final : public ICudaEngine {
 public:
  EngineImpl(std::shared_ptr<const runtime::Engine> engine, ILogger* logger) : engine_(std::move(engine)), logger_(logger) {
    for (const runtime::Layer& l : engine_->layers()) {
      std::string ins, outs;
      for (const ir::Value* v : l.node->inputs)
        if (v) ins += strCat(ins.empty() ? "" : ", ", v->name, ir::toString(v->shape), ":", dataTypeName(v->dtype));
      for (const ir::Value* v : l.node->outputs)
        outs += strCat(outs.empty() ? "" : ", ", v->name, ir::toString(v->shape), ":", dataTypeName(v->dtype));
      layerInfo_.push_back(strCat(l.name, " [", l.op, "] tactic=", l.tactic, " inputs=(", ins, ") outputs=(", outs, ")"));
    }
  }
  int32_t getNbIOTensors() const noexcept override { return static_cast<int32_t>(engine_->io().size()); }
  const char* getIOTensorName(int32_t i) const noexcept override {
    return i >= 0 && i < getNbIOTensors() ? engine_->io()[i].name.c_str() : nullptr;
  }
  TensorIOMode getTensorIOMode(const char* name) const noexcept override {
    const runtime::IOTensor* t = find(name);
    return !t ? TensorIOMode::kNONE : t->isInput ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
  }
  Dims getTensorShape(const char* name) const noexcept override {
    const runtime::IOTensor* t = find(name);
    if (!t) {
      Dims d;
      d.nbDims = -1;
      return d;
    }
    return toDims(t->dims);
  }
  DataType getTensorDataType(const char* name) const noexcept override {
    const runtime::IOTensor* t = find(name);
    return t ? t->dtype : DataType::kFLOAT;
  }
  TensorLocation getTensorLocation(const char*) const noexcept override {
    return engine_->device() ? TensorLocation::kDEVICE : TensorLocation::kHOST;
  }
  int32_t getNbLayers() const noexcept override { return static_cast<int32_t>(engine_->layers().size()); }
  int32_t getNbOptimizationProfiles() const noexcept override { return engine_->numProfiles(); }
  Dims getProfileShape(const char* name, int32_t profile, OptProfileSelector sel) const noexcept override {
    Dims none;
    none.nbDims = -1;
    const runtime::IOTensor* t = find(name);
    if (!t || !t->isInput || profile < 0 || profile >= engine_->numProfiles()) return none;
    const plan::ProfileInput* p = engine_->profileInput(profile, name);
    if (!p) return t->isStatic() ? toDims(t->dims) : none;
    return toDims(sel == OptProfileSelector::kMIN ? p->min : sel == OptProfileSelector::kOPT ? p->opt : p->max);
  }
  bool isShapeInferenceIO(const char* name) const noexcept override {
    const runtime::IOTensor* t = find(name);
    return t && t->isShapeTensor;
  }
  const int64_t* getProfileTensorValuesV2(const char* name, int32_t profile, OptProfileSelector sel) const noexcept override {
    const plan::ProfileInput* p = name && profile >= 0 ? engine_->profileInput(profile, name) : nullptr;
    if (!p || !p->isShapeTensor()) return nullptr;
    return (sel == OptProfileSelector::kMIN ? p->minValues : sel == OptProfileSelector::kOPT ? p->optValues : p->maxValues)
        .data();
  }
  const int32_t* getProfileTensorValues(const char* name, int32_t profile, OptProfileSelector sel) const noexcept override {
    const int64_t* wide = getProfileTensorValuesV2(name, profile, sel);
    if (!wide) return nullptr;
    std::lock_guard<std::mutex> lock(narrowMu_);
    auto& slot = narrow_[{std::string(name), profile, static_cast<int>(sel)}];
    if (slot.empty()) {
      const plan::ProfileInput* p = engine_->profileInput(profile, name);
      slot.assign(wide, wide + p->optValues.size());
    }
    return slot.data();
  }
  std::size_t getDeviceMemorySize() const noexcept override {
    return static_cast<std::size_t>(engine_->contextMemoryBytes());
  }
  IExecutionContext* createExecutionContext(ExecutionContextAllocationStrategy strategy) noexcept override {
    return guarded(logger_, "createExecutionContext", static_cast<IExecutionContext*>(nullptr), [&] {
      return static_cast<IExecutionContext*>(new ExecutionContextImpl(
          this, engine_, logger_, 0, strategy != ExecutionContextAllocationStrategy::kUSER_MANAGED, libraries_));
    });
  }
  IHostMemory* serialize() const noexcept override {
    return new HostMemory(engine_->planData(), engine_->planSize());
  }
  DeviceType getDeviceType() const noexcept override {
    return engine_->device() ? DeviceType::kGPU : DeviceType::kCPU;
  }
  //! Keeps the plugin libraries the plan brought loaded while this engine or its contexts live.
  void keepLibraries(std::shared_ptr<void> libraries) { libraries_ = std::move(libraries); }
  const char* getLayerInformation(int32_t i) const noexcept override {
    return i >= 0 && i < getNbLayers() ? layerInfo_[i].c_str() : nullptr;
  }

 private:
  const runtime::IOTensor* find(const char* name) const {
    int io = name ? engine_->findIO(name) : -1;
    return io < 0 ? nullptr : &engine_->io()[io];
  }
  std::shared_ptr<void> libraries_;  //!< declared before engine_: released after it
  std::shared_ptr<const runtime::Engine> engine_;
  //! int32 copies of shape-tensor profile values (getProfileTensorValues), made on demand.
  mutable std::mutex narrowMu_;
  mutable std::map<std::tuple<std::string, int32_t, int>, std::vector<int32_t>> narrow_;
  ILogger* logger_;
  std::vector<std::string> layerInfo_;
};

const ICudaEngine& ExecutionContextImpl::getEngine() const noexcept { return *owner_; }

class RuntimeImpl final : public IRuntime {
 public:
  explicit RuntimeImpl(ILogger& logger) : logger_(&logger) {}
  ICudaEngine* deserializeCudaEngine(const void* blob, std::size_t size) noexcept override {
    return guarded(logger_, "deserializeCudaEngine", static_cast<ICudaEngine*>(nullptr), [&] {
      loadEmbeddedLibraries(blob, size);
      return wrap(runtime::Engine::load(blob, size));
    });
  }
  ICudaEngine* deserializeCudaEngine(IStreamReader& reader) noexcept override {
    return guarded(logger_, "deserializeCudaEngine", static_cast<ICudaEngine*>(nullptr), [&] {
      return fromStream([&](void* to, int64_t n) { return reader.read(to, n); });
    });
  }
  ICudaEngine* deserializeCudaEngine(IStreamReaderV2& reader) noexcept override {
    return guarded(logger_, "deserializeCudaEngine", static_cast<ICudaEngine*>(nullptr), [&] {
      return fromStream([&](void* to, int64_t n) { return reader.read(to, n, nullptr); });
    });
  }
  ILogger* getLogger() const noexcept override { return logger_; }
  void setEngineHostCodeAllowed(bool allowed) noexcept override { hostCodeAllowed_ = allowed; }
  bool getEngineHostCodeAllowed() const noexcept override { return hostCodeAllowed_; }

 private:
  //! The libraries this runtime loaded; deregistered once the runtime and every
  //! engine and context made from it are gone.
  struct LoadedLibraries {
    std::vector<PluginLibraryHandle> handles;
    ~LoadedLibraries() {
      for (PluginLibraryHandle h : handles) getPluginRegistry()->deregisterLibrary(h);
    }
  };

  ICudaEngine* wrap(std::shared_ptr<const runtime::Engine> engine) {
    for (const std::string& w : engine->warnings()) logMessage(logger_, ILogger::Severity::kWARNING, w);
    auto* impl = new EngineImpl(std::move(engine), logger_);
    impl->keepLibraries(libraries_);
    return static_cast<ICudaEngine*>(impl);
  }

  //! Reads a plan through `read` (a stream reader's): the header first, which
  //! says the plan's size, then the rest straight into the engine's buffer.
  ICudaEngine* fromStream(const std::function<int64_t(void*, int64_t)>& read) {
    auto readExactly = [&](uint8_t* to, uint64_t n, uint64_t already, uint64_t total) {
      for (uint64_t done = 0; done < n;) {
        int64_t got = read(to + done, static_cast<int64_t>(std::min<uint64_t>(n - done, uint64_t{1} << 30)));
        if (got <= 0) fail("the plan stream ended after ", already + done, " of ", total, " bytes");
        done += static_cast<uint64_t>(got);
      }
    };
    uint8_t header[plan::kHeaderSize];
    readExactly(header, sizeof header, 0, sizeof header);
    plan::FileLayout layout = plan::checkPlanHeader(header, sizeof header);
    std::shared_ptr<void> buffer = allocHostBuffer(layout.fileSize, "a plan");
    void* p = buffer.get();
    std::memcpy(p, header, sizeof header);
    readExactly(static_cast<uint8_t*>(p) + sizeof header, layout.fileSize - sizeof header, sizeof header,
                layout.fileSize);
    loadEmbeddedLibraries(p, layout.fileSize);
    return wrap(runtime::Engine::adopt(std::move(buffer), layout.fileSize));
  }

  //! Loads the plugin libraries a plan embeds (setPluginsToSerialize) when a
  //! plugin it needs is not registered yet. Each is written to a temporary
  //! file for dlopen, which keeps it mapped after the file is removed.
  void loadEmbeddedLibraries(const void* blob, std::size_t size) {
    if (!blob) return;  // Engine::load reports it
    plan::PlanContents contents = plan::readPlan(static_cast<const uint8_t*>(blob), size, nullptr);
    if (contents.pluginLibraries.empty()) return;
    std::string missing;
    for (const auto& n : contents.graph->nodes()) {
      if (n->op != ir::kPluginOp) continue;
      namespace pa = ir::plugin_attr;
      std::string name = n->s(pa::kName, ""), version = n->s(pa::kVersion, ""), ns = n->s(pa::kNamespace, "");
      if (!getPluginRegistry()->getCreator(name.c_str(), version.c_str(), ns.c_str()) && missing.empty())
        missing = strCat("plugin \"", name, "\" (version \"", version, "\", namespace \"", ns, "\")");
    }
    if (missing.empty()) return;  // already registered: the libraries were loaded before
    KILN_CHECK(hostCodeAllowed_, "the plan embeds the plugin library '", contents.pluginLibraries[0].name, "' for ",
               missing, ", but this runtime does not load host code: call IRuntime::setEngineHostCodeAllowed(true), "
               "or load the library first (IPluginRegistry::loadLibrary)");
    for (const plan::PluginLibrary& lib : contents.pluginLibraries) {
      std::string path = (std::filesystem::temp_directory_path() / "kiln-plugin-XXXXXX").string();
      int fd = mkstemp(path.data());
      KILN_CHECK(fd >= 0, "cannot write the embedded plugin library '", lib.name, "' to a temporary file");
      std::size_t written = 0;
      while (written < lib.bytes.size()) {
        ssize_t w = ::write(fd, lib.bytes.data() + written, lib.bytes.size() - written);
        if (w <= 0) break;
        written += static_cast<std::size_t>(w);
      }
      ::close(fd);
      PluginLibraryHandle handle = written == lib.bytes.size() ? getPluginRegistry()->loadLibrary(path.c_str()) : nullptr;
      std::remove(path.c_str());
      KILN_CHECK(handle, "cannot load the plugin library '", lib.name, "' embedded in the plan (see the errors above)");
      if (!libraries_) libraries_ = std::make_shared<LoadedLibraries>();
      std::static_pointer_cast<LoadedLibraries>(libraries_)->handles.push_back(handle);
    }
  }

  ILogger* logger_;
  bool hostCodeAllowed_ = false;
  std::shared_ptr<void> libraries_;  //!< a LoadedLibraries, once one was loaded
};

}  // namespace

}  // namespace kiln::api

namespace kiln {
IRuntime* createInferRuntime(ILogger& logger) noexcept { return new api::RuntimeImpl(logger); }
}  // namespace kiln
