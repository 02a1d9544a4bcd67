#include "run_case.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <regex>
#include <unordered_set>

#include <onnx/onnx_pb.h>

#include "kiln/kiln.h"

namespace kiln_conformance {

namespace fs = std::filesystem;

namespace {

//! Keeps the first error Kiln logs: that is the reason a build or run failed.
class Logger final : public kiln::ILogger {
 public:
  void log(Severity s, const char* msg) noexcept override {
    if (s <= Severity::kERROR && first.empty()) first = msg;
  }
  std::string first;
};

//! Memory for an output whose shape is known only after the run (NonZero's):
//! grows to what the engine asks for, as a user's IOutputAllocator would.
class GrowingOutput final : public kiln::IOutputAllocator {
 public:
  void* reallocateOutputAsync(const char*, void*, uint64_t size, uint64_t, void*) noexcept override {
    if (size + 1 > bytes.size()) bytes.resize(size + 1);
    return bytes.data();
  }
  void notifyShape(const char*, const kiln::Dims& dims) noexcept override { shape = dims; }
  std::vector<uint8_t> bytes;
  kiln::Dims shape{};
};

//! A failure of the case (not of Kiln's parser): the reason is the message.
struct CaseFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string firstLine(std::string s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

kiln::Dims toDims(const std::vector<int64_t>& v) {
  if (v.size() > static_cast<std::size_t>(kiln::Dims::MAX_DIMS))
    throw CaseFailure("rank " + std::to_string(v.size()) + " is over Kiln's limit of " +
                      std::to_string(kiln::Dims::MAX_DIMS));
  kiln::Dims d;
  d.nbDims = static_cast<int32_t>(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) d.d[i] = v[i];
  return d;
}

std::vector<int64_t> toVector(const kiln::Dims& d) {
  std::vector<int64_t> v;
  for (int i = 0; i < d.nbDims && i < kiln::Dims::MAX_DIMS; ++i) v.push_back(d.d[i]);
  return v;
}

std::string readBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw CaseFailure("cannot open " + p.filename().string());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

//! The graph's values that test data feeds and checks, with their declared
//! element types: input_N.pb belongs to the Nth graph input without an
//! initializer, output_N.pb to the Nth graph output.
struct ModelIO {
  std::vector<std::pair<std::string, int32_t>> fed, outputs;
};

ModelIO modelIO(const ::onnx::ModelProto& m) {
  std::unordered_set<std::string> inits;
  for (const auto& t : m.graph().initializer()) inits.insert(t.name());
  ModelIO io;
  auto typeOf = [](const ::onnx::ValueInfoProto& vi) {
    return vi.type().has_tensor_type() ? vi.type().tensor_type().elem_type() : 0;
  };
  for (const auto& vi : m.graph().input())
    if (!inits.count(vi.name())) io.fed.emplace_back(vi.name(), typeOf(vi));
  for (const auto& vi : m.graph().output()) io.outputs.emplace_back(vi.name(), typeOf(vi));
  return io;
}

std::vector<HostTensor> readAll(const fs::path& dir, const char* prefix,
                                const std::vector<std::pair<std::string, int32_t>>& declared) {
  std::vector<HostTensor> out;
  for (std::size_t i = 0;; ++i) {
    fs::path p = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    try {
      out.push_back(readTensorFile(p.string(), i < declared.size() ? declared[i].second : 0));
    } catch (const std::exception& e) {
      throw CaseFailure(std::string(prefix) + std::to_string(i) + ".pb: " + e.what());
    }
  }
  return out;
}

//! The model with every fed input of rank <= 1 turned into an initializer
//! holding its test data; `frozen` receives their names.
std::string freezeSmallInputs(const ::onnx::ModelProto& model, const ModelIO& io, const fs::path& dataDir,
                              std::unordered_set<std::string>& frozen) {
  ::onnx::ModelProto m = model;
  auto* inputs = m.mutable_graph()->mutable_input();
  for (std::size_t j = 0; j < io.fed.size(); ++j) {
    fs::path p = dataDir / ("input_" + std::to_string(j) + ".pb");
    ::onnx::TensorProto t;
    if (!fs::exists(p) || !t.ParseFromString(readBytes(p)) || t.dims_size() > 1) continue;
    if (io.fed[j].second == ::onnx::TensorProto::BFLOAT16) t.set_data_type(::onnx::TensorProto::BFLOAT16);
    t.set_name(io.fed[j].first);
    *m.mutable_graph()->add_initializer() = t;
    frozen.insert(io.fed[j].first);
  }
  for (int k = inputs->size(); k-- > 0;)
    if (frozen.count(inputs->Get(k).name())) inputs->DeleteSubrange(k, 1);
  return m.SerializeAsString();
}

//! One build and run of the model in `modelBytes` on one data set. `io` is
//! the original model's (inputs named in `frozen` are initializers now).
CaseResult runDataSet(const CaseInfo& c, const std::string& modelBytes, const ModelIO& io,
                      const std::unordered_set<std::string>& frozen, const fs::path& dataDir) {
  Logger logger;
  auto fail = [&](const std::string& step) {
    return CaseResult{Outcome::kFail, step + ": " + (logger.first.empty() ? "no error logged" : firstLine(logger.first))};
  };
  std::unique_ptr<kiln::IBuilder> builder(kiln::createInferBuilder(logger));
  std::unique_ptr<kiln::INetworkDefinition> network(builder->createNetworkV2(0));
  std::unique_ptr<kiln::onnx::IParser> parser(kiln::onnx::createParser(*network, logger));
  const std::string modelPath = (fs::path(c.dir) / "model.onnx").string();
  if (!parser->parse(modelBytes.data(), modelBytes.size(), modelPath.c_str())) {
    const kiln::onnx::IParserError* e = parser->getError(0);
    return {Outcome::kUnsupported, e ? firstLine(e->desc()) : "the parser failed without an error"};
  }

  // Inputs: the test data fixes every shape; dynamic inputs get a profile with min = opt = max.
  std::vector<HostTensor> inputs = readAll(dataDir, "input_", io.fed);
  if (inputs.size() > io.fed.size())
    throw CaseFailure(std::to_string(inputs.size()) + " input files for " + std::to_string(io.fed.size()) +
                      " graph inputs");
  std::unique_ptr<kiln::IBuilderConfig> config(builder->createBuilderConfig());
  config->setDefaultDeviceType(kiln::DeviceType::kCPU);
  config->setNbThreads(1);  // cases run side by side, one core each
  // No tactic timing: it would dominate the run, and the chosen tactic (so the
  // result) would depend on the machine; level 0 takes each layer's first tactic.
  config->setBuilderOptimizationLevel(0);
  kiln::IOptimizationProfile* profile = nullptr;
  std::map<std::string, const HostTensor*> byName;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!frozen.count(io.fed[i].first)) byName[io.fed[i].first] = &inputs[i];
  for (int i = 0; i < network->getNbInputs(); ++i) {
    kiln::ITensor* t = network->getInput(i);
    auto it = byName.find(t->getName());
    if (it == byName.end()) throw CaseFailure(std::string("no test data for network input '") + t->getName() + "'");
    std::vector<int64_t> model = toVector(t->getDimensions()), data = it->second->dims;
    bool dynamic = false;
    if (model.size() == data.size())
      for (std::size_t k = 0; k < model.size(); ++k) {
        dynamic |= model[k] < 0;
        if (model[k] >= 0 && model[k] != data[k]) model.clear();
      }
    if (model.size() != data.size())
      throw CaseFailure(std::string("input '") + t->getName() + "': the model's shape " +
                        dimsString(toVector(t->getDimensions())) + " does not fit the data's " + dimsString(data));
    if (!dynamic) continue;
    if (!profile) profile = builder->createOptimizationProfile();
    for (auto sel : {kiln::OptProfileSelector::kMIN, kiln::OptProfileSelector::kOPT, kiln::OptProfileSelector::kMAX})
      if (!profile->setDimensions(t->getName(), sel, toDims(data))) return fail("profile");
  }
  if (profile && config->addOptimizationProfile(profile) < 0) return fail("profile");

  std::unique_ptr<kiln::IHostMemory> plan(builder->buildSerializedNetwork(*network, *config));
  if (!plan) return fail("build");
  std::unique_ptr<kiln::IRuntime> runtime(kiln::createInferRuntime(logger));
  std::unique_ptr<kiln::ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  if (!engine) return fail("deserialize");
  plan.reset();
  std::unique_ptr<kiln::IExecutionContext> ctx(engine->createExecutionContext());
  if (!ctx) return fail("context");
  ctx->setNbThreads(1);

  // Bindings in IO-tensor order: inputs point at the test data, outputs at fresh buffers.
  const int nIO = engine->getNbIOTensors();
  std::vector<void*> bindings(nIO, nullptr);
  std::vector<std::vector<uint8_t>> outBufs(nIO);
  std::vector<std::unique_ptr<GrowingOutput>> allocators(nIO);
  static uint8_t empty[64];
  for (int i = 0; i < nIO; ++i) {
    const char* name = engine->getIOTensorName(i);
    if (engine->getTensorIOMode(name) != kiln::TensorIOMode::kINPUT) continue;
    const HostTensor* h = byName.at(name);
    if (engine->getTensorDataType(name) != h->kilnType)
      throw CaseFailure(std::string("input '") + name + "' is " + kiln::dataTypeName(engine->getTensorDataType(name)) +
                        " in the engine, the data is " + onnxTypeName(h->onnxType));
    if (!ctx->setInputShape(name, toDims(h->dims))) return fail("setInputShape");
    bindings[i] = h->bytes.empty() ? empty : const_cast<uint8_t*>(h->bytes.data());
  }
  for (int i = 0; i < nIO; ++i) {
    const char* name = engine->getIOTensorName(i);
    if (engine->getTensorIOMode(name) != kiln::TensorIOMode::kOUTPUT) continue;
    std::vector<int64_t> dims = toVector(ctx->getTensorShape(name));
    if (std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 0; })) {
      // A data-dependent shape: the engine sizes it per run through an allocator.
      allocators[i] = std::make_unique<GrowingOutput>();
      if (!ctx->setOutputAllocator(name, allocators[i].get())) return fail("setOutputAllocator");
      continue;
    }
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    outBufs[i].assign(static_cast<std::size_t>(n * kiln::dataTypeSize(engine->getTensorDataType(name))) + 1, 0);
    bindings[i] = outBufs[i].data();
  }
  if (!ctx->executeV2(bindings.data())) return fail("execute");

  std::vector<HostTensor> expected = readAll(dataDir, "output_", io.outputs);
  for (std::size_t j = 0; j < expected.size() && j < io.outputs.size(); ++j) {
    const char* name = io.outputs[j].first.c_str();
    int slot = -1;
    for (int i = 0; i < nIO; ++i)
      if (io.outputs[j].first == engine->getIOTensorName(i)) slot = i;
    if (slot < 0 || engine->getTensorIOMode(name) != kiln::TensorIOMode::kOUTPUT)
      throw CaseFailure("the engine has no output '" + io.outputs[j].first + "'");
    const void* data = allocators[slot] ? allocators[slot]->bytes.data() : bindings[slot];
    std::vector<int64_t> shape = toVector(ctx->getTensorShape(name));
    if (allocators[slot] && toVector(allocators[slot]->shape) != shape)
      return {Outcome::kFail, std::string("output '") + name + "': notifyShape gave " +
                                  dimsString(toVector(allocators[slot]->shape)) + ", getTensorShape " + dimsString(shape)};
    std::string diff = compareOutput(name, engine->getTensorDataType(name), shape, data, expected[j], c.tolerance);
    if (!diff.empty()) return {Outcome::kFail, diff};
  }
  return {Outcome::kPass, ""};
}

//! Whether `r` failed only because a shape-deciding input was not a build-time constant.
bool needsConstInputs(const CaseResult& r) {
  static const std::regex re("must be a constant|is not a constant|even with every input shape known");
  return r.outcome != Outcome::kPass && std::regex_search(r.reason, re);
}

}  // namespace

CaseResult runCase(const CaseInfo& c) {
  try {
    const std::string modelBytes = readBytes(fs::path(c.dir) / "model.onnx");
    ::onnx::ModelProto model;
    if (!model.ParseFromString(modelBytes)) {  // the parser's verdict on it is the result
      std::unordered_set<std::string> none;
      return runDataSet(c, modelBytes, {}, none, fs::path(c.dir) / "test_data_set_0");
    }
    const ModelIO io = modelIO(model);
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(c.dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) throw CaseFailure("the case has no test_data_set_*");
    for (const fs::path& s : sets) {
      const std::unordered_set<std::string> none;
      CaseResult r = runDataSet(c, modelBytes, io, none, s);
      if (needsConstInputs(r)) {
        std::unordered_set<std::string> frozen;
        std::string frozenModel = freezeSmallInputs(model, io, s, frozen);
        if (!frozen.empty()) {
          r = runDataSet(c, frozenModel, io, frozen, s);
          r.constInputs = true;
        }
      }
      if (r.outcome != Outcome::kPass || r.constInputs) return r;  // later sets would freeze other values
    }
    return {Outcome::kPass, ""};
  } catch (const std::exception& e) {
    return {Outcome::kFail, firstLine(e.what())};
  }
}

}  // namespace kiln_conformance
