// tests/models/small_cnn.onnx and small_transformer.onnx build for CUDA on a
// machine without a GPU: the builder runs with the real CUDA tactics behind a
// stand-in host that claims a GPU (tactic supports()/create() make no CUDA
// call), so this checks that every layer the passes leave has a CUDA tactic
// and the plan is bound to the target, in FP32 and with kFP16 / kBF16 (the
// conv and matmul layers must then run reduced, the network IO stays FP32).
// It does not run anything.
// ModelCoverageDir does the same for every *.onnx in $KILN_CUDA_MODELS_DIR
// (the GPU benchmark's exports: bench/models/export_gpu_models.py), and lists
// every layer that lacks a CUDA tactic, not only the first.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <fstream>
#include <iterator>

#include "backends/cuda/backend.h"
#include "builder/build_plan.h"
#include "core/error.h"
#include "ir/op_schema.h"
#include "onnx/importer.h"
#include "plan/plan.h"

namespace kiln::test {
namespace {

//! The ops of the layers no real CUDA tactic supported, as "describe()" lines,
//! when PretendGpu runs in survey mode (supports() is a plain function pointer).
std::vector<std::string>& surveyed() {
  static std::vector<std::string> lines;
  return lines;
}

class NothingKernel final : public backends::DeviceKernel {
 public:
  void enqueue(const backends::DeviceLaunch&, const backends::TensorView*, const backends::TensorView*) const override {}
};

constexpr const char* kSurveyTactic = ".no_cuda_tactic";

//! cuda::backend()'s tactics with a pretend H100 as the host. In survey mode
//! each op also gets a last-resort tactic that accepts every node and records
//! it, so one build lists every layer the real tactics leave uncovered.
class PretendGpu final : public backends::DeviceBackend {
 public:
  explicit PretendGpu(bool survey = false) : survey_(survey) {
    host_.available = true;
    host_.target = {"cuda", "sm_90", "pretend H100", 13000, 92600, 130100};
  }
  const char* device() const override { return real().device(); }
  const backends::HostDevice& host() const override { return host_; }
  std::vector<const backends::DeviceTactic*> tacticsFor(const std::string& op) const override {
    std::vector<const backends::DeviceTactic*> list = real().tacticsFor(op);
    if (survey_) list.push_back(surveyTactic(op));
    return list;
  }
  const backends::DeviceTactic* findTactic(const std::string& name) const override {
    auto it = survey_ ? surveyTactics_.find(name) : surveyTactics_.end();
    return it != surveyTactics_.end() ? it->second.get() : real().findTactic(name);
  }
  std::shared_ptr<void> allocate(std::size_t) const override { return nullptr; }
  void copyAsync(void*, const void*, std::size_t, backends::CopyKind, void*) const override {}
  void synchronize(void*) const override {}
  std::shared_ptr<void> createLibraries() const override { return nullptr; }

 private:
  static const backends::DeviceBackend& real() { return cuda::backend(); }
  const backends::DeviceTactic* surveyTactic(const std::string& op) const {
    std::unique_ptr<backends::DeviceTactic>& t = surveyTactics_[op + kSurveyTactic];
    if (!t) {
      t = std::make_unique<backends::DeviceTactic>();
      t->name = op + kSurveyTactic;
      t->op = op;
      t->priority = -1000000;
      t->supports = [](const ir::Node& n) {
        surveyed().push_back(n.describe());
        return true;
      };
      t->create = [](const ir::Node&) -> std::unique_ptr<backends::DeviceKernel> {
        return std::make_unique<NothingKernel>();
      };
    }
    return t.get();
  }
  bool survey_;
  backends::HostDevice host_;
  mutable std::map<std::string, std::unique_ptr<backends::DeviceTactic>> surveyTactics_;
};

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class ModelCoverage : public ::testing::TestWithParam<std::tuple<const char*, DType>> {};

TEST_P(ModelCoverage, EveryLayerHasACudaTactic) {
  const auto [model, precision] = GetParam();
  const char* src = std::getenv("KILN_SOURCE_DIR");
  std::string path = std::string(src ? src : ".") + "/tests/models/" + model;
  std::string bytes = readFile(path);
  ASSERT_FALSE(bytes.empty()) << "cannot open " << path << " (set KILN_SOURCE_DIR)";
  ir::Graph g;
  ASSERT_TRUE(onnx::importModel(bytes.data(), bytes.size(), "", g).ok);
  PretendGpu gpu;
  builder::BuildOptions o;
  o.device = "cuda";
  o.deviceBackend = &gpu;
  o.fp16 = precision == DType::kHALF;
  o.bf16 = precision == DType::kBF16;
  std::vector<std::string> log;
  o.log = [&](ILogger::Severity, const std::string& m) { log.push_back(m); };
  std::vector<uint8_t> planBytes;
  try {
    planBytes = builder::buildPlan(g, o);
  } catch (const Error& e) {
    FAIL() << e.what();
  }
  auto keep = std::make_shared<std::vector<uint8_t>>(planBytes);
  plan::PlanContents p = plan::readPlan(keep->data(), keep->size(), keep);
  EXPECT_EQ(p.meta.device, "cuda");
  EXPECT_EQ(p.meta.isa, "sm_90");
  std::string tactics;
  int heavy = 0, heavyReduced = 0;
  for (const auto& n : p.graph->nodes()) {
    EXPECT_NE(cuda::backend().findTactic(n->tactic), nullptr) << n->describe() << " -> " << n->tactic;
    tactics += n->tactic + (n->outputs[0]->dtype == DType::kFLOAT ? "" : std::string(":") + dataTypeName(n->outputs[0]->dtype)) + " ";
    if (n->op == "Conv" || n->op == "MatMul" || n->op == "Gemm") {
      ++heavy;
      heavyReduced += n->outputs[0]->dtype == precision;
      if (precision == DType::kFLOAT) {
        EXPECT_EQ(n->i("kiln_tf32", 0), 1) << n->describe() << ": TF32 is on by default";
      }
    }
  }
  EXPECT_GT(heavy, 0);
  if (precision != DType::kFLOAT) {
    EXPECT_EQ(heavyReduced, heavy) << "every conv/matmul in " << dataTypeName(precision);
  }
  for (const ir::Value* v : p.graph->inputs)
    if (v->dtype != DType::kINT64 && v->dtype != DType::kINT32) {
      EXPECT_EQ(v->dtype, DType::kFLOAT) << v->name;
    }
  for (const ir::Value* v : p.graph->outputs) EXPECT_EQ(v->dtype, DType::kFLOAT) << v->name;
  std::cout << "[ info ] " << model << " " << dataTypeName(precision) << ": " << p.graph->nodes().size()
            << " layers: " << tactics << "\n";
}

// kFP16 + kOBEY_PRECISION_CONSTRAINTS with the Softmax layers held in FP32 (what
// EnginePrecisionConstraints runs on the GPU): the plan keeps them FP32, the rest FP16.
TEST(ModelCoverageConstraints, ObeyedFp32SoftmaxInAnFp16Build) {
  for (const char* model : {"small_cnn.onnx", "small_transformer.onnx"}) {
    const char* src = std::getenv("KILN_SOURCE_DIR");
    std::string path = std::string(src ? src : ".") + "/tests/models/" + model;
    std::ifstream f(path, std::ios::binary);
    ASSERT_TRUE(f) << "cannot open " << path << " (set KILN_SOURCE_DIR)";
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ir::Graph g;
    ASSERT_TRUE(onnx::importModel(bytes.data(), bytes.size(), "", g).ok);
    int constrained = 0;
    for (const auto& n : g.nodes()) {
      if (n->op != "Softmax") continue;
      n->attrs["kiln_precision"] = static_cast<int64_t>(DType::kFLOAT);
      ++constrained;
    }
    ASSERT_GT(constrained, 0) << model;
    PretendGpu gpu;
    builder::BuildOptions o;
    o.device = "cuda";
    o.deviceBackend = &gpu;
    o.fp16 = true;
    o.obeyPrecisionConstraints = true;
    std::vector<uint8_t> planBytes;
    try {
      planBytes = builder::buildPlan(g, o);
    } catch (const Error& e) {
      FAIL() << model << ": " << e.what();
    }
    auto keep = std::make_shared<std::vector<uint8_t>>(planBytes);
    plan::PlanContents p = plan::readPlan(keep->data(), keep->size(), keep);
    int softmaxes = 0, halfMatmuls = 0;
    for (const auto& n : p.graph->nodes()) {
      if (n->op == "Softmax") {
        ++softmaxes;
        EXPECT_EQ(n->outputs[0]->dtype, DType::kFLOAT) << model << ": " << n->describe();
        EXPECT_EQ(n->inputs[0]->dtype, DType::kFLOAT) << model << ": " << n->describe();
      }
      halfMatmuls += (n->op == "MatMul" || n->op == "Gemm") && n->outputs[0]->dtype == DType::kHALF;
    }
    EXPECT_EQ(softmaxes, constrained) << model;
    EXPECT_GT(halfMatmuls, 0) << model;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ModelCoverage,
                         ::testing::Combine(::testing::Values("small_cnn.onnx", "small_transformer.onnx"),
                                            ::testing::Values(DType::kFLOAT, DType::kHALF, DType::kBF16)));

// A conv net whose batch varies (profile 1..4), in FP16: the device layout pass makes it one
// NHWC region (a Transpose after the input, one before the output Relu, which writes the
// network output) with every layer on a real CUDA tactic, and the plan stays symbolic in the batch.
TEST(ModelCoverageLayout, DynamicBatchConvNetGoesNhwc) {
  ir::Graph g;
  ir::Value* x = g.addValue("x", DType::kFLOAT, {ir::Dim(std::string("N")), 8, 12, 12});
  g.inputs.push_back(x);
  auto w = [&](const char* name, std::vector<int64_t> dims) {
    std::vector<float> v(static_cast<std::size_t>(ir::numElements(dims)));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
    return g.addConstant(name, ir::Tensor::fromFloat(v, dims));
  };
  ir::Value *c1 = g.addValue("c1"), *r1 = g.addValue("r1"), *p = g.addValue("p"), *c2 = g.addValue("c2");
  ir::Value *a = g.addValue("a"), *y = g.addValue("y");
  ir::Node* conv1 = g.addNode("Conv", "conv1", {x, w("w1", {16, 8, 3, 3}), w("b1", {16})}, {c1});
  conv1->attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  g.addNode("Relu", "relu1", {c1}, {r1});
  ir::Node* pool = g.addNode("MaxPool", "pool", {r1}, {p});
  pool->attrs["kernel_shape"] = std::vector<int64_t>{2, 2};
  pool->attrs["strides"] = std::vector<int64_t>{2, 2};
  g.addNode("Conv", "conv2", {p, w("w2", {16, 16, 1, 1})}, {c2});
  g.addNode("Add", "add", {c2, p}, {a});
  g.addNode("Relu", "relu2", {a}, {y});
  ir::inferGraph(g);
  g.outputs.push_back(y);
  PretendGpu gpu;
  builder::BuildOptions o;
  o.device = "cuda";
  o.deviceBackend = &gpu;
  o.fp16 = true;
  builder::ProfileShape batch;
  batch.input = "x", batch.min = {1, 8, 12, 12}, batch.opt = {2, 8, 12, 12}, batch.max = {4, 8, 12, 12};
  o.profiles = {{batch}};
  std::vector<uint8_t> planBytes;
  try {
    planBytes = builder::buildPlan(g, o);
  } catch (const Error& e) {
    FAIL() << e.what();
  }
  auto keep = std::make_shared<std::vector<uint8_t>>(planBytes);
  plan::PlanContents plan = plan::readPlan(keep->data(), keep->size(), keep);
  int transposes = 0, nhwc = 0;
  for (const auto& n : plan.graph->nodes()) {
    EXPECT_NE(cuda::backend().findTactic(n->tactic), nullptr) << n->describe() << " -> " << n->tactic;
    transposes += n->op == "Transpose" || n->op == "KilnReformat";  // the latter: a boundary Cast fused in
    if (n->op == "Transpose") {
      EXPECT_EQ(n->tactic, "Transpose.tiled") << n->describe();
    }
    if (n->op == "Conv" || n->op == "MaxPool") {
      EXPECT_EQ(n->s("kiln_layout", ""), "NHWC") << n->describe();
      nhwc += 1;
      EXPECT_FALSE(n->outputs[0]->shape[0].known()) << n->describe() << ": the batch stays symbolic";
      EXPECT_EQ(n->outputs[0]->shape[3].value, 16) << n->describe() << ": channels last";
    }
  }
  EXPECT_EQ(nhwc, 3);
  EXPECT_EQ(transposes, 2);
}

// Every *.onnx in $KILN_CUDA_MODELS_DIR (e.g. `python3 bench/models/export_gpu_models.py
// --out-dir /tmp/gpu_models`, then KILN_CUDA_MODELS_DIR=/tmp/gpu_models) builds for CUDA with
// a real tactic on every layer; a failure lists each layer left without one.
TEST(ModelCoverageDir, EveryLayerOfEveryModelHasACudaTactic) {
  const char* dir = std::getenv("KILN_CUDA_MODELS_DIR");
  if (!dir || !*dir) GTEST_SKIP() << "KILN_CUDA_MODELS_DIR is not set (a directory of .onnx models to build for CUDA)";
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) GTEST_SKIP() << "KILN_CUDA_MODELS_DIR=" << dir << " is not a directory";
  std::vector<std::string> models;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".onnx") models.push_back(e.path().string());
  std::sort(models.begin(), models.end());
  if (models.empty()) GTEST_SKIP() << "no .onnx file in " << dir;
  for (const std::string& path : models) {
    SCOPED_TRACE(path);
    ir::Graph g;
    std::string bytes = readFile(path);
    ASSERT_FALSE(bytes.empty()) << "cannot read " << path;
    onnx::ImportResult imported =
        onnx::importModel(bytes.data(), bytes.size(), fs::path(path).parent_path().string(), g, builder::evaluateOnHost);
    ASSERT_TRUE(imported.ok) << "cannot import " << path;
    for (bool fp16 : {false, true}) {  // FP16: convs and pools channels-last (builder/device_layout.h)
      PretendGpu gpu(/*survey=*/true);
      surveyed().clear();
      builder::BuildOptions o;
      o.device = "cuda";
      o.deviceBackend = &gpu;
      o.fp16 = fp16;
      o.log = [](ILogger::Severity, const std::string&) {};
      std::vector<uint8_t> planBytes;
      try {
        planBytes = builder::buildPlan(g, o);
      } catch (const Error& e) {
        ADD_FAILURE() << e.what();
        continue;
      }
      auto keep = std::make_shared<std::vector<uint8_t>>(planBytes);
      plan::PlanContents p = plan::readPlan(keep->data(), keep->size(), keep);
      EXPECT_EQ(p.meta.device, "cuda");
      std::map<std::string, int> tacticCounts;
      std::string missing;
      for (const auto& n : p.graph->nodes()) {
        ++tacticCounts[n->tactic];
        if (n->tactic.size() >= std::string(kSurveyTactic).size() &&
            n->tactic.compare(n->tactic.size() - std::string(kSurveyTactic).size(), std::string::npos, kSurveyTactic) == 0)
          missing += "\n  " + n->describe();
        else
          EXPECT_NE(cuda::backend().findTactic(n->tactic), nullptr) << n->describe() << " -> " << n->tactic;
      }
      EXPECT_TRUE(missing.empty()) << fs::path(path).filename().string() << ": layers without a CUDA tactic:" << missing;
      std::cout << "[ info ] " << fs::path(path).filename().string() << (fp16 ? " fp16" : " fp32") << ": "
                << p.graph->nodes().size() << " layers:";
      for (const auto& [t, c] : tacticCounts) std::cout << " " << t << "x" << c;
      std::cout << "\n";
    }
  }
}

}  // namespace
}  // namespace kiln::test
