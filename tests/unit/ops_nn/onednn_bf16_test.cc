// The BF16 oneDNN tactics (Conv.onednn_bf16, MatMul.onednn_bf16,
// Gemm.onednn_bf16) against the FP32 reference kernels.
//
// BF16 tolerance: weights and inputs are rounded to bf16 (8 significant bits,
// relative error <= 2^-9 each), products are accumulated in f32. For the
// random operands here (uniform in [-1, 1)) the error of a K-term dot product
// grows like sqrt(K) * 2^-8, as does the output's spread, so the bound is set
// relative to the output range: max |got - want| <= 2e-2 * (max(want) -
// min(want)), the same bound the engine and benchmark checks use. (The FP32
// oneDNN tests hold 1e-4.) Skipped where oneDNN does not run BF16 natively.
#include <array>

#include "backends/cpu/ops/onednn_util.h"
#include "backends/cpu/precision.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

#define SKIP_WITHOUT_NATIVE_BF16() \
  if (!cpu::hostSupportsBF16Tactics()) GTEST_SKIP() << "this CPU / build has no native BF16 oneDNN"

void allowBF16(OpSpec& s) { s.attrs[cpu::kBF16Attr] = int64_t{1}; }

// The BF16 tactic supports the node, packs bf16 weights, and matches the reference.
void expectBF16MatchesRef(OpSpec s, const std::string& tactic) {
  SCOPED_TRACE(tactic);
  allowBF16(s);
  BuiltGraph b = buildGraph(s);
  const cpu::Tactic* t = cpu::tactics().find(tactic);
  ASSERT_TRUE(t && cpu::isBF16Tactic(*t));
  ASSERT_TRUE(t->supports(*b.node)) << tactic << " declines " << b.node->describe();
  t->prepack(*b.node, *b.graph);
  EXPECT_EQ(b.node->inputs[1]->dtype, DType::kBF16) << "the plan keeps the weights in bf16";
  EXPECT_TRUE(b.node->s("kiln_packed", "").ends_with("_bf16"));
  const auto want = runTactic(s, s.op + ".ref");
  const auto got = runTactic(s, tactic);
  EXPECT_TRUE(withinRange(got[0], want[0]));
}

struct Conv {
  std::vector<int64_t> x, w;
  std::map<std::string, ir::Attribute> attrs;
  bool bias = true, residual = false;
};

OpSpec convSpec(const Conv& c, uint32_t seed) {
  OpSpec s;
  s.op = "Conv";
  s.attrs = c.attrs;
  s.inputs = {dyn(randomTensor(c.x, seed)), cst(randomTensor(c.w, seed + 1))};
  if (c.bias || c.residual) s.inputs.push_back(c.bias ? cst(randomTensor({c.w[0]}, seed + 2)) : none());
  if (c.residual) {
    BuiltGraph b = buildGraph(s);
    s.inputs.push_back(dyn(randomTensor(ir::staticDims(b.node->outputs[0]->shape), seed + 3)));
  }
  return s;
}

TEST(OnednnBF16Conv, EdgeShapes) {
  SKIP_WITHOUT_NATIVE_BF16();
  using V = std::vector<int64_t>;
  const std::vector<Conv> cases = {
      {{1, 3, 11, 13}, {7, 3, 3, 3}, {{"pads", V{1, 1, 1, 1}}}},                                  // odd channels
      {{1, 3, 23, 29}, {10, 3, 7, 7}, {{"strides", V{2, 2}}, {"pads", V{3, 3, 3, 3}}}},          // stem
      {{1, 8, 5, 7}, {16, 8, 1, 1}, {}},                                                          // 1x1
      {{1, 8, 9, 9}, {5, 8, 1, 1}, {{"strides", V{2, 2}}}},                                       // 1x1 stride 2
      {{1, 8, 10, 9}, {12, 2, 3, 3}, {{"pads", V{1, 1, 1, 1}}, {"group", int64_t{4}}}},            // groups
      {{1, 16, 15, 14}, {16, 1, 3, 3}, {{"strides", V{2, 2}}, {"pads", V{1, 1, 1, 1}}, {"group", int64_t{16}}}},
      {{1, 4, 12, 11}, {6, 4, 3, 3}, {{"pads", V{2, 2, 2, 2}}, {"dilations", V{2, 2}}}},           // dilation
      {{1, 4, 9, 10}, {5, 4, 3, 3}, {{"pads", V{0, 1, 2, 0}}}},                                    // asymmetric pads
      {{3, 6, 10, 10}, {9, 6, 3, 3}, {{"pads", V{1, 1, 1, 1}}}},                                  // batch 3
      {{2, 64, 14, 15}, {100, 64, 3, 3}, {{"pads", V{1, 1, 1, 1}}}},                              // K*C large, batch 2
      {{1, 3, 6, 6}, {1, 3, 3, 3}, {}, false},                                                    // K = 1, no bias
      {{2, 5, 31}, {7, 5, 3}, {{"strides", V{2}}, {"pads", V{1, 2}}}},                             // 1-D
  };
  int i = 0;
  for (const Conv& c : cases) {
    SCOPED_TRACE(::testing::Message() << "case " << i);
    expectBF16MatchesRef(convSpec(c, 300 + 10 * i), "Conv.onednn_bf16");
    ++i;
  }
}

TEST(OnednnBF16Conv, FusedResidualAndActivations) {
  SKIP_WITHOUT_NATIVE_BF16();
  using V = std::vector<int64_t>;
  int i = 0;
  for (const char* act : {"", "Relu", "Silu", "Gelu", "HardSwish"})
    for (bool bias : {true, false}) {
      SCOPED_TRACE(::testing::Message() << act << (bias ? " bias" : ""));
      Conv c{{2, 24, 9, 10}, {32, 24, 3, 3}, {{"pads", V{1, 1, 1, 1}}}, bias, true};
      if (*act) c.attrs["kiln_act"] = std::string(act);
      expectBF16MatchesRef(convSpec(c, 700 + 10 * i), "Conv.onednn_bf16");
      ++i;
    }
}

OpSpec matmul(std::vector<int64_t> a, std::vector<int64_t> b, bool constB, uint32_t seed, bool bias = false,
              std::string act = "") {
  OpSpec s;
  s.op = "MatMul";
  s.inputs = {dyn(randomTensor(a, seed)), constB ? cst(randomTensor(b, seed + 1)) : dyn(randomTensor(b, seed + 1))};
  if (bias) s.inputs.push_back(cst(randomTensor({b.back()}, seed + 2)));
  if (!act.empty()) s.attrs["kiln_act"] = act;
  return s;
}

TEST(OnednnBF16MatMul, OddBroadcastAndBatchedShapes) {
  SKIP_WITHOUT_NATIVE_BF16();
  struct Case {
    std::vector<int64_t> a, b;
  };
  const Case cases[] = {
      {{7, 1}, {1, 9}},    {{13, 37}, {37, 21}},  {{1, 512}, {512, 1000}}, {{2, 3, 5, 7}, {7, 4}},
      {{3, 4, 9}, {9}},    {{9}, {9, 20}},        {{2, 128, 768}, {768, 67}}, {{5, 1, 33}, {33, 130}},
  };
  int seed = 40;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << ir::toString(c.a) << " x " << ir::toString(c.b));
    expectBF16MatchesRef(matmul(c.a, c.b, true, seed++), "MatMul.onednn_bf16");
  }
  expectBF16MatchesRef(matmul({3, 17, 40}, {40, 33}, true, 1, true, "Gelu"), "MatMul.onednn_bf16");
  expectBF16MatchesRef(matmul({1, 128, 96}, {96, 130}, true, 4, true, "Silu"), "MatMul.onednn_bf16");
  // torch MHA's [S, 1, E] in-projection with its bias: A's rows folded into one GEMM.
  expectBF16MatchesRef(matmul({37, 1, 64}, {64, 192}, true, 5, true), "MatMul.onednn_bf16");
}

TEST(OnednnBF16Gemm, TransposesAndBiasShapes) {
  SKIP_WITHOUT_NATIVE_BF16();
  int seed = 90;
  const int64_t M = 13, K = 37, N = 21;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int cshape = 0; cshape < 4; ++cshape) {
        OpSpec s;
        s.op = "Gemm";
        s.attrs = {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}, {"kiln_act", std::string("Relu")}};
        ir::Tensor a = randomTensor(ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K}, seed++);
        ir::Tensor b = randomTensor(tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N}, seed++);
        s.inputs = {dyn(a), cst(b)};
        const std::vector<int64_t> cdims[] = {{N}, {M, 1}, {M, N}};
        if (cshape < 3) s.inputs.push_back(cst(randomTensor(cdims[cshape], seed++)));
        SCOPED_TRACE(::testing::Message() << "transA " << ta << " transB " << tb << " C " << cshape);
        expectBF16MatchesRef(s, "Gemm.onednn_bf16");
      }
}

TEST(OnednnBF16, OfferedOnlyWhereTheBuilderAllowsIt) {
  SKIP_WITHOUT_NATIVE_BF16();
  using V = std::vector<int64_t>;
  OpSpec conv = convSpec({{1, 8, 9, 9}, {8, 8, 3, 3}, {{"pads", V{1, 1, 1, 1}}}}, 1);
  OpSpec mm = matmul({4, 16}, {16, 8}, true, 2);
  OpSpec runtimeB = matmul({4, 16}, {16, 8}, false, 3);
  for (OpSpec* s : {&conv, &mm, &runtimeB}) {
    const std::string tactic = s->op + ".onednn_bf16";
    EXPECT_FALSE(cpu::tactics().find(tactic)->supports(*buildGraph(*s).node)) << tactic << " without kiln_cpu_bf16";
    EXPECT_TRUE(cpu::tactics().find(s->op + ".onednn")->supports(*buildGraph(*s).node));
    allowBF16(*s);
  }
  EXPECT_TRUE(cpu::tactics().find("Conv.onednn_bf16")->supports(*buildGraph(conv).node));
  EXPECT_TRUE(cpu::tactics().find("MatMul.onednn_bf16")->supports(*buildGraph(mm).node));
  // A B computed at run time (attention) stays FP32: the BF16 matmul converts only A per run.
  EXPECT_FALSE(cpu::tactics().find("MatMul.onednn_bf16")->supports(*buildGraph(runtimeB).node));
  // FP32 and BF16 packed weights are not interchangeable.
  BuiltGraph b = buildGraph(conv);
  cpu::tactics().find("Conv.onednn_bf16")->prepack(*b.node, *b.graph);
  EXPECT_FALSE(cpu::tactics().find("Conv.onednn")->supports(*b.node));
  EXPECT_TRUE(throwsWith([&] { cpu::tactics().find("Conv.onednn")->create(*b.node); }, "_bf16"));
}

// x -> conv0 -> a; conv1(a) -> b; conv2(b, residual a) -> y (the graph's
// output), each 3x3 + bias + Relu, 32 channels at 12x11: a chain of blocked
// values (a, b) whose precision each test picks per layer.
struct ThreeConvs {
  ir::Graph g;
  ir::Node* conv[3] = {};
  ir::Tensor x = randomTensor({1, 16, 12, 11}, 1);
};

void makeThreeConvs(ThreeConvs& c) {
  using V = std::vector<int64_t>;
  ir::Graph& g = c.g;
  ir::Value* x = g.addValue("x", DType::kFLOAT, ir::shapeOf(c.x.dims()));
  g.inputs.push_back(x);
  ir::Value* vals[4] = {x, g.addValue("a"), g.addValue("b"), g.addValue("y")};
  for (int i = 0; i < 3; ++i) {
    std::vector<ir::Value*> in = {vals[i], g.addConstant("w" + std::to_string(i), randomTensor({32, i ? 32 : 16, 3, 3}, 10 + i)),
                                  g.addConstant("b" + std::to_string(i), randomTensor({32}, 20 + i))};
    if (i == 2) in.push_back(vals[1]);
    c.conv[i] = g.addNode("Conv", "conv" + std::to_string(i), in, {vals[i + 1]});
    c.conv[i]->attrs["pads"] = V{1, 1, 1, 1};
    c.conv[i]->attrs["kiln_act"] = std::string("Relu");
    ir::inferNode(*c.conv[i]);
  }
  g.outputs.push_back(vals[3]);
}

// Chooses tactic `tactics[i]` for conv i (BF16 ones allowed in BF16), then the layouts.
void chooseTactics(ThreeConvs& c, const std::array<const char*, 3>& tactics) {
  for (int i = 0; i < 3; ++i)
    if (std::string(tactics[i]).ends_with("_bf16")) c.conv[i]->attrs[cpu::kBF16Attr] = int64_t{1};
  cpu::proposeLayouts(c.g);
  for (int i = 0; i < 3; ++i) {
    c.conv[i]->tactic = tactics[i];
    cpu::tactics().find(tactics[i])->prepack(*c.conv[i], c.g);
  }
  cpu::chooseLayouts(c.g);
}

// Runs the graph node by node (each node with its tactic, or Conv.ref); the
// chained values are opaque, so only the output is returned.
ir::Tensor runThreeConvs(ir::Graph& graph, const ir::Tensor& x, bool ref) {
  return runNodes(graph.nodeList(), graph.inputs[0], x, graph.outputs[0], ref ? "Conv.ref" : "");
}

// conv0 (FP32) -> a; conv1 (BF16)(a) -> b; conv2 (FP32)(b, residual a) -> y:
// the blocked FP32 layout still passes between them; the BF16 layer converts
// its blocked input in the reorder it does anyway, and no value is bf16
// (every one has an FP32 end).
TEST(OnednnBF16, ChainsThroughABF16ConvolutionKeepTheBlockedLayout) {
  SKIP_WITHOUT_NATIVE_BF16();
  ThreeConvs c;
  makeThreeConvs(c);
  auto reference = c.g.clone();
  chooseTactics(c, {"Conv.onednn", "Conv.onednn_bf16", "Conv.onednn"});
  ir::Node** conv = c.conv;
  EXPECT_TRUE(conv[0]->has(cpu::kDstTagAttr));
  EXPECT_TRUE(conv[1]->has(cpu::kSrcTagAttr) && conv[1]->has(cpu::kDstTagAttr));
  EXPECT_TRUE(conv[2]->has(cpu::kSrcTagAttr) && conv[2]->has(cpu::kResTagAttr));
  for (ir::Node* n : c.conv)
    for (const char* a : {cpu::kSrcBF16Attr, cpu::kDstBF16Attr, cpu::kResBF16Attr})
      EXPECT_FALSE(n->has(a)) << n->name << " " << a;
  EXPECT_TRUE(withinRange(runThreeConvs(c.g, c.x, false), runThreeConvs(*reference, c.x, true)));
}

// All three BF16: a and b pass in bf16 (conv2 reads a as its residual in
// bf16 too); y, the graph's output, stays FP32 and matches the FP32 reference.
TEST(OnednnBF16, ChainsOfBF16ConvolutionsPassBF16) {
  SKIP_WITHOUT_NATIVE_BF16();
  ThreeConvs c;
  makeThreeConvs(c);
  auto reference = c.g.clone();
  chooseTactics(c, {"Conv.onednn_bf16", "Conv.onednn_bf16", "Conv.onednn_bf16"});
  ir::Node** conv = c.conv;
  EXPECT_TRUE(conv[0]->has(cpu::kDstBF16Attr));
  EXPECT_TRUE(conv[1]->has(cpu::kSrcBF16Attr) && conv[1]->has(cpu::kDstBF16Attr));
  EXPECT_TRUE(conv[2]->has(cpu::kSrcBF16Attr) && conv[2]->has(cpu::kResBF16Attr));
  EXPECT_FALSE(conv[2]->has(cpu::kDstBF16Attr) || conv[2]->has(cpu::kDstTagAttr)) << "y is the graph's output";
  EXPECT_FALSE(conv[0]->has(cpu::kSrcBF16Attr)) << "x is the graph's input";
  const ir::Tensor want = runThreeConvs(*reference, c.x, true);
  EXPECT_TRUE(withinRange(runThreeConvs(c.g, c.x, false), want));

  // conv2 in FP32: b, its input, goes back to FP32; a still passes in bf16
  // (to conv1's input and conv2's residual, which converts it).
  ThreeConvs d;
  makeThreeConvs(d);
  chooseTactics(d, {"Conv.onednn_bf16", "Conv.onednn_bf16", "Conv.onednn"});
  EXPECT_TRUE(d.conv[0]->has(cpu::kDstBF16Attr) && d.conv[1]->has(cpu::kSrcBF16Attr));
  EXPECT_TRUE(d.conv[2]->has(cpu::kResBF16Attr));
  EXPECT_FALSE(d.conv[1]->has(cpu::kDstBF16Attr) || d.conv[2]->has(cpu::kSrcBF16Attr));
  EXPECT_TRUE(d.conv[1]->has(cpu::kDstTagAttr)) << "b stays blocked";
  EXPECT_TRUE(withinRange(runThreeConvs(d.g, d.x, false), want));

  // A plan claiming a bf16 input for an FP32 layer is refused by name.
  d.conv[2]->attrs[cpu::kSrcBF16Attr] = int64_t{1};
  EXPECT_TRUE(throwsWith([&] { cpu::tactics().find("Conv.onednn")->create(*d.conv[2]); }, "kiln_onednn_src_bf16"));
}

// Before the choice, bf16 edges are proposed where every BF16 candidate
// (kBF16Attr) would choose BF16: a BF16 tactic is timed with them (a
// depthwise layer timed converting its FP32 input loses to FP32, where in a
// BF16 chain it wins), an FP32 one that follows the layouts is charged the
// conversion its BF16 consumers would do; the choice, not the proposal, goes
// into the plan.
TEST(OnednnBF16, ProposesBF16EdgesBetweenCandidates) {
  SKIP_WITHOUT_NATIVE_BF16();
  ThreeConvs c;
  makeThreeConvs(c);
  for (int i : {0, 1}) c.conv[i]->attrs[cpu::kBF16Attr] = int64_t{1};  // conv2 stays FP32
  cpu::proposeLayouts(c.g);
  ir::Node** conv = c.conv;
  if (!conv[0]->has(cpu::kDstTagAttr)) GTEST_SKIP() << "oneDNN keeps this chain in a padded layout here";
  // a: conv0 -> conv1 (input: a candidate), conv2 (residual: any convolution converts) -> proposed;
  // b: conv1 -> conv2's input, an FP32 layer -> not.
  EXPECT_TRUE(conv[0]->has(cpu::kDstBF16ProposedAttr));
  EXPECT_TRUE(conv[1]->has(cpu::kSrcBF16ProposedAttr) && conv[2]->has(cpu::kResBF16ProposedAttr));
  EXPECT_FALSE(conv[1]->has(cpu::kDstBF16ProposedAttr) || conv[2]->has(cpu::kSrcBF16ProposedAttr));
  for (ir::Node* n : c.conv)
    for (const char* a : {cpu::kSrcBF16Attr, cpu::kDstBF16Attr, cpu::kResBF16Attr}) EXPECT_FALSE(n->has(a));

  // The scratch copy a BF16 tactic is timed on gets the proposal as real edges; an FP32 one does not.
  ir::Node bf16 = *conv[1], fp32 = *conv[1];
  cpu::assumeProposedPrecision(bf16, *cpu::tactics().find("Conv.onednn_bf16"));
  cpu::assumeProposedPrecision(fp32, *cpu::tactics().find("Conv.onednn"));
  EXPECT_EQ(bf16.i(cpu::kSrcBF16Attr, 0), 1);
  EXPECT_FALSE(bf16.has(cpu::kDstBF16Attr));
  EXPECT_FALSE(fp32.has(cpu::kSrcBF16Attr));
  // and the kernel is made so (it reads its input as bf16).
  auto scratch = c.g.clone();
  ir::Node* n1 = scratch->nodeList()[1];
  ASSERT_EQ(n1->name, "conv1");
  cpu::assumeProposedPrecision(*n1, *cpu::tactics().find("Conv.onednn_bf16"));
  cpu::tactics().find("Conv.onednn_bf16")->prepack(*n1, *scratch);
  EXPECT_NE(cpu::tactics().find("Conv.onednn_bf16")->create(*n1), nullptr);

  // FP32 at conv0 would make conv1 convert a: charged; conv1's output has no bf16 proposal: free.
  EXPECT_GT(cpu::fp32EdgePenaltyMs(*conv[0], 2, 3), 0.0);
  EXPECT_EQ(cpu::fp32EdgePenaltyMs(*conv[1], 2, 3), 0.0);

  // After the choice no proposal is left, and the edges are the chosen ones.
  chooseTactics(c, {"Conv.onednn_bf16", "Conv.onednn_bf16", "Conv.onednn"});
  for (ir::Node* n : c.conv)
    for (const char* a : {cpu::kSrcBF16ProposedAttr, cpu::kDstBF16ProposedAttr, cpu::kResBF16ProposedAttr})
      EXPECT_FALSE(n->has(a)) << n->name << " " << a;
  EXPECT_TRUE(conv[0]->has(cpu::kDstBF16Attr) && conv[1]->has(cpu::kSrcBF16Attr));
}

}  // namespace
}  // namespace kiln::test
