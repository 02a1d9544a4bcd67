// The device layout pass (builder/device_layout.cc) on small conv graphs, with
// a stand-in for "some CUDA tactic supports this layer channels-last": which
// layers go NHWC, that weights are reordered to KRSC, that Transposes cancel
// and are pushed through Relu / Add / Mul by a per-channel constant / Concat /
// the pools, that network IO keeps its shapes, and that the rewritten graph
// computes what the original does (run here on the CPU kernels, each NHWC
// layer through its NCHW twin between two transposes).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "builder/build_plan.h"
#include "builder/device_layout.h"
#include "core/error.h"
#include "ir/op_schema.h"
#include "ir/ops/spatial.h"
#include "ir/shape_resolver.h"

namespace kiln::builder {
namespace {

ir::Tensor permuteF(const ir::Tensor& t, const std::vector<int64_t>& perm) {
  const std::vector<int64_t>& in = t.dims();
  const std::size_t r = in.size();
  std::vector<int64_t> outDims(r), strides(r, 1), idx(r, 0);
  for (std::size_t i = r; i-- > 1;) strides[i - 1] = strides[i] * in[i];
  for (std::size_t i = 0; i < r; ++i) outDims[i] = in[perm[i]];
  std::vector<float> src = t.toFloat(), dst(src.size());
  for (std::size_t o = 0; o < dst.size(); ++o) {
    int64_t off = 0;
    for (std::size_t i = 0; i < r; ++i) off += idx[i] * strides[perm[i]];
    dst[o] = src[off];
    for (std::size_t i = r; i-- > 0;)
      if (++idx[i] < outDims[i]) break; else idx[i] = 0;
  }
  return ir::Tensor::fromFloat(dst, outDims);
}

std::vector<float> ramp(int64_t n, float scale, float shift) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = std::sin(0.37f * static_cast<float>(i) + shift) * scale;
  return v;
}

//! Runs `g` on the CPU kernels; an NHWC layer runs as its NCHW form between transposes.
std::map<std::string, ir::Tensor> run(const ir::Graph& g, const ir::Tensor& x) {
  std::map<const ir::Value*, ir::Tensor> vals;
  vals[g.inputs[0]] = x;
  for (const auto& v : g.values())
    if (v->isConstant()) vals[v.get()] = *v->constant;
  for (ir::Node* n : g.nodeList()) {
    std::vector<const ir::Tensor*> ins;
    for (ir::Value* v : n->inputs) ins.push_back(v ? &vals.at(v) : nullptr);
    if (!ir::channelsLast(*n)) {
      std::vector<ir::Tensor> outs = evaluateOnHost(*n, ins);
      for (std::size_t k = 0; k < outs.size(); ++k) vals[n->outputs[k]] = outs[k];
      continue;
    }
    ir::Node twin;
    twin.op = n->op, twin.name = n->name, twin.attrs = n->attrs;
    twin.attrs.erase(ir::kLayoutAttr);
    std::vector<std::unique_ptr<ir::Value>> owned;
    std::vector<ir::Tensor> firstIns;
    for (std::size_t j = 0; j < n->inputs.size(); ++j) {
      ir::Value* v = n->inputs[j];
      if (!v) {
        twin.inputs.push_back(nullptr);
        continue;
      }
      owned.push_back(std::make_unique<ir::Value>(*v));
      const bool permuted = v->shape.size() == 4;  // x, w, residual (bias is 1-D)
      if (permuted) owned.back()->shape = ir::toChannelsFirst(v->shape);
      firstIns.push_back(permuted ? permuteF(vals.at(v), ir::channelsFirstPerm(4)) : vals.at(v));
      twin.inputs.push_back(owned.back().get());
    }
    owned.push_back(std::make_unique<ir::Value>(*n->outputs[0]));
    owned.back()->shape = ir::toChannelsFirst(n->outputs[0]->shape);
    twin.outputs.push_back(owned.back().get());
    std::vector<const ir::Tensor*> ptrs;
    for (const ir::Tensor& t : firstIns) ptrs.push_back(&t);
    std::vector<ir::Tensor> outs = evaluateOnHost(twin, ptrs);
    vals[n->outputs[0]] = permuteF(outs[0], ir::channelsLastPerm(4));
  }
  std::map<std::string, ir::Tensor> out;
  for (const ir::Value* v : g.outputs) out[v->name] = vals.at(v);
  return out;
}

//! x[2,3,9,9] -> conv1 (3x3/2, pad 1, bias) -> Relu -> conv2 (3x3, pad 1) -> Add(., relu) ->
//! PRelu(slope [6,1,1]) -> Mul(per-channel [1,6,1,1]) -> MaxPool 2x2/1 -> [dw: depthwise 3x3 with fused residual] ->
//! Concat(pool, dw; axis 1) -> GlobalAveragePool -> Flatten -> y
struct Net {
  std::unique_ptr<ir::Graph> g = std::make_unique<ir::Graph>();
  explicit Net(ir::Shape xShape = {2, 3, 9, 9}) {
    ir::Value* x = g->addValue("x", DType::kFLOAT, std::move(xShape));
    g->inputs.push_back(x);
    auto c = [&](const char* name, std::vector<int64_t> dims, float shift) {
      return g->addConstant(name, ir::Tensor::fromFloat(ramp(ir::numElements(dims), 0.5f, shift), dims));
    };
    ir::Value *y1 = g->addValue("y1"), *r1 = g->addValue("r1"), *y2 = g->addValue("y2"), *a = g->addValue("a");
    ir::Value *m = g->addValue("m"), *p = g->addValue("p"), *d = g->addValue("d"), *cat = g->addValue("cat");
    ir::Value *gap = g->addValue("gap"), *y = g->addValue("y");
    ir::Node* conv1 = g->addNode("Conv", "conv1", {x, c("w1", {6, 3, 3, 3}, 0.1f), c("b1", {6}, 0.2f)}, {y1});
    conv1->attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
    conv1->attrs["strides"] = std::vector<int64_t>{2, 2};
    g->addNode("Relu", "relu1", {y1}, {r1});
    ir::Node* conv2 = g->addNode("Conv", "conv2", {r1, c("w2", {6, 6, 3, 3}, 0.3f)}, {y2});
    conv2->attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
    g->addNode("Add", "add", {y2, r1}, {a});
    ir::Value* pr = g->addValue("pr");
    g->addNode("PRelu", "prelu", {a, c("slope", {6, 1, 1}, 0.7f)}, {pr});  // a per-channel slope: permuted too
    g->addNode("Mul", "scale", {pr, c("s", {1, 6, 1, 1}, 0.4f)}, {m});
    ir::Node* pool = g->addNode("MaxPool", "pool", {m}, {p});
    pool->attrs["kernel_shape"] = std::vector<int64_t>{2, 2};
    ir::Node* dw = g->addNode("Conv", "dw", {p, c("wd", {6, 1, 3, 3}, 0.5f), c("bd", {6}, 0.6f), p}, {d});
    dw->attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
    dw->attrs["group"] = int64_t{6};
    dw->attrs["kiln_act"] = std::string("Relu");
    ir::Node* concat = g->addNode("Concat", "concat", {p, d}, {cat});
    concat->attrs["axis"] = int64_t{1};
    g->addNode("GlobalAveragePool", "gap", {cat}, {gap});
    g->addNode("Flatten", "flatten", {gap}, {y});
    ir::inferGraph(*g);
    g->outputs.push_back(y);
  }
};

ir::Node* named(const ir::Graph& g, const std::string& name) {
  for (const auto& n : g.nodes())
    if (n->name == name) return n.get();
  return nullptr;
}
int count(const ir::Graph& g, const std::string& op) {
  int k = 0;
  for (const auto& n : g.nodes()) k += n->op == op;
  return k;
}
LayoutSupport all() {
  return [](std::size_t) { return true; };
}
LayoutOptions fp32() {
  LayoutOptions o;
  o.fp32 = true;
  return o;
}

TEST(DeviceLayout, ConvNetBecomesOneNhwcRegion) {
  Net net;
  ir::Tensor x = ir::Tensor::fromFloat(ramp(2 * 3 * 9 * 9, 1.f, 0.f), {2, 3, 9, 9});
  const auto want = run(*net.g, x);
  LayoutResult r = assignDeviceLayouts(*net.g, fp32(), all());
  EXPECT_EQ(r.channelsLastLayers, 5);  // conv1, conv2, dw, pool, gap
  for (const char* n : {"conv1", "conv2", "dw", "pool", "gap"})
    EXPECT_TRUE(ir::channelsLast(*named(*net.g, n))) << n;
  // One Transpose after the input, one before Flatten: every other pair cancelled.
  EXPECT_EQ(count(*net.g, "Transpose"), 2);
  EXPECT_EQ(r.transposesRemaining, 2);
  EXPECT_EQ(named(*net.g, "concat")->i("axis", 0), 3);
  EXPECT_EQ(ir::toString(named(*net.g, "conv1")->outputs[0]->shape), ir::toString(ir::Shape{2, 5, 5, 6}));
  EXPECT_EQ(ir::toString(net.g->outputs[0]->shape), ir::toString(ir::Shape{2, 12}));
  EXPECT_EQ(net.g->outputs[0]->name, "y");
  const auto got = run(*net.g, x);
  std::vector<float> a = want.at("y").toFloat(), b = got.at("y").toFloat();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1.f + std::fabs(a[i]))) << i;
}

TEST(DeviceLayout, WeightsAreReorderedToKrsc) {
  Net net;
  const ir::Tensor w = *named(*net.g, "conv1")->inputs[1]->constant;  // [6, 3, 3, 3] KCRS
  assignDeviceLayouts(*net.g, fp32(), all());
  const ir::Tensor& p = *named(*net.g, "conv1")->inputs[1]->constant;
  ASSERT_EQ(p.dims(), (std::vector<int64_t>{6, 3, 3, 3}));
  const float* a = w.as<float>();
  const float* b = p.as<float>();
  for (int k = 0; k < 6; ++k)
    for (int c = 0; c < 3; ++c)
      for (int r = 0; r < 3; ++r)
        for (int s = 0; s < 3; ++s) EXPECT_EQ(b[((k * 3 + r) * 3 + s) * 3 + c], a[((k * 3 + c) * 3 + r) * 3 + s]);
  const ir::Tensor& d = *named(*net.g, "dw")->inputs[1]->constant;  // depthwise: [6, 1, 3, 3] -> [6, 3, 3, 1]
  EXPECT_EQ(d.dims(), (std::vector<int64_t>{6, 3, 3, 1}));
}

TEST(DeviceLayout, NothingChangesWithoutSupportOrInFp32) {
  {
    Net net;
    LayoutResult r = assignDeviceLayouts(*net.g, fp32(), [](std::size_t) { return false; });
    EXPECT_EQ(r.channelsLastLayers, 0);
    EXPECT_EQ(count(*net.g, "Transpose"), 0);
  }
  {
    Net net;  // FP32 convs without LayoutOptions::fp32 stay NCHW
    LayoutResult r = assignDeviceLayouts(*net.g, LayoutOptions{}, all());
    EXPECT_EQ(r.channelsLastLayers, 0);
    EXPECT_EQ(count(*net.g, "Transpose"), 0);
  }
}

TEST(DeviceLayout, PoolsWithoutAnNhwcTacticKeepTheirTransposes) {
  Net net;
  ir::Tensor x = ir::Tensor::fromFloat(ramp(2 * 3 * 9 * 9, 1.f, 0.5f), {2, 3, 9, 9});
  const auto want = run(*net.g, x);
  std::vector<ir::Node*> before = net.g->nodeList();
  LayoutResult r = assignDeviceLayouts(*net.g, fp32(), [&](std::size_t i) { return before[i]->op == "Conv"; });
  EXPECT_EQ(r.channelsLastLayers, 3);
  EXPECT_FALSE(ir::channelsLast(*named(*net.g, "pool")));
  EXPECT_FALSE(ir::channelsLast(*named(*net.g, "gap")));
  // in; before the pool; dw's input (its residual too: the same pool output, one Transpose) and output.
  EXPECT_EQ(count(*net.g, "Transpose"), 4);
  const auto got = run(*net.g, x);
  std::vector<float> a = want.at("y").toFloat(), b = got.at("y").toFloat();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1.f + std::fabs(a[i]))) << i;
}

TEST(DeviceLayout, ConvOutputThatIsANetworkOutputKeepsItsNameAndShape) {
  ir::Graph g;
  ir::Value* x = g.addValue("x", DType::kHALF, {1, 4, 5, 7});
  g.inputs.push_back(x);
  ir::Value* w = g.addConstant("w", ir::Tensor::fromFloat(ramp(8 * 4, 1.f, 0.f), {8, 4, 1, 1}).castTo(DType::kHALF));
  ir::Value *y = g.addValue("y"), *z = g.addValue("z");
  g.addNode("Conv", "c1", {x, w}, {y});
  g.addNode("Conv", "c2", {y, g.addConstant("w2", ir::Tensor::fromFloat(ramp(64, 1.f, 1.f), {8, 8, 1, 1})
                                                    .castTo(DType::kHALF))}, {z});
  ir::inferGraph(g);
  g.outputs = {y, z};
  LayoutResult r = assignDeviceLayouts(g, LayoutOptions{}, all());  // FP16: channels-last by default
  EXPECT_EQ(r.channelsLastLayers, 2);
  EXPECT_EQ(g.outputs[0]->name, "y");
  EXPECT_EQ(ir::toString(g.outputs[0]->shape), ir::toString(ir::Shape{1, 8, 5, 7}));
  EXPECT_EQ(ir::toString(g.outputs[1]->shape), ir::toString(ir::Shape{1, 8, 5, 7}));
  // in; y out (a network output); z out. c2 reads c1's NHWC output directly.
  EXPECT_EQ(count(g, "Transpose"), 3);
  EXPECT_EQ(named(g, "c2")->inputs[0]->producer, named(g, "c1"));
}

TEST(DeviceLayout, NearestResizeCommutesWithItsScalesReordered) {
  ir::Graph g;
  ir::Value* x = g.addValue("x", DType::kFLOAT, {1, 2, 3, 5});
  g.inputs.push_back(x);
  ir::Value *a = g.addValue("a"), *u = g.addValue("u"), *y = g.addValue("y");
  g.addNode("Conv", "c1", {x, g.addConstant("w1", ir::Tensor::fromFloat(ramp(8, 1.f, 0.f), {4, 2, 1, 1}))}, {a});
  ir::Node* up = g.addNode("Resize", "up", {a, nullptr, g.addConstant("sc", ir::Tensor::fromFloat({1, 1, 2, 3}, {4}))},
                           {u});
  up->attrs["mode"] = std::string("nearest");
  g.addNode("Conv", "c2", {u, g.addConstant("w2", ir::Tensor::fromFloat(ramp(12, 1.f, 1.f), {3, 4, 1, 1}))}, {y});
  ir::inferGraph(g);
  g.outputs.push_back(y);
  ir::Tensor in = ir::Tensor::fromFloat(ramp(30, 1.f, 0.2f), {1, 2, 3, 5});
  const auto want = run(g, in);
  assignDeviceLayouts(g, fp32(), all());
  EXPECT_EQ(count(g, "Transpose"), 2);
  EXPECT_EQ(named(g, "up")->inputs[2]->constant->toFloat(), (std::vector<float>{1, 2, 3, 1}));
  EXPECT_EQ(ir::toString(named(g, "up")->outputs[0]->shape), ir::toString(ir::Shape{1, 6, 15, 4}));
  const auto got = run(g, in);
  std::vector<float> wv = want.at("y").toFloat(), gv = got.at("y").toFloat();
  ASSERT_EQ(wv.size(), gv.size());
  for (std::size_t i = 0; i < wv.size(); ++i) EXPECT_NEAR(wv[i], gv[i], 1e-5f * (1.f + std::fabs(wv[i]))) << i;
}

TEST(DeviceLayout, FusedElementwiseChainCommutesWithItsSideOperandsPermuted) {
  // c1 -> KilnFusedElementwise(acc * s[C,1,1] then Sigmoid) -> c2: the chain runs
  // on the NHWC tensor with s permuted to [1,1,C], no Transpose between the convs.
  ir::Graph g;
  ir::Value* x = g.addValue("x", DType::kFLOAT, {1, 2, 3, 5});
  g.inputs.push_back(x);
  ir::Value *a = g.addValue("a"), *f = g.addValue("f"), *y = g.addValue("y");
  g.addNode("Conv", "c1", {x, g.addConstant("w1", ir::Tensor::fromFloat(ramp(8, 1.f, 0.f), {4, 2, 1, 1}))}, {a});
  ir::Node* chain =
      g.addNode("KilnFusedElementwise", "chain", {a, g.addConstant("s", ir::Tensor::fromFloat({1, -2, 3, 0.5f}, {4, 1, 1}))},
                {f});
  chain->attrs["ops"] = std::vector<std::string>{"Mul", "Sigmoid"};
  chain->attrs["operands"] = std::vector<int64_t>{1, -1};
  g.addNode("Conv", "c2", {f, g.addConstant("w2", ir::Tensor::fromFloat(ramp(12, 1.f, 1.f), {3, 4, 1, 1}))}, {y});
  ir::inferGraph(g);
  g.outputs.push_back(y);
  ir::Tensor in = ir::Tensor::fromFloat(ramp(30, 1.f, 0.2f), {1, 2, 3, 5});
  const auto want = run(g, in);
  assignDeviceLayouts(g, fp32(), all());
  EXPECT_EQ(count(g, "Transpose"), 2);  // after x, before y
  EXPECT_EQ(named(g, "chain")->inputs[1]->constant->dims(), (std::vector<int64_t>{1, 1, 1, 4}));
  EXPECT_EQ(ir::toString(named(g, "chain")->outputs[0]->shape), ir::toString(ir::Shape{1, 3, 5, 4}));
  const auto got = run(g, in);
  std::vector<float> wv = want.at("y").toFloat(), gv = got.at("y").toFloat();
  ASSERT_EQ(wv.size(), gv.size());
  for (std::size_t i = 0; i < wv.size(); ++i) EXPECT_NEAR(wv[i], gv[i], 1e-5f * (1.f + std::fabs(wv[i]))) << i;
}

TEST(DeviceLayout, SplitAndConcatMoveTheirAxis) {
  ir::Graph g;  // x -> c0 -> Split(axis 1: 2 + 4) -> c1, c2 -> Concat(axis -3) -> Sigmoid -> y
  ir::Value* x = g.addValue("x", DType::kFLOAT, {2, 3, 4, 5});
  g.inputs.push_back(x);
  auto w = [&](const char* name, std::vector<int64_t> dims) {
    return g.addConstant(name, ir::Tensor::fromFloat(ramp(ir::numElements(dims), 1.f, 0.3f), dims));
  };
  ir::Value *a = g.addValue("a"), *s1 = g.addValue("s1"), *s2 = g.addValue("s2"), *b1 = g.addValue("b1");
  ir::Value *b2 = g.addValue("b2"), *cat = g.addValue("cat"), *y = g.addValue("y");
  g.addNode("Conv", "c0", {x, w("w0", {6, 3, 1, 1})}, {a});
  ir::Node* split = g.addNode("Split", "split", {a, g.addConstant("sizes", ir::Tensor::fromInt64({2, 4}, {2}))}, {s1, s2});
  split->attrs["axis"] = int64_t{1};
  ir::Node* c1 = g.addNode("Conv", "c1", {s1, w("w1", {3, 2, 3, 3})}, {b1});
  c1->attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  g.addNode("Conv", "c2", {s2, w("w2", {5, 4, 1, 1})}, {b2});
  ir::Node* concat = g.addNode("Concat", "concat", {b1, b2}, {cat});
  concat->attrs["axis"] = int64_t{-3};
  g.addNode("Sigmoid", "sig", {cat}, {y});
  ir::inferGraph(g);
  g.outputs.push_back(y);
  ir::Tensor in = ir::Tensor::fromFloat(ramp(120, 1.f, 0.7f), {2, 3, 4, 5});
  const auto want = run(g, in);
  assignDeviceLayouts(g, fp32(), all());
  // In, and the one before Sigmoid: Sigmoid writes the network output, so the Transpose stays above it.
  EXPECT_EQ(count(g, "Transpose"), 2);
  EXPECT_EQ(named(g, "split")->i("axis", 0), 3);
  EXPECT_EQ(named(g, "concat")->i("axis", 0), 3);
  EXPECT_EQ(named(g, "sig")->inputs[0]->producer->op, "Transpose");
  EXPECT_EQ(ir::toString(y->shape), ir::toString(ir::Shape{2, 8, 4, 5}));
  const auto got = run(g, in);
  std::vector<float> wv = want.at("y").toFloat(), gv = got.at("y").toFloat();
  ASSERT_EQ(wv.size(), gv.size());
  for (std::size_t i = 0; i < wv.size(); ++i) EXPECT_NEAR(wv[i], gv[i], 1e-5f * (1.f + std::fabs(wv[i]))) << i;
}

// A batch that varies: the NHWC shapes stay symbolic and are re-inferred (the
// Conv and pool schemas' NHWC form) when the runtime resolves a concrete batch.
TEST(DeviceLayout, SymbolicBatchIsReinferredAtRunTime) {
  Net net(ir::Shape{ir::Dim(std::string("N")), 3, 9, 9});
  auto before = net.g->clone();
  LayoutResult r = assignDeviceLayouts(*net.g, fp32(), all());
  EXPECT_EQ(r.channelsLastLayers, 5);
  EXPECT_EQ(ir::toString(named(*net.g, "conv1")->outputs[0]->shape),
            ir::toString(ir::Shape{ir::Dim(std::string("N")), 5, 5, 6}));
  for (int64_t batch : {1, 3}) {
    auto want = before->clone(), got = net.g->clone();
    const std::map<std::string, std::vector<int64_t>> shapes = {{"x", {batch, 3, 9, 9}}};
    ir::resolveShapes(*want, shapes, evaluateOnHost, 4096);
    ir::resolveShapes(*got, shapes, evaluateOnHost, 4096);
    ir::Tensor x = ir::Tensor::fromFloat(ramp(batch * 3 * 9 * 9, 1.f, 0.1f), {batch, 3, 9, 9});
    std::vector<float> a = run(*want, x).at("y").toFloat(), b = run(*got, x).at("y").toFloat();
    ASSERT_EQ(a.size(), static_cast<std::size_t>(batch * 12));
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1.f + std::fabs(a[i]))) << i;
  }
}

TEST(DeviceLayout, TrialHasThePermutedShapes) {
  Net net;
  LayoutTrial t = channelsLastTrial(*named(*net.g, "dw"));
  EXPECT_TRUE(ir::channelsLast(t.node));
  EXPECT_EQ(ir::toString(t.node.inputs[0]->shape), ir::toString(ir::Shape{2, 4, 4, 6}));
  EXPECT_EQ(ir::toString(t.node.inputs[1]->shape), ir::toString(ir::Shape{6, 3, 3, 1}));
  EXPECT_EQ(ir::toString(t.node.inputs[2]->shape), ir::toString(ir::Shape{6}));
  EXPECT_EQ(ir::toString(t.node.inputs[3]->shape), ir::toString(ir::Shape{2, 4, 4, 6}));
  EXPECT_EQ(ir::toString(t.node.outputs[0]->shape), ir::toString(ir::Shape{2, 4, 4, 6}));
  ir::Node* conv1 = named(*net.g, "conv1");
  EXPECT_EQ(conv1->inputs[0]->shape.size(), 4u);  // the graph is untouched
  EXPECT_FALSE(ir::channelsLast(*conv1));
}

TEST(DeviceLayout, SchemaInfersChannelsLastShapesAndNamesBadLayouts) {
  ir::Graph g;
  ir::Value* x = g.addValue("x", DType::kFLOAT, {2, 9, 11, 3});  // NHWC
  g.inputs.push_back(x);
  ir::Value* w = g.addConstant("w", ir::Tensor::fromFloat(ramp(5 * 3 * 3 * 3, 1.f, 0.f), {5, 3, 3, 3}));  // KRSC
  ir::Value* y = g.addValue("y");
  ir::Node* c = g.addNode("Conv", "c", {x, w}, {y});
  c->attrs["strides"] = std::vector<int64_t>{2, 1};
  c->attrs[ir::kLayoutAttr] = std::string("NHWC");
  ir::inferGraph(g);
  EXPECT_EQ(ir::toString(y->shape), ir::toString(ir::Shape{2, 4, 9, 5}));
  c->attrs[ir::kLayoutAttr] = std::string("NCWH");
  try {
    ir::inferGraph(g);
    FAIL() << "a bad layout was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kiln_layout"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\"c\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::builder
