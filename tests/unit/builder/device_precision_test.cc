// The device precision pass (builder/device_precision.cc) on small graphs,
// with a stand-in for "some CUDA tactic supports this layer in this type":
// which layers go to FP16/BF16, where Casts are inserted (and shared), that
// weights are converted at build time, that network IO stays FP32, that
// precision constraints are obeyed / preferred, and that kTF32 marks the FP32
// layers. The last tests run the same through buildPlan with a fake device
// backend whose tactics check dtypes, as the CUDA tactics do.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "backends/backend.h"
#include "builder/build_plan.h"
#include "builder/device_precision.h"
#include "core/error.h"
#include "ir/op_schema.h"
#include "plan/plan.h"
#include "unit/builder/fake_device_backend.h"

namespace kiln::builder {
namespace {

//! x[2,3] -> MatMul(W[3,4]) -> Relu -> Softmax -> y
struct Chain {
  std::unique_ptr<ir::Graph> g = std::make_unique<ir::Graph>();
  ir::Node *matmul = nullptr, *relu = nullptr, *softmax = nullptr;
  Chain() {
    ir::Value* x = g->addValue("x", DType::kFLOAT, {2, 3});
    g->inputs.push_back(x);
    std::vector<float> w(12);
    for (int i = 0; i < 12; ++i) w[i] = 0.1f * static_cast<float>(i) - 0.3f;
    ir::Value* wv = g->addConstant("W", ir::Tensor::fromFloat(w, {3, 4}));
    ir::Value* m = g->addValue("m");
    ir::Value* r = g->addValue("r");
    ir::Value* y = g->addValue("y");
    matmul = g->addNode("MatMul", "mm", {x, wv}, {m});
    relu = g->addNode("Relu", "relu", {m}, {r});
    softmax = g->addNode("Softmax", "sm", {r}, {y});
    ir::inferGraph(*g);
    g->outputs.push_back(y);
  }
};

//! Supports every op in `ops` in FP16 and BF16, nothing else.
PrecisionSupport supportOnly(const ir::Graph& g, std::set<std::string> ops) {
  std::vector<ir::Node*> nodes = g.nodeList();
  return [nodes, ops](std::size_t i, DType) { return ops.count(nodes[i]->op) != 0; };
}

//! The one node of `g` with this name.
ir::Node* named(const ir::Graph& g, const std::string& name) {
  for (const auto& n : g.nodes())
    if (n->name == name) return n.get();
  return nullptr;
}

std::vector<ir::Node*> casts(const ir::Graph& g) {
  std::vector<ir::Node*> out;
  for (const auto& n : g.nodes())
    if (n->op == "Cast") out.push_back(n.get());
  return out;
}

TEST(DevicePrecision, Fp16WhereSupportedCastsAtTheBoundaries) {
  Chain c;
  PrecisionOptions o;
  o.fp16 = true;
  PrecisionResult r = assignDevicePrecision(*c.g, o, supportOnly(*c.g, {"MatMul", "Relu"}));
  EXPECT_EQ(r.reducedLayers, 2);
  EXPECT_EQ(r.castsInserted, 2);  // x -> fp16 before the MatMul, relu's fp16 -> fp32 before the Softmax
  ir::Node* mm = named(*c.g, "mm");
  ASSERT_NE(mm, nullptr);
  // The network input stays FP32; the MatMul reads an FP16 copy made by a Cast.
  EXPECT_EQ(c.g->inputs[0]->dtype, DType::kFLOAT);
  ASSERT_NE(mm->inputs[0]->producer, nullptr);
  EXPECT_EQ(mm->inputs[0]->producer->op, "Cast");
  EXPECT_EQ(mm->inputs[0]->producer->inputs[0], c.g->inputs[0]);
  EXPECT_EQ(mm->inputs[0]->producer->i("to", 0), 10);
  EXPECT_EQ(mm->inputs[0]->dtype, DType::kHALF);
  // The weight was converted at build time, value by value.
  const ir::Value* w = mm->inputs[1];
  ASSERT_TRUE(w->isConstant());
  EXPECT_EQ(w->dtype, DType::kHALF);
  ASSERT_EQ(w->constant->dtype(), DType::kHALF);
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(w->constant->as<uint16_t>()[i], floatToHalf(0.1f * static_cast<float>(i) - 0.3f)) << "weight " << i;
  EXPECT_EQ(c.g->findValue("W"), nullptr) << "the FP32 weight no layer reads any more is dropped";
  EXPECT_EQ(mm->outputs[0]->dtype, DType::kHALF);
  ir::Node* relu = named(*c.g, "relu");
  EXPECT_EQ(relu->inputs[0], mm->outputs[0]) << "no cast between two FP16 layers";
  EXPECT_EQ(relu->outputs[0]->dtype, DType::kHALF);
  ir::Node* sm = named(*c.g, "sm");
  EXPECT_EQ(sm->inputs[0]->dtype, DType::kFLOAT);
  EXPECT_EQ(sm->inputs[0]->producer->op, "Cast");
  EXPECT_EQ(sm->inputs[0]->producer->inputs[0], relu->outputs[0]);
  EXPECT_EQ(sm->outputs[0]->dtype, DType::kFLOAT);
  EXPECT_EQ(c.g->outputs[0]->name, "y");
  EXPECT_EQ(c.g->outputs[0]->dtype, DType::kFLOAT);
  // TF32 (on by default) marks the FP32 layer only.
  EXPECT_EQ(sm->i(kTf32Attr, 0), 1);
  EXPECT_FALSE(mm->has(kTf32Attr));
  // Topologically ordered: every input is produced before its reader.
  std::set<const ir::Value*> ready(c.g->inputs.begin(), c.g->inputs.end());
  for (const auto& n : c.g->nodes()) {
    for (const ir::Value* v : n->inputs)
      if (v && !v->isConstant()) {
        EXPECT_TRUE(ready.count(v)) << n->describe() << " reads " << v->name << " early";
      }
    for (const ir::Value* v : n->outputs) ready.insert(v);
  }
}

TEST(DevicePrecision, NetworkOutputOfAReducedLayerStaysFp32ByACast) {
  Chain c;
  PrecisionOptions o;
  o.bf16 = true;
  PrecisionResult r = assignDevicePrecision(*c.g, o, supportOnly(*c.g, {"MatMul", "Relu", "Softmax"}));
  EXPECT_EQ(r.reducedLayers, 3);
  ir::Node* sm = named(*c.g, "sm");
  EXPECT_EQ(sm->outputs[0]->dtype, DType::kBF16);
  ASSERT_EQ(c.g->outputs.size(), 1u);
  const ir::Value* y = c.g->outputs[0];
  EXPECT_EQ(y->name, "y") << "the binding name is kept";
  EXPECT_EQ(y->dtype, DType::kFLOAT);
  ASSERT_NE(y->producer, nullptr);
  EXPECT_EQ(y->producer->op, "Cast");
  EXPECT_EQ(y->producer->i("to", 0), 1);
  EXPECT_EQ(y->producer->inputs[0], sm->outputs[0]);
  const ir::Value* w = named(*c.g, "mm")->inputs[1];
  EXPECT_EQ(w->constant->dtype(), DType::kBF16);
  EXPECT_EQ(w->constant->as<uint16_t>()[11], floatToBf16(0.1f * 11 - 0.3f));
}

TEST(DevicePrecision, NoReducedFlagMeansNoChangeButTf32) {
  for (bool tf32 : {true, false}) {
    Chain c;
    PrecisionOptions o;
    o.tf32 = tf32;
    PrecisionResult r = assignDevicePrecision(*c.g, o, supportOnly(*c.g, {"MatMul", "Relu", "Softmax"}));
    EXPECT_EQ(r.reducedLayers, 0);
    EXPECT_EQ(r.castsInserted, 0);
    EXPECT_TRUE(casts(*c.g).empty());
    for (const auto& n : c.g->nodes()) {
      EXPECT_EQ(n->outputs[0]->dtype, DType::kFLOAT) << n->describe();
      EXPECT_EQ(n->has(kTf32Attr), tf32) << n->describe() << " tf32 " << tf32;
    }
  }
}

TEST(DevicePrecision, OneCastPerValueAndTypeSharedByConsumers) {
  // x -> Relu(r) -> {Sigmoid, Tanh} both FP32 (unsupported in FP16): one Cast of r serves both.
  ir::Graph g;
  ir::Value* x = g.addValue("x", DType::kFLOAT, {5});
  g.inputs.push_back(x);
  ir::Value *r = g.addValue("r"), *a = g.addValue("a"), *b = g.addValue("b");
  g.addNode("Relu", "relu", {x}, {r});
  g.addNode("Sigmoid", "sig", {r}, {a});
  g.addNode("Tanh", "tanh", {r}, {b});
  ir::inferGraph(g);
  g.outputs = {a, b};
  PrecisionOptions o;
  o.fp16 = true;
  PrecisionResult res = assignDevicePrecision(g, o, supportOnly(g, {"Relu"}));
  EXPECT_EQ(res.reducedLayers, 1);
  EXPECT_EQ(res.castsInserted, 2);  // x -> fp16, and r -> fp32 once
  EXPECT_EQ(named(g, "sig")->inputs[0], named(g, "tanh")->inputs[0]);
  EXPECT_EQ(named(g, "sig")->inputs[0]->dtype, DType::kFLOAT);
}

TEST(DevicePrecision, ObeyedConstraintNoTacticMeetsFailsNamingTheLayer) {
  Chain c;
  c.softmax->attrs[kPrecisionAttr] = static_cast<int64_t>(DType::kHALF);
  PrecisionOptions o;
  o.obeyConstraints = true;
  try {
    assignDevicePrecision(*c.g, o, supportOnly(*c.g, {"MatMul"}));
    FAIL() << "an obeyed FP16 constraint without an FP16 tactic built";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("Softmax node \"sm\""), std::string::npos) << m;
    EXPECT_NE(m.find("precision constraint"), std::string::npos) << m;
    EXPECT_NE(m.find("kOBEY_PRECISION_CONSTRAINTS"), std::string::npos) << m;
  }
}

TEST(DevicePrecision, PreferredConstraintFallsBackWithAWarning) {
  Chain c;
  c.softmax->attrs[kPrecisionAttr] = static_cast<int64_t>(DType::kHALF);
  c.matmul->attrs[kPrecisionAttr] = static_cast<int64_t>(DType::kHALF);
  PrecisionOptions o;
  o.preferConstraints = true;  // no kFP16 flag: only the constrained layers go to FP16
  PrecisionResult r = assignDevicePrecision(*c.g, o, supportOnly(*c.g, {"MatMul", "Relu"}));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("Softmax node \"sm\""), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.reducedLayers, 1);
  EXPECT_EQ(named(*c.g, "mm")->outputs[0]->dtype, DType::kHALF);
  EXPECT_EQ(named(*c.g, "relu")->outputs[0]->dtype, DType::kFLOAT) << "unconstrained, no kFP16: FP32";
  EXPECT_EQ(named(*c.g, "sm")->outputs[0]->dtype, DType::kFLOAT);
}

TEST(DevicePrecision, Fp32ConstraintKeepsALayerOutOfFp16) {
  Chain c;
  c.relu->attrs[kPrecisionAttr] = static_cast<int64_t>(DType::kFLOAT);
  PrecisionOptions o;
  o.fp16 = true;
  o.obeyConstraints = true;
  assignDevicePrecision(*c.g, o, supportOnly(*c.g, {"MatMul", "Relu", "Softmax"}));
  EXPECT_EQ(named(*c.g, "mm")->outputs[0]->dtype, DType::kHALF);
  EXPECT_EQ(named(*c.g, "relu")->outputs[0]->dtype, DType::kFLOAT);
  EXPECT_EQ(named(*c.g, "relu")->i(kTf32Attr, 0), 1);
  EXPECT_EQ(named(*c.g, "sm")->outputs[0]->dtype, DType::kHALF);
  // Without a constraint flag the constraint is ignored (TensorRT's rule).
  Chain d;
  d.relu->attrs[kPrecisionAttr] = static_cast<int64_t>(DType::kFLOAT);
  PrecisionOptions loose;
  loose.fp16 = true;
  assignDevicePrecision(*d.g, loose, supportOnly(*d.g, {"MatMul", "Relu", "Softmax"}));
  EXPECT_EQ(named(*d.g, "relu")->outputs[0]->dtype, DType::kHALF);
}

TEST(DevicePrecision, OutputTypeConstraintInsertsACast) {
  Chain c;
  c.matmul->attrs[kOutputTypesAttr] = std::vector<int64_t>{static_cast<int64_t>(DType::kHALF)};
  PrecisionOptions o;
  o.obeyConstraints = true;  // no kFP16: the MatMul computes in FP32, delivers FP16
  assignDevicePrecision(*c.g, o, supportOnly(*c.g, {"MatMul", "Relu", "Softmax"}));
  ir::Node* mm = named(*c.g, "mm");
  EXPECT_EQ(mm->outputs[0]->dtype, DType::kFLOAT);
  const ir::Value* m = c.g->findValue("m");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->dtype, DType::kHALF);
  EXPECT_EQ(m->producer->op, "Cast");
  // The FP32 Relu reads an FP32 value again (a second Cast, from the FP16 delivery).
  EXPECT_EQ(named(*c.g, "relu")->inputs[0]->dtype, DType::kFLOAT);
}

TEST(DevicePrecision, ResizeScalesStayFp32) {
  ir::Graph g;
  ir::Value* x = g.addValue("x", DType::kFLOAT, {1, 1, 2, 2});
  g.inputs.push_back(x);
  ir::Value* scales = g.addConstant("scales", ir::Tensor::fromFloat({1, 1, 2, 2}, {4}));
  ir::Value* y = g.addValue("y");
  ir::Node* rs = g.addNode("Resize", "up", {x, nullptr, scales}, {y});
  rs->attrs["mode"] = std::string("nearest");
  ir::inferGraph(g);
  g.outputs = {y};
  EXPECT_FALSE(followsPrecision(*rs, 2));
  PrecisionOptions o;
  o.fp16 = true;
  assignDevicePrecision(g, o, supportOnly(g, {"Resize"}));
  ir::Node* up = named(g, "up");
  EXPECT_EQ(up->inputs[0]->dtype, DType::kHALF);
  EXPECT_EQ(up->inputs[2]->dtype, DType::kFLOAT);
  EXPECT_EQ(up->inputs[2]->constant->dtype(), DType::kFLOAT);
}

TEST(DevicePrecision, WeightsBeyondTheRangeAreClampedNotInfinite) {
  for (DType t : {DType::kHALF, DType::kBF16}) {
    // y = x * mask, mask holding finfo(float32).min (HF attention masks), 1e5 and a real infinity.
    ir::Graph g;
    ir::Value* x = g.addValue("x", DType::kFLOAT, {4});
    g.inputs.push_back(x);
    const float lowest = -3.4028235e38f;
    ir::Value* mask = g.addConstant("mask", ir::Tensor::fromFloat({lowest, 1e5f, -INFINITY, 2.f}, {4}));
    ir::Value* y = g.addValue("y");
    g.addNode("Mul", "mul", {x, mask}, {y});
    ir::inferGraph(g);
    g.outputs = {y};
    PrecisionOptions o;
    o.fp16 = t == DType::kHALF;
    o.bf16 = t == DType::kBF16;
    PrecisionResult r = assignDevicePrecision(g, o, supportOnly(g, {"Mul"}));
    const ir::Tensor& w = *named(g, "mul")->inputs[1]->constant;
    ASSERT_EQ(w.dtype(), t);
    const uint16_t maxCode = t == DType::kHALF ? 0x7bff : 0x7f7f;
    EXPECT_EQ(w.as<uint16_t>()[0], 0x8000 | maxCode) << dataTypeName(t) << ": lowest float -> -max, not -inf";
    if (t == DType::kHALF) {
      EXPECT_EQ(w.as<uint16_t>()[1], maxCode) << "1e5 -> 65504";
    } else {
      EXPECT_EQ(w.as<uint16_t>()[1], floatToBf16(1e5f)) << "1e5 is in BF16's range";
    }
    EXPECT_EQ(w.as<uint16_t>()[2], t == DType::kHALF ? 0xfc00 : 0xff80) << "a real infinity stays infinite";
    EXPECT_EQ(w.as<uint16_t>()[3], t == DType::kHALF ? floatToHalf(2.f) : floatToBf16(2.f));
    ASSERT_EQ(r.warnings.size(), 1u) << dataTypeName(t);
    EXPECT_NE(r.warnings[0].find("constant \"mask\": " + std::to_string(t == DType::kHALF ? 2 : 1) + " value(s)"),
              std::string::npos)
        << r.warnings[0];
  }
}

// ---- Through buildPlan, with tactics that check dtypes as the CUDA ones do.

class NoKernel final : public backends::DeviceKernel {
 public:
  void enqueue(const backends::DeviceLaunch&, const backends::TensorView*, const backends::TensorView*) const override {}
};

bool allOf(const ir::Node& n, std::initializer_list<DType> ok) {
  auto fine = [&](const ir::Value* v) {
    for (DType t : ok)
      if (v->dtype == t) return true;
    return false;
  };
  for (const ir::Value* v : n.inputs)
    if (v && !fine(v)) return false;
  for (const ir::Value* v : n.outputs)
    if (v && !fine(v)) return false;
  return true;
}

//! MatMul and Relu in FP32/FP16, Softmax in FP32 only, Cast between FP32 and FP16.
class TypedBackend final : public test::FakeDeviceBackend {
 public:
  TypedBackend() : FakeDeviceBackend(true, "sm_90") {
    auto make = [](const ir::Node&) -> std::unique_ptr<backends::DeviceKernel> { return std::make_unique<NoKernel>(); };
    auto halfOk = [](const ir::Node& n) { return allOf(n, {DType::kFLOAT, DType::kHALF}); };
    auto fp32Only = [](const ir::Node& n) { return allOf(n, {DType::kFLOAT}); };
    tactics_.push_back({"MatMul.fake", "MatMul", 0, halfOk, make});
    tactics_.push_back({"Relu.fake", "Relu", 0, halfOk, make});
    tactics_.push_back({"Softmax.fake", "Softmax", 0, fp32Only, make});
    tactics_.push_back({"Cast.fake", "Cast", 0, halfOk, make});
  }
};

TEST(DevicePrecision, BuildPlanRecordsTypesAndTf32InThePlan) {
  TypedBackend fake;
  for (bool fp16 : {false, true}) {
    Chain c;
    BuildOptions o;
    o.device = "cuda";
    o.deviceBackend = &fake;
    o.fp16 = fp16;
    auto keep = std::make_shared<std::vector<uint8_t>>(buildPlan(*c.g, o));
    plan::PlanContents p = plan::readPlan(keep->data(), keep->size(), keep);
    std::map<std::string, const ir::Node*> byName;
    int castCount = 0;
    for (const auto& n : p.graph->nodes()) {
      byName[n->name] = n.get();
      castCount += n->op == "Cast";
      EXPECT_FALSE(n->tactic.empty()) << n->describe();
    }
    ASSERT_TRUE(byName.count("mm") && byName.count("sm")) << "fp16 " << fp16;
    const ir::Node* mm = byName["mm"];
    EXPECT_EQ(mm->outputs[0]->dtype, fp16 ? DType::kHALF : DType::kFLOAT);
    EXPECT_EQ(mm->inputs[1]->constant->dtype(), fp16 ? DType::kHALF : DType::kFLOAT) << "the plan stores the weight";
    EXPECT_EQ(mm->i(kTf32Attr, 0), fp16 ? 0 : 1) << "the plan records TF32 for the FP32 MatMul";
    EXPECT_EQ(byName["sm"]->outputs[0]->dtype, DType::kFLOAT);
    EXPECT_EQ(castCount, fp16 ? 2 : 0);
    EXPECT_EQ(p.graph->inputs[0]->dtype, DType::kFLOAT);
    EXPECT_EQ(p.graph->outputs[0]->dtype, DType::kFLOAT);
  }
}

TEST(DevicePrecision, BuildPlanObeyedConstraintWithoutTacticFails) {
  TypedBackend fake;
  Chain c;
  c.softmax->attrs[kPrecisionAttr] = static_cast<int64_t>(DType::kHALF);
  BuildOptions o;
  o.device = "cuda";
  o.deviceBackend = &fake;
  o.obeyPrecisionConstraints = true;
  try {
    buildPlan(*c.g, o);
    FAIL() << "built";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Softmax node \"sm\": precision constraint"), std::string::npos) << e.what();
  }
  o.obeyPrecisionConstraints = false;
  o.preferPrecisionConstraints = true;
  std::vector<std::string> warnings;
  o.log = [&](ILogger::Severity s, const std::string& m) {
    if (s == ILogger::Severity::kWARNING) warnings.push_back(m);
  };
  EXPECT_NO_THROW(buildPlan(*c.g, o));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("Softmax node \"sm\""), std::string::npos) << warnings[0];
}

}  // namespace
}  // namespace kiln::builder
