// Conv / ConvTranspose: schemas, the reference kernels against hand-computed
// values, and every fast tactic against the reference on edge shapes.
#include <thread>

#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

// 1 where Kiln was built with oneDNN (Conv.onednn).
int onednnConvTactics() { return cpu::tactics().find("Conv.onednn") ? 1 : 0; }

struct ConvCfg {
  int64_t n = 1, c = 3, h = 8, w = 8, k = 4, kh = 3, kw = 3;
  std::vector<int64_t> strides, pads, dilations;
  int64_t group = 1;
  std::string autoPad;
  bool bias = true;
  bool residual = false;
  std::string act;
  float alpha = 0.f, beta = 0.f;
};

OpSpec convSpec(const ConvCfg& c, uint32_t seed) {
  OpSpec s;
  s.op = "Conv";
  s.name = "conv";
  if (!c.strides.empty()) s.attrs["strides"] = c.strides;
  if (!c.pads.empty()) s.attrs["pads"] = c.pads;
  if (!c.dilations.empty()) s.attrs["dilations"] = c.dilations;
  if (c.group != 1) s.attrs["group"] = c.group;
  if (!c.autoPad.empty()) s.attrs["auto_pad"] = c.autoPad;
  if (!c.act.empty()) {
    s.attrs["kiln_act"] = c.act;
    s.attrs["kiln_act_alpha"] = c.alpha;
    s.attrs["kiln_act_beta"] = c.beta;
  }
  s.inputs.push_back(dyn(randomTensor({c.n, c.c, c.h, c.w}, seed)));
  s.inputs.push_back(cst(randomTensor({c.k, c.c / c.group, c.kh, c.kw}, seed + 1)));
  if (c.bias || c.residual) s.inputs.push_back(c.bias ? cst(randomTensor({c.k}, seed + 2)) : none());
  if (c.residual) {
    OpSpec probe = s;
    BuiltGraph b = buildGraph(probe);
    s.inputs.push_back(dyn(randomTensor(ir::staticDims(b.node->outputs[0]->shape), seed + 3)));
  }
  return s;
}

ir::Tensor ramp4x4() {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  return floats({1, 1, 4, 4}, v);
}

TEST(ConvRef, OnesKernelOnRampNoPad) {
  OpSpec s;
  s.op = "Conv";
  s.inputs = {dyn(ramp4x4()), cst(floats({1, 1, 3, 3}, std::vector<float>(9, 1.f)))};
  auto y = runTactic(s, "Conv.ref");
  // Window sums of x[i][j] = 4i + j.
  EXPECT_TRUE(equals(y[0], {1, 1, 2, 2}, {45, 54, 81, 90}));
}

TEST(ConvRef, OnesKernelOnRampPaddedWithBiasAndRelu) {
  OpSpec s;
  s.op = "Conv";
  s.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  s.attrs["kiln_act"] = std::string("Relu");
  s.inputs = {dyn(ramp4x4()), cst(floats({1, 1, 3, 3}, std::vector<float>(9, 1.f))), cst(floats({1}, {-20.f}))};
  auto y = runTactic(s, "Conv.ref");
  // Sums: corners 10, 18, 42, 50; edges e.g. (0,1) = 0+1+2+4+5+6 = 18; minus 20, then Relu.
  EXPECT_TRUE(equals(y[0], {1, 1, 4, 4}, {0, 0, 4, 0, 7, 25, 34, 19, 31, 61, 70, 43, 22, 46, 52, 30}));
}

TEST(ConvRef, StridedDilatedSingleTap) {
  // A 2x2 kernel with dilation 2 and stride 2 on the ramp reads x[i], x[i+2] rows/cols.
  OpSpec s;
  s.op = "Conv";
  s.attrs["dilations"] = std::vector<int64_t>{2, 2};
  s.attrs["strides"] = std::vector<int64_t>{2, 2};
  s.inputs = {dyn(ramp4x4()), cst(floats({1, 1, 2, 2}, {1.f, 0.f, 0.f, -1.f}))};
  auto y = runTactic(s, "Conv.ref");
  // Output 1x1: x[0][0] - x[2][2] = 0 - 10.
  EXPECT_TRUE(equals(y[0], {1, 1, 1, 1}, {-10.f}));
}

TEST(ConvTactics, EdgeShapes) {
  std::vector<ConvCfg> cfgs;
  auto add = [&](ConvCfg c) { cfgs.push_back(c); };
  add({.c = 8, .h = 5, .w = 7, .k = 16, .kh = 1, .kw = 1});                                 // pointwise
  add({.c = 8, .h = 9, .w = 9, .k = 5, .kh = 1, .kw = 1, .strides = {2, 2}});               // 1x1 stride 2
  add({.c = 3, .h = 11, .w = 13, .k = 7, .pads = {1, 1, 1, 1}});                            // 3x3 pad 1
  add({.c = 3, .h = 23, .w = 29, .k = 10, .kh = 7, .kw = 7, .strides = {2, 2}, .pads = {3, 3, 3, 3}});  // stem
  add({.c = 5, .h = 17, .w = 19, .k = 13});                                                 // primes, no pad
  add({.c = 8, .h = 10, .w = 9, .k = 12, .pads = {1, 1, 1, 1}, .group = 4});                // groups
  add({.c = 4, .h = 12, .w = 11, .k = 6, .pads = {2, 2, 2, 2}, .dilations = {2, 2}});       // dilation
  add({.c = 4, .h = 9, .w = 10, .k = 5, .pads = {0, 1, 2, 0}});                              // asymmetric pads
  add({.c = 4, .h = 10, .w = 12, .k = 5, .strides = {2, 2}, .autoPad = "SAME_UPPER"});
  add({.c = 4, .h = 9, .w = 11, .k = 5, .kh = 4, .kw = 4, .autoPad = "SAME_LOWER"});
  add({.c = 4, .h = 9, .w = 11, .k = 5, .autoPad = "VALID"});
  add({.n = 2, .c = 6, .h = 10, .w = 10, .k = 9, .pads = {1, 1, 1, 1}});                    // batch 2
  add({.c = 64, .h = 14, .w = 15, .k = 100, .pads = {1, 1, 1, 1}});                         // > tiles, > kc
  add({.c = 3, .h = 6, .w = 6, .k = 1, .bias = false});                                     // one output channel
  add({.c = 1, .h = 1, .w = 1, .k = 3, .kh = 1, .kw = 1});                                   // 1x1 image
  add({.c = 3, .h = 150, .w = 151, .k = 4, .pads = {1, 1, 1, 1}});                           // several column chunks
  int i = 0;
  for (const ConvCfg& c : cfgs) {
    SCOPED_TRACE(::testing::Message() << "config " << i);
    OpSpec s = convSpec(c, 100 + i++);
    EXPECT_GE(compareWithRef(s), 1);
  }
}

TEST(ConvTactics, Depthwise) {
  std::vector<ConvCfg> cfgs = {
      {.c = 16, .h = 14, .w = 15, .k = 16, .pads = {1, 1, 1, 1}, .group = 16},
      {.c = 16, .h = 15, .w = 14, .k = 16, .strides = {2, 2}, .pads = {1, 1, 1, 1}, .group = 16},
      {.c = 8, .h = 19, .w = 23, .k = 8, .kh = 5, .kw = 5, .strides = {2, 2}, .pads = {2, 2, 2, 2}, .group = 8},
      {.c = 8, .h = 13, .w = 40, .k = 8, .kh = 5, .kw = 5, .pads = {2, 2, 2, 2}, .group = 8},
      {.c = 8, .h = 10, .w = 10, .k = 16, .pads = {1, 1, 1, 1}, .group = 8},  // multiplier 2
      {.c = 6, .h = 12, .w = 13, .k = 6, .pads = {2, 2, 2, 2}, .dilations = {2, 2}, .group = 6},
      {.c = 5, .h = 4, .w = 4, .k = 5, .pads = {1, 1, 1, 1}, .group = 5},     // all border
      {.c = 5, .h = 9, .w = 9, .k = 5, .kh = 7, .kw = 7, .pads = {3, 3, 3, 3}, .group = 5},  // generic rows
      {.c = 4, .h = 9, .w = 9, .k = 4, .strides = {3, 3}, .pads = {0, 1, 1, 0}, .group = 4},
      {.n = 2, .c = 4, .h = 7, .w = 33, .k = 4, .pads = {1, 1, 1, 1}, .group = 4, .residual = true, .act = "Clip",
       .alpha = 0.f, .beta = 0.5f},
  };
  int i = 0;
  for (const ConvCfg& c : cfgs) {
    SCOPED_TRACE(::testing::Message() << "config " << i);
    OpSpec s = convSpec(c, 300 + i++);
    EXPECT_EQ(compareWithRef(s), 2 + onednnConvTactics());  // Conv.depthwise, Conv.im2col_gemm (+ oneDNN)
  }
}

TEST(ConvTactics, GemvOnOnePixel) {
  // Squeeze-excitation shapes (C > and < the 16 lanes, with a tail), batch > 1,
  // no bias, a residual with an activation; each is compared with Conv.ref by
  // every tactic that takes it, Conv.gemv included.
  std::vector<ConvCfg> cfgs = {
      {.c = 1152, .h = 1, .w = 1, .k = 48, .kh = 1, .kw = 1, .act = "Silu"},
      {.c = 48, .h = 1, .w = 1, .k = 1152, .kh = 1, .kw = 1, .act = "Sigmoid"},
      {.c = 7, .h = 1, .w = 1, .k = 5, .kh = 1, .kw = 1},
      {.n = 3, .c = 37, .h = 1, .w = 1, .k = 19, .kh = 1, .kw = 1, .bias = false},
      {.n = 2, .c = 33, .h = 1, .w = 1, .k = 9, .kh = 1, .kw = 1, .strides = {2, 2}, .residual = true, .act = "Relu"},
  };
  int i = 0;
  for (const ConvCfg& c : cfgs) {
    SCOPED_TRACE(::testing::Message() << "config " << i);
    OpSpec s = convSpec(c, 500 + i++);
    const ir::Tensor want = runTactic(s, "Conv.ref")[0];
    EXPECT_TRUE(near(runTactic(s, "Conv.gemv")[0], want, 1e-5f, 1e-4f));
    EXPECT_GE(compareWithRef(s), 2);  // Conv.gemv and Conv.im2col_gemm at least
  }
  // Declines more than one pixel, padding, groups, a kernel larger than 1.
  ConvCfg two{.c = 4, .h = 1, .w = 2, .k = 3, .kh = 1, .kw = 1};
  ConvCfg padded{.c = 4, .h = 1, .w = 1, .k = 3, .kh = 1, .kw = 1, .pads = {1, 1, 1, 1}};
  ConvCfg grouped{.c = 4, .h = 1, .w = 1, .k = 4, .kh = 1, .kw = 1, .group = 2};
  ConvCfg kernel3{.c = 4, .h = 1, .w = 1, .k = 3, .pads = {1, 1, 1, 1}};
  for (const ConvCfg& c : {two, padded, grouped, kernel3}) {
    BuiltGraph b = buildGraph(convSpec(c, 9));
    EXPECT_FALSE(cpu::tactics().find("Conv.gemv")->supports(*b.node));
  }
}

TEST(ConvTactics, FusedResidualAndActivations) {
  const std::vector<std::pair<std::string, std::pair<float, float>>> acts = {
      {"Relu", {0.f, 0.f}},      {"LeakyRelu", {0.1f, 0.f}}, {"Sigmoid", {0.f, 0.f}}, {"Tanh", {0.f, 0.f}},
      {"Clip", {-0.5f, 0.7f}},   {"HardSigmoid", {0.2f, 0.5f}}, {"HardSwish", {0.f, 0.f}}, {"Gelu", {0.f, 0.f}},
      {"GeluTanh", {0.f, 0.f}},  {"Silu", {0.f, 0.f}}};
  int i = 0;
  for (auto& [act, ab] : acts) {
    SCOPED_TRACE(act);
    ConvCfg c{.n = 2, .c = 5, .h = 9, .w = 10, .k = 11, .pads = {1, 1, 1, 1}, .residual = true, .act = act,
              .alpha = ab.first, .beta = ab.second};
    EXPECT_GE(compareWithRef(convSpec(c, 500 + i)), 1);
    c.bias = false;
    EXPECT_GE(compareWithRef(convSpec(c, 600 + i++)), 1);
  }
}

TEST(ConvTactics, OneAndThreeSpatialDims) {
  OpSpec s1;
  s1.op = "Conv";
  s1.attrs["strides"] = std::vector<int64_t>{2};
  s1.attrs["pads"] = std::vector<int64_t>{1, 2};
  s1.inputs = {dyn(randomTensor({2, 5, 31}, 1)), cst(randomTensor({7, 5, 3}, 2)), cst(randomTensor({7}, 3))};
  EXPECT_GE(compareWithRef(s1), 1);
  OpSpec s3;
  s3.op = "Conv";
  s3.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1, 1, 1};
  s3.attrs["strides"] = std::vector<int64_t>{1, 2, 1};
  s3.inputs = {dyn(randomTensor({1, 3, 5, 6, 7}, 4)), cst(randomTensor({4, 3, 3, 3, 3}, 5))};
  EXPECT_GE(compareWithRef(s3), 1);
}

TEST(ConvTactics, KernelIsSharedAcrossThreads) {
  // Contexts share kernels: two threads running one kernel at once (own
  // pools and workspaces) must both get the single-run answer.
  OpSpec s = convSpec({.c = 16, .h = 20, .w = 20, .k = 24, .pads = {1, 1, 1, 1}}, 7);
  BuiltGraph b = buildGraph(s);
  const cpu::Tactic* t = cpu::tactics().find("Conv.im2col_gemm");
  t->prepack(*b.node, *b.graph);
  auto kernel = t->create(*b.node);
  ThreadPool p0(2);
  const auto want = runKernel(*kernel, *b.node, s.inputs, p0);
  std::vector<ir::Tensor> got[2];
  std::thread th[2];
  for (int i = 0; i < 2; ++i)
    th[i] = std::thread([&, i] {
      ThreadPool pool(2);
      for (int rep = 0; rep < 5; ++rep) got[i] = runKernel(*kernel, *b.node, s.inputs, pool);
    });
  for (auto& x : th) x.join();
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(near(got[i][0], want[0], 0.f, 0.f));
}

TEST(ConvSchema, OutputShapes) {
  auto out = [](ir::Shape x, ir::Shape w, std::map<std::string, ir::Attribute> attrs) {
    return inferShapes({"Conv", attrs, {x, w}})[0];
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(ir::toString(out({1, 3, 224, 224}, {64, 3, 7, 7}, {{"strides", V{2, 2}}, {"pads", V{3, 3, 3, 3}}})),
            "[1,64,112,112]");
  EXPECT_EQ(ir::toString(out({1, 3, 10, 11}, {4, 3, 3, 3}, {{"strides", V{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}})),
            "[1,4,5,6]");
  EXPECT_EQ(ir::toString(out({1, 3, 10, 11}, {4, 3, 3, 3}, {{"auto_pad", std::string("VALID")}})), "[1,4,8,9]");
  EXPECT_EQ(ir::toString(out({1, 3, 10, 11}, {4, 3, 3, 3}, {{"pads", V{0, 1, 2, 0}}})), "[1,4,10,10]");
  EXPECT_EQ(ir::toString(out({1, 3, 10, 11}, {4, 3, 3, 3}, {{"dilations", V{2, 3}}})), "[1,4,6,5]");
  // Symbolic batch passes through; an unknown spatial dim gives an unknown output dim.
  EXPECT_EQ(ir::toString(out({ir::Dim(std::string("batch")), 3, ir::Dim(), 32}, {8, 3, 3, 3}, {})), "[batch,8,?,30]");
  EXPECT_EQ(ir::toString(out({1, 3, 5}, {2, 3, 3}, {})), "[1,2,3]");
  EXPECT_EQ(ir::toString(out({1, 4, 5, 6, 7}, {2, 2, 3, 3, 3}, {{"group", int64_t{2}}})), "[1,2,3,4,5]");
}

TEST(ConvSchema, ErrorsNameTheNode) {
  auto infer = [](ir::Shape x, ir::Shape w, std::map<std::string, ir::Attribute> attrs, std::vector<ir::Shape> more = {}) {
    std::vector<ir::Shape> shapes = {x, w};
    for (auto& m : more) shapes.push_back(m);
    return [=] { inferShapes({"Conv", attrs, shapes}, "conv1"); };
  };
  using V = std::vector<int64_t>;
  EXPECT_TRUE(throwsWith(infer({1, 4, 8, 8}, {8, 3, 3, 3}, {}),
                         "Conv node \"conv1\": weight has 3 input channels, input has 4"));
  EXPECT_TRUE(throwsWith(infer({1, 4, 8, 8}, {8, 3, 3, 3}, {{"group", int64_t{2}}}),
                         "Conv node \"conv1\": weight has 3 input channels per group (group 2), input has 4"));
  EXPECT_TRUE(throwsWith(infer({1, 4, 8, 8}, {6, 1, 3, 3}, {{"group", int64_t{4}}}), "not a multiple of group 4"));
  EXPECT_TRUE(throwsWith(infer({1, 3, 8, 8}, {8, 3, 3, 3}, {{"pads", V{-1, 0, 0, 0}}}),
                         "Conv node \"conv1\": pad -1 must be >= 0"));
  EXPECT_TRUE(throwsWith(infer({1, 3, 8, 8}, {8, 3, 3, 3}, {{"pads", V{1, 1, 1}}}), "'pads' has 3 values, expected 4"));
  EXPECT_TRUE(throwsWith(infer({1, 3, 2, 2}, {8, 3, 5, 5}, {}), "does not fit input size 2"));
  EXPECT_TRUE(throwsWith(infer({1, 3, 8, 8}, {8, 3, 3, 3}, {{"strides", V{0, 1}}}), "stride 0 must be >= 1"));
  EXPECT_TRUE(throwsWith(infer({1, 3, 8, 8}, {8, 3, 3, 3}, {{"auto_pad", std::string("SAME")}}), "unknown auto_pad"));
  EXPECT_TRUE(throwsWith(infer({1, 3, 8, 8}, {8, 3, 3, 3}, {{"kernel_shape", V{5, 5}}}), "kernel_shape"));
  EXPECT_TRUE(throwsWith(infer({1, 3, 8, 8}, {8, 3, 3}, {}), "weight has rank 3, input has rank 4"));
  EXPECT_TRUE(throwsWith(infer({1, 3, 8, 8}, {8, 3, 3, 3}, {}, {{7}}), "bias has [7] elements, expected 8"));
  EXPECT_TRUE(throwsWith(infer({1, 3, 8, 8}, {8, 3, 3, 3}, {}, {{8}, {1, 8, 5, 6}}), "residual has shape"));
}

TEST(ConvTransposeRef, HandValues) {
  OpSpec s;
  s.op = "ConvTranspose";
  s.inputs = {dyn(floats({1, 1, 2, 2}, {1, 2, 3, 4})), cst(floats({1, 1, 2, 2}, {1, 1, 1, 1}))};
  auto y = runTactic(s, "ConvTranspose.ref");
  EXPECT_TRUE(equals(y[0], {1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4}));

  s.attrs["strides"] = std::vector<int64_t>{2, 2};
  s.inputs.push_back(cst(floats({1}, {0.5f})));
  y = runTactic(s, "ConvTranspose.ref");
  EXPECT_TRUE(equals(y[0], {1, 1, 4, 4},
                     {1.5, 1.5, 2.5, 2.5, 1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 4.5, 4.5, 3.5, 3.5, 4.5, 4.5}));

  // A fused activation applies after the bias.
  s.attrs["kiln_act"] = std::string("Clip");
  s.attrs["kiln_act_alpha"] = 2.f;
  s.attrs["kiln_act_beta"] = 4.f;
  y = runTactic(s, "ConvTranspose.ref");
  EXPECT_TRUE(equals(y[0], {1, 1, 4, 4}, {2, 2, 2.5, 2.5, 2, 2, 2.5, 2.5, 3.5, 3.5, 4, 4, 3.5, 3.5, 4, 4}));

  // output_shape beyond the full output [1, 3, 2]: the negative total pad -2
  // splits as ONNX does (floor), one extra zero on each side.
  OpSpec o;
  o.op = "ConvTranspose";
  o.attrs["output_shape"] = std::vector<int64_t>{1, 5};
  o.inputs = {dyn(floats({1, 1, 1, 2}, {1, 2})), cst(floats({1, 1, 1, 2}, {1, 1}))};
  EXPECT_TRUE(equals(runTactic(o, "ConvTranspose.ref")[0], {1, 1, 1, 5}, {0, 1, 3, 2, 0}));
  EXPECT_TRUE(equals(runTactic(o, "ConvTranspose.gemm")[0], {1, 1, 1, 5}, {0, 1, 3, 2, 0}));

  // Pads crop the full output: [1,3,2;4,10,6;3,7,4] without its border is [10].
  OpSpec p;
  p.op = "ConvTranspose";
  p.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  p.inputs = {dyn(floats({1, 1, 2, 2}, {1, 2, 3, 4})), cst(floats({1, 1, 2, 2}, {1, 1, 1, 1}))};
  y = runTactic(p, "ConvTranspose.ref");
  EXPECT_TRUE(equals(y[0], {1, 1, 1, 1}, {10}));
}

TEST(ConvTransposeRef, GroupsMatchSeparateConvolutions) {
  // A grouped ConvTranspose equals the per-group ConvTransposes side by side.
  OpSpec g;
  g.op = "ConvTranspose";
  g.attrs["group"] = int64_t{2};
  g.attrs["strides"] = std::vector<int64_t>{2, 1};
  ir::Tensor x = randomTensor({1, 4, 3, 5}, 11), w = randomTensor({4, 3, 3, 2}, 12);
  g.inputs = {dyn(x), cst(w)};
  auto whole = runTactic(g, "ConvTranspose.ref")[0];
  ASSERT_EQ(whole.dims(), (std::vector<int64_t>{1, 6, 7, 6}));
  for (int grp = 0; grp < 2; ++grp) {
    OpSpec s;
    s.op = "ConvTranspose";
    s.attrs["strides"] = std::vector<int64_t>{2, 1};
    ir::Tensor xs(DType::kFLOAT, {1, 2, 3, 5}), ws(DType::kFLOAT, {2, 3, 3, 2});
    std::memcpy(xs.mutableData(), x.as<float>() + grp * 30, 30 * sizeof(float));
    std::memcpy(ws.mutableData(), w.as<float>() + grp * 36, 36 * sizeof(float));
    s.inputs = {dyn(xs), cst(ws)};
    auto part = runTactic(s, "ConvTranspose.ref")[0];
    for (int64_t i = 0; i < 3 * 42; ++i) EXPECT_FLOAT_EQ(part.as<float>()[i], whole.as<float>()[grp * 126 + i]);
  }
}

TEST(ConvTransposeTactics, EdgeShapes) {
  using V = std::vector<int64_t>;
  struct Case {
    V x, w;
    std::map<std::string, ir::Attribute> attrs;
    bool bias;
  };
  const Case cases[] = {
      {{1, 4, 5, 5}, {4, 3, 3, 3}, {}, true},
      {{2, 8, 7, 6}, {8, 5, 4, 4}, {{"strides", V{2, 2}}, {"pads", V{1, 1, 1, 1}}}, true},
      {{1, 6, 5, 7}, {6, 2, 3, 3}, {{"group", int64_t{3}}, {"strides", V{2, 1}}, {"output_padding", V{1, 0}}}, false},
      {{1, 3, 9, 4}, {3, 4, 3, 2}, {{"dilations", V{2, 1}}, {"pads", V{0, 1, 2, 0}}}, true},
      {{1, 4, 6, 6}, {4, 2, 3, 3}, {{"strides", V{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}}, true},
      {{1, 4, 6, 6}, {4, 2, 3, 3}, {{"strides", V{2, 2}}, {"output_shape", V{13, 14}}}, true},
      {{1, 1, 3, 3}, {1, 2, 3, 3}, {{"strides", V{3, 2}}, {"output_shape", V{10, 8}}}, true},  // beyond full
      {{2, 5, 17}, {5, 3, 4}, {{"strides", V{3}}, {"kiln_act", std::string("Relu")}}, true},
      {{1, 2, 3, 4, 5}, {2, 3, 2, 3, 2}, {{"strides", V{2, 1, 2}}, {"pads", V{1, 0, 0, 0, 1, 1}}}, true},
      {{1, 3, 90, 100}, {3, 2, 2, 2}, {{"strides", V{2, 2}}}, true},  // several chunks
  };
  int seed = 900;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "case " << seed);
    OpSpec s;
    s.op = "ConvTranspose";
    s.attrs = c.attrs;
    s.inputs = {dyn(randomTensor(c.x, seed)), cst(randomTensor(c.w, seed + 1))};
    if (c.bias) s.inputs.push_back(cst(randomTensor({c.w[1]}, seed + 2)));  // cases with bias have group 1
    seed += 3;
    EXPECT_EQ(compareWithRef(s), 1);
  }
}

TEST(ConvTransposeSchema, OutputShapes) {
  using V = std::vector<int64_t>;
  auto out = [](ir::Shape x, ir::Shape w, std::map<std::string, ir::Attribute> attrs) {
    return ir::toString(inferShapes({"ConvTranspose", attrs, {x, w}})[0]);
  };
  EXPECT_EQ(out({1, 8, 5, 5}, {8, 4, 3, 3}, {{"strides", V{2, 2}}, {"pads", V{1, 1, 1, 1}}, {"output_padding", V{1, 1}}}),
            "[1,4,10,10]");
  EXPECT_EQ(out({1, 8, 5, 6}, {8, 2, 3, 3}, {{"group", int64_t{2}}, {"strides", V{2, 2}},
                                            {"auto_pad", std::string("SAME_UPPER")}}),
            "[1,4,10,12]");
  EXPECT_EQ(out({1, 8, 5, 6}, {8, 2, 3, 3}, {{"strides", V{2, 2}}, {"output_shape", V{11, 12}}}), "[1,2,11,12]");
  // An output_shape beyond the full output (ONNX's test_convtranspose_output_shape).
  EXPECT_EQ(out({1, 1, 3, 3}, {1, 2, 3, 3}, {{"strides", V{3, 2}}, {"output_shape", V{10, 8}}}), "[1,2,10,8]");
  EXPECT_TRUE(throwsWith([&] { out({1, 6, 5, 5}, {8, 2, 3, 3}, {}); }, "weight has 8 input channels, input has 6"));
}

}  // namespace
}  // namespace kiln::test
