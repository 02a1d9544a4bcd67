#include "inference.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>

#include "engine_setup.h"

namespace kilnexec {

namespace {

using Clock = std::chrono::steady_clock;

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string describe(const TensorBuffer& t) {
  return std::string(kiln::dataTypeName(t.type)) + " " + dimsToString(t.dims);
}

//! float -> IEEE half, round to nearest even (inputs are in [-1, 1], so no
//! overflow; subnormals are flushed, which random data never notices).
uint16_t toHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  uint32_t half = (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;
  return static_cast<uint16_t>(sign | half);
}

uint16_t toBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

//! Deterministic data: floats uniform in [-1, 1] from a fixed-seed generator
//! (so two runs see the same inputs); integers and bools are 0, which is a
//! valid index or mask for any model.
void fillDeterministic(TensorBuffer& t, uint64_t seed) {
  std::memset(t.data.get(), 0, t.bytes);
  uint64_t state = 0x9e3779b97f4a7c15ull ^ (seed * 0xbf58476d1ce4e5b9ull);
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<float>(state >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f;
  };
  std::size_t n = t.bytes / static_cast<std::size_t>(kiln::dataTypeSize(t.type));
  if (t.type == kiln::DataType::kFLOAT) {
    auto* p = reinterpret_cast<float*>(t.data.get());
    for (std::size_t i = 0; i < n; ++i) p[i] = next();
  } else if (t.type == kiln::DataType::kHALF || t.type == kiln::DataType::kBF16) {
    auto* p = reinterpret_cast<uint16_t*>(t.data.get());
    for (std::size_t i = 0; i < n; ++i) p[i] = t.type == kiln::DataType::kHALF ? toHalf(next()) : toBf16(next());
  }
}

}  // namespace

void allocate(TensorBuffer& t) {
  std::size_t count = 1;
  for (int64_t d : t.dims) count *= static_cast<std::size_t>(d);
  t.bytes = count * static_cast<std::size_t>(kiln::dataTypeSize(t.type));
  std::size_t rounded = (t.bytes + 63) / 64 * 64;
  t.data.reset(static_cast<std::byte*>(std::aligned_alloc(64, rounded ? rounded : 64)));
  if (!t.data) throw ToolError("out of memory allocating " + std::to_string(t.bytes) + " bytes for '" + t.name + "'");
}

void* OutputAllocator::reallocateOutputAsync(const char*, void*, uint64_t size, uint64_t, void*) noexcept {
  if (size <= capacity && data) return data.get();
  std::size_t rounded = (static_cast<std::size_t>(size) + 63) / 64 * 64;
  data.reset(static_cast<std::byte*>(std::aligned_alloc(64, rounded ? rounded : 64)));
  capacity = data ? static_cast<std::size_t>(size) : 0;
  return data.get();  // null: the engine reports that the allocation failed
}

void OutputAllocator::notifyShape(const char*, const kiln::Dims& d) noexcept {
  dims.assign(d.d, d.d + std::max(d.nbDims, 0));
}

void setInputShapes(const kiln::ICudaEngine& engine, kiln::IExecutionContext& ctx,
                    const std::map<std::string, std::vector<int64_t>>& shapes, int profile, Logger& logger) {
  for (const auto& [name, dims] : shapes)
    if (engine.getTensorIOMode(name.c_str()) != kiln::TensorIOMode::kINPUT)
      throw ToolError("--shapes: the engine has no input named '" + name + "'");
  for (int i = 0; i < engine.getNbIOTensors(); ++i) {
    const char* name = engine.getIOTensorName(i);
    if (engine.getTensorIOMode(name) != kiln::TensorIOMode::kINPUT) continue;
    std::vector<int64_t> model = toVector(engine.getTensorShape(name));
    auto it = shapes.find(name);
    std::vector<int64_t> dims = it != shapes.end() ? it->second : model;
    bool dynamic = false;
    for (int64_t d : dims) dynamic = dynamic || d < 0;
    if (dynamic) {  // trtexec's default: the profile's opt shape
      std::vector<int64_t> opt = toVector(engine.getProfileShape(name, profile, kiln::OptProfileSelector::kOPT));
      if (opt.size() == dims.size()) dims = opt;
    }
    for (int64_t d : dims)
      if (d < 0)
        throw ToolError(std::string("input '") + name + "' has dynamic shape " + dimsToString(model) +
                        "; give it with --shapes=" + name + ":<dims>");
    int before = logger.errorCount();
    if (!ctx.setInputShape(name, toDims(dims)))
      failStep(logger, before, std::string("input '") + name + "': the engine rejected shape " + dimsToString(dims));
  }
  if (!ctx.allInputDimensionsSpecified()) throw ToolError("not every input shape is specified");
  std::string used;
  for (int i = 0; i < engine.getNbIOTensors(); ++i) {
    const char* name = engine.getIOTensorName(i);
    if (engine.getTensorIOMode(name) == kiln::TensorIOMode::kINPUT)
      used += std::string(used.empty() ? "" : ",") + name + ":" + dimsToString(toVector(ctx.getTensorShape(name)));
  }
  logger.info("Shapes used for inference: " + used);
}

void selectProfile(const kiln::ICudaEngine& engine, kiln::IExecutionContext& ctx, const Options& o, Logger& logger) {
  if (o.profile == 0 && engine.getNbOptimizationProfiles() <= 1) return;
  if (o.profile >= engine.getNbOptimizationProfiles())
    throw ToolError("--profile=" + std::to_string(o.profile) + ": the engine has " +
                    std::to_string(engine.getNbOptimizationProfiles()) + " optimization profile(s)");
  int before = logger.errorCount();
  if (!ctx.setOptimizationProfileAsync(o.profile, nullptr)) failStep(logger, before, "--profile");
  logger.info("Optimization profile: " + std::to_string(o.profile));
}

namespace {

//! --loadInputs: the file must hold exactly the tensor's bytes.
void loadInput(TensorBuffer& t, const std::string& path) {
  std::string bytes = readFile(path, "--loadInputs");
  if (bytes.size() != t.bytes)
    throw ToolError("--loadInputs: input '" + t.name + "' (" + describe(t) + ") needs " + std::to_string(t.bytes) +
                    " bytes, '" + path + "' has " + std::to_string(bytes.size()));
  std::memcpy(t.data.get(), bytes.data(), t.bytes);
}

}  // namespace

void makeHostTensors(const kiln::ICudaEngine& engine, kiln::IExecutionContext& ctx, const Options& o, Logger& logger,
                     bool deviceTensors, std::vector<TensorBuffer>& tensors) {
  for (const InputFile& f : o.loadInputs)
    if (engine.getTensorIOMode(f.name.c_str()) != kiln::TensorIOMode::kINPUT)
      throw ToolError("--loadInputs: the engine has no input named '" + f.name + "'");
  for (int i = 0; i < engine.getNbIOTensors(); ++i) {
    TensorBuffer t;
    t.name = engine.getIOTensorName(i);
    t.isInput = engine.getTensorIOMode(t.name.c_str()) == kiln::TensorIOMode::kINPUT;
    t.type = engine.getTensorDataType(t.name.c_str());
    t.dims = toVector(ctx.getTensorShape(t.name.c_str()));
    bool dataDependent = false;
    for (int64_t d : t.dims) dataDependent = dataDependent || d < 0;
    if (dataDependent) {  // an output whose size each run tells: as trtexec, through an IOutputAllocator
      if (t.isInput) throw ToolError("input '" + t.name + "' has unresolved shape " + dimsToString(t.dims));
      if (deviceTensors)
        throw ToolError("output '" + t.name + "' has a data-dependent shape " + dimsToString(t.dims) +
                        ": kilnexec's CUDA path does not size such outputs yet");
      t.allocator = std::make_unique<OutputAllocator>();
      int before = logger.errorCount();
      if (!ctx.setOutputAllocator(t.name.c_str(), t.allocator.get()))
        failStep(logger, before, "could not set an output allocator for '" + t.name + "'");
      logger.verbose("Tensor '" + t.name + "': output of data-dependent shape " + dimsToString(t.dims));
      tensors.push_back(std::move(t));
      continue;
    }
    allocate(t);
    if (t.isInput) {
      const InputFile* file = nullptr;
      for (const InputFile& f : o.loadInputs)
        if (f.name == t.name) file = &f;
      if (file) {
        loadInput(t, file->path);
        logger.info("Using values loaded from " + file->path + " for input " + t.name);
      } else {
        fillDeterministic(t, static_cast<uint64_t>(i) + 1);
      }
    }
    logger.verbose("Tensor '" + t.name + "': " + (t.isInput ? "input " : "output ") + describe(t) + ", " +
                   std::to_string(t.bytes) + " bytes");
    tensors.push_back(std::move(t));
  }
}

namespace {

//! CPU engines run in place on the host buffers.
void bindHostTensors(kiln::IExecutionContext& ctx, Logger& logger, std::vector<TensorBuffer>& tensors) {
  for (TensorBuffer& t : tensors) {
    if (t.allocator) continue;
    int before = logger.errorCount();
    if (!ctx.setTensorAddress(t.name.c_str(), t.data.get()))
      failStep(logger, before, "could not set the address of tensor '" + t.name + "'");
  }
}

void enqueue(kiln::IExecutionContext& ctx, Logger& logger) {
  int before = logger.errorCount();
  if (!ctx.enqueueV3(nullptr)) failStep(logger, before, "inference failed (enqueueV3 returned false)");
}

//! Runs until at least `iterations` runs AND `durationS` seconds, recording each.
void timedRuns(kiln::IExecutionContext& ctx, const Options& o, Logger& logger, std::vector<InferenceTime>& trace,
               double& walltimeS, LayerProfiler* profiler) {
  trace.clear();
  const double durationMs = o.durationS * 1000.0;
  Clock::time_point t0 = Clock::now();
  double elapsed = 0;
  while (static_cast<int>(trace.size()) < o.iterations || elapsed < durationMs) {
    Clock::time_point s = Clock::now();
    enqueue(ctx, logger);
    Clock::time_point e = Clock::now();
    trace.push_back(InferenceTime::hostRun(msBetween(t0, s), msBetween(t0, e)));
    if (profiler) ++profiler->runs;
    elapsed = msBetween(t0, e);
  }
  walltimeS = (trace.back().enqEnd - trace.front().enqStart) / 1000.0;
}

}  // namespace

void logWarmup(const InferenceResult& r, Logger& logger) {
  std::ostringstream warm;
  warm << "Warmup completed " << r.warmupQueries << " queries over " << r.warmupMs << " ms";
  logger.info(warm.str());
}

void logTrace(const InferenceResult& r, Logger& logger) {
  std::ostringstream timed;
  timed << "Timing trace has " << r.trace.size() << " queries over " << r.walltimeS << " s";
  logger.info(timed.str());
}

void LayerProfiler::reportLayerTime(const char* layerName, float ms) noexcept {
  try {
    std::string name = layerName ? layerName : "(unnamed)";
    auto [it, inserted] = index_.emplace(name, layers_.size());
    if (inserted) layers_.push_back({name, {}});
    Layer& layer = layers_[it->second];
    // One entry per run: a layer reported twice in one run adds to that run's time.
    if (static_cast<int>(layer.ms.size()) > runs) layer.ms.back() += ms;
    else layer.ms.push_back(ms);
  } catch (...) {
    // Out of memory while profiling: drop the sample rather than throw into the runtime.
  }
}

void runInference(kiln::ICudaEngine& engine, const std::map<std::string, std::vector<int64_t>>& shapes,
                  const Options& o, Logger& logger, InferenceResult& result) {
  int before = logger.errorCount();
  std::unique_ptr<kiln::IExecutionContext> ctx(engine.createExecutionContext());
  if (!ctx) failStep(logger, before, "could not create an execution context");
  ctx->setNbThreads(o.threads);
  if (logger.errorCount() > before) failStep(logger, before, "");

  selectProfile(engine, *ctx, o, logger);
  setInputShapes(engine, *ctx, shapes, o.profile, logger);
  makeHostTensors(engine, *ctx, o, logger, false, result.tensors);
  bindHostTensors(*ctx, logger, result.tensors);
  if (o.noDataTransfers || o.useCudaGraph || o.useSpinWait)
    logger.info("--noDataTransfers/--useCudaGraph/--useSpinWait have no effect on the CPU (inputs are used in place, "
                "runs are synchronous)");

  logger.info("Starting inference");
  Clock::time_point w0 = Clock::now();
  while (msBetween(w0, Clock::now()) < o.warmUpMs) {
    enqueue(*ctx, logger);
    ++result.warmupQueries;
  }
  result.warmupMs = msBetween(w0, Clock::now());
  logWarmup(result, logger);

  // The profiler costs a callback per layer; with --separateProfileRun the
  // timing run goes without it and a second run collects the profile.
  const bool profileInline = o.profiling() && !o.separateProfileRun;
  if (profileInline) ctx->setProfiler(&result.profiler);
  timedRuns(*ctx, o, logger, result.trace, result.walltimeS, profileInline ? &result.profiler : nullptr);
  logTrace(result, logger);

  if (o.profiling() && o.separateProfileRun) {
    logger.info("Starting the separate profiling run");
    std::vector<InferenceTime> profileTrace;
    double profileWall = 0;
    ctx->setProfiler(&result.profiler);
    timedRuns(*ctx, o, logger, profileTrace, profileWall, &result.profiler);
  }
  ctx->setProfiler(nullptr);
  for (TensorBuffer& t : result.tensors) {  // the last run's data-dependent outputs
    if (!t.allocator) continue;
    t.dims = t.allocator->dims;
    allocate(t);
    if (t.bytes) std::memcpy(t.data.get(), t.allocator->data.get(), t.bytes);
  }
  result.profiled = o.profiling();
  logger.info("Inference finished");
}

}  // namespace kilnexec
