#include "engine_setup.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>

namespace kilnexec {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string mib(std::size_t bytes) {
  std::ostringstream os;
  os << static_cast<double>(bytes) / (1024.0 * 1024.0) << " MiB";
  return os.str();
}

const ShapeSpec* findSpec(const std::vector<ShapeSpec>& specs, const std::string& name) {
  for (const ShapeSpec& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

bool isDynamic(const std::vector<int64_t>& dims) {
  for (int64_t d : dims)
    if (d < 0) return true;
  return false;
}

//! Every input named by a shape flag must exist in the model.
void checkNamesExist(const std::vector<ShapeSpec>& specs, const std::string& flag,
                     const std::vector<std::string>& inputs) {
  for (const ShapeSpec& s : specs) {
    bool found = false;
    for (const std::string& n : inputs) found = found || n == s.name;
    if (found) continue;
    std::string list;
    for (const std::string& n : inputs) list += (list.empty() ? "" : ", ") + n;
    throw ToolError(flag + ": the model has no input named '" + s.name + "' (inputs: " + list + ")");
  }
}

//! `given` must keep the model's rank and its fixed dimensions.
void checkCompatible(const std::string& input, const std::vector<int64_t>& model, const std::vector<int64_t>& given,
                     const std::string& flag) {
  if (given.size() != model.size())
    throw ToolError(flag + ": input '" + input + "' has rank " + std::to_string(model.size()) + " (" +
                    dimsToString(model) + "), got " + dimsToString(given));
  for (std::size_t i = 0; i < model.size(); ++i)
    if (model[i] >= 0 && model[i] != given[i])
      throw ToolError(flag + ": input '" + input + "' dimension " + std::to_string(i) + " is fixed to " +
                      std::to_string(model[i]) + " in the model (" + dimsToString(model) + "), got " +
                      dimsToString(given));
}

//! trtexec's rules: --shapes alone gives min = opt = max; a missing selector
//! takes the one that is given (opt from --shapes, else max, else min). Each
//! repetition of the --minShapes/--optShapes/--maxShapes group is one more
//! profile; runs use --shapes, else the opt shapes of the profile --profile picks.
void addProfiles(kiln::IBuilder& builder, kiln::IBuilderConfig& config, kiln::INetworkDefinition& network,
                 const Options& o, EngineHandle& handle, Logger& logger) {
  std::vector<std::string> names;
  for (int i = 0; i < network.getNbInputs(); ++i) names.push_back(network.getInput(i)->getName());
  checkNamesExist(o.shapes, "--shapes", names);
  for (const ProfileShapes& p : o.profiles) {
    checkNamesExist(p.min, "--minShapes", names);
    checkNamesExist(p.opt, "--optShapes", names);
    checkNamesExist(p.max, "--maxShapes", names);
  }
  const std::size_t nProfiles = std::max<std::size_t>(1, o.profiles.size());
  const ProfileShapes none;
  for (std::size_t k = 0; k < nProfiles; ++k) {
    const ProfileShapes& spec = k < o.profiles.size() ? o.profiles[k] : none;
    const std::string which = nProfiles > 1 ? "optimization profile " + std::to_string(k) : "the optimization profile";
    kiln::IOptimizationProfile* profile = nullptr;
    for (int i = 0; i < network.getNbInputs(); ++i) {
      const std::string name = network.getInput(i)->getName();
      std::vector<int64_t> model = toVector(network.getInput(i)->getDimensions());
      const ShapeSpec* shape = findSpec(o.shapes, name);
      const ShapeSpec* mn = findSpec(spec.min, name);
      const ShapeSpec* op = findSpec(spec.opt, name);
      const ShapeSpec* mx = findSpec(spec.max, name);
      if (shape && k == 0) checkCompatible(name, model, shape->dims, "--shapes");
      if (mn) checkCompatible(name, model, mn->dims, "--minShapes");
      if (op) checkCompatible(name, model, op->dims, "--optShapes");
      if (mx) checkCompatible(name, model, mx->dims, "--maxShapes");
      if (!isDynamic(model)) {
        if (shape) handle.inferenceShapes[name] = shape->dims;
        continue;
      }
      if (!shape && !mn && !op && !mx)
        throw ToolError("input '" + name + "' has dynamic shape " + dimsToString(model) + "; give it with --shapes=" +
                        name + ":<dims> (or --minShapes/--optShapes/--maxShapes" +
                        (nProfiles > 1 ? " for " + which : std::string()) + ")");
      // With several profiles --shapes is only the run's shape: it can't be every profile's opt.
      const ShapeSpec* fallback = nProfiles > 1 ? nullptr : shape;
      std::vector<int64_t> opt = op ? op->dims : fallback ? fallback->dims : mx ? mx->dims : mn ? mn->dims : shape->dims;
      std::vector<int64_t> lo = mn ? mn->dims : opt;
      std::vector<int64_t> hi = mx ? mx->dims : opt;
      if (!profile) profile = builder.createOptimizationProfile();
      if (!profile->setDimensions(name.c_str(), kiln::OptProfileSelector::kMIN, toDims(lo)) ||
          !profile->setDimensions(name.c_str(), kiln::OptProfileSelector::kOPT, toDims(opt)) ||
          !profile->setDimensions(name.c_str(), kiln::OptProfileSelector::kMAX, toDims(hi)))
        throw ToolError("input '" + name + "': " + which + " rejected its shapes");
      if (static_cast<int>(k) == o.profile) handle.inferenceShapes[name] = shape ? shape->dims : opt;
      logger.info((nProfiles > 1 ? "Profile " + std::to_string(k) : std::string("Profile")) + " for '" + name +
                  "': min " + dimsToString(lo) + ", opt " + dimsToString(opt) + ", max " + dimsToString(hi));
    }
    if (!profile) return;
    if (!profile->isValid())
      throw ToolError(which + " is invalid: each input needs min <= opt <= max, dimension by dimension");
    int before = logger.errorCount();
    if (config.addOptimizationProfile(profile) < 0) failStep(logger, before, "the builder rejected " + which);
  }
}

std::unique_ptr<kiln::ITimingCache> setUpTimingCache(kiln::IBuilderConfig& config, const Options& o, Logger& logger) {
  std::string blob;
  std::error_code ec;
  if (!o.timingCacheFile.empty() && std::filesystem::exists(o.timingCacheFile, ec)) {
    blob = readFile(o.timingCacheFile, "--timingCacheFile");
    logger.info("Loaded timing cache from '" + o.timingCacheFile + "' (" + std::to_string(blob.size()) + " bytes)");
  }
  int before = logger.errorCount();
  std::unique_ptr<kiln::ITimingCache> cache(config.createTimingCache(blob.empty() ? nullptr : blob.data(), blob.size()));
  if (!cache) failStep(logger, before, "--timingCacheFile: '" + o.timingCacheFile + "' is not a usable timing cache");
  if (!config.setTimingCache(*cache, false)) failStep(logger, before, "the builder rejected the timing cache");
  return cache;
}

//! --layerPrecisions / --layerOutputTypes onto the parsed network's layers (ILayer::setPrecision / setOutputType).
void applyLayerPrecisions(kiln::INetworkDefinition& network, const Options& o, Logger& logger) {
  if ((!o.layerPrecisions.empty() || !o.layerOutputTypes.empty()) && o.precisionConstraints == "none")
    logger.warning("--layerPrecisions/--layerOutputTypes have no effect without --precisionConstraints=prefer|obey");
  auto apply = [&](const auto& specs, const char* flag, bool outputs) {
    for (const auto& [name, types] : specs) {
      bool found = false;
      for (int32_t i = 0; i < network.getNbLayers(); ++i) {
        kiln::ILayer* layer = network.getLayer(i);
        if (name != "*" && name != layer->getName()) continue;
        found = true;
        if (!outputs) {
          layer->setPrecision(types[0]);
          continue;
        }
        for (int32_t k = 0; k < layer->getNbOutputs(); ++k)
          layer->setOutputType(k, types[std::min<std::size_t>(static_cast<std::size_t>(k), types.size() - 1)]);
      }
      if (!found) throw ToolError(std::string(flag) + ": the network has no layer named '" + name + "'");
    }
  };
  apply(o.layerPrecisions, "--layerPrecisions", false);
  apply(o.layerOutputTypes, "--layerOutputTypes", true);
}

void configure(kiln::IBuilderConfig& config, const Options& o, Logger& logger) {
  config.setDefaultDeviceType(o.device == "cuda" ? kiln::DeviceType::kGPU : kiln::DeviceType::kCPU);
  if (o.fp16 || o.best) config.setFlag(kiln::BuilderFlag::kFP16);
  if (o.bf16 || o.best) config.setFlag(kiln::BuilderFlag::kBF16);
  if (o.int8 || o.best) config.setFlag(kiln::BuilderFlag::kINT8);
  if (o.noTF32) config.clearFlag(kiln::BuilderFlag::kTF32);
  if (o.precisionConstraints == "prefer") config.setFlag(kiln::BuilderFlag::kPREFER_PRECISION_CONSTRAINTS);
  if (o.precisionConstraints == "obey") config.setFlag(kiln::BuilderFlag::kOBEY_PRECISION_CONSTRAINTS);
  for (const MemoryPool& p : o.memPools) config.setMemoryPoolLimit(p.pool, p.bytes);
  kiln::TacticSources sources = config.getTacticSources();
  for (auto [add, source] : o.tacticSources) {
    const kiln::TacticSources bit = 1u << static_cast<int>(source);
    sources = add ? sources | bit : sources & ~bit;
  }
  config.setTacticSources(sources);
  config.setNbThreads(o.threads);
}

//! Deserializes `plan` (from a build or a file) into `handle`.
void deserialize(const std::string& plan, const std::string& what, EngineHandle& handle, Logger& logger) {
  int before = logger.errorCount();
  handle.runtime.reset(kiln::createInferRuntime(logger));
  if (!handle.runtime) failStep(logger, before, "could not create the runtime");
  // Plans built with --setPluginsToSerialize bring their plugin libraries (trtexec loads them too).
  handle.runtime->setEngineHostCodeAllowed(true);
  auto t0 = Clock::now();
  // A non-null pointer even for an empty file: the runtime must judge the size.
  static const char kEmpty = 0;
  handle.engine.reset(handle.runtime->deserializeCudaEngine(plan.empty() ? &kEmpty : plan.data(), plan.size()));
  if (!handle.engine) failStep(logger, before, "could not deserialize the engine from " + what);
  handle.planBytes = plan.size();
  std::ostringstream os;
  os << "Engine deserialized in " << secondsSince(t0) << " sec.";
  logger.info(os.str());
}

//! Drops the library's messages: the support check's errors are printed below, formatted per node.
struct SilentLogger final : kiln::ILogger {
  void log(Severity, const char*) noexcept override {}
};

//! "0-3" for a run of consecutive indices, else "0, 2, 5".
std::string nodeList(const int64_t* nodes, int64_t n) {
  bool consecutive = true;
  for (int64_t k = 1; k < n; ++k) consecutive &= nodes[k] == nodes[k - 1] + 1;
  if (n > 1 && consecutive) return std::to_string(nodes[0]) + "-" + std::to_string(nodes[n - 1]);
  std::string out;
  for (int64_t k = 0; k < n; ++k) out += (k ? ", " : "") + std::to_string(nodes[k]);
  return out;
}

//! --verbose after a failed parse: asks supportsModelV2 which nodes Kiln cannot
//! import and prints each (index, name, op, reason), as TensorRT's parser
//! errors read, then the supported/unsupported runs of the graph.
void reportUnsupportedNodes(const std::string& path, kiln::INetworkDefinition& network, Logger& logger) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;  // unreadable: the parse error said so
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SilentLogger silent;
  std::unique_ptr<kiln::onnx::IParser> check(kiln::onnx::createParser(network, silent));
  if (!check) return;
  check->supportsModelV2(bytes.data(), bytes.size(), path.c_str());
  int unsupported = 0;
  for (int i = 0; i < check->getNbErrors(); ++i) unsupported += check->getError(i)->node() >= 0;
  logger.error("ONNX parser: " + std::to_string(unsupported) + " node(s) not supported, " +
               std::to_string(check->getNbErrors() - unsupported) + " other error(s):");
  for (int i = 0; i < check->getNbErrors(); ++i) {
    const kiln::onnx::IParserError* e = check->getError(i);
    if (e->node() >= 0)
      logger.error(std::string("In node ") + std::to_string(e->node()) + " with name: " + e->nodeName() +
                   " and operator: " + e->nodeOperator() + ": " + e->desc());
    else
      logger.error(std::string("ONNX parser: ") + e->desc());
  }
  std::string runs;
  for (int64_t k = 0; k < check->getNbSubgraphs(); ++k) {
    int64_t n = 0;
    const int64_t* nodes = check->getSubgraphNodes(k, n);
    runs += (k ? "; " : "") + std::string("nodes ") + nodeList(nodes, n) +
            (check->isSubgraphSupported(k) ? " (supported)" : " (unsupported)");
  }
  if (!runs.empty())
    logger.verbose("ONNX parser: " + std::to_string(check->getNbSubgraphs()) + " subgraphs in topological order: " +
                   runs);
}

}  // namespace

std::vector<int64_t> toVector(const kiln::Dims& dims) {
  std::vector<int64_t> v;
  for (int i = 0; i < dims.nbDims && i < kiln::Dims::MAX_DIMS; ++i) v.push_back(dims.d[i]);
  return v;
}

kiln::Dims toDims(const std::vector<int64_t>& v) {
  kiln::Dims d;
  d.nbDims = static_cast<int32_t>(v.size());
  for (std::size_t i = 0; i < v.size() && i < static_cast<std::size_t>(kiln::Dims::MAX_DIMS); ++i) d.d[i] = v[i];
  return d;
}

std::string readFile(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ToolError(flag + ": cannot open '" + path + "'");
  std::ostringstream os;
  os << in.rdbuf();
  if (in.bad()) throw ToolError(flag + ": cannot read '" + path + "'");
  return os.str();
}

void writeFile(const std::string& path, const void* data, std::size_t size, const std::string& flag) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw ToolError(flag + ": cannot write '" + path + "'");
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) throw ToolError(flag + ": cannot write '" + path + "' (disk full?)");
}

EngineHandle buildEngine(const Options& o, Logger& logger) {
  EngineHandle handle;
  int before = logger.errorCount();
  std::unique_ptr<kiln::IBuilder> builder(kiln::createInferBuilder(logger));
  if (!builder) failStep(logger, before, "could not create the builder");
  std::unique_ptr<kiln::INetworkDefinition> network(builder->createNetworkV2(0));
  std::unique_ptr<kiln::IBuilderConfig> config(builder->createBuilderConfig());
  if (!network || !config) failStep(logger, before, "could not create the network or the builder config");
  if (!o.pluginsToSerialize.empty()) {
    std::vector<const char*> paths;
    for (const std::string& p : o.pluginsToSerialize) {
      paths.push_back(p.c_str());
      logger.info("Serializing plugin library into the engine: " + p);
    }
    config->setPluginsToSerialize(paths.data(), static_cast<int32_t>(paths.size()));
  }

  logger.info("Start parsing network model.");
  auto parseStart = Clock::now();
  std::unique_ptr<kiln::onnx::IParser> parser(kiln::onnx::createParser(*network, logger));
  if (!parser) failStep(logger, before, "could not create the ONNX parser");
  auto verbosity = static_cast<int>(o.verbose ? kiln::ILogger::Severity::kVERBOSE : kiln::ILogger::Severity::kWARNING);
  if (!parser->parseFromFile(o.onnx.c_str(), verbosity)) {
    // The parser keeps its errors (as TensorRT's); print them unless it logged them already.
    if (logger.errorCount() == before) {
      for (int i = 0; i < parser->getNbErrors(); ++i) {
        const kiln::onnx::IParserError* e = parser->getError(i);
        std::string where = e->node() >= 0 ? std::string(" (node ") + std::to_string(e->node()) + " \"" +
                                                 e->nodeName() + "\", " + e->nodeOperator() + ")"
                                           : "";
        logger.error(std::string("ONNX parser: ") + e->desc() + where);
      }
    }
    if (o.verbose) reportUnsupportedNodes(o.onnx, *network, logger);
    failStep(logger, before, "failed to parse ONNX file '" + o.onnx + "'");
  }
  std::ostringstream parsed;
  parsed << "Finished parsing network model. Parse time: " << secondsSince(parseStart);
  logger.info(parsed.str());

  configure(*config, o, logger);
  applyLayerPrecisions(*network, o, logger);
  addProfiles(*builder, *config, *network, o, handle, logger);
  std::unique_ptr<kiln::ITimingCache> cache = setUpTimingCache(*config, o, logger);

  auto t0 = Clock::now();
  std::unique_ptr<kiln::IHostMemory> plan(builder->buildSerializedNetwork(*network, *config));
  if (!plan) failStep(logger, before, "engine build failed");
  std::ostringstream os;
  os << "Engine built in " << secondsSince(t0) << " sec.";
  logger.info(os.str());
  logger.info("Created engine with size: " + mib(plan->size()));

  if (!o.timingCacheFile.empty()) {
    const kiln::ITimingCache* used = config->getTimingCache();
    std::unique_ptr<kiln::IHostMemory> blob(used ? used->serialize() : nullptr);
    if (!blob) failStep(logger, before, "could not serialize the timing cache");
    writeFile(o.timingCacheFile, blob->data(), blob->size(), "--timingCacheFile");
    logger.info("Saved timing cache to '" + o.timingCacheFile + "' (" + std::to_string(blob->size()) + " bytes)");
  }
  std::string bytes(static_cast<const char*>(plan->data()), plan->size());
  if (!o.saveEngine.empty()) {
    writeFile(o.saveEngine, bytes.data(), bytes.size(), "--saveEngine");
    logger.info("Engine saved to '" + o.saveEngine + "'");
  }
  plan.reset();
  deserialize(bytes, "the freshly built plan", handle, logger);
  return handle;
}

EngineHandle loadEngine(const Options& o, Logger& logger) {
  EngineHandle handle;
  std::string bytes = readFile(o.loadEngine, "--loadEngine");
  logger.info("Loaded engine size: " + mib(bytes.size()));
  deserialize(bytes, "'" + o.loadEngine + "'", handle, logger);
  for (const ShapeSpec& s : o.shapes) handle.inferenceShapes[s.name] = s.dims;
  if (!o.saveEngine.empty()) {
    writeFile(o.saveEngine, bytes.data(), bytes.size(), "--saveEngine");
    logger.info("Engine saved to '" + o.saveEngine + "'");
  }
  return handle;
}

}  // namespace kilnexec
