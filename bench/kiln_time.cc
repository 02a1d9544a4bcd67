// kiln_time: the benchmark's Kiln side, on the public API only (include/kiln).
//
// Two modes, both driven by bench/run_cpu.py:
//   kiln_time build --onnx=M --plan=P [--cache=C] [--threads=N] [--shapes=in:1x3x32x448,...] [--onednn=0] [--bf16=1] [--fp16=1]
//       Parses and builds M, writes the plan to P (and the timing cache to C, read first if it
//       exists). Prints one JSON line: {"parse_s", "build_s", "plan_bytes"}. build_s is
//       buildSerializedNetwork alone, so a cold and a warm-cache build compare the builder only.
//       --onednn=0 builds without TacticSource::kONEDNN (Kiln's own kernels only).
//       --bf16=1 sets BuilderFlag::kBF16 (kilnexec --bf16), --fp16=1 BuilderFlag::kFP16 (kilnexec --fp16).
//   kiln_time serve --plan=P --inputs=manifest.json --outdir=D [--threads=N]
//       Loads P, binds the inputs of the manifest ([{"name","file","dims"}], raw bytes in the
//       engine's dtype), then answers commands on stdin, one JSON line each on stdout:
//         run W K   W warm-up and K timed executeV2 calls -> {"times_ms": [...]}
//         outputs   writes each output to D/out_<i>.bin   -> {"outputs": [{"name","file","dims","dtype"}]}
//         quit      -> {"peak_rss_kb", "rss_start_kb"} and exit
// Serving from a long-lived process is what lets the driver interleave Kiln with the other
// runtimes round by round, keeps process start out of the timings, and gives each runtime
// its own peak RSS.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kiln/kiln.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Fail : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Logger final : public kiln::ILogger {
 public:
  void log(Severity s, const char* msg) noexcept override {
    if (s <= Severity::kWARNING) std::fprintf(stderr, "[kiln] %s\n", msg);
  }
};

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child of a big
// driver process would report the driver's size; VmHWM belongs to this process image alone.
long peakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

long currentRssKb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4;  // 4 KiB pages
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Fail("cannot open '" + path + "'");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

kiln::Dims toDims(const std::vector<int64_t>& v) {
  kiln::Dims d;
  d.nbDims = static_cast<int32_t>(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) d.d[i] = v[i];
  return d;
}

std::vector<int64_t> toVector(const kiln::Dims& d) { return {d.d, d.d + d.nbDims}; }

//! "in:1x3x32x448,mask:1x128" -> {name: dims}
std::map<std::string, std::vector<int64_t>> parseShapes(const std::string& text) {
  std::map<std::string, std::vector<int64_t>> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto colon = item.rfind(':');
    if (colon == std::string::npos) throw Fail("--shapes: expected name:AxBxC, got '" + item + "'");
    std::vector<int64_t> dims;
    std::stringstream ds(item.substr(colon + 1));
    std::string d;
    while (std::getline(ds, d, 'x')) dims.push_back(std::stoll(d));
    out[item.substr(0, colon)] = dims;
  }
  return out;
}

std::map<std::string, std::string> parseFlags(int argc, char** argv) {
  std::map<std::string, std::string> f;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) throw Fail("expected --flag=value, got '" + a + "'");
    f[a.substr(2, eq - 2)] = a.substr(eq + 1);
  }
  return f;
}

std::string flag(const std::map<std::string, std::string>& f, const std::string& name, const std::string& dflt = "") {
  auto it = f.find(name);
  if (it != f.end()) return it->second;
  if (dflt.empty()) throw Fail("missing --" + name);
  return dflt;
}

int build(const std::map<std::string, std::string>& f) {
  Logger logger;
  const std::string onnx = flag(f, "onnx"), plan = flag(f, "plan"), cachePath = flag(f, "cache", "-");
  const int threads = std::stoi(flag(f, "threads", "0"));
  auto shapes = parseShapes(flag(f, "shapes", "-") == "-" ? "" : flag(f, "shapes"));

  auto t0 = Clock::now();
  std::unique_ptr<kiln::IBuilder> builder(kiln::createInferBuilder(logger));
  std::unique_ptr<kiln::INetworkDefinition> network(builder->createNetworkV2(0));
  std::unique_ptr<kiln::IBuilderConfig> config(builder->createBuilderConfig());
  std::unique_ptr<kiln::onnx::IParser> parser(kiln::onnx::createParser(*network, logger));
  if (!parser->parseFromFile(onnx.c_str(), static_cast<int>(kiln::ILogger::Severity::kWARNING))) {
    std::string why;
    for (int i = 0; i < parser->getNbErrors(); ++i) why += std::string(" ") + parser->getError(i)->desc();
    throw Fail("cannot parse '" + onnx + "':" + why);
  }
  double parseS = since(t0);
  config->setNbThreads(threads);
  if (flag(f, "onednn", "1") == "0")  // Kiln's own kernels only, to compare with and without oneDNN
    config->setTacticSources(config->getTacticSources() & ~(1u << static_cast<int>(kiln::TacticSource::kONEDNN)));
  if (flag(f, "bf16", "0") == "1") config->setFlag(kiln::BuilderFlag::kBF16);
  if (flag(f, "fp16", "0") == "1") config->setFlag(kiln::BuilderFlag::kFP16);
  kiln::IOptimizationProfile* profile = nullptr;
  for (int i = 0; i < network->getNbInputs(); ++i) {
    const char* name = network->getInput(i)->getName();
    auto it = shapes.find(name);
    if (it == shapes.end()) continue;
    if (!profile) profile = builder->createOptimizationProfile();
    for (auto sel : {kiln::OptProfileSelector::kMIN, kiln::OptProfileSelector::kOPT, kiln::OptProfileSelector::kMAX})
      profile->setDimensions(name, sel, toDims(it->second));
  }
  if (profile && config->addOptimizationProfile(profile) < 0) throw Fail("the builder rejected the profile");

  std::string cacheBlob;
  if (cachePath != "-" && std::filesystem::exists(cachePath)) cacheBlob = readFile(cachePath);
  std::unique_ptr<kiln::ITimingCache> cache(
      config->createTimingCache(cacheBlob.empty() ? nullptr : cacheBlob.data(), cacheBlob.size()));
  if (!cache || !config->setTimingCache(*cache, false)) throw Fail("unusable timing cache '" + cachePath + "'");

  auto t1 = Clock::now();
  std::unique_ptr<kiln::IHostMemory> bytes(builder->buildSerializedNetwork(*network, *config));
  double buildS = since(t1);
  if (!bytes) throw Fail("engine build failed for '" + onnx + "'");
  std::ofstream(plan, std::ios::binary).write(static_cast<const char*>(bytes->data()),
                                              static_cast<std::streamsize>(bytes->size()));
  if (cachePath != "-") {
    std::unique_ptr<kiln::IHostMemory> blob(config->getTimingCache()->serialize());
    std::ofstream(cachePath, std::ios::binary).write(static_cast<const char*>(blob->data()),
                                                     static_cast<std::streamsize>(blob->size()));
  }
  std::cout << json{{"parse_s", parseS}, {"build_s", buildS}, {"plan_bytes", bytes->size()}}.dump() << std::endl;
  return 0;
}

struct Buffer {
  std::string name;
  bool input = false;
  kiln::DataType type{};
  std::vector<int64_t> dims;
  std::size_t bytes = 0;
  std::unique_ptr<char, void (*)(void*)> data{nullptr, std::free};
};

//! A plan file read in pieces (IStreamReaderV2), so the process never holds
//! the file's bytes beside the engine's copy: peak RSS is one plan, as the
//! peers', not two.
class FileReader final : public kiln::IStreamReaderV2 {
 public:
  explicit FileReader(const std::string& path) : in_(path, std::ios::binary) {
    if (!in_) throw Fail("cannot open '" + path + "'");
  }
  bool seek(int64_t offset, kiln::SeekPosition where) noexcept override {
    in_.clear();
    in_.seekg(offset, where == kiln::SeekPosition::kSET   ? std::ios::beg
                      : where == kiln::SeekPosition::kCUR ? std::ios::cur
                                                          : std::ios::end);
    return static_cast<bool>(in_);
  }
  int64_t read(void* to, int64_t n, void*) noexcept override {
    in_.read(static_cast<char*>(to), n);
    return static_cast<int64_t>(in_.gcount());
  }

 private:
  std::ifstream in_;
};

int serve(const std::map<std::string, std::string>& f) {
  const long rssStart = currentRssKb();
  Logger logger;
  const std::string planPath = flag(f, "plan"), outdir = flag(f, "outdir");
  const int threads = std::stoi(flag(f, "threads", "0"));
  json manifest = json::parse(readFile(flag(f, "inputs")));

  auto t0 = Clock::now();
  std::unique_ptr<kiln::IRuntime> runtime(kiln::createInferRuntime(logger));
  FileReader planFile(planPath);
  std::unique_ptr<kiln::ICudaEngine> engine(runtime->deserializeCudaEngine(planFile));
  if (!engine) throw Fail("cannot load plan '" + planPath + "'");
  std::unique_ptr<kiln::IExecutionContext> ctx(engine->createExecutionContext());
  if (!ctx) throw Fail("cannot create an execution context");
  ctx->setNbThreads(threads);

  std::vector<Buffer> io(engine->getNbIOTensors());
  for (std::size_t i = 0; i < io.size(); ++i) {
    io[i].name = engine->getIOTensorName(static_cast<int32_t>(i));
    io[i].input = engine->getTensorIOMode(io[i].name.c_str()) == kiln::TensorIOMode::kINPUT;
    io[i].type = engine->getTensorDataType(io[i].name.c_str());
  }
  for (Buffer& b : io) {  // inputs first: output shapes follow from them
    if (!b.input) continue;
    const json* entry = nullptr;
    for (const json& e : manifest)
      if (e.at("name") == b.name) entry = &e;
    if (!entry) throw Fail("the input manifest has no entry for input '" + b.name + "'");
    b.dims = entry->at("dims").get<std::vector<int64_t>>();
    if (!ctx->setInputShape(b.name.c_str(), toDims(b.dims))) throw Fail("setInputShape failed for '" + b.name + "'");
    std::string bytes = readFile(entry->at("file").get<std::string>());
    b.bytes = bytes.size();
    b.data.reset(static_cast<char*>(std::aligned_alloc(64, (b.bytes + 63) / 64 * 64 + 64)));
    std::copy(bytes.begin(), bytes.end(), b.data.get());
  }
  std::vector<void*> bindings;
  for (Buffer& b : io) {
    if (!b.input) {
      b.dims = toVector(ctx->getTensorShape(b.name.c_str()));
      std::size_t n = static_cast<std::size_t>(kiln::dataTypeSize(b.type));
      for (int64_t d : b.dims) n *= static_cast<std::size_t>(d);
      b.bytes = n;
      b.data.reset(static_cast<char*>(std::aligned_alloc(64, (n + 63) / 64 * 64 + 64)));
    }
    bindings.push_back(b.data.get());
  }
  if (!ctx->executeV2(bindings.data())) throw Fail("executeV2 failed");  // first run: also the load check
  std::cout << json{{"ready", true}, {"load_s", since(t0)}, {"rss_start_kb", rssStart}, {"rss_kb", currentRssKb()}}.dump()
            << std::endl;

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream cmd(line);
    std::string op;
    cmd >> op;
    if (op == "run") {
      int warm = 0, iters = 0;
      cmd >> warm >> iters;
      for (int i = 0; i < warm; ++i)
        if (!ctx->executeV2(bindings.data())) throw Fail("executeV2 failed");
      std::vector<double> times;
      times.reserve(static_cast<std::size_t>(iters));
      for (int i = 0; i < iters; ++i) {
        auto s = Clock::now();
        bool ok = ctx->executeV2(bindings.data());
        times.push_back(since(s) * 1e3);
        if (!ok) throw Fail("executeV2 failed");
      }
      std::cout << json{{"times_ms", times}}.dump() << std::endl;
    } else if (op == "outputs") {
      json outs = json::array();
      for (std::size_t i = 0; i < io.size(); ++i) {
        if (io[i].input) continue;
        std::string file = outdir + "/out_" + std::to_string(i) + ".bin";
        std::ofstream(file, std::ios::binary).write(io[i].data.get(), static_cast<std::streamsize>(io[i].bytes));
        outs.push_back({{"name", io[i].name}, {"file", file}, {"dims", io[i].dims},
                        {"dtype", kiln::dataTypeName(io[i].type)}});
      }
      std::cout << json{{"outputs", outs}}.dump() << std::endl;
    } else if (op == "quit") {
      std::cout << json{{"peak_rss_kb", peakRssKb()}, {"rss_start_kb", rssStart}}.dump() << std::endl;
      return 0;
    } else {
      throw Fail("unknown command '" + line + "'");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string mode = argc > 1 ? argv[1] : "";
    auto flags = parseFlags(argc, argv);
    if (mode == "build") return build(flags);
    if (mode == "serve") return serve(flags);
    std::fprintf(stderr, "usage: kiln_time build|serve --flag=value ... (see bench/kiln_time.cc)\n");
    return 2;
  } catch (const std::exception& e) {
    // One JSON line, so the driver can record the reason.
    std::cout << json{{"error", e.what()}}.dump() << std::endl;
    std::fprintf(stderr, "kiln_time: %s\n", e.what());
    return 1;
  }
}
