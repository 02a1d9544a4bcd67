// kiln.Builder, kiln.IBuilderConfig, kiln.IOptimizationProfile, kiln.ITimingCache.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <tuple>

#include "net_state.h"

namespace kiln::py {

namespace {

struct BuilderState {
  LoggerPtr log;
  std::unique_ptr<IBuilder> builder;
};

struct PyBuilder {
  Held<BuilderState> st;
  IBuilder* get() const { return st.get()->builder.get(); }
};

//! Profiles belong to the builder that made them.
struct PyProfile {
  std::shared_ptr<BuilderState> owner;
  IOptimizationProfile* p;
};

struct PyTimingCache {
  std::unique_ptr<ITimingCache> cache;
};

struct ConfigState {
  LoggerPtr log;
  std::unique_ptr<IBuilderConfig> config;
  nb::object timingCache;  // the kiln.ITimingCache set with set_timing_cache, kept alive
};

struct PyConfig {
  Held<ConfigState> st;
  IBuilderConfig* get() const { return st.get()->config.get(); }
};

Dims profileDims(const PyProfile& p, const std::string& name, OptProfileSelector s) {
  return p.p->getDimensions(name.c_str(), s);
}

}  // namespace

void bindBuilder(nb::module_& m) {
  nb::enum_<BuilderFlag>(m, "BuilderFlag", nb::is_arithmetic())
      .value("FP16", BuilderFlag::kFP16)
      .value("INT8", BuilderFlag::kINT8)
      .value("DEBUG", BuilderFlag::kDEBUG)
      .value("GPU_FALLBACK", BuilderFlag::kGPU_FALLBACK)
      .value("REFIT", BuilderFlag::kREFIT)
      .value("DISABLE_TIMING_CACHE", BuilderFlag::kDISABLE_TIMING_CACHE)
      .value("TF32", BuilderFlag::kTF32)
      .value("SPARSE_WEIGHTS", BuilderFlag::kSPARSE_WEIGHTS)
      .value("SAFETY_SCOPE", BuilderFlag::kSAFETY_SCOPE)
      .value("OBEY_PRECISION_CONSTRAINTS", BuilderFlag::kOBEY_PRECISION_CONSTRAINTS)
      .value("PREFER_PRECISION_CONSTRAINTS", BuilderFlag::kPREFER_PRECISION_CONSTRAINTS)
      .value("DIRECT_IO", BuilderFlag::kDIRECT_IO)
      .value("REJECT_EMPTY_ALGORITHMS", BuilderFlag::kREJECT_EMPTY_ALGORITHMS)
      .value("VERSION_COMPATIBLE", BuilderFlag::kVERSION_COMPATIBLE)
      .value("EXCLUDE_LEAN_RUNTIME", BuilderFlag::kEXCLUDE_LEAN_RUNTIME)
      .value("FP8", BuilderFlag::kFP8)
      .value("BF16", BuilderFlag::kBF16);
  nb::enum_<MemoryPoolType>(m, "MemoryPoolType", nb::is_arithmetic())
      .value("WORKSPACE", MemoryPoolType::kWORKSPACE)
      .value("DLA_MANAGED_SRAM", MemoryPoolType::kDLA_MANAGED_SRAM)
      .value("DLA_LOCAL_DRAM", MemoryPoolType::kDLA_LOCAL_DRAM)
      .value("DLA_GLOBAL_DRAM", MemoryPoolType::kDLA_GLOBAL_DRAM)
      .value("TACTIC_DRAM", MemoryPoolType::kTACTIC_DRAM)
      .value("TACTIC_SHARED_MEMORY", MemoryPoolType::kTACTIC_SHARED_MEMORY);
  nb::enum_<DeviceType>(m, "DeviceType", nb::is_arithmetic())
      .value("GPU", DeviceType::kGPU)
      .value("DLA", DeviceType::kDLA)
      .value("CPU", DeviceType::kCPU);
  nb::enum_<TacticSource>(m, "TacticSource", nb::is_arithmetic(),
                          "Where tactics come from; IBuilderConfig.set_tactic_sources takes a bit mask "
                          "of 1 << int(TacticSource.X). ONEDNN is Kiln's (oneDNN's CPU primitives).")
      .value("CUBLAS", TacticSource::kCUBLAS)
      .value("CUBLAS_LT", TacticSource::kCUBLAS_LT)
      .value("CUDNN", TacticSource::kCUDNN)
      .value("EDGE_MASK_CONVOLUTIONS", TacticSource::kEDGE_MASK_CONVOLUTIONS)
      .value("JIT_CONVOLUTIONS", TacticSource::kJIT_CONVOLUTIONS)
      .value("ONEDNN", TacticSource::kONEDNN);
  nb::enum_<OptProfileSelector>(m, "OptProfileSelector", nb::is_arithmetic())
      .value("MIN", OptProfileSelector::kMIN)
      .value("OPT", OptProfileSelector::kOPT)
      .value("MAX", OptProfileSelector::kMAX);

  nb::class_<PyProfile>(m, "IOptimizationProfile", "Shapes of dynamic inputs (Kiln: min = opt = max for now).")
      .def(
          "set_shape",
          [](PyProfile& p, const std::string& input, const Dims& min, const Dims& opt, const Dims& max) {
            bool ok = p.p->setDimensions(input.c_str(), OptProfileSelector::kMIN, min) &&
                      p.p->setDimensions(input.c_str(), OptProfileSelector::kOPT, opt) &&
                      p.p->setDimensions(input.c_str(), OptProfileSelector::kMAX, max);
            if (!ok) valueError("IOptimizationProfile.set_shape: \"" + input + "\": dimensions must be >= 0");
          },
          nb::arg("input"), nb::arg("min"), nb::arg("opt"), nb::arg("max"))
      .def(
          "get_shape",
          [](const PyProfile& p, const std::string& input) {
            if (profileDims(p, input, OptProfileSelector::kMIN).nbDims < 0) return std::vector<Dims>{};
            return std::vector<Dims>{profileDims(p, input, OptProfileSelector::kMIN),
                                     profileDims(p, input, OptProfileSelector::kOPT),
                                     profileDims(p, input, OptProfileSelector::kMAX)};
          },
          nb::arg("input"), "[min, opt, max] of an input; [] when not set.")
      .def(
          "set_shape_input",
          [](PyProfile& p, const std::string& input, const std::vector<int64_t>& min, const std::vector<int64_t>& opt,
             const std::vector<int64_t>& max) {
            if (min.size() != opt.size() || opt.size() != max.size())
              valueError("IOptimizationProfile.set_shape_input: \"" + input + "\": min, opt and max have " +
                         std::to_string(min.size()) + ", " + std::to_string(opt.size()) + " and " +
                         std::to_string(max.size()) + " values; they must have the same number");
            auto set = [&](OptProfileSelector s, const std::vector<int64_t>& v) {
              return p.p->setShapeValuesV2(input.c_str(), s, v.data(), static_cast<int32_t>(v.size()));
            };
            bool ok = set(OptProfileSelector::kMIN, min) && set(OptProfileSelector::kOPT, opt) &&
                      set(OptProfileSelector::kMAX, max);
            if (!ok) valueError("IOptimizationProfile.set_shape_input: \"" + input + "\": the values were refused");
          },
          nb::arg("input"), nb::arg("min"), nb::arg("opt"), nb::arg("max"),
          "The range of a shape-tensor input's values (its values decide other tensors' shapes).")
      .def(
          "get_shape_input",
          [](const PyProfile& p, const std::string& input) {
            std::vector<std::vector<int64_t>> out;
            int32_t n = p.p->getNbShapeValues(input.c_str());
            if (n < 0) return out;
            for (auto s : {OptProfileSelector::kMIN, OptProfileSelector::kOPT, OptProfileSelector::kMAX}) {
              const int64_t* v = p.p->getShapeValuesV2(input.c_str(), s);
              out.push_back(v ? std::vector<int64_t>(v, v + n) : std::vector<int64_t>{});
            }
            return out;
          },
          nb::arg("input"), "[min, opt, max] values of a shape-tensor input; [] when not set.")
      .def("__bool__", [](const PyProfile& p) { return p.p->isValid(); });

  nb::class_<PyTimingCache>(m, "ITimingCache", "Tactic choices remembered across builds.")
      .def("serialize", [](const PyTimingCache& c) { return hostMemoryObject(c.cache->serialize()); },
           nb::sig("def serialize(self) -> IHostMemory"))
      .def(
          "combine", [](PyTimingCache& c, const PyTimingCache& other, bool ignoreMismatch) {
            return c.cache->combine(*other.cache, ignoreMismatch);
          },
          nb::arg("input_cache"), nb::arg("ignore_mismatch"))
      .def("reset", [](PyTimingCache& c) { return c.cache->reset(); });

  nb::class_<PyConfig>(m, "IBuilderConfig", "Build options: flags, memory pools, profiles, timing cache.")
      .def("set_flag", [](PyConfig& c, BuilderFlag f) { c.get()->setFlag(f); }, nb::arg("flag"))
      .def("clear_flag", [](PyConfig& c, BuilderFlag f) { c.get()->clearFlag(f); }, nb::arg("flag"))
      .def("get_flag", [](const PyConfig& c, BuilderFlag f) { return c.get()->getFlag(f); }, nb::arg("flag"))
      .def_prop_rw(
          "flags",
          [](const PyConfig& c) {
            uint32_t bits = 0;
            for (int f = 0; f < 32; ++f)
              if (c.get()->getFlag(static_cast<BuilderFlag>(f))) bits |= 1u << f;
            return bits;
          },
          [](PyConfig& c, uint32_t bits) {
            for (int f = 0; f < 32; ++f) {
              if (bits & (1u << f)) c.get()->setFlag(static_cast<BuilderFlag>(f));
              else c.get()->clearFlag(static_cast<BuilderFlag>(f));
            }
          },
          "Bit mask of BuilderFlag values (1 << int(flag)).")
      .def(
          "set_memory_pool_limit",
          [](PyConfig& c, MemoryPoolType pool, std::size_t size) { c.get()->setMemoryPoolLimit(pool, size); },
          nb::arg("pool"), nb::arg("pool_size"))
      .def(
          "get_memory_pool_limit", [](const PyConfig& c, MemoryPoolType pool) { return c.get()->getMemoryPoolLimit(pool); },
          nb::arg("pool"))
      .def_prop_rw(
          "default_device_type", [](const PyConfig& c) { return c.get()->getDefaultDeviceType(); },
          [](PyConfig& c, DeviceType t) { c.get()->setDefaultDeviceType(t); })
      .def(
          "set_tactic_sources", [](PyConfig& c, uint32_t sources) { return c.get()->setTacticSources(sources); },
          nb::arg("tactic_sources"),
          "Bit mask of 1 << int(TacticSource.X); False (and nothing changed) for an unknown bit.")
      .def("get_tactic_sources", [](const PyConfig& c) { return c.get()->getTacticSources(); })
      .def_prop_rw(
          "builder_optimization_level", [](const PyConfig& c) { return c.get()->getBuilderOptimizationLevel(); },
          [](PyConfig& c, int32_t level) { c.get()->setBuilderOptimizationLevel(level); },
          "0 to 5 (default 3); Kiln's level 0 times no tactic.")
      .def_prop_rw(
          "plugins_to_serialize",
          [](const PyConfig& c) {
            std::vector<std::string> out;
            for (int32_t i = 0; i < c.get()->getNbPluginsToSerialize(); ++i) out.push_back(str(c.get()->getPluginToSerialize(i)));
            return out;
          },
          [](PyConfig& c, const std::vector<std::string>& paths) {
            std::vector<const char*> ptrs;
            for (const auto& p : paths) ptrs.push_back(p.c_str());
            c.get()->setPluginsToSerialize(ptrs.data(), static_cast<int32_t>(ptrs.size()));
          },
          "Plugin libraries (.so paths) embedded in the plan.")
      .def_prop_rw(
          "num_threads", [](const PyConfig& c) { return c.get()->getNbThreads(); },
          [](PyConfig& c, int32_t t) { c.get()->setNbThreads(t); },
          "Kiln: CPU threads used while building and by the engine by default (0 = all cores).")
      .def(
          "add_optimization_profile",
          [](PyConfig& c, const PyProfile& p) {
            int32_t i = c.get()->addOptimizationProfile(p.p);
            if (i < 0) valueError("add_optimization_profile: the profile is not valid (needs min <= opt <= max)");
            return i;
          },
          nb::arg("profile"))
      .def_prop_ro("num_optimization_profiles", [](const PyConfig& c) { return c.get()->getNbOptimizationProfiles(); })
      .def(
          "create_timing_cache",
          [](const PyConfig& c, nb::handle serialized) {
            ErrorScope scope;
            ITimingCache* cache = nullptr;
            if (serialized.is_none()) {
              cache = c.get()->createTimingCache(nullptr, 0);
            } else {
              BufferView buf(serialized, "create_timing_cache");
              cache = c.get()->createTimingCache(buf.data(), buf.size());
            }
            if (!cache) raise(scope, "create_timing_cache");
            return PyTimingCache{std::unique_ptr<ITimingCache>(cache)};
          },
          nb::arg("serialized_timing_cache").none() = nb::bytes(""),
          nb::sig("def create_timing_cache(self, serialized_timing_cache: collections.abc.Buffer | None = b'') "
                  "-> ITimingCache"),
          "A fresh cache (b\"\"), or one read from a serialized cache.")
      .def(
          "set_timing_cache",
          [](PyConfig& c, nb::handle cache, bool ignoreMismatch) {
            const PyTimingCache& tc = nb::cast<const PyTimingCache&>(cache);
            bool ok = c.get()->setTimingCache(*tc.cache, ignoreMismatch);
            if (ok) c.st.get()->timingCache = nb::borrow(cache);
            return ok;
          },
          nb::arg("cache"), nb::arg("ignore_mismatch"),
          nb::sig("def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool"))
      .def(
          "get_timing_cache", [](const PyConfig& c) { return c.st.get()->timingCache; },
          nb::sig("def get_timing_cache(self) -> ITimingCache | None"))
      .def("__enter__", [](nb::handle self) { return self; })
      .def("__exit__", [](PyConfig& c, nb::args) { c.st.free(); });

  nb::class_<PyBuilder>(m, "Builder", "Builds engines from network definitions (tensorrt.Builder).")
      .def(
          "__init__",
          [](PyBuilder* self, nb::handle logger) {
            LoggerPtr log = makeBridge(logger);
            IBuilder* b = createInferBuilder(*log);
            if (!b) throw KilnError("kiln.Builder: could not create a builder");
            new (self) PyBuilder{{std::make_shared<BuilderState>(BuilderState{log, std::unique_ptr<IBuilder>(b)}),
                                  "kiln.Builder"}};
          },
          nb::arg("logger"), nb::sig("def __init__(self, logger: ILogger) -> None"))
      .def(
          "create_network",
          [](PyBuilder& b, uint32_t flags) {
            auto st = std::make_shared<NetState>();
            st->log = b.st.get()->log;
            st->net.reset(b.get()->createNetworkV2(flags));
            if (!st->net) throw KilnError("create_network: could not create a network");
            return PyNetwork{{st, "kiln.INetworkDefinition"}};
          },
          nb::arg("flags") = 0,
          "flags: bit mask of NetworkDefinitionCreationFlag (Kiln networks are always explicit batch).")
      .def("create_builder_config",
           [](PyBuilder& b) {
             auto st = std::make_shared<ConfigState>();
             st->log = b.st.get()->log;
             st->config.reset(b.get()->createBuilderConfig());
             return PyConfig{{st, "kiln.IBuilderConfig"}};
           })
      .def("create_optimization_profile",
           [](PyBuilder& b) { return PyProfile{b.st.ptr, b.get()->createOptimizationProfile()}; })
      .def(
          "build_serialized_network",
          [](PyBuilder& b, const PyNetwork& n, const PyConfig& c) {
            IBuilder* builder = b.get();
            INetworkDefinition* net = n.get();
            IBuilderConfig* config = c.get();
            // Held for the call: another thread may leave a `with` block meanwhile.
            auto hold = std::make_tuple(b.st.ptr, n.st.ptr, c.st.ptr);
            IHostMemory* mem;
            {
              nb::gil_scoped_release release;
              mem = builder->buildSerializedNetwork(*net, *config);
            }
            return hostMemoryObject(mem);
          },
          nb::arg("network"), nb::arg("config"),
          nb::sig("def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) "
                  "-> IHostMemory | None"),
          "The serialized engine, or None when the build failed (the reason goes to the logger).")
      .def_prop_ro("platform_has_fast_fp16", [](const PyBuilder& b) { return b.get()->platformHasFastFp16(); })
      .def_prop_ro("platform_has_fast_int8", [](const PyBuilder& b) { return b.get()->platformHasFastInt8(); })
      .def_prop_ro("logger", [](const PyBuilder& b) { return b.st.get()->log->owner(); })
      .def("__enter__", [](nb::handle self) { return self; })
      .def("__exit__", [](PyBuilder& b, nb::args) { b.st.free(); });
}

}  // namespace kiln::py
