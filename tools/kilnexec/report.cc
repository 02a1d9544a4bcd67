#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <numeric>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine_setup.h"
#ifdef KILNEXEC_HAVE_CUDA
#include "inference_cuda.h"
#endif

namespace kilnexec {

namespace {

using json = nlohmann::ordered_json;  // keys in trtexec's order

std::string str(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string onOff(bool b) { return b ? "Enabled" : "Disabled"; }

std::string shapesText(const std::vector<ShapeSpec>& specs) {
  if (specs.empty()) return "model";
  std::string s;
  for (const ShapeSpec& spec : specs) s += (s.empty() ? "" : ", ") + spec.name + ":" + dimsToString(spec.dims);
  return s;
}

//! trtexec's percentile: sorted ascending, skip the top (1 - p) share.
double percentile(const std::vector<double>& sorted, double p) {
  const int all = static_cast<int>(sorted.size());
  const int exclude = static_cast<int>((1 - p / 100) * all);
  return sorted[std::max(all - 1 - exclude, 0)];
}

double median(const std::vector<double>& sorted) {
  const std::size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

//! "min = a ms, max = b ms, mean = c ms, median = d ms, percentile(90%) = e ms, ..."
std::string statsLine(std::vector<double> v, const std::vector<double>& percentiles) {
  std::sort(v.begin(), v.end());
  double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  std::ostringstream os;
  os << "min = " << v.front() << " ms, max = " << v.back() << " ms, mean = " << mean << " ms, median = " << median(v)
     << " ms";
  for (double p : percentiles) os << ", percentile(" << p << "%) = " << percentile(v, p) << " ms";
  return os.str();
}

void writeJson(const json& j, const std::string& path, const std::string& flag) {
  std::string text = j.dump(2) + "\n";
  writeFile(path, text.data(), text.size(), flag);
}

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    float f = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -f : f;
  }
  if (exp == 31) bits = sign | 0x7f800000 | (mant << 13);
  else bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

//! Element i of `t` as JSON: floats as numbers, integers as integers, bools as 0/1.
json elementJson(const TensorBuffer& t, std::size_t i) {
  const std::byte* p = t.data.get();
  auto load = [&](auto v) {
    std::memcpy(&v, p + i * sizeof(v), sizeof(v));
    return v;
  };
  switch (t.type) {
    case kiln::DataType::kFLOAT: return json(load(float{}));
    case kiln::DataType::kHALF: return json(halfToFloat(load(uint16_t{})));
    case kiln::DataType::kBF16: {
      uint32_t bits = static_cast<uint32_t>(load(uint16_t{})) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return json(f);
    }
    case kiln::DataType::kINT8: return json(static_cast<int>(load(int8_t{})));
    case kiln::DataType::kUINT8: return json(static_cast<int>(load(uint8_t{})));
    case kiln::DataType::kFP8: return json(static_cast<int>(load(uint8_t{})));
    case kiln::DataType::kBOOL: return json(load(uint8_t{}) ? 1 : 0);
    case kiln::DataType::kINT32: return json(load(int32_t{}));
    case kiln::DataType::kINT64: return json(load(int64_t{}));
    case kiln::DataType::kDOUBLE: return json(load(double{}));
    case kiln::DataType::kINT16: return json(load(int16_t{}));
    case kiln::DataType::kUINT16: return json(load(uint16_t{}));
    case kiln::DataType::kUINT32: return json(load(uint32_t{}));
    case kiln::DataType::kUINT64: return json(load(uint64_t{}));
    case kiln::DataType::kFP8E5M2:
    case kiln::DataType::kFP8E4M3FNUZ:
    case kiln::DataType::kFP8E5M2FNUZ: return json(static_cast<int>(load(uint8_t{})));  // bit patterns, as kFP8
  }
  return json(nullptr);
}

std::size_t elementCount(const TensorBuffer& t) {
  return t.bytes / static_cast<std::size_t>(kiln::dataTypeSize(t.type));
}

struct LayerStats {
  std::string name;
  double totalMs, averageMs, medianMs, percentage;
};

std::vector<LayerStats> layerStats(const LayerProfiler& profiler) {
  double total = 0;
  for (const auto& l : profiler.layers()) total += std::accumulate(l.ms.begin(), l.ms.end(), 0.0);
  std::vector<LayerStats> stats;
  const double runs = std::max(profiler.runs, 1);
  for (const auto& l : profiler.layers()) {
    std::vector<double> v(l.ms.begin(), l.ms.end());
    std::sort(v.begin(), v.end());
    double sum = std::accumulate(v.begin(), v.end(), 0.0);
    stats.push_back({l.name, sum, sum / runs, v.empty() ? 0.0 : median(v), total > 0 ? 100.0 * sum / total : 0.0});
  }
  return stats;
}

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      std::size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown CPU";
}

std::string ioLine(const kiln::ICudaEngine& engine, const char* name) {
  bool input = engine.getTensorIOMode(name) == kiln::TensorIOMode::kINPUT;
  std::vector<int64_t> dims = toVector(engine.getTensorShape(name));
  std::string line = std::string(input ? "Input  '" : "Output '") + name + "': " +
                     kiln::dataTypeName(engine.getTensorDataType(name)) + " " + dimsToString(dims);
  bool dynamic = std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 0; });
  if (input && dynamic && engine.getNbOptimizationProfiles() > 0) {
    line += " (profile 0: min " + dimsToString(toVector(engine.getProfileShape(name, 0, kiln::OptProfileSelector::kMIN))) +
            ", opt " + dimsToString(toVector(engine.getProfileShape(name, 0, kiln::OptProfileSelector::kOPT))) +
            ", max " + dimsToString(toVector(engine.getProfileShape(name, 0, kiln::OptProfileSelector::kMAX))) + ")";
  }
  return line;
}

}  // namespace

void printOptions(const Options& o, Logger& log) {
  log.info("=== Model Options ===");
  log.info(std::string("Format: ") + (o.onnx.empty() ? "*" : "ONNX"));
  log.info("Model: " + (o.onnx.empty() ? o.loadEngine : o.onnx));
  log.info("=== Build Options ===");
  if (o.onnx.empty()) {
    log.info("(the engine is loaded: build options do not apply)");
  } else {
    std::string pools = "workspace: default";
    for (const MemoryPool& p : o.memPools)
      if (p.pool == kiln::MemoryPoolType::kWORKSPACE) pools = "workspace: " + str(p.bytes / (1024.0 * 1024.0)) + " MiB";
    log.info("Memory Pools: " + pools);
    std::string precision = "FP32";
    if (o.fp16 || o.best) precision += "+FP16";
    if (o.bf16 || o.best) precision += "+BF16";
    if (o.int8 || o.best) precision += "+INT8";
    const bool cpu = o.device != "cuda";
    // CPU: BF16 and FP16 (AVX512-FP16) have Conv / MatMul / Gemm tactics, INT8 none yet
    const bool unbuilt = cpu && (o.fp16 || o.int8 || o.best);
    log.info("Precision: " + precision +
             (unbuilt ? " (the CPU backend runs FP16 only in Conv / MatMul / Gemm on AVX512-FP16 CPUs, INT8 as FP32)" : ""));
    if (o.precisionConstraints != "none") log.info("Precision constraints: " + o.precisionConstraints);
    if (o.profiles.empty()) log.info("Input build shapes: " + shapesText(o.shapes));
    for (std::size_t k = 0; k < o.profiles.size(); ++k)
      log.info("Input build shapes" + (o.profiles.size() > 1 ? " (profile " + std::to_string(k) + ")" : std::string()) +
               ": min " + shapesText(o.profiles[k].min) + "; opt " + shapesText(o.profiles[k].opt) + "; max " +
               shapesText(o.profiles[k].max));
    log.info("Timing cache: " + (o.timingCacheFile.empty() ? std::string("local (not saved)") : o.timingCacheFile));
    log.info("Save engine: " + o.saveEngine);
  }
  log.info("=== Inference Options ===");
  log.info("Batch: Explicit");
  const bool fromProfile = o.shapes.empty() && o.profile < static_cast<int>(o.profiles.size()) &&
                           !o.profiles[o.profile].opt.empty();
  log.info("Input inference shapes: " + (fromProfile ? shapesText(o.profiles[o.profile].opt) + " (profile " +
                                                           std::to_string(o.profile) + "'s opt shapes)"
                                                     : shapesText(o.shapes)));
  log.info("Iterations: " + std::to_string(o.iterations));
  log.info("Duration: " + str(o.durationS) + "s (+ " + str(o.warmUpMs) + "ms warm up)");
  const bool cpu = o.device != "cuda";
  log.info("Inference Streams: " + std::to_string(o.streams));
  log.info("Data transfers: " + std::string(o.noDataTransfers ? "Disabled" : cpu ? "None (CPU)" : "Enabled"));
  log.info("Spin-wait: " + onOff(o.useSpinWait) + (o.useSpinWait && cpu ? " (no effect on the CPU)" : ""));
  log.info("CUDA Graph: " + onOff(o.useCudaGraph) + (o.useCudaGraph && cpu ? " (no effect on the CPU)" : ""));
  log.info("Separate profiling: " + onOff(o.separateProfileRun));
  log.info("Skip inference: " + onOff(o.skipInference));
  std::string inputs;
  for (const InputFile& f : o.loadInputs) inputs += (inputs.empty() ? "" : ", ") + f.name + "<-" + f.path;
  log.info("Inputs: " + (inputs.empty() ? std::string("random (deterministic)") : inputs));
  log.info("=== Reporting Options ===");
  log.info("Verbose: " + onOff(o.verbose));
  log.info("Averages: " + std::to_string(o.avgRuns) + " inferences");
  std::string pcts;
  for (double p : o.percentiles) pcts += (pcts.empty() ? "" : ",") + str(p);
  log.info("Percentiles: " + pcts);
  log.info("Dump output: " + onOff(o.dumpOutput));
  log.info("Profile: " + onOff(o.profiling()));
  log.info("Export timing to JSON file: " + o.exportTimes);
  log.info("Export output to JSON file: " + o.exportOutput);
  log.info("Export profile to JSON file: " + o.exportProfile);
  log.info("");
}

void printDeviceInfo(const Options& o, Logger& log) {
  int v = kiln::getInferLibVersion();
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  log.info("=== Device Information ===");
  if (o.device == "cuda") {
#ifdef KILNEXEC_HAVE_CUDA
    printCudaDevice(log);
#else
    log.info("Selected Device: CUDA (this kilnexec was built without CUDA)");
#endif
  } else {
    log.info("Selected Device: CPU (" + cpuModel() + ")");
    log.info("Threads: " + (o.threads > 0 ? std::to_string(o.threads) : "all cores (" + std::to_string(cores) + ")"));
  }
  log.info("Kiln version: " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
           std::to_string(v % 100));
  log.info("");
}

void printEngineInfo(const kiln::ICudaEngine& engine, std::size_t planBytes, const Options& o, Logger& log) {
  log.info("=== Engine ===");
  log.info("Plan size: " + std::to_string(planBytes) + " bytes (" + str(planBytes / (1024.0 * 1024.0)) + " MiB)");
  log.info("Device memory (activation arena + workspace): " + std::to_string(engine.getDeviceMemorySize()) + " bytes");
  log.info(std::string("Device: ") + (engine.getDeviceType() == kiln::DeviceType::kCPU ? "CPU" : "GPU"));
  log.info("Layers: " + std::to_string(engine.getNbLayers()));
  log.info("Optimization profiles: " + std::to_string(engine.getNbOptimizationProfiles()));
  log.info("IO tensors: " + std::to_string(engine.getNbIOTensors()));
  for (int i = 0; i < engine.getNbIOTensors(); ++i) log.info(ioLine(engine, engine.getIOTensorName(i)));
  if (o.dumpLayerInfo || log.verboseEnabled()) {
    auto print = [&](const std::string& s) { o.dumpLayerInfo ? log.info(s) : log.verbose(s); };
    print("Layers:");
    for (int i = 0; i < engine.getNbLayers(); ++i) {
      const char* info = engine.getLayerInformation(i);
      print(info ? info : "(no information)");
    }
  }
  log.info("");
}

void printPerformance(const InferenceResult& r, const Options& o, Logger& log) {
  std::vector<double> latency, enqueue, h2d, compute, d2h;
  for (const InferenceTime& t : r.trace) {
    latency.push_back(t.latencyMs());
    enqueue.push_back(t.enqueueMs());
    h2d.push_back(t.h2dMs());
    compute.push_back(t.computeMs());
    d2h.push_back(t.d2hMs());
  }
  auto mean = [](const std::vector<double>& v, std::size_t from, std::size_t n) {
    return std::accumulate(v.begin() + from, v.begin() + from + n, 0.0) / static_cast<double>(n);
  };

  log.info("=== Trace details ===");
  log.info("Trace averages of " + std::to_string(o.avgRuns) + " runs:");
  const std::size_t avg = static_cast<std::size_t>(o.avgRuns);
  for (std::size_t i = 0; i + avg <= compute.size(); i += avg)
    log.info("Average on " + std::to_string(o.avgRuns) + " runs - GPU latency: " + str(mean(compute, i, avg)) +
             " ms - Host latency: " + str(mean(latency, i, avg)) + " ms (enqueue " + str(mean(enqueue, i, avg)) +
             " ms)");
  log.info("");

  double totalCompute = std::accumulate(compute.begin(), compute.end(), 0.0) / 1000.0;
  double qps = r.walltimeS > 0 ? static_cast<double>(r.trace.size()) / r.walltimeS : 0.0;
  log.info("=== Performance summary ===");
  log.info("Throughput: " + str(qps) + " qps");
  log.info("Latency: " + statsLine(latency, o.percentiles));
  log.info("Enqueue Time: " + statsLine(enqueue, o.percentiles));
  log.info("H2D Latency: " + statsLine(h2d, o.percentiles));
  log.info("GPU Compute Time: " + statsLine(compute, o.percentiles));
  log.info("D2H Latency: " + statsLine(d2h, o.percentiles));
  log.info("Total Host Walltime: " + str(r.walltimeS) + " s");
  log.info("Total GPU Compute Time: " + str(totalCompute) + " s");
  if (r.device) {
    // trtexec's two hints, on the same conditions.
    const double meanCompute = mean(compute, 0, compute.size()), meanEnqueue = mean(enqueue, 0, enqueue.size());
    if (meanEnqueue > meanCompute) {
      log.warning("* Throughput may be bound by Enqueue Time rather than GPU Compute and the GPU may be under-utilized.");
      log.warning("  If not already in use, --useCudaGraph (utilize CUDA graphs where possible) may increase the "
                  "throughput.");
    }
    double var = 0;
    for (double c : compute) var += (c - meanCompute) * (c - meanCompute);
    const double cov = meanCompute > 0 ? std::sqrt(var / static_cast<double>(compute.size())) / meanCompute : 0;
    if (cov > 0.01) {
      log.warning("* GPU compute time is unstable, with coefficient of variance = " + str(100 * cov) + "%.");
      log.warning("  It is recommended to lock GPU clock frequency or adding --useSpinWait to improve the stability.");
    }
  } else {
    log.info("Note: compute ran on the CPU: \"GPU Compute Time\" is the CPU compute time (trtexec's name is kept for "
             "scripts that parse it)");
    log.info("Note: H2D and D2H Latency are 0 on the CPU (buffers are used in place); enqueueV3 runs the inference "
             "before it returns, so Enqueue Time equals Latency");
    if (o.profiling() && !o.separateProfileRun)
      log.warning("The layer profiler was attached to the timing run; use --separateProfileRun for undisturbed times");
  }
  log.info("Explanations of the performance metrics are printed in the verbose logs.");
  log.verbose("");
  log.verbose("=== Explanations of the performance metrics ===");
  log.verbose("Total Host Walltime: the host walltime from when the first query (after warmups) is enqueued to when "
              "the last query is completed.");
  log.verbose(r.device ? "GPU Compute Time: the GPU latency to execute the kernels for a query (CUDA events)."
                       : "GPU Compute Time: the time to run the layers of a query; on the CPU, the time enqueueV3 takes.");
  log.verbose("Total GPU Compute Time: the summation of the GPU Compute Time of all the queries. If this is "
              "significantly shorter than Total Host Walltime, the GPU may be under-utilized because of host-side "
              "overheads or data transfers.");
  log.verbose("Throughput: the observed throughput computed by dividing the number of queries by the Total Host "
              "Walltime. If this is significantly lower than the reciprocal of GPU Compute Time, the GPU may be "
              "under-utilized because of host-side overheads or data transfers.");
  log.verbose(r.device ? "Enqueue Time: the host latency to enqueue a query. If this is longer than GPU Compute Time, "
                         "the GPU may be under-utilized."
                       : "Enqueue Time: the host latency to enqueue a query; on the CPU it includes the computation.");
  log.verbose(std::string("H2D Latency: the latency for host-to-device data transfers for input tensors of a single "
                          "query") + (r.device ? "." : " (0 on the CPU)."));
  log.verbose(std::string("D2H Latency: the latency for device-to-host data transfers for output tensors of a single "
                          "query") + (r.device ? "." : " (0 on the CPU)."));
  log.verbose("Latency: the summation of H2D Latency, GPU Compute Time, and D2H Latency. This is the latency to infer a "
              "single query.");
  log.info("");
}

void printProfile(const LayerProfiler& profiler, Logger& log) {
  std::vector<LayerStats> stats = layerStats(profiler);
  auto row = [](double total, double avg, double med, double pct, const std::string& name) {
    std::ostringstream os;
    os << std::fixed << std::setw(11) << std::setprecision(2) << total << std::setw(12) << std::setprecision(4) << avg
       << std::setw(12) << med << std::setw(10) << std::setprecision(1) << pct << "   " << name;
    return os.str();
  };
  log.info("");
  log.info("=== Profile (" + std::to_string(profiler.runs) + " iterations ) ===");
  std::ostringstream head;
  head << std::setw(11) << "Time(ms)" << std::setw(12) << "Avg.(ms)" << std::setw(12) << "Median(ms)" << std::setw(10)
       << "Time(%)" << "   Layer";
  log.info(head.str());
  double total = 0, totalMedian = 0;
  for (const LayerStats& s : stats) {
    log.info(row(s.totalMs, s.averageMs, s.medianMs, s.percentage, s.name));
    total += s.totalMs;
    totalMedian += s.medianMs;
  }
  log.info(row(total, total / std::max(profiler.runs, 1), totalMedian, 100.0, "Total"));
  log.info("");
}

void printOutputs(const InferenceResult& r, Logger& log) {
  log.info("Output Tensors:");
  for (const TensorBuffer& t : r.tensors) {
    if (t.isInput) continue;
    log.info(t.name + ": (" + dimsToString(t.dims) + ")");
    std::string line;
    for (std::size_t i = 0; i < elementCount(t); ++i) {
      if (i) line += ' ';
      line += elementJson(t, i).dump();
    }
    log.info(line);
  }
}

void exportTimes(const InferenceResult& r, const std::string& path) {
  // trtexec's field names; on the CPU the transfer phases take no time and
  // enqueue, compute and latency are one interval.
  json times = json::array();
  for (const InferenceTime& t : r.trace) {
    times.push_back({{"startEnqMs", t.enqStart}, {"endEnqMs", t.enqEnd},
                     {"startH2dMs", t.h2dStart}, {"endH2dMs", t.h2dEnd},
                     {"startComputeMs", t.computeStart}, {"endComputeMs", t.computeEnd},
                     {"startD2hMs", t.d2hStart}, {"endD2hMs", t.d2hEnd},
                     {"h2dMs", t.h2dMs()}, {"computeMs", t.computeMs()}, {"d2hMs", t.d2hMs()},
                     {"latencyMs", t.latencyMs()}, {"enqueueMs", t.enqueueMs()}, {"endToEndMs", t.endToEndMs()}});
  }
  writeJson(times, path, "--exportTimes");
}

void exportProfile(const LayerProfiler& profiler, const std::string& path) {
  json j = json::array();
  j.push_back({{"count", profiler.runs}});
  for (const LayerStats& s : layerStats(profiler))
    j.push_back({{"name", s.name}, {"timeMs", s.totalMs}, {"averageMs", s.averageMs}, {"medianMs", s.medianMs},
                 {"percentage", s.percentage}});
  writeJson(j, path, "--exportProfile");
}

void exportOutput(const InferenceResult& r, const std::string& path) {
  json j = json::array();
  for (const TensorBuffer& t : r.tensors) {
    if (t.isInput) continue;
    json values = json::array();
    for (std::size_t i = 0; i < elementCount(t); ++i) values.push_back(elementJson(t, i));
    j.push_back({{"name", t.name}, {"dimensions", dimsToString(t.dims)}, {"values", std::move(values)}});
  }
  writeJson(j, path, "--exportOutput");
}

void exportLayerInfo(const kiln::ICudaEngine& engine, const std::string& path) {
  // trtexec writes the engine inspector's JSON: {"Layers": [...], "Bindings": [...]}.
  // Kiln's layer information is a line per layer; a line that is JSON is kept as an object.
  json layers = json::array();
  for (int i = 0; i < engine.getNbLayers(); ++i) {
    const char* info = engine.getLayerInformation(i);
    std::string text = info ? info : "";
    json parsed = json::parse(text, nullptr, false);
    layers.push_back(!parsed.is_discarded() && parsed.is_object() ? parsed : json(text));
  }
  json bindings = json::array();
  for (int i = 0; i < engine.getNbIOTensors(); ++i) bindings.push_back(engine.getIOTensorName(i));
  writeJson({{"Layers", layers}, {"Bindings", bindings}}, path, "--exportLayerInfo");
}

}  // namespace kilnexec
