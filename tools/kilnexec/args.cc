// kilnexec: command-line parsing. CLI11 finds the flags; every value is taken
// as a string and converted here, so that a bad value gives one line naming
// the flag (CLI11's own errors and help dump are multi-line).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "options.h"

namespace kilnexec {

namespace {

[[noreturn]] void badValue(const std::string& flag, const std::string& value, const std::string& expected) {
  throw ToolError("invalid value '" + value + "' for " + flag + " (expected " + expected + ")");
}

int64_t toInt(const std::string& text, const std::string& flag, int64_t min, const std::string& expected) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < min)
    badValue(flag, text, expected);
  return v;
}

double toDouble(const std::string& text, const std::string& flag, double min, const std::string& expected) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    badValue(flag, text, expected);
  }
  if (used != text.size() || !std::isfinite(v) || v < min) badValue(flag, text, expected);
  return v;
}

//! Splits `a,b,'c,d'` at commas outside single quotes (trtexec quotes names
//! that contain ':' or ',').
std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> parts;
  std::string cur;
  bool quoted = false;
  for (char c : text) {
    if (c == '\'') quoted = !quoted;
    if (c == ',' && !quoted) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

//! `name:value` or `'name':value` -> {name, value}, splitting at the last ':'
//! outside quotes, as trtexec's splitNameAndValue does.
std::pair<std::string, std::string> splitNameValue(const std::string& entry, const std::string& flag,
                                                   const std::string& expected) {
  if (!entry.empty() && entry[0] == '\'') {
    std::size_t close = entry.find('\'', 1);
    if (close == std::string::npos || close + 1 >= entry.size() || entry[close + 1] != ':')
      badValue(flag, entry, expected);
    return {entry.substr(1, close - 1), entry.substr(close + 2)};
  }
  std::size_t colon = entry.rfind(':');
  if (colon == std::string::npos || colon == 0) badValue(flag, entry, expected);
  return {entry.substr(0, colon), entry.substr(colon + 1)};
}

std::vector<ShapeSpec> parseShapes(const std::string& text, const std::string& flag) {
  std::vector<ShapeSpec> specs;
  if (text.empty()) return specs;
  const std::string expected = "name:1x3x224x224[,name2:...]";
  for (const std::string& entry : splitList(text)) {
    auto [name, dims] = splitNameValue(entry, flag, expected);
    for (const ShapeSpec& s : specs)
      if (s.name == name) throw ToolError(flag + ": input '" + name + "' is given twice");
    specs.push_back({name, parseDims(dims, flag)});
  }
  return specs;
}

//! trtexec's pool sizes: a number with an optional B/K/M/G suffix, MiB without one.
std::size_t parsePoolSize(const std::string& text, const std::string& flag) {
  const std::string expected = "a size such as 1024, 512M or 2G (MiB without a suffix)";
  if (text.empty()) badValue(flag, text, expected);
  double scale = 1024.0 * 1024.0;
  std::string number = text;
  switch (text.back()) {
    case 'B': case 'b': scale = 1; number.pop_back(); break;
    case 'K': case 'k': scale = 1024.0; number.pop_back(); break;
    case 'M': case 'm': scale = 1024.0 * 1024.0; number.pop_back(); break;
    case 'G': case 'g': scale = 1024.0 * 1024.0 * 1024.0; number.pop_back(); break;
    default: break;
  }
  double v = toDouble(number, flag, 0, expected);
  return static_cast<std::size_t>(v * scale);
}

std::vector<MemoryPool> parsePools(const std::string& text, const std::string& flag) {
  std::vector<MemoryPool> pools;
  if (text.empty()) return pools;
  const std::string expected = "pool:size, pool one of workspace, dlaSRAM, dlaLocalDRAM, dlaGlobalDRAM, tacticSharedMem";
  for (const std::string& entry : splitList(text)) {
    auto [name, size] = splitNameValue(entry, flag, expected);
    kiln::MemoryPoolType pool;
    if (name == "workspace") pool = kiln::MemoryPoolType::kWORKSPACE;
    else if (name == "dlaSRAM") pool = kiln::MemoryPoolType::kDLA_MANAGED_SRAM;
    else if (name == "dlaLocalDRAM") pool = kiln::MemoryPoolType::kDLA_LOCAL_DRAM;
    else if (name == "dlaGlobalDRAM") pool = kiln::MemoryPoolType::kDLA_GLOBAL_DRAM;
    else if (name == "tacticSharedMem") pool = kiln::MemoryPoolType::kTACTIC_SHARED_MEMORY;
    else badValue(flag, entry, expected);
    pools.push_back({pool, parsePoolSize(size, flag)});
  }
  return pools;
}

// trtexec's --tacticSources=-CUDNN,+CUBLAS, plus ONEDNN.
std::vector<std::pair<bool, kiln::TacticSource>> parseTacticSources(const std::string& text, const std::string& flag) {
  std::vector<std::pair<bool, kiln::TacticSource>> out;
  if (text.empty()) return out;
  const std::string expected = "(+|-)source[,(+|-)source], source one of ONEDNN, CUBLAS, CUBLAS_LT, CUDNN, "
                               "EDGE_MASK_CONVOLUTIONS, JIT_CONVOLUTIONS";
  const std::pair<const char*, kiln::TacticSource> names[] = {
      {"ONEDNN", kiln::TacticSource::kONEDNN},
      {"CUBLAS", kiln::TacticSource::kCUBLAS},
      {"CUBLAS_LT", kiln::TacticSource::kCUBLAS_LT},
      {"CUDNN", kiln::TacticSource::kCUDNN},
      {"EDGE_MASK_CONVOLUTIONS", kiln::TacticSource::kEDGE_MASK_CONVOLUTIONS},
      {"JIT_CONVOLUTIONS", kiln::TacticSource::kJIT_CONVOLUTIONS}};
  for (const std::string& entry : splitList(text)) {
    if (entry.size() < 2 || (entry[0] != '+' && entry[0] != '-')) badValue(flag, entry, expected);
    const std::string name = entry.substr(1);
    auto it = std::find_if(std::begin(names), std::end(names), [&](auto& n) { return name == n.first; });
    if (it == std::end(names)) badValue(flag, entry, expected);
    out.push_back({entry[0] == '+', it->second});
  }
  return out;
}

//! "name:type[,name2:type2]" (types fp32, fp16, bf16; `multi`: "type+type" per output).
std::vector<std::pair<std::string, std::vector<kiln::DataType>>> parseLayerTypes(const std::string& text,
                                                                                 const std::string& flag, bool multi) {
  std::vector<std::pair<std::string, std::vector<kiln::DataType>>> out;
  if (text.empty()) return out;
  const std::string expected = multi ? "layerName:type[+type...][,layerName2:type...], type fp32, fp16 or bf16"
                                     : "layerName:type[,layerName2:type], type fp32, fp16 or bf16 (* for every layer)";
  for (const std::string& entry : splitList(text)) {
    const std::size_t colon = entry.rfind(':');  // layer names may hold ':'; types do not
    if (colon == std::string::npos || colon == 0 || colon + 1 == entry.size()) badValue(flag, entry, expected);
    std::vector<kiln::DataType> types;
    std::string rest = entry.substr(colon + 1);
    for (std::size_t start = 0;;) {
      const std::size_t plus = multi ? rest.find('+', start) : std::string::npos;
      const std::string t = rest.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
      if (t == "fp32") types.push_back(kiln::DataType::kFLOAT);
      else if (t == "fp16") types.push_back(kiln::DataType::kHALF);
      else if (t == "bf16") types.push_back(kiln::DataType::kBF16);
      else badValue(flag, entry, expected);
      if (plus == std::string::npos) break;
      start = plus + 1;
    }
    out.push_back({entry.substr(0, colon), types});
  }
  return out;
}

std::vector<InputFile> parseInputFiles(const std::string& text, const std::string& flag) {
  std::vector<InputFile> files;
  if (text.empty()) return files;
  for (const std::string& entry : splitList(text)) {
    auto [name, path] = splitNameValue(entry, flag, "name:file.bin[,name2:file2.bin]");
    if (path.empty()) badValue(flag, entry, "name:file.bin[,name2:file2.bin]");
    files.push_back({name, path});
  }
  return files;
}

void requireFile(const std::string& path, const std::string& flag) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw ToolError(flag + ": no such file '" + path + "'");
  if (std::filesystem::is_directory(path, ec)) throw ToolError(flag + ": '" + path + "' is a directory, not a file");
}

std::string quoteArg(const std::string& arg) {
  if (arg.find_first_of(" \t'\"") == std::string::npos) return arg;
  return "'" + arg + "'";
}

//! The raw strings CLI11 fills; converted into Options by convert().
struct Raw {
  std::string shapes, memPoolSize, workspace, threads, streams, infStreams, tacticSources;
  std::string layerPrecisions, layerOutputTypes;
  std::vector<std::string> minShapes, optShapes, maxShapes;  //!< one entry per occurrence: per profile
  std::string iterations, warmUp, duration, avgRuns, percentile, loadInputs;
  std::vector<std::string> plugins, staticPlugins, dynamicPlugins, pluginsToSerialize;
};

//! Library paths of a repeatable plugin flag; each occurrence may also be a comma list.
std::vector<std::string> pluginList(const std::vector<std::string>& raw, const std::string& flag) {
  std::vector<std::string> out;
  for (const std::string& entry : raw)
    for (const std::string& path : splitList(entry)) {
      if (path.empty()) badValue(flag, entry, "a plugin library path (.so)");
      out.push_back(path);
    }
  return out;
}

void convert(const Raw& raw, Options& o) {
  o.shapes = parseShapes(raw.shapes, "--shapes");
  // The k-th occurrence of each of --minShapes/--optShapes/--maxShapes makes profile k.
  std::size_t nProfiles = std::max({raw.minShapes.size(), raw.optShapes.size(), raw.maxShapes.size()});
  for (auto [flag, list] : {std::pair<const char*, const std::vector<std::string>*>{"--minShapes", &raw.minShapes},
                            {"--optShapes", &raw.optShapes},
                            {"--maxShapes", &raw.maxShapes}})
    if (nProfiles > 1 && !list->empty() && list->size() != nProfiles)
      throw ToolError(std::string(flag) + " is given " + std::to_string(list->size()) + " times, but the command line has " +
                      std::to_string(nProfiles) +
                      " optimization profiles: give each of --minShapes/--optShapes/--maxShapes once per profile");
  for (std::size_t k = 0; k < nProfiles; ++k) {
    ProfileShapes p;
    if (k < raw.minShapes.size()) p.min = parseShapes(raw.minShapes[k], "--minShapes");
    if (k < raw.optShapes.size()) p.opt = parseShapes(raw.optShapes[k], "--optShapes");
    if (k < raw.maxShapes.size()) p.max = parseShapes(raw.maxShapes[k], "--maxShapes");
    o.profiles.push_back(std::move(p));
  }
  o.memPools = parsePools(raw.memPoolSize, "--memPoolSize");
  o.tacticSources = parseTacticSources(raw.tacticSources, "--tacticSources");
  o.layerPrecisions = parseLayerTypes(raw.layerPrecisions, "--layerPrecisions", false);
  o.layerOutputTypes = parseLayerTypes(raw.layerOutputTypes, "--layerOutputTypes", true);
  if (!raw.workspace.empty()) {
    std::size_t mib = static_cast<std::size_t>(toDouble(raw.workspace, "--workspace", 0, "a size in MiB"));
    o.memPools.push_back({kiln::MemoryPoolType::kWORKSPACE, mib * 1024 * 1024});
  }
  if (!raw.threads.empty()) o.threads = static_cast<int>(toInt(raw.threads, "--threads", 0, "an integer >= 0 (0: all cores)"));
  if (!raw.streams.empty()) o.streams = static_cast<int>(toInt(raw.streams, "--streams", 1, "an integer >= 1"));
  if (!raw.infStreams.empty()) {
    int n = static_cast<int>(toInt(raw.infStreams, "--infStreams", 1, "an integer >= 1"));
    if (!raw.streams.empty() && n != o.streams)
      throw ToolError("--infStreams=" + raw.infStreams + " and --streams=" + raw.streams +
                      " disagree: they are one setting (--streams is the older name), give one");
    o.streams = n;
  }
  if (!raw.iterations.empty()) o.iterations = static_cast<int>(toInt(raw.iterations, "--iterations", 1, "an integer >= 1"));
  if (!raw.warmUp.empty()) o.warmUpMs = toDouble(raw.warmUp, "--warmUp", 0, "milliseconds >= 0");
  if (!raw.duration.empty()) o.durationS = toDouble(raw.duration, "--duration", 0, "seconds >= 0");
  if (!raw.avgRuns.empty()) o.avgRuns = static_cast<int>(toInt(raw.avgRuns, "--avgRuns", 1, "an integer >= 1"));
  if (!raw.percentile.empty()) {
    o.percentiles.clear();
    for (const std::string& p : splitList(raw.percentile)) {
      double v = toDouble(p, "--percentile", 0, "percentages in [0,100], e.g. 90,95,99");
      if (v > 100) badValue("--percentile", p, "percentages in [0,100], e.g. 90,95,99");
      o.percentiles.push_back(v);
    }
  }
  o.loadInputs = parseInputFiles(raw.loadInputs, "--loadInputs");
  o.staticPlugins = pluginList(raw.plugins, "--plugins");
  for (const std::string& p : pluginList(raw.staticPlugins, "--staticPlugins")) o.staticPlugins.push_back(p);
  o.dynamicPlugins = pluginList(raw.dynamicPlugins, "--dynamicPlugins");
  o.pluginsToSerialize = pluginList(raw.pluginsToSerialize, "--setPluginsToSerialize");
}

//! Checks that need the whole set of flags, and that named input files exist
//! (before anything runs, so the error is the only line printed).
void validate(Options& o) {
  if (o.onnx.empty() == o.loadEngine.empty())
    throw ToolError(o.onnx.empty() ? "no model: give --onnx=<model.onnx> or --loadEngine=<plan>"
                                   : "--onnx and --loadEngine exclude each other: give one model");
  if (!o.onnx.empty()) requireFile(o.onnx, "--onnx");
  if (!o.loadEngine.empty()) requireFile(o.loadEngine, "--loadEngine");
  for (const InputFile& f : o.loadInputs) requireFile(f.path, "--loadInputs");
  for (const std::string& p : o.staticPlugins) requireFile(p, "--plugins/--staticPlugins");
  for (const std::string& p : o.dynamicPlugins) requireFile(p, "--dynamicPlugins");
  for (const std::string& p : o.pluginsToSerialize) {
    if (o.onnx.empty()) throw ToolError("--setPluginsToSerialize applies to a build (--onnx), not to --loadEngine");
    if (std::find(o.dynamicPlugins.begin(), o.dynamicPlugins.end(), p) == o.dynamicPlugins.end())
      throw ToolError("--setPluginsToSerialize: '" + p + "' must also be given with --dynamicPlugins");
  }
  if (!o.loadEngine.empty() && !o.profiles.empty())
    throw ToolError("--minShapes/--optShapes/--maxShapes shape a build; with --loadEngine give --shapes");
  if (!o.profiles.empty() && o.profile >= static_cast<int>(o.profiles.size()))
    throw ToolError("--profile=" + std::to_string(o.profile) + ": the command line defines " +
                    std::to_string(o.profiles.size()) + " optimization profile(s) (counted from 0)");
  if (!o.device.empty() && std::isdigit(static_cast<unsigned char>(o.device[0])))
    throw ToolError("--device=" + o.device + ": Kiln names devices, not GPU indices: --device=cuda runs on the "
                    "current CUDA device (CUDA_VISIBLE_DEVICES selects it), --device=cpu on the CPU");
  if (o.device == "gpu") o.device = "cuda";
  if (o.device != "cpu" && o.device != "cuda") badValue("--device", o.device, "cpu or cuda");
  if (o.device == "cpu" && o.streams > 1)
    throw ToolError("--streams/--infStreams need --device=cuda (CPU runs use --threads)");
}

}  // namespace

std::vector<int64_t> parseDims(const std::string& text, const std::string& flag) {
  std::vector<int64_t> dims;
  std::size_t start = 0;
  const std::string expected = "dimensions such as 1x3x224x224";
  if (text.empty()) badValue(flag, text, expected);
  while (true) {
    std::size_t x = text.find('x', start);
    std::string part = text.substr(start, x == std::string::npos ? std::string::npos : x - start);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v < 0) badValue(flag, text, expected);
    dims.push_back(v);
    if (x == std::string::npos) break;
    start = x + 1;
  }
  if (dims.size() > static_cast<std::size_t>(kiln::Dims::MAX_DIMS))
    throw ToolError(flag + ": '" + text + "' has more than " + std::to_string(kiln::Dims::MAX_DIMS) + " dimensions");
  return dims;
}

std::string dimsToString(const std::vector<int64_t>& dims) {
  if (dims.empty()) return "scalar";
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

ParseResult parseOptions(int argc, char** argv) {
  ParseResult result;
  Options& o = result.options;
  Raw raw;
  for (int i = 0; i < argc; ++i) o.commandLine += (i ? " " : "") + quoteArg(argv[i]);

  CLI::App app{"kilnexec: build and benchmark Kiln engines (a drop-in for TensorRT's trtexec)", "kilnexec"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.allow_extras(true);  // reported by us, in one line
  app.get_formatter()->column_width(34);

  app.add_option("--onnx", o.onnx, "ONNX model to build an engine from")->group("Model");
  app.add_option("--loadEngine", o.loadEngine, "Load a serialized engine (plan) instead of building")->group("Model");
  app.add_option("--saveEngine", o.saveEngine, "Write the built engine (plan) to this file")->group("Model");

  const char* plug = "Plugins";
  auto repeatable = [&](const char* flag, std::vector<std::string>& into, const char* help) {
    app.add_option(flag, into, help)->group(plug)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->allow_extra_args(false);
  };
  repeatable("--plugins", raw.plugins, "Plugin library (.so) to load (repeatable; deprecated: --staticPlugins)");
  repeatable("--staticPlugins", raw.staticPlugins, "Plugin library (.so) to load before the model (repeatable)");
  repeatable("--dynamicPlugins", raw.dynamicPlugins, "Plugin library (.so) to load; may be serialized (repeatable)");
  repeatable("--setPluginsToSerialize", raw.pluginsToSerialize,
             "Plugin library to serialize with the engine (must be in --dynamicPlugins; repeatable)");

  const char* build = "Build";
  app.add_option("--shapes", raw.shapes, "Input shapes: name:1x3x224x224[,name2:...]; min=opt=max for a build")->group(build);
  auto perProfile = [&](const char* flag, std::vector<std::string>& into, const char* help) {
    app.add_option(flag, into, help)->group(build)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->allow_extra_args(false);
  };
  perProfile("--minShapes", raw.minShapes, "Minimum shapes of an optimization profile (repeat the group for more profiles)");
  perProfile("--optShapes", raw.optShapes, "Optimal shapes of an optimization profile (repeat the group for more profiles)");
  perProfile("--maxShapes", raw.maxShapes, "Maximum shapes of an optimization profile (repeat the group for more profiles)");
  app.add_option("--profile", o.profile, "Optimization profile to run inference with (default 0)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--fp16", o.fp16, "Allow FP16 (CUDA: layers its kernels support; CPU: Conv / MatMul / Gemm on AVX512-FP16, else FP32)")->group(build);
  app.add_flag("--bf16", o.bf16, "Allow BF16 (CUDA: layers its kernels support; CPU: BF16 Conv/MatMul/Gemm/attention tactics on AVX512_BF16, else FP32)")
      ->group(build);
  app.add_flag("--int8", o.int8, "Allow INT8 (accepted; the CPU backend builds FP32)")->group(build);
  app.add_flag("--best", o.best, "Allow every precision (accepted; the CPU backend builds FP32)")->group(build);
  app.add_flag("--noTF32", o.noTF32, "Disable TF32 (CUDA: plain FP32 GEMM/conv; no effect on the CPU)")->group(build);
  app.add_option("--precisionConstraints", o.precisionConstraints,
                 "Layer precision constraints: none, prefer (honored where a CUDA kernel can, else a warning), obey "
                 "(else the build fails)")
      ->group(build)
      ->check(CLI::IsMember({"none", "prefer", "obey"}));
  app.add_option("--layerPrecisions", raw.layerPrecisions,
                 "Per-layer compute precision, layerName:type[,...] (fp32, fp16, bf16; * = every layer); "
                 "needs --precisionConstraints")
      ->group(build);
  app.add_option("--layerOutputTypes", raw.layerOutputTypes,
                 "Per-layer output types, layerName:type[+type per output][,...]; needs --precisionConstraints")
      ->group(build);
  app.add_option("--memPoolSize", raw.memPoolSize, "Pool limits: workspace:N (MiB; suffixes B, K, M, G)")->group(build);
  app.add_option("--tacticSources", raw.tacticSources,
                 "Add (+) or remove (-) tactic sources, e.g. -ONEDNN (Kiln's own CPU kernels are always on)")
      ->group(build);
  app.add_option("--workspace", raw.workspace, "Deprecated: workspace limit in MiB (use --memPoolSize)")->group(build);
  app.add_option("--timingCacheFile", o.timingCacheFile, "Timing cache: read if it exists, written after the build")
      ->group(build);
  app.add_option("--threads", raw.threads, "CPU threads for building and running (default 0: all cores)")->group(build);
  app.add_option("--device", o.device, "cpu (default) or cuda (the CUDA backend: needs a GPU)")->group(build);

  const char* inf = "Inference";
  app.add_flag("--skipInference", o.skipInference, "Build or load the engine, do not run it")->group(inf);
  app.add_option("--iterations", raw.iterations, "Run at least N inferences (default 10)")->group(inf);
  app.add_option("--warmUp", raw.warmUp, "Warm up for N ms before timing (default 200)")->group(inf);
  app.add_option("--duration", raw.duration, "Time for at least N seconds (default 3)")->group(inf);
  app.add_option("--loadInputs", raw.loadInputs, "Raw input data: name:file.bin[,name2:file2.bin]")->group(inf);
  app.add_flag("--noDataTransfers", o.noDataTransfers, "No host<->device copies during timing (CPU: no transfers anyway)")->group(inf);
  app.add_flag("--useCudaGraph", o.useCudaGraph, "Capture the inference in a CUDA graph (CPU: no effect)")->group(inf);
  app.add_flag("--useSpinWait", o.useSpinWait, "Spin instead of blocking on CUDA events (CPU: runs are synchronous)")->group(inf);
  app.add_option("--infStreams", raw.infStreams, "Instantiate N execution contexts to run inference concurrently, each on its own streams with its own buffers (--device=cuda; default 1)")->group(inf);
  app.add_option("--streams", raw.streams, "The older name of --infStreams")->group(inf);
  app.add_flag("--separateProfileRun", o.separateProfileRun, "Profile layers in a run apart from the timing run")
      ->group(inf);

  const char* rep = "Reporting";
  app.add_flag("--verbose", o.verbose, "Print verbose log messages")->group(rep);
  app.add_option("--avgRuns", raw.avgRuns, "Average the trace over N runs (default 10)")->group(rep);
  app.add_option("--percentile", raw.percentile, "Percentiles to report (default 90,95,99)")->group(rep);
  app.add_flag("--dumpOutput", o.dumpOutput, "Print the outputs of the last inference")->group(rep);
  app.add_flag("--dumpProfile", o.dumpProfile, "Print the per-layer profile")->group(rep);
  app.add_flag("--dumpLayerInfo", o.dumpLayerInfo, "Print the engine's layer information")->group(rep);
  app.add_option("--exportOutput", o.exportOutput, "Write the outputs to a JSON file")->group(rep);
  app.add_option("--exportTimes", o.exportTimes, "Write the per-inference times to a JSON file")->group(rep);
  app.add_option("--exportProfile", o.exportProfile, "Write the per-layer profile to a JSON file")->group(rep);
  app.add_option("--exportLayerInfo", o.exportLayerInfo, "Write the engine's layer information to a JSON file")
      ->group(rep);

  try {
    app.parse(argc, argv);
    std::vector<std::string> extras = app.remaining();
    if (!extras.empty()) {
      const std::string& e = extras.front();
      throw ToolError(e.rfind("-", 0) == 0 ? "unknown option '" + e.substr(0, e.find('=')) + "' (see --help)"
                                           : "unexpected argument '" + e + "' (options are --flag=value; see --help)");
    }
    convert(raw, o);
    validate(o);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    result.exitCode = 0;
    return result;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    // CLI11 says "Could not convert: --fp16 = abc"; say it as our own errors do.
    const std::string conv = "Could not convert: ";
    std::size_t eq = what.find(" = ");
    if (what.rfind(conv, 0) == 0 && eq != std::string::npos)
      what = "invalid value '" + what.substr(eq + 3) + "' for " + what.substr(conv.size(), eq - conv.size());
    std::cerr << "kilnexec: error: " << what << " (see --help)\n";
    result.exitCode = 2;
    return result;
  } catch (const ToolError& e) {
    std::cerr << "kilnexec: error: " << e.what() << "\n";
    result.exitCode = 2;
    return result;
  }
  result.run = true;
  return result;
}

}  // namespace kilnexec
