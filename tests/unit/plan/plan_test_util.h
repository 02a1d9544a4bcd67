// Shared by the plan tests: a small hand-built plan, aligned buffers, and a
// deep comparison of two plans.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "plan/plan.h"

namespace kiln::plan::testing {

//! Plan bytes at a chosen distance from a 64-byte boundary.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(const std::vector<uint8_t>& bytes, std::size_t misalign = 0) : size_(bytes.size()) {
    void* p = std::aligned_alloc(64, ((bytes.size() + misalign) / 64 + 1) * 64);
    storage_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    data_ = static_cast<uint8_t*>(p) + misalign;
    if (size_) std::memcpy(data_, bytes.data(), size_);
  }
  uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::shared_ptr<const void> owner() const { return storage_; }
  PlanContents read() const { return readPlan(data_, size_, owner()); }

 private:
  std::shared_ptr<void> storage_;
  uint8_t* data_;
  std::size_t size_;
};

//! The reason readPlan gives for `bytes`, or "" when it reads them.
inline std::string readError(const std::vector<uint8_t>& bytes, std::size_t misalign = 0) {
  AlignedBuffer buf(bytes, misalign);
  try {
    buf.read();
  } catch (const kiln::Error& e) {
    return e.what();
  }
  return "";
}

//! A graph with what a built plan holds: a symbolic input, a Conv with every
//! attribute kind and a fused activation, constants of several dtypes, an
//! absent optional input, tactics, and a memory plan.
inline PlanContents samplePlan() {
  PlanContents p;
  p.meta.kilnVersion = "0.1.0";
  p.meta.device = "cpu";
  p.meta.isa = "avx2";
  p.meta.networkName = "tiny_net";
  p.graph = std::make_unique<ir::Graph>();
  ir::Graph& g = *p.graph;
  g.name = "tiny_net";
  ir::Value* x = g.addValue("images", DType::kFLOAT, {ir::Dim(std::string("batch")), 3, 5, ir::Dim()});
  std::vector<float> w(4 * 3 * 3 * 3);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i) - 3.0f;
  ir::Value* weight = g.addConstant("conv.weight", ir::Tensor::fromFloat(w, {4, 3, 3, 3}));
  ir::Value* bias = g.addConstant("conv.bias", ir::Tensor::fromFloat({1.5f, -2.0f, 0.0f, 1e-7f}, {4}));
  ir::Value* conv = g.addValue("conv_out", DType::kFLOAT, {ir::Dim(std::string("batch")), 4, 3, ir::Dim()});
  ir::Node* c = g.addNode("Conv", "stem/conv1", {x, weight, bias}, {conv});
  c->tactic = "Conv.im2col_avx2";
  c->attrs["group"] = int64_t{1};
  c->attrs["kernel_shape"] = std::vector<int64_t>{3, 3};
  c->attrs["pads"] = std::vector<int64_t>{0, 0, 0, 0};
  c->attrs["kiln_act"] = std::string("LeakyRelu");
  c->attrs["kiln_act_alpha"] = 0.125f;
  c->attrs["kiln_scales"] = std::vector<float>{1.5f, -2.25f, 1e30f};
  c->attrs["kiln_names"] = std::vector<std::string>{"a", "", "ccc"};
  c->attrs["kiln_packed"] = ir::Tensor::fromInt64({7, -8, 1LL << 40}, {3});

  ir::Value* hi = g.addConstant("clip.max", ir::Tensor::fromFloat({6.0f}, {}));
  ir::Value* clipped = g.addValue("clipped", DType::kFLOAT, {ir::Dim(std::string("batch")), 4, 3, ir::Dim()});
  ir::Node* clip = g.addNode("Clip", "clip", {conv, nullptr, hi}, {clipped});  // min absent
  clip->tactic = "Clip.ref";

  ir::Value* shape = g.addConstant("shape", ir::Tensor::fromInt64({-1, 12}, {2}));
  ir::Value* flat = g.addValue("flat", DType::kFLOAT, {ir::Dim(std::string("batch")), 12});
  g.addNode("Reshape", "flatten", {clipped, shape}, {flat})->tactic = "Reshape.ref";

  ir::Tensor lut(DType::kUINT8, {5});
  for (int i = 0; i < 5; ++i) lut.mutableAs<uint8_t>()[i] = static_cast<uint8_t>(250 + i);
  ir::Value* table = g.addConstant("lut", std::move(lut));
  ir::Value* idx = g.addValue("idx", DType::kINT64, {2, 3});
  ir::Value* tmp = g.addValue("gathered", DType::kUINT8, {2, 3});
  g.addNode("Gather", "lookup", {table, idx}, {tmp})->tactic = "Gather.ref";
  ir::Value* cast = g.addValue("gathered_f", DType::kFLOAT, {2, 3});
  ir::Node* cn = g.addNode("Cast", "to_float", {tmp}, {cast});
  cn->tactic = "Cast.ref";
  cn->attrs["to"] = int64_t{1};

  g.inputs = {x, idx};
  g.outputs = {flat, cast};
  p.arenaOffsets = {{"conv_out", 0}, {"clipped", 1024}, {"gathered", 4096}};
  p.arenaBytes = 4096 + 64;
  p.workspaceBytes = 12345;
  return p;
}

inline std::string shapeStr(const ir::Shape& s) {
  std::string out;
  for (const ir::Dim& d : s) out += strCat(d.value, ":", d.symbol, ",");
  return out;
}

inline void expectSameTensor(const ir::Tensor& a, const ir::Tensor& b, const std::string& what) {
  EXPECT_EQ(a.dtype(), b.dtype()) << what;
  EXPECT_EQ(a.dims(), b.dims()) << what;
  ASSERT_EQ(a.bytes(), b.bytes()) << what;
  if (a.bytes()) {
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.bytes()), 0) << what;
  }
}

inline void expectSameGraph(const ir::Graph& ga, const ir::Graph& gb);

inline void expectSameAttr(const ir::Attribute& a, const ir::Attribute& b, const std::string& what) {
  ASSERT_EQ(a.index(), b.index()) << what;
  if (auto* g = std::get_if<ir::GraphAttr>(&a)) {
    ASSERT_TRUE(*g && std::get<ir::GraphAttr>(b)) << what;
    SCOPED_TRACE(what);
    expectSameGraph(**g, *std::get<ir::GraphAttr>(b));
  } else if (auto* t = std::get_if<ir::Tensor>(&a)) {
    expectSameTensor(*t, std::get<ir::Tensor>(b), what);
  } else if (auto* f = std::get_if<float>(&a)) {
    EXPECT_EQ(std::memcmp(f, &std::get<float>(b), 4), 0) << what;  // bit-exact
  } else if (auto* fs = std::get_if<std::vector<float>>(&a)) {
    const auto& gs = std::get<std::vector<float>>(b);
    ASSERT_EQ(fs->size(), gs.size()) << what;
    if (!fs->empty()) {
      EXPECT_EQ(std::memcmp(fs->data(), gs.data(), 4 * fs->size()), 0) << what;
    }
  } else if (auto* i = std::get_if<int64_t>(&a)) {
    EXPECT_EQ(*i, std::get<int64_t>(b)) << what;
  } else if (auto* s = std::get_if<std::string>(&a)) {
    EXPECT_EQ(*s, std::get<std::string>(b)) << what;
  } else if (auto* is = std::get_if<std::vector<int64_t>>(&a)) {
    EXPECT_EQ(*is, std::get<std::vector<int64_t>>(b)) << what;
  } else {
    EXPECT_EQ(std::get<std::vector<std::string>>(a), std::get<std::vector<std::string>>(b)) << what;
  }
}

inline void expectSameGraph(const ir::Graph& ga, const ir::Graph& gb);

//! Everything a plan says, compared value by value and node by node.
inline void expectSamePlan(const PlanContents& a, const PlanContents& b) {
  EXPECT_EQ(a.meta.kilnVersion, b.meta.kilnVersion);
  EXPECT_EQ(a.meta.device, b.meta.device);
  EXPECT_EQ(a.meta.isa, b.meta.isa);
  EXPECT_EQ(a.meta.networkName, b.meta.networkName);
  EXPECT_EQ(a.meta.deviceName, b.meta.deviceName);
  EXPECT_EQ(a.meta.cudaRuntimeVersion, b.meta.cudaRuntimeVersion);
  EXPECT_EQ(a.meta.cudnnVersion, b.meta.cudnnVersion);
  EXPECT_EQ(a.meta.cublasLtVersion, b.meta.cublasLtVersion);
  EXPECT_EQ(a.arenaOffsets, b.arenaOffsets);
  EXPECT_EQ(a.arenaBytes, b.arenaBytes);
  EXPECT_EQ(a.workspaceBytes, b.workspaceBytes);
  expectSameGraph(*a.graph, *b.graph);
}

//! Values, IO and nodes (subgraph attributes compared recursively).
inline void expectSameGraph(const ir::Graph& ga, const ir::Graph& gb) {
  EXPECT_EQ(ga.name, gb.name);
  ASSERT_EQ(ga.values().size(), gb.values().size());
  for (std::size_t i = 0; i < ga.values().size(); ++i) {
    const ir::Value& va = *ga.values()[i];
    const ir::Value& vb = *gb.values()[i];
    EXPECT_EQ(va.name, vb.name);
    EXPECT_EQ(va.dtype, vb.dtype) << va.name;
    EXPECT_EQ(shapeStr(va.shape), shapeStr(vb.shape)) << va.name;
    ASSERT_EQ(va.isConstant(), vb.isConstant()) << va.name;
    if (va.isConstant()) expectSameTensor(*va.constant, *vb.constant, va.name);
    EXPECT_EQ(va.producer ? va.producer->name : "", vb.producer ? vb.producer->name : "") << va.name;
  }
  auto names = [](const std::vector<ir::Value*>& vs) {
    std::vector<std::string> out;
    for (auto* v : vs) out.push_back(v ? v->name : "<absent>");
    return out;
  };
  EXPECT_EQ(names(ga.inputs), names(gb.inputs));
  EXPECT_EQ(names(ga.outputs), names(gb.outputs));
  ASSERT_EQ(ga.nodes().size(), gb.nodes().size());
  for (std::size_t i = 0; i < ga.nodes().size(); ++i) {
    const ir::Node& na = *ga.nodes()[i];
    const ir::Node& nb = *gb.nodes()[i];
    EXPECT_EQ(na.op, nb.op);
    EXPECT_EQ(na.name, nb.name);
    EXPECT_EQ(na.tactic, nb.tactic) << na.name;
    EXPECT_EQ(names(na.inputs), names(nb.inputs)) << na.name;
    EXPECT_EQ(names(na.outputs), names(nb.outputs)) << na.name;
    ASSERT_EQ(na.attrs.size(), nb.attrs.size()) << na.name;
    for (const auto& [key, attr] : na.attrs) {
      ASSERT_TRUE(nb.has(key)) << na.name << " " << key;
      expectSameAttr(attr, nb.attrs.at(key), na.name + " " + key);
    }
  }
}

}  // namespace kiln::plan::testing
