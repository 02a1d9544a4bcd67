// IBuilder, IBuilderConfig, IOptimizationProfile and ITimingCache over builder/.
#include <algorithm>
#include <map>
#include <thread>

#include "api/api_util.h"
#include "api/layers.h"
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
  bool isValid() const noexcept override {
    for (auto& [name, s] : shapes) {
      if (s[0].size() != s[1].size() || s[1].size() != s[2].size()) return false;
      for (std::size_t i = 0; i < s[0].size(); ++i)
        if (s[0][i] > s[1][i] || s[1][i] > s[2][i]) return false;
    }
    return true;
  }
  //! Unset selectors default to the ones that are set (TensorRT requires all three).
  std::map<std::string, std::vector<int64_t>[3]> shapes;
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
      KILN_CHECK(config.device == DeviceType::kCPU,
                 "this Kiln build has only the CPU backend; setDefaultDeviceType(DeviceType::kCPU)");
      if (config.getFlag(BuilderFlag::kFP16) || config.getFlag(BuilderFlag::kBF16) || config.getFlag(BuilderFlag::kINT8))
        logMessage(logger_, ILogger::Severity::kWARNING,
                   "reduced precision (FP16/BF16/INT8) requested: the CPU backend builds FP32 for now");
      builder::BuildOptions options;
      options.threads = config.threads;
      if (config.optimizationLevel == 0) options.timingIterations = 0;  // no timing
      options.workspaceLimit = config.getMemoryPoolLimit(MemoryPoolType::kWORKSPACE);
      options.onednnTactics = config.tacticSources & (1u << static_cast<int>(TacticSource::kONEDNN));
      options.log = [this](ILogger::Severity s, const std::string& m) { logMessage(logger_, s, m); };
      builder::TimingCache scratch;
      options.timingCache = config.timingCache ? &const_cast<TimingCacheImpl*>(config.timingCache)->cache : &scratch;
      for (const OptimizationProfileImpl& profile : config.profiles) {
        std::vector<builder::ProfileShape> shapes;
        for (auto& [name, s] : profile.shapes) {
          builder::ProfileShape p{name, s[0], s[1], s[2]};
          if (p.opt.empty()) p.opt = !p.max.empty() ? p.max : p.min;
          if (p.min.empty()) p.min = p.opt;
          if (p.max.empty()) p.max = p.opt;
          shapes.push_back(std::move(p));
        }
        options.profiles.push_back(std::move(shapes));
      }
      auto bytes = builder::buildPlan(graphOf(network), options);
      return new HostMemory(std::string(bytes.begin(), bytes.end()));
    });
  }
  bool platformHasFastFp16() const noexcept override { return false; }
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
