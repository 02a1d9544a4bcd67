// writePlan -> readPlan keeps everything; weights land 64-byte aligned and are
// borrowed from the buffer; the writer refuses graphs it cannot describe.
#include <cstring>

#include "plan/plan_format.h"
#include "plan_test_util.h"

namespace kiln::plan {
namespace {

using testing::AlignedBuffer;
using testing::samplePlan;

uint64_t headerField(const std::vector<uint8_t>& f, std::size_t at) {
  uint64_t v = 0;
  std::memcpy(&v, f.data() + at, at == hdr::kVersion || at == hdr::kHeaderSize ? 4 : 8);
  return v;
}

TEST(PlanRoundTrip, KeepsEverything) {
  PlanContents p = samplePlan();
  std::vector<uint8_t> bytes = writePlan(p);
  AlignedBuffer buf(bytes);
  PlanContents q = buf.read();
  testing::expectSamePlan(p, q);
  // Spot checks that do not go through the comparison helper.
  EXPECT_EQ(q.meta.isa, "avx2");
  EXPECT_EQ(q.graph->inputs[0]->shape[0].symbol, "batch");
  EXPECT_FALSE(q.graph->inputs[0]->shape[3].known());
  EXPECT_EQ(q.graph->nodes()[1]->inputs[1], nullptr);
  EXPECT_EQ(q.graph->nodes()[0]->s("kiln_act", ""), "LeakyRelu");
  EXPECT_EQ(q.graph->nodes()[0]->tensor("kiln_packed")->toInt64(), (std::vector<int64_t>{7, -8, 1LL << 40}));
  EXPECT_EQ(q.graph->findValue("shape")->constant->toInt64(), (std::vector<int64_t>{-1, 12}));
  EXPECT_EQ(q.graph->findValue("lut")->constant->as<uint8_t>()[4], 254);
  EXPECT_EQ(q.arenaOffsets.at("clipped"), 1024);
}

TEST(PlanRoundTrip, HeaderDescribesTheFile) {
  std::vector<uint8_t> f = writePlan(samplePlan());
  EXPECT_EQ(std::memcmp(f.data(), "KILNPLAN", 8), 0);
  EXPECT_EQ(headerField(f, hdr::kVersion), kFormatVersion);
  EXPECT_EQ(headerField(f, hdr::kHeaderSize), kHeaderSize);
  EXPECT_EQ(headerField(f, hdr::kBodyOffset), kHeaderSize);
  uint64_t weightsOffset = headerField(f, hdr::kWeightsOffset);
  EXPECT_EQ(weightsOffset % 64, 0u);
  EXPECT_GE(weightsOffset, kHeaderSize + headerField(f, hdr::kBodySize));
  EXPECT_EQ(weightsOffset + headerField(f, hdr::kWeightsSize), f.size());
  for (std::size_t i = hdr::kReserved; i < kHeaderSize; ++i) EXPECT_EQ(f[i], 0) << i;
}

//! Every tensor (constants and tensor attributes) read from `q`.
std::vector<const ir::Tensor*> tensorsOf(const PlanContents& q) {
  std::vector<const ir::Tensor*> out;
  for (const auto& v : q.graph->values())
    if (v->isConstant()) out.push_back(v->constant.get());
  for (const auto& n : q.graph->nodes())
    for (const auto& [k, a] : n->attrs)
      if (auto* t = std::get_if<ir::Tensor>(&a)) out.push_back(t);
  return out;
}

TEST(PlanRoundTrip, WeightsAreAlignedAndBorrowed) {
  std::vector<uint8_t> bytes = writePlan(samplePlan());
  AlignedBuffer buf(bytes);
  PlanContents q = buf.read();
  auto tensors = tensorsOf(q);
  ASSERT_EQ(tensors.size(), 6u);
  for (const ir::Tensor* t : tensors) {
    auto* p = static_cast<const uint8_t*>(t->data());
    EXPECT_GE(p, buf.data());
    EXPECT_LE(p + t->bytes(), buf.data() + buf.size());  // points into the buffer: no copy
    EXPECT_EQ((p - buf.data()) % 64, 0);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  }
  // Borrowed storage is read-only.
  EXPECT_THROW(const_cast<ir::Tensor*>(tensors[0])->mutableData(), kiln::Error);
}

TEST(PlanRoundTrip, ConstantsKeepTheBufferAlive) {
  PlanContents p = samplePlan();
  PlanContents q;
  {
    AlignedBuffer buf(writePlan(p));
    q = buf.read();
  }  // the buffer object is gone; the owner it handed over is not
  testing::expectSamePlan(p, q);
}

TEST(PlanRoundTrip, UnalignedBufferIsCopiedToAlignedMemory) {
  PlanContents p = samplePlan();
  std::vector<uint8_t> bytes = writePlan(p);
  for (std::size_t misalign : {1, 4, 8, 16, 32, 63}) {
    PlanContents q;
    {
      AlignedBuffer buf(bytes, misalign);
      q = buf.read();
    }  // the copy outlives the caller's buffer
    testing::expectSamePlan(p, q);
    for (const ir::Tensor* t : tensorsOf(q)) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data()) % 64, 0u) << misalign;
      EXPECT_NE(t->data(), nullptr);
    }
  }
}

TEST(PlanRoundTrip, WriteIsDeterministicAndStable) {
  std::vector<uint8_t> a = writePlan(samplePlan());
  std::vector<uint8_t> b = writePlan(samplePlan());
  EXPECT_EQ(a, b);
  AlignedBuffer buf(a);
  EXPECT_EQ(writePlan(buf.read()), a);  // read then write gives the same bytes
}

TEST(PlanRoundTrip, EmptyGraph) {
  PlanContents p;
  p.graph = std::make_unique<ir::Graph>();
  std::vector<uint8_t> bytes = writePlan(p);
  EXPECT_EQ(headerField(bytes, hdr::kWeightsSize), 0u);
  PlanContents q = AlignedBuffer(bytes).read();
  testing::expectSamePlan(p, q);
}

TEST(PlanRoundTrip, SharedConstantStoredOnce) {
  auto build = [](bool share) {
    PlanContents p;
    p.graph = std::make_unique<ir::Graph>();
    ir::Graph& g = *p.graph;
    std::vector<float> w(1000, 0.5f);
    ir::Value* a = g.addConstant("a", ir::Tensor::fromFloat(w, {1000}));
    ir::Value* b = g.addValue("b", DType::kFLOAT, {1000});
    b->constant = share ? a->constant : std::make_shared<const ir::Tensor>(ir::Tensor::fromFloat(w, {1000}));
    ir::Value* out = g.addValue("out", DType::kFLOAT, {1000});
    g.addNode("Add", "add", {a, b}, {out});
    g.outputs = {out};
    return writePlan(p);
  };
  std::vector<uint8_t> shared = build(true), separate = build(false);
  EXPECT_EQ(headerField(shared, hdr::kWeightsSize), 4000u);
  EXPECT_EQ(headerField(separate, hdr::kWeightsSize), 4032u + 4000u);
  PlanContents q = AlignedBuffer(shared).read();
  EXPECT_EQ(q.graph->findValue("a")->constant->data(), q.graph->findValue("b")->constant->data());
}

TEST(PlanRoundTrip, EmptyAndScalarConstants) {
  PlanContents p;
  p.graph = std::make_unique<ir::Graph>();
  ir::Graph& g = *p.graph;
  ir::Value* e = g.addConstant("empty", ir::Tensor(DType::kFLOAT, {0, 3}));
  ir::Value* s = g.addConstant("scalar", ir::Tensor::fromInt64({42}, {}));
  ir::Value* out = g.addValue("out", DType::kFLOAT, {0, 3});
  g.addNode("Concat", "cat", {e, s}, {out});
  g.outputs = {out, s};
  PlanContents q = AlignedBuffer(writePlan(p)).read();
  testing::expectSamePlan(p, q);
  EXPECT_EQ(q.graph->findValue("scalar")->constant->toInt64(), std::vector<int64_t>{42});
}

void expectWriteError(const PlanContents& p, const std::string& part) {
  try {
    writePlan(p);
    ADD_FAILURE() << "writePlan accepted a plan that should fail with: " << part;
  } catch (const kiln::Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(PlanWriter, RefusesWhatItCannotDescribe) {
  expectWriteError(PlanContents{}, "no graph");
  {
    PlanContents p = samplePlan();
    p.arenaOffsets["nope"] = 0;
    expectWriteError(p, "\"nope\", which is not a value");
  }
  {
    PlanContents p = samplePlan();
    p.arenaOffsets["gathered"] = p.arenaBytes - 5;  // 6 bytes do not fit in 5
    expectWriteError(p, "overruns");
  }
  {
    PlanContents p = samplePlan();
    p.graph->findValue("conv.bias")->shape = {5};
    expectWriteError(p, "its constant is float32 [4]");
  }
  {
    PlanContents p = samplePlan();
    ir::Graph other;
    ir::Value* stranger = other.addValue("stranger");
    p.graph->nodes()[0]->inputs[2] = stranger;
    expectWriteError(p, "is not a value of the graph");
  }
  {
    PlanContents p = samplePlan();
    p.graph->nodes()[1]->inputs[0] = p.graph->findValue("flat");  // reads a later node's output
    expectWriteError(p, "before any node computes it");
  }
  {
    PlanContents p = samplePlan();
    p.graph->nodes()[2]->outputs[0] = p.graph->findValue("clipped");  // written twice
    expectWriteError(p, "already a graph input, a constant or another node's output");
  }
  {
    PlanContents p = samplePlan();
    p.graph->findValue("images")->shape = ir::Shape(9, ir::Dim(1));
    expectWriteError(p, "rank 9");
  }
  {
    PlanContents p = samplePlan();
    p.workspaceBytes = -1;
    expectWriteError(p, "workspace size -1");
  }
}

}  // namespace
}  // namespace kiln::plan
