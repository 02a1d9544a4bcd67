// Subgraph attributes in plans (format version 2): they round-trip exactly,
// nested ones included, and a plan whose subgraph is malformed is refused
// with a precise reason (hand-built bodies bypass writePlan's checks).
#include <random>

#include "plan/plan_format.h"
#include "plan/plan_generated.h"
#include "plan_test_util.h"

namespace kiln::plan {
namespace {

//! A branch: out = Add(a, k) with a branch constant k; `nested` wraps another If inside.
std::shared_ptr<ir::Graph> branch(const std::string& name, int nested) {
  auto g = std::make_shared<ir::Graph>();
  g->name = name;
  ir::Value* a = g->addValue("a", DType::kFLOAT, {2, ir::Dim(std::string("n"))});
  ir::Value* k = g->addConstant("k", ir::Tensor::fromFloat({0.5f, -1.f}, {2, 1}));
  ir::Value* out = g->addValue("out", DType::kFLOAT, {2, ir::Dim(std::string("n"))});
  g->addNode("Add", name + "/add", {a, k}, {out});
  g->inputs = {a};
  g->outputs = {out};
  if (nested > 0) {
    ir::Value* c = g->addConstant("c", ir::Tensor::fromInt64({1}, {}).castTo(DType::kBOOL));
    ir::Value* res = g->addValue("res", DType::kFLOAT, {2, ir::Dim(std::string("n"))});
    ir::Node* n = g->addNode("If", name + "/inner", {c, out}, {res});
    n->attrs["then_branch"] = branch(name + "/t", nested - 1);
    n->attrs["else_branch"] = branch(name + "/e", 0);
    n->attrs["kiln_captures"] = int64_t{1};
    n->tactic = "If.ref";
    g->outputs = {res};
  }
  return g;
}

PlanContents planWithIf(int nesting) {
  PlanContents p;
  p.meta.kilnVersion = "0.1.0";
  p.meta.device = "cpu";
  p.meta.isa = "avx2";
  p.meta.networkName = "cf";
  p.graph = std::make_unique<ir::Graph>();
  ir::Graph& g = *p.graph;
  g.name = "cf";
  ir::Value* cond = g.addValue("cond", DType::kBOOL, {});
  ir::Value* x = g.addValue("x", DType::kFLOAT, {2, ir::Dim(std::string("n"))});
  ir::Value* z = g.addValue("z", DType::kFLOAT, {2, ir::Dim(std::string("n"))});
  g.inputs = {cond, x};
  ir::Node* n = g.addNode("If", "if", {cond, x}, {z});
  n->attrs["then_branch"] = branch("then", nesting);
  n->attrs["else_branch"] = branch("else", 0);
  n->attrs["kiln_captures"] = int64_t{1};
  n->tactic = "If.ref";
  g.outputs = {z};
  return p;
}

TEST(PlanSubgraph, RoundTripsNestedSubgraphs) {
  PlanContents p = planWithIf(3);
  std::vector<uint8_t> bytes = writePlan(p);
  PlanContents q = testing::AlignedBuffer(bytes).read();
  testing::expectSamePlan(p, q);
  // Subgraph constants live in the weights blob like any other.
  const ir::Graph* thenG = q.graph->nodes()[0]->graph("then_branch");
  ASSERT_TRUE(thenG);
  EXPECT_FLOAT_EQ(thenG->findValue("k")->constant->as<float>()[1], -1.f);
  // The plan says the current version (subgraph attributes came with version 2).
  uint32_t version = 0;
  std::memcpy(&version, bytes.data() + hdr::kVersion, 4);
  EXPECT_EQ(version, kFormatVersion);
  EXPECT_GE(kFormatVersion, 2u);
}

TEST(PlanSubgraph, WriterRefusesTooDeepNesting) {
  EXPECT_THROW(writePlan(planWithIf(9)), Error);
  EXPECT_NO_THROW(writePlan(planWithIf(7)));
}

TEST(PlanSubgraph, WriterChecksSubgraphDataflow) {
  PlanContents p = planWithIf(0);
  ir::Graph* thenG = p.graph->nodes()[0]->graph("then_branch");
  thenG->outputs = {thenG->addValue("never", DType::kFLOAT, {1})};
  ir::Value* stray = thenG->addValue("stray", DType::kFLOAT, {1});
  thenG->addNode("Relu", "reads_stray", {stray}, {thenG->addValue("r", DType::kFLOAT, {1})});
  try {
    writePlan(p);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reads \"stray\" before any node computes it"), std::string::npos) << e.what();
  }
}

// Hand-built plans: one If node whose then_branch is `sub`.
struct SubSpec {
  int valueArena = -1;
  int nodeInput = 0;        // index the subgraph's node reads
  int output = 1;           // subgraph output index
  bool attrWithoutGraph = false;
  int depth = 1;            // nesting of then_branch inside itself
};

flatbuffers::Offset<fb::Subgraph> buildSub(flatbuffers::FlatBufferBuilder& b, const SubSpec& s, int depth) {
  std::vector<flatbuffers::Offset<fb::Value>> values{
      fb::CreateValue(b, b.CreateString("a"), fb::DType::Float, b.CreateVector(std::vector<int64_t>{2}), 0,
                      fb::ValueKind::Input, nullptr, s.valueArena),
      fb::CreateValue(b, b.CreateString("out"), fb::DType::Float, b.CreateVector(std::vector<int64_t>{2}))};
  std::vector<flatbuffers::Offset<fb::Attribute>> attrs;
  if (depth > 1)
    attrs.push_back(fb::CreateAttribute(b, b.CreateString("then_branch"), fb::AttrType::Graph, 0, 0, 0, 0, 0, 0, 0,
                                        buildSub(b, s, depth - 1)));
  std::vector<flatbuffers::Offset<fb::Node>> nodes{
      fb::CreateNode(b, b.CreateString("Relu"), b.CreateString("relu"), b.CreateString("Relu.ref"),
                     b.CreateVector(attrs), b.CreateVector(std::vector<int32_t>{s.nodeInput}),
                     b.CreateVector(std::vector<int32_t>{1}))};
  return fb::CreateSubgraph(b, b.CreateString("then"), b.CreateVector(values), b.CreateVector(nodes),
                            b.CreateVector(std::vector<int32_t>{0}), b.CreateVector(std::vector<int32_t>{s.output}));
}

std::vector<uint8_t> buildPlan(const SubSpec& s) {
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<fb::Value>> values{
      fb::CreateValue(b, b.CreateString("c"), fb::DType::Bool, b.CreateVector(std::vector<int64_t>{}), 0,
                      fb::ValueKind::Input),
      fb::CreateValue(b, b.CreateString("x"), fb::DType::Float, b.CreateVector(std::vector<int64_t>{2}), 0,
                      fb::ValueKind::Input),
      fb::CreateValue(b, b.CreateString("z"), fb::DType::Float, b.CreateVector(std::vector<int64_t>{2}), 0,
                      fb::ValueKind::Output)};
  auto sub = s.attrWithoutGraph ? 0 : buildSub(b, s, s.depth);
  std::vector<flatbuffers::Offset<fb::Attribute>> attrs{
      fb::CreateAttribute(b, b.CreateString("then_branch"), fb::AttrType::Graph, 0, 0, 0, 0, 0, 0, 0, sub)};
  std::vector<flatbuffers::Offset<fb::Node>> nodes{
      fb::CreateNode(b, b.CreateString("If"), b.CreateString("if"), b.CreateString("If.ref"), b.CreateVector(attrs),
                     b.CreateVector(std::vector<int32_t>{0, 1}), b.CreateVector(std::vector<int32_t>{2}))};
  auto meta = fb::CreateMetadata(b, b.CreateString("0.1.0"), b.CreateString("cpu"));
  fb::FinishPlanBuffer(b, fb::CreatePlan(b, meta, b.CreateString("hand"), b.CreateVector(values),
                                         b.CreateVector(nodes), b.CreateVector(std::vector<int32_t>{0, 1}),
                                         b.CreateVector(std::vector<int32_t>{2}), 0, 0));
  FileLayout l = planLayout(b.GetSize(), 0);
  std::vector<uint8_t> f(l.fileSize, 0);
  std::memcpy(f.data() + l.bodyOffset, b.GetBufferPointer(), b.GetSize());
  writeHeader(f.data(), l);
  return f;
}

std::string errorWith(const std::function<void(SubSpec&)>& edit) {
  SubSpec s;
  edit(s);
  return testing::readError(buildPlan(s));
}

TEST(PlanSubgraph, HandBuiltSubgraphReads) {
  EXPECT_EQ(errorWith([](SubSpec&) {}), "");
  EXPECT_EQ(errorWith([](SubSpec& s) { s.depth = 8; }), "");
}

TEST(PlanSubgraph, CorruptSubgraphsAreRefused) {
  const std::string attr = "malformed plan: node 0 (\"If\" \"if\") attribute \"then_branch\"";
  EXPECT_EQ(errorWith([](SubSpec& s) { s.nodeInput = 7; }),
            attr + ": node 0 (\"Relu\" \"relu\") input refers to value 7, the plan has 2 values");
  EXPECT_EQ(errorWith([](SubSpec& s) { s.nodeInput = 1; }),
            attr + ": node 0 (\"Relu\" \"relu\") reads \"out\" before any node computes it");
  EXPECT_EQ(errorWith([](SubSpec& s) { s.output = 5; }),
            attr + ": graph output refers to value 5, the plan has 2 values");
  EXPECT_EQ(errorWith([](SubSpec& s) { s.valueArena = 0; }),
            attr + ": value 0 \"a\" is a subgraph value with an arena offset; subgraphs have no memory plan");
  EXPECT_EQ(errorWith([](SubSpec& s) { s.attrWithoutGraph = true; }), attr + " is a subgraph without a graph");
  EXPECT_NE(errorWith([](SubSpec& s) { s.depth = 9; }).find("subgraphs nest more than 8 deep"), std::string::npos);
}

TEST(PlanSubgraph, RandomDamageToASubgraphPlanNeverCrashes) {
  std::vector<uint8_t> good = writePlan(planWithIf(2));
  FileLayout l = checkPlanFile(good.data(), good.size());
  std::mt19937 rng(7);
  int refused = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint8_t> f = good;
    std::size_t at = l.bodyOffset + rng() % l.bodySize;
    f[at] = static_cast<uint8_t>(f[at] ^ (1u << (rng() % 8)));
    resealPlan(f.data(), f.size());
    refused += !testing::readError(f).empty();  // either reads or says why; never crashes
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace kiln::plan
