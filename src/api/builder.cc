// IBuilder, IBuilderConfig, IOptimizationProfile and ITimingCache over builder/.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "api/api_util.h"
#include "api/layers.h"
#include "backends/backend.h"
#include "builder/build_plan.h"
#include "kiln/builder.h"

namespace kiln::api {

namespace {

class TimingCacheImpl final : public ITimingCache {
 public:
  IHostMemory* serialize() const noexcept override {
    return guarded(nullptr, "ITimingCache::serialize", static_cast<IHostMemory*>(nullptr),
                   [&] { return static_cast<IHostMemory*>(new HostMemory(cache.serialize())); });
  }
  bool combine(const ITimingCache& other, bool) noexcept override {
    cache.merge(static_cast<const TimingCacheImpl&>(other).cache);
    return true;
  }
  bool reset() noexcept override {
    cache.clear();
    return true;
  }
  builder::TimingCache cache;
};

class OptimizationProfileImpl final : public IOptimizationProfile {
 public:
  bool setDimensions(const char* name, OptProfileSelector select, Dims dims) noexcept override {
    if (!name || dims.nbDims < 0 || dims.nbDims > Dims::MAX_DIMS) return false;
    for (int i = 0; i < dims.nbDims; ++i)
      if (dims.d[i] < 0) return false;
    shapes[name][static_cast<int>(select)] = toVector(dims);
    return true;
  }
  Dims getDimensions(const char* name, OptProfileSelector select) const noexcept override {
    auto it = name ? shapes.find(name) : shapes.end();
    if (it == shapes.end()) {
      Dims d;
      d.nbDims = -1;
      return d;
    }
    return toDims(it->second[static_cast<int>(select)]);
  }
  bool setShapeValues(const char* name, OptProfileSelector select, const int32_t* v, int32_t n) noexcept override {
    if (!name || n < 0 || (n > 0 && !v)) return false;
    std::vector<int64_t> wide(v, v + n);
    return setShapeValuesV2(name, select, wide.data(), n);
  }
  bool setShapeValuesV2(const char* name, OptProfileSelector select, const int64_t* v, int32_t n) noexcept override {
    if (!name || n < 0 || (n > 0 && !v)) return false;
    auto& entry = values[name];
    int sel = static_cast<int>(select);
    entry.wide[sel].assign(v, v + n);
    entry.narrow[sel].assign(v, v + n);
    return true;
  }
  int32_t getNbShapeValues(const char* name) const noexcept override {
    auto it = name ? values.find(name) : values.end();
    if (it == values.end()) return -1;
    for (const auto& v : it->second.wide)
      if (!v.empty()) return static_cast<int32_t>(v.size());
    return 0;
  }
  const int32_t* getShapeValues(const char* name, OptProfileSelector select) const noexcept override {
    auto it = name ? values.find(name) : values.end();
    const auto* v = it == values.end() ? nullptr : &it->second.narrow[static_cast<int>(select)];
    return v && !v->empty() ? v->data() : nullptr;
  }
  const int64_t* getShapeValuesV2(const char* name, OptProfileSelector select) const noexcept override {
    auto it = name ? values.find(name) : values.end();
    const auto* v = it == values.end() ? nullptr : &it->second.wide[static_cast<int>(select)];
    return v && !v->empty() ? v->data() : nullptr;
  }
  bool isValid() const noexcept override {
    for (auto& [name, s] : shapes) {
      if (s[0].size() != s[1].size() || s[1].size() != s[2].size()) return false;
      for (std::size_t i = 0; i < s[0].size(); ++i)
        if (s[0][i] > s[1][i] || s[1][i] > s[2][i]) return false;
    }
    for (auto& [name, e] : values) {
      std::vector<int64_t> v[3] = {e.wide[0], e.wide[1], e.wide[2]};
      fillSelectors(v);
      if (v[0].size() != v[1].size() || v[1].size() != v[2].size()) return false;
      for (std::size_t i = 0; i < v[0].size(); ++i)
        if (v[0][i] > v[1][i] || v[1][i] > v[2][i]) return false;
    }
    return true;
  }
  //! Unset selectors take the ones that are set (opt, else max, else min).
  static void fillSelectors(std::vector<int64_t> (&s)[3]) {
    if (s[1].empty()) s[1] = !s[2].empty() ? s[2] : s[0];
    if (s[0].empty()) s[0] = s[1];
    if (s[2].empty()) s[2] = s[1];
  }
  //! Unset selectors default to the ones that are set (TensorRT requires all three).
  std::map<std::string, std::vector<int64_t>[3]> shapes;
  struct ShapeValues {
    std::vector<int64_t> wide[3];
    std::vector<int32_t> narrow[3];  //!< what getShapeValues returns
  };
  std::map<std::string, ShapeValues> values;
};

class BuilderConfigImpl final : public IBuilderConfig {
 public:
  void setFlag(BuilderFlag f) noexcept override { flags |= 1u << static_cast<int>(f); }
  void clearFlag(BuilderFlag f) noexcept override { flags &= ~(1u << static_cast<int>(f)); }
  bool getFlag(BuilderFlag f) const noexcept override { return flags & (1u << static_cast<int>(f)); }
  void setMemoryPoolLimit(MemoryPoolType pool, std::size_t size) noexcept override { limits[pool] = size; }
  std::size_t getMemoryPoolLimit(MemoryPoolType pool) const noexcept override {
    auto it = limits.find(pool);
    return it == limits.end() ? SIZE_MAX : it->second;
  }
  void setDefaultDeviceType(DeviceType t) noexcept override { device = t; }
  DeviceType getDefaultDeviceType() const noexcept override { return device; }
  void setPluginsToSerialize(const char* const* paths, int32_t n) noexcept override {
    pluginsToSerialize.clear();
    for (int32_t i = 0; paths && i < n; ++i)
      if (paths[i]) pluginsToSerialize.emplace_back(paths[i]);
  }
  int32_t getNbPluginsToSerialize() const noexcept override { return static_cast<int32_t>(pluginsToSerialize.size()); }
  const char* getPluginToSerialize(int32_t i) const noexcept override {
    return i >= 0 && i < getNbPluginsToSerialize() ? pluginsToSerialize[i].c_str() : nullptr;
  }
  std::vector<std::string> pluginsToSerialize;
  int32_t addOptimizationProfile(const IOptimizationProfile* p) noexcept override {
    if (!p || !p->isValid()) return -1;
    profiles.push_back(*static_cast<const OptimizationProfileImpl*>(p));
    return static_cast<int32_t>(profiles.size()) - 1;
  }
  int32_t getNbOptimizationProfiles() const noexcept override { return static_cast<int32_t>(profiles.size()); }
  ITimingCache* createTimingCache(const void* blob, std::size_t size) const noexcept override {
    return guarded(logger, "createTimingCache", static_cast<ITimingCache*>(nullptr), [&]() -> ITimingCache* {
      auto cache = std::make_unique<TimingCacheImpl>();
      if (blob && size) cache->cache = builder::TimingCache::deserialize(std::string(static_cast<const char*>(blob), size));
      return cache.release();
    });
  }
  bool setTimingCache(const ITimingCache& cache, bool) noexcept override {
    timingCache = &static_cast<const TimingCacheImpl&>(cache);
    return true;
  }
  const ITimingCache* getTimingCache() const noexcept override { return timingCache; }
  void setNbThreads(int32_t t) noexcept override { threads = t; }
  int32_t getNbThreads() const noexcept override { return threads; }
  bool setTacticSources(TacticSources sources) noexcept override {
    if (sources & ~kKnownTacticSources) return false;
    tacticSources = sources;
    return true;
  }
  TacticSources getTacticSources() const noexcept override { return tacticSources; }
  void setBuilderOptimizationLevel(int32_t level) noexcept override { optimizationLevel = std::clamp(level, 0, 5); }
  int32_t getBuilderOptimizationLevel() const noexcept override { return optimizationLevel; }

  ILogger* logger = nullptr;
  uint32_t flags = 1u << static_cast<int>(BuilderFlag::kTF32);
  std::map<MemoryPoolType, std::size_t> limits;
  DeviceType device = DeviceType::kCPU;
  std::vector<OptimizationProfileImpl> profiles;
  const TimingCacheImpl* timingCache = nullptr;
  int32_t threads = 0;
  int32_t optimizationLevel = 3;
  static constexpr TacticSources kKnownTacticSources =
      (1u << static_cast<int>(TacticSource::kCUBLAS)) | (1u << static_cast<int>(TacticSource::kCUBLAS_LT)) |
      (1u << static_cast<int>(TacticSource::kCUDNN)) | (1u << static_cast<int>(TacticSource::kEDGE_MASK_CONVOLUTIONS)) |
      (1u << static_cast<int>(TacticSource::kJIT_CONVOLUTIONS)) | (1u << static_cast<int>(TacticSource::kONEDNN));
  TacticSources tacticSources = kKnownTacticSources;
};

class BuilderImpl final : public IBuilder {
 public:
  explicit BuilderImpl(ILogger& logger) : logger_(&logger) {}
  INetworkDefinition* createNetworkV2(NetworkDefinitionCreationFlags) noexcept override {
    return new NetworkImpl(logger_);
  }
  IBuilderConfig* createBuilderConfig() noexcept override {
    auto* c = new BuilderConfigImpl();
    c->logger = logger_;
    return c;
  }
  IOptimizationProfile* createOptimizationProfile() noexcept override {
    profiles_.push_back(std::make_unique<OptimizationProfileImpl>());
    return profiles_.back().get();
  }
  IHostMemory* buildSerializedNetwork(INetworkDefinition& network, IBuilderConfig& cfg) noexcept override {
    return guarded(logger_, "buildSerializedNetwork", static_cast<IHostMemory*>(nullptr), [&]() -> IHostMemory* {
      auto& config = static_cast<BuilderConfigImpl&>(cfg);
      KILN_CHECK(config.device == DeviceType::kCPU || config.device == DeviceType::kGPU,
                 "DeviceType::kDLA is not supported: setDefaultDeviceType(DeviceType::kCPU) or (kGPU)");
      // BF16 / FP16 on the CPU: builder/cpu_precision.h, which warns itself where the CPU lacks them.
      const bool gpu = config.device == DeviceType::kGPU;
      if (!gpu && config.getFlag(BuilderFlag::kINT8))
        logMessage(logger_, ILogger::Severity::kWARNING,
                   "INT8 requested: the CPU backend builds those layers FP32 for now");
      if (gpu && config.getFlag(BuilderFlag::kINT8))
        logMessage(logger_, ILogger::Severity::kWARNING, "INT8 requested: the CUDA backend has no INT8 yet");
      builder::BuildOptions options;
      options.threads = config.threads;
      options.device = gpu ? "cuda" : "cpu";
      options.tf32 = config.getFlag(BuilderFlag::kTF32);
      options.fp16 = config.getFlag(BuilderFlag::kFP16);
      options.bf16 = config.getFlag(BuilderFlag::kBF16);
      options.obeyPrecisionConstraints = config.getFlag(BuilderFlag::kOBEY_PRECISION_CONSTRAINTS);
      options.preferPrecisionConstraints = config.getFlag(BuilderFlag::kPREFER_PRECISION_CONSTRAINTS);
      // Channels-last convolutions (builder/device_layout.h). Not TensorRT API: a knob for
      // measuring the layouts against each other (issue #7): nchw | nhwc (the default) | nhwc_fp32.
      if (const char* layout = std::getenv("KILN_CUDA_LAYOUT"); gpu && layout && *layout) {
        const std::string l = layout;
        KILN_CHECK(l == "nchw" || l == "nhwc" || l == "nhwc_fp32", "KILN_CUDA_LAYOUT is '", l,
                   "'; expected nchw, nhwc or nhwc_fp32");
        options.channelsLast = l != "nchw";
        options.channelsLastFp32 = l == "nhwc_fp32";
      }
      if (config.optimizationLevel == 0) options.timingIterations = 0;  // no timing
      options.workspaceLimit = config.getMemoryPoolLimit(MemoryPoolType::kWORKSPACE);
      options.onednnTactics = config.tacticSources & (1u << static_cast<int>(TacticSource::kONEDNN));
      options.cpuPrecision.bf16 = config.getFlag(BuilderFlag::kBF16);
      options.cpuPrecision.fp16 = config.getFlag(BuilderFlag::kFP16);
      options.cpuPrecision.obeyConstraints = config.getFlag(BuilderFlag::kOBEY_PRECISION_CONSTRAINTS);
      options.cpuPrecision.preferConstraints = config.getFlag(BuilderFlag::kPREFER_PRECISION_CONSTRAINTS);
      options.log = [this](ILogger::Severity s, const std::string& m) { logMessage(logger_, s, m); };
      builder::TimingCache scratch;
      options.timingCache = config.timingCache ? &const_cast<TimingCacheImpl*>(config.timingCache)->cache : &scratch;
      for (const OptimizationProfileImpl& profile : config.profiles) {
        std::vector<builder::ProfileShape> shapes;
        for (auto& [name, s] : profile.shapes) {
          builder::ProfileShape p;
          p.input = name, p.min = s[0], p.opt = s[1], p.max = s[2];
          if (p.opt.empty()) p.opt = !p.max.empty() ? p.max : p.min;
          if (p.min.empty()) p.min = p.opt;
          if (p.max.empty()) p.max = p.opt;
          shapes.push_back(std::move(p));
        }
        for (auto& [name, e] : profile.values) {
          std::vector<int64_t> v[3] = {e.wide[0], e.wide[1], e.wide[2]};
          OptimizationProfileImpl::fillSelectors(v);
          auto it = std::find_if(shapes.begin(), shapes.end(), [&](auto& p) { return p.input == name; });
          if (it == shapes.end()) {
            it = shapes.insert(shapes.end(), builder::ProfileShape());
            it->input = name;
          }
          it->minValues = v[0], it->optValues = v[1], it->maxValues = v[2];
        }
        options.profiles.push_back(std::move(shapes));
      }
      for (const std::string& path : config.pluginsToSerialize) {
        std::ifstream f(path, std::ios::binary);
        KILN_CHECK(f, "setPluginsToSerialize: cannot read plugin library '", path, "'");
        plan::PluginLibrary lib;
        lib.name = std::filesystem::path(path).filename().string();
        lib.bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
        KILN_CHECK(!lib.bytes.empty(), "setPluginsToSerialize: plugin library '", path, "' is empty");
        options.pluginLibraries.push_back(std::move(lib));
      }
      auto bytes = builder::buildPlan(graphOf(network), options);
      return new HostMemory(std::move(bytes));
    });
  }
  bool platformHasFastFp16() const noexcept override {
    try {
      return backends::cudaHost().available;  // every GPU CUDA 13 runs (sm_75+) has FP16 tensor cores
    } catch (...) {
      return false;
    }
  }
  bool platformHasFastInt8() const noexcept override { return false; }
  ILogger* getLogger() const noexcept override { return logger_; }

 private:
  ILogger* logger_;
  std::vector<std::unique_ptr<OptimizationProfileImpl>> profiles_;
};

}  // namespace

}  // namespace kiln::api

namespace kiln {
IBuilder* createInferBuilder(ILogger& logger) noexcept { return new api::BuilderImpl(logger); }
}  // namespace kiln
