// BuilderFlag::kBF16 / kFP16 on the CPU (builder/cpu_precision.h): which layers the
// marking pass lets run in BF16 / FP16, layer precision constraints, the fallback
// on a CPU without native BF16, and what the builder chooses with and
// without the flag.
#include <gtest/gtest.h>

#include <random>

#include "backends/cpu/precision.h"
#include "builder/build_plan.h"
#include "builder/cpu_precision.h"
#include "ir/op_schema.h"
#include "plan/plan.h"

namespace kiln::builder {
namespace {

ir::Tensor randomTensor(std::vector<int64_t> dims, uint32_t seed) {
  ir::Tensor t(DType::kFLOAT, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutableAs<float>()[i] = dist(rng);
  return t;
}

// conv (3x3, 32 -> 32) -> Relu -> MatMul with a constant B -> Gemm (transB).
std::unique_ptr<ir::Graph> network() {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* x = g->addValue("x", DType::kFLOAT, ir::Shape{1, 32, 16, 16});
  g->inputs.push_back(x);
  ir::Value* c = g->addValue("c");
  ir::Node* conv = g->addNode("Conv", "conv", {x, g->addConstant("w", randomTensor({32, 32, 3, 3}, 1))}, {c});
  conv->attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  ir::inferNode(*conv);
  ir::Value* r = g->addValue("r");
  ir::inferNode(*g->addNode("Relu", "relu", {c}, {r}));
  ir::Value* m = g->addValue("m");
  ir::inferNode(*g->addNode("MatMul", "mm", {r, g->addConstant("b", randomTensor({16, 48}, 2))}, {m}));
  ir::Value* flat = g->addValue("flat");
  ir::Node* reshape = g->addNode("Reshape", "flatten", {m, g->addConstant("shape", ir::Tensor::fromInt64({512, 48}, {2}))}, {flat});
  ir::inferNode(*reshape);
  ir::Value* y = g->addValue("y");
  ir::Node* gemm = g->addNode("Gemm", "fc", {flat, g->addConstant("fcw", randomTensor({24, 48}, 3))}, {y});
  gemm->attrs["transB"] = int64_t{1};
  ir::inferNode(*gemm);
  g->outputs.push_back(y);
  return g;
}

ir::Node* node(ir::Graph& g, const std::string& name) {
  for (ir::Node* n : g.nodeList())
    if (n->name == name) return n;
  return nullptr;
}

int64_t mark(ir::Graph& g, const std::string& name) { return node(g, name)->i(cpu::kBF16Attr, 0); }

TEST(CpuPrecision, FlagMarksConvMatMulAndGemmOnly) {
  auto g = network();
  CpuPrecisionResult r = markCpuPrecision(*g, {.bf16 = true}, /*nativeBF16=*/true);
  EXPECT_EQ(r.bf16Layers, 3);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(mark(*g, "conv"), 1);
  EXPECT_EQ(mark(*g, "mm"), 1);
  EXPECT_EQ(mark(*g, "fc"), 1);
  EXPECT_EQ(mark(*g, "relu"), 0);
  // Without the flag nothing is marked (and an earlier mark is cleared).
  r = markCpuPrecision(*g, {}, true);
  EXPECT_EQ(r.bf16Layers, 0);
  for (ir::Node* n : g->nodeList()) EXPECT_FALSE(n->has(cpu::kBF16Attr)) << n->name;
}

TEST(CpuPrecision, WithoutNativeBF16TheFlagBuildsFP32WithAWarning) {
  auto g = network();
  CpuPrecisionResult r = markCpuPrecision(*g, {.bf16 = true}, /*nativeBF16=*/false);
  EXPECT_EQ(r.bf16Layers, 0);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("BF16 not supported natively on this platform"), std::string::npos);
  for (ir::Node* n : g->nodeList()) EXPECT_FALSE(n->has(cpu::kBF16Attr)) << n->name;
}

TEST(CpuPrecision, LayerConstraints) {
  const int64_t kF32 = static_cast<int64_t>(DType::kFLOAT), kB16 = static_cast<int64_t>(DType::kBF16);
  auto g = network();
  node(*g, "conv")->attrs[kLayerPrecisionAttr] = kF32;
  node(*g, "mm")->attrs[kLayerPrecisionAttr] = kB16;
  // Constraints count only under kOBEY / kPREFER_PRECISION_CONSTRAINTS.
  markCpuPrecision(*g, {.bf16 = true}, true);
  EXPECT_EQ(mark(*g, "conv"), 1);
  EXPECT_EQ(mark(*g, "mm"), 1);
  // Prefer: conv stays FP32 even under kBF16; mm prefers BF16 (even without the flag).
  markCpuPrecision(*g, {.bf16 = true, .preferConstraints = true}, true);
  EXPECT_EQ(mark(*g, "conv"), 0);
  EXPECT_EQ(mark(*g, "mm"), 2);
  EXPECT_EQ(mark(*g, "fc"), 1);
  markCpuPrecision(*g, {.obeyConstraints = true}, true);
  EXPECT_EQ(mark(*g, "mm"), 3);
  EXPECT_EQ(mark(*g, "fc"), 0);
  // A constraint the CPU cannot meet: a warning when preferred, an error naming the layer when obeyed.
  node(*g, "relu")->attrs[kLayerPrecisionAttr] = kB16;
  CpuPrecisionResult r = markCpuPrecision(*g, {.preferConstraints = true}, true);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("relu"), std::string::npos);
  EXPECT_EQ(mark(*g, "relu"), 0);
  try {
    markCpuPrecision(*g, {.obeyConstraints = true}, true);
    ADD_FAILURE() << "an obeyed BF16 constraint on a Relu must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("relu"), std::string::npos) << e.what();
  }
  node(*g, "relu")->attrs.erase(kLayerPrecisionAttr);
  EXPECT_THROW(markCpuPrecision(*g, {.obeyConstraints = true}, /*nativeBF16=*/false), Error);  // mm's BF16
  node(*g, "mm")->attrs[kLayerPrecisionAttr] = static_cast<int64_t>(DType::kHALF);
  EXPECT_THROW(markCpuPrecision(*g, {.obeyConstraints = true}, true), Error);
}

TEST(CpuPrecision, PreferredAndRequiredBF16KeepOnlyBF16Candidates) {
  if (!cpu::tactics().find("MatMul.onednn_bf16")) GTEST_SKIP() << "built without oneDNN";
  auto g = network();
  ir::Node* mm = node(*g, "mm");
  const std::vector<const cpu::Tactic*> all = {cpu::tactics().find("MatMul.onednn_bf16"),
                                               cpu::tactics().find("MatMul.packed_gemm"), cpu::tactics().find("MatMul.ref")};
  const std::vector<const cpu::Tactic*> fp32(all.begin() + 1, all.end());
  std::vector<std::string> warnings;
  auto log = [&](ILogger::Severity, const std::string& m) { warnings.push_back(m); };
  for (int64_t mark : {0, 1}) {  // allowed or unmarked: every candidate stays
    mm->attrs[cpu::kBF16Attr] = mark;
    std::vector<const cpu::Tactic*> c = all;
    keepRequiredCpuPrecision(*mm, c, log);
    EXPECT_EQ(c, all);
  }
  for (int64_t mark : {2, 3}) {
    mm->attrs[cpu::kBF16Attr] = mark;
    std::vector<const cpu::Tactic*> c = all;
    keepRequiredCpuPrecision(*mm, c, log);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0]->name, "MatMul.onednn_bf16");
  }
  EXPECT_TRUE(warnings.empty());
  // No BF16 candidate (a run-time B, say): preferred keeps FP32 with a warning, required fails naming the layer.
  mm->attrs[cpu::kBF16Attr] = int64_t{2};
  std::vector<const cpu::Tactic*> c = fp32;
  keepRequiredCpuPrecision(*mm, c, log);
  EXPECT_EQ(c, fp32);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("\"mm\""), std::string::npos) << warnings[0];
  mm->attrs[cpu::kBF16Attr] = int64_t{3};
  try {
    keepRequiredCpuPrecision(*mm, c, log);
    ADD_FAILURE() << "a required BF16 without a BF16 candidate must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"mm\""), std::string::npos) << e.what();
  }
}

int64_t mark16(ir::Graph& g, const std::string& name) { return node(g, name)->i(cpu::kFP16Attr, 0); }

TEST(CpuPrecision, FP16FlagMarksConvMatMulAndGemmWhereNative) {
  auto g = network();
  CpuPrecisionResult r = markCpuPrecision(*g, {.fp16 = true}, /*nativeBF16=*/true, /*nativeFP16=*/true);
  EXPECT_EQ(r.fp16Layers, 3);
  EXPECT_EQ(r.bf16Layers, 0);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(mark16(*g, "mm"), 1);
  EXPECT_EQ(mark16(*g, "fc"), 1);
  EXPECT_EQ(mark16(*g, "conv"), 1);
  EXPECT_EQ(mark16(*g, "relu"), 0);
  // Both flags: both marks, the tactics of each timed against the rest.
  r = markCpuPrecision(*g, {.bf16 = true, .fp16 = true}, true, true);
  EXPECT_EQ(r.fp16Layers, 3);
  EXPECT_EQ(r.bf16Layers, 3);
  // Without AVX512-FP16: FP32 with a warning, no mark.
  r = markCpuPrecision(*g, {.fp16 = true}, true, false);
  EXPECT_EQ(r.fp16Layers, 0);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("FP16 not supported natively on this platform"), std::string::npos);
  for (ir::Node* n : g->nodeList()) EXPECT_FALSE(n->has(cpu::kFP16Attr)) << n->name;
}

TEST(CpuPrecision, FP16LayerConstraints) {
  const int64_t kF16 = static_cast<int64_t>(DType::kHALF);
  auto g = network();
  node(*g, "mm")->attrs[kLayerPrecisionAttr] = kF16;
  markCpuPrecision(*g, {.preferConstraints = true}, true, true);
  EXPECT_EQ(mark16(*g, "mm"), 2);
  EXPECT_EQ(mark(*g, "mm"), 0);
  markCpuPrecision(*g, {.obeyConstraints = true}, true, true);
  EXPECT_EQ(mark16(*g, "mm"), 3);
  // An FP16 Relu is a constraint the CPU cannot meet: named when obeyed.
  node(*g, "relu")->attrs[kLayerPrecisionAttr] = kF16;
  try {
    markCpuPrecision(*g, {.obeyConstraints = true}, true, true);
    ADD_FAILURE() << "an obeyed FP16 constraint on a Relu must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no FP16 kernel for Relu"), std::string::npos) << e.what();
  }
  node(*g, "relu")->attrs.erase(kLayerPrecisionAttr);
  EXPECT_THROW(markCpuPrecision(*g, {.obeyConstraints = true}, true, /*nativeFP16=*/false), Error);
  // Required FP16 keeps only FP16 candidates; without one it fails naming the layer.
  ir::Node* mm = node(*g, "mm");
  mm->attrs[cpu::kFP16Attr] = int64_t{3};
  const std::vector<const cpu::Tactic*> all = {cpu::tactics().find("MatMul.packed_gemm_fp16"),
                                               cpu::tactics().find("MatMul.packed_gemm")};
  std::vector<const cpu::Tactic*> c = all;
  keepRequiredCpuPrecision(*mm, c, nullptr);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0]->name, "MatMul.packed_gemm_fp16");
  c = {all[1]};
  try {
    keepRequiredCpuPrecision(*mm, c, nullptr);
    ADD_FAILURE() << "a required FP16 without an FP16 candidate must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("precision constraint FP16 not met"), std::string::npos) << e.what();
  }
}

std::vector<std::pair<std::string, std::string>> layersOf(const std::vector<uint8_t>& bytes) {
  plan::PlanContents p = plan::readPlan(bytes.data(), bytes.size(), nullptr);
  std::vector<std::pair<std::string, std::string>> out;
  for (const ir::Node* n : p.graph->nodeList()) out.emplace_back(n->name, n->tactic);
  return out;
}

bool isBF16(const std::string& tactic) {
  const cpu::Tactic* t = cpu::tactics().find(tactic);
  return t && cpu::isBF16Tactic(*t);
}

TEST(CpuPrecision, WithoutTheFlagNoBF16TacticIsChosen) {
  BuildOptions o;
  o.threads = 1;
  o.timingIterations = 1;
  for (int level : {0, 1}) {  // untimed (highest priority wins) and timed
    o.timingIterations = level;
    for (auto& [name, tactic] : layersOf(buildPlan(*network(), o))) EXPECT_FALSE(isBF16(tactic)) << name << " " << tactic;
  }
}

TEST(CpuPrecision, WithTheFlagBF16TacticsAreCandidatesAndCachedApart) {
  if (!cpu::hostSupportsBF16Tactics()) GTEST_SKIP() << "no native BF16 here";
  BuildOptions o;
  o.threads = 1;
  o.cpuPrecision.bf16 = true;
  o.timingIterations = 0;  // untimed: each layer takes its highest-priority tactic, the BF16 one
  int bf16 = 0;
  for (auto& [name, tactic] : layersOf(buildPlan(*network(), o))) bf16 += isBF16(tactic);
  EXPECT_EQ(bf16, 3);
  // Timed: BF16 and FP32 tactics compete; the cache keys of a BF16-allowed layer differ from FP32's.
  TimingCache cache;
  o.timingIterations = 1;
  o.timingCache = &cache;
  buildPlan(*network(), o);
  const std::size_t withFlag = cache.size();
  o.cpuPrecision.bf16 = false;
  buildPlan(*network(), o);
  EXPECT_GT(cache.size(), withFlag) << "an FP32 build must not reuse the BF16 build's entries";
  // Obeyed BF16 constraints: only BF16 tactics, even when timed.
  auto g = network();
  for (ir::Node* n : g->nodeList()) n->attrs[kLayerPrecisionAttr] = static_cast<int64_t>(DType::kFLOAT);
  node(*g, "mm")->attrs[kLayerPrecisionAttr] = static_cast<int64_t>(DType::kBF16);
  o.cpuPrecision = {.bf16 = true, .obeyConstraints = true};
  for (auto& [name, tactic] : layersOf(buildPlan(*g, o))) EXPECT_EQ(isBF16(tactic), name == "mm") << name << " " << tactic;
}

}  // namespace
}  // namespace kiln::builder
