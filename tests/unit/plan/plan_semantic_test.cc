// Plans whose body is a valid FlatBuffer with valid checksums but says
// something impossible (an index out of range, an unknown dtype, weights
// outside the blob...). They are built here by hand, bypassing writePlan's
// checks, and readPlan must refuse each with a precise reason.
#include <functional>
#include <optional>

#include "plan/plan_format.h"
#include "plan/plan_generated.h"
#include "plan_test_util.h"

namespace kiln::plan {
namespace {

struct ValueSpec {
  std::string name;
  int dtype = 0;
  std::vector<int64_t> dims;
  int kind = 0;
  std::optional<std::pair<uint64_t, uint64_t>> constant;  // offset, size
  int64_t arena = -1;
  std::vector<std::string> symbols;
};
struct AttrSpec {
  std::string name;
  int type = 0;
  int64_t i = 0;
  std::optional<std::pair<uint64_t, uint64_t>> tensor;  // float32 [2] data
  std::vector<int64_t> tensorDims = {2};
};
struct NodeSpec {
  std::string op, name;
  std::vector<int32_t> inputs, outputs;
  std::vector<AttrSpec> attrs;
};
struct PlanSpec {
  std::vector<ValueSpec> values;
  std::vector<NodeSpec> nodes;
  std::vector<int32_t> inputs, outputs;
  int64_t arenaBytes = 0, workspaceBytes = 0;
  uint64_t weightsSize = 0;
};

//! x (input) + w (constant) -> y (arena) -> Relu -> z (output).
PlanSpec validSpec() {
  PlanSpec s;
  s.values = {{"x", 0, {2, 3}, 1, {}, -1, {}},
              {"w", 0, {2, 3}, 3, std::make_pair(0, 24), -1, {}},
              {"y", 0, {2, 3}, 0, {}, 8, {}},
              {"z", 0, {-1, 3}, 2, {}, -1, {"n", ""}}};
  s.nodes = {{"Add", "add", {0, 1}, {2}, {{"alpha", 0, 5, {}, {}}, {"t", 6, 0, std::make_pair(64, 8), {2}}}},
             {"Relu", "relu", {2, -1}, {3}, {}}};
  s.inputs = {0};
  s.outputs = {3};
  s.arenaBytes = 32;
  s.weightsSize = 72;
  return s;
}

std::vector<uint8_t> build(const PlanSpec& s) {
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<fb::Value>> values;
  for (const ValueSpec& v : s.values) {
    fb::WeightsRef ref(v.constant ? v.constant->first : 0, v.constant ? v.constant->second : 0);
    auto symbols = v.symbols.empty() ? 0 : b.CreateVectorOfStrings(v.symbols);
    values.push_back(fb::CreateValue(b, b.CreateString(v.name), static_cast<fb::DType>(v.dtype),
                                     b.CreateVector(v.dims), symbols, static_cast<fb::ValueKind>(v.kind),
                                     v.constant ? &ref : nullptr, v.arena));
  }
  std::vector<flatbuffers::Offset<fb::Node>> nodes;
  for (const NodeSpec& n : s.nodes) {
    std::vector<flatbuffers::Offset<fb::Attribute>> attrs;
    for (const AttrSpec& a : n.attrs) {
      flatbuffers::Offset<fb::TensorData> t = 0;
      if (a.tensor) {
        fb::WeightsRef ref(a.tensor->first, a.tensor->second);
        t = fb::CreateTensorData(b, fb::DType::Float, b.CreateVector(a.tensorDims), &ref);
      }
      attrs.push_back(fb::CreateAttribute(b, b.CreateString(a.name), static_cast<fb::AttrType>(a.type), a.i, 0.0f,
                                          0, 0, 0, 0, t));
    }
    nodes.push_back(fb::CreateNode(b, b.CreateString(n.op), b.CreateString(n.name), b.CreateString("x.ref"),
                                   b.CreateVector(attrs), b.CreateVector(n.inputs), b.CreateVector(n.outputs)));
  }
  auto meta = fb::CreateMetadata(b, b.CreateString("0.1.0"), b.CreateString("cpu"));
  fb::FinishPlanBuffer(b, fb::CreatePlan(b, meta, b.CreateString("hand"), b.CreateVector(values),
                                         b.CreateVector(nodes), b.CreateVector(s.inputs), b.CreateVector(s.outputs),
                                         s.arenaBytes, s.workspaceBytes));
  FileLayout l = planLayout(b.GetSize(), s.weightsSize);
  std::vector<uint8_t> f(l.fileSize, 0);
  std::memcpy(f.data() + l.bodyOffset, b.GetBufferPointer(), b.GetSize());
  for (uint64_t i = 0; i < s.weightsSize; ++i) f[l.weightsOffset + i] = static_cast<uint8_t>(i);
  writeHeader(f.data(), l);
  return f;
}

//! Reads validSpec() changed by `edit`; returns the error ("" when it reads).
std::string errorFor(const std::function<void(PlanSpec&)>& edit) {
  PlanSpec s = validSpec();
  edit(s);
  return testing::readError(build(s));
}

void expectError(const std::function<void(PlanSpec&)>& edit, const std::string& expected) {
  std::string err = errorFor(edit);
  EXPECT_EQ(err, "malformed plan: " + expected);
}

TEST(PlanSemantic, HandBuiltValidPlanReads) {
  ASSERT_EQ(errorFor([](PlanSpec&) {}), "");
  PlanContents q = testing::AlignedBuffer(build(validSpec())).read();
  const ir::Graph& g = *q.graph;
  ASSERT_EQ(g.values().size(), 4u);
  EXPECT_EQ(g.values()[1]->constant->as<uint8_t>()[5], 5);
  EXPECT_EQ(g.values()[3]->shape[0].symbol, "n");
  EXPECT_EQ(g.nodes()[1]->inputs[1], nullptr);
  EXPECT_EQ(g.nodes()[0]->i("alpha", 0), 5);
  EXPECT_EQ(g.nodes()[0]->tensor("t")->as<uint8_t>()[0], 64);
  EXPECT_EQ(q.arenaOffsets.at("y"), 8);
  EXPECT_EQ(q.meta.device, "cpu");
  EXPECT_EQ(q.meta.isa, "");
}

TEST(PlanSemantic, IndicesOutOfRange) {
  expectError([](PlanSpec& s) { s.nodes[0].inputs[1] = 4; },
              "node 0 (\"Add\" \"add\") input refers to value 4, the plan has 4 values");
  expectError([](PlanSpec& s) { s.nodes[0].inputs[0] = -2; },
              "node 0 (\"Add\" \"add\") input refers to value -2, the plan has 4 values");
  expectError([](PlanSpec& s) { s.nodes[1].outputs[0] = -1; },
              "node 1 (\"Relu\" \"relu\") output refers to value -1, the plan has 4 values");
  expectError([](PlanSpec& s) { s.nodes[1].outputs[0] = 1 << 30; },
              "node 1 (\"Relu\" \"relu\") output refers to value 1073741824, the plan has 4 values");
  expectError([](PlanSpec& s) { s.inputs[0] = 9; }, "graph input refers to value 9, the plan has 4 values");
  expectError([](PlanSpec& s) { s.outputs.push_back(-1); },
              "graph output refers to value -1, the plan has 4 values");
}

TEST(PlanSemantic, Dataflow) {
  expectError([](PlanSpec& s) { std::swap(s.nodes[0], s.nodes[1]); },
              "node 0 (\"Relu\" \"relu\") reads \"y\" before any node computes it");
  expectError([](PlanSpec& s) { s.nodes[1].outputs[0] = 2; },
              "node 1 (\"Relu\" \"relu\") writes \"y\", which is already a graph input, a constant or another "
              "node's output");
  expectError([](PlanSpec& s) { s.nodes[0].outputs[0] = 1; },
              "node 0 (\"Add\" \"add\") writes \"w\", which is already a graph input, a constant or another "
              "node's output");
  expectError([](PlanSpec& s) { s.nodes.pop_back(); }, "graph output \"z\" is never computed");
  expectError([](PlanSpec& s) { s.inputs.push_back(1); }, "graph input \"w\" is a constant");
  expectError([](PlanSpec& s) { s.nodes[0].op = ""; }, "node 0 has no op");
}

TEST(PlanSemantic, Values) {
  expectError([](PlanSpec& s) { s.values[2].dtype = 42; }, "value 2 \"y\" has unknown dtype 42");
  expectError([](PlanSpec& s) { s.values[0].dtype = -1; }, "value 0 \"x\" has unknown dtype -1");
  expectError([](PlanSpec& s) { s.values[0].dims = std::vector<int64_t>(9, 1); },
              "value 0 \"x\" has rank 9, over 8");
  expectError([](PlanSpec& s) { s.values[0].dims[1] = -5; }, "value 0 \"x\" has dimension -5");
  expectError([](PlanSpec& s) { s.values[3].symbols = {"n"}; },
              "value 3 \"z\" has 1 dimension names for 2 dimensions");
  expectError([](PlanSpec& s) { s.values[3].name = "x"; }, "value 3 \"x\": two values have this name");
  expectError([](PlanSpec& s) { s.values[3].name = ""; }, "value 3 has no name");
  expectError([](PlanSpec& s) { s.values[2].kind = 9; }, "value 2 \"y\" has unknown kind 9");
  expectError([](PlanSpec& s) { s.values[1].kind = 0; }, "value 1 \"w\" has data but is not a constant");
  expectError([](PlanSpec& s) { s.values[2].kind = 3; }, "value 2 \"y\" is a constant without data");
  // A name with a newline still gives a one-line message.
  expectError([](PlanSpec& s) { s.values[2].name = "bad\nname"; s.values[2].dtype = 99; },
              "value 2 \"bad?name\" has unknown dtype 99");
}

TEST(PlanSemantic, ConstantsStayInsideTheWeights) {
  expectError([](PlanSpec& s) { s.values[1].constant = std::make_pair(64, 24); },
              "value 1 \"w\" lies outside the weights (bytes 64+24 of 72)");
  expectError([](PlanSpec& s) { s.values[1].constant = std::make_pair(~uint64_t{0} - 63, 24); },
              strCat("value 1 \"w\" lies outside the weights (bytes ", ~uint64_t{0} - 63, "+24 of 72)"));
  expectError([](PlanSpec& s) { s.values[1].constant = std::make_pair(0, 20); },
              "value 1 \"w\" stores 20 bytes, but float32 [2,3] is 24 bytes");
  expectError([](PlanSpec& s) { s.values[1].dtype = 8; },
              "value 1 \"w\" stores 24 bytes, but int64 [2,3] is 48 bytes");
  expectError([](PlanSpec& s) { s.values[1].dims = {2, -1}; }, "value 1 \"w\" has dimension -1");
  expectError([](PlanSpec& s) { s.values[1].dims = {1LL << 40, 1LL << 40}; },
              "value 1 \"w\" has an impossibly large shape");
  expectError([](PlanSpec& s) { s.values[1].dims = {1LL << 61}; }, "value 1 \"w\" has an impossibly large shape");
  expectError(
      [](PlanSpec& s) {
        s.values[1].constant = std::make_pair(8, 24);
        s.weightsSize = 100;
      },
      "value 1 \"w\" is at weights offset 8, not a multiple of 64");
}

TEST(PlanSemantic, Attributes) {
  expectError([](PlanSpec& s) { s.nodes[0].attrs[1].tensor = std::make_pair(64, 16); },
              "node 0 (\"Add\" \"add\") attribute \"t\" stores 16 bytes, but float32 [2] is 8 bytes");
  expectError([](PlanSpec& s) { s.nodes[0].attrs[1].tensor = std::make_pair(128, 8); },
              "node 0 (\"Add\" \"add\") attribute \"t\" lies outside the weights (bytes 128+8 of 72)");
  expectError([](PlanSpec& s) { s.nodes[0].attrs[1].tensor.reset(); },
              "node 0 (\"Add\" \"add\") attribute \"t\" is a tensor without data");
  expectError([](PlanSpec& s) { s.nodes[0].attrs[1].tensorDims = {-1, 2}; },
              "node 0 (\"Add\" \"add\") attribute \"t\" has dimension -1");
  expectError([](PlanSpec& s) { s.nodes[0].attrs[0].type = 100; },
              "node 0 (\"Add\" \"add\") attribute \"alpha\" has unknown type 100");
  expectError([](PlanSpec& s) { s.nodes[0].attrs[1].name = "alpha"; },
              "node 0 (\"Add\" \"add\") attribute \"alpha\" appears twice");
}

TEST(PlanSemantic, MemoryPlan) {
  expectError([](PlanSpec& s) { s.arenaBytes = 31; },
              "value 2 \"y\" (24 bytes at arena offset 8) overruns the 31-byte arena");
  expectError([](PlanSpec& s) { s.values[2].arena = INT64_MAX; },
              strCat("value 2 \"y\" (24 bytes at arena offset ", INT64_MAX, ") overruns the 32-byte arena"));
  expectError([](PlanSpec& s) { s.values[2].arena = -7; }, "value 2 \"y\" has arena offset -7");
  expectError([](PlanSpec& s) { s.arenaBytes = -1; }, "arena size -1 is negative");
  expectError([](PlanSpec& s) { s.workspaceBytes = -64; }, "workspace size -64 is negative");
  // A dynamic value's size is unknown until run time: only its offset is checked.
  EXPECT_EQ(errorFor([](PlanSpec& s) { s.values[3].arena = 1000; }), "");
}

}  // namespace
}  // namespace kiln::plan
