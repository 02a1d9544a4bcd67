// The AVX512-FP16 GEMM (ukernels/gemm_fp16.h) against the definition, and
// its tactics (MatMul.packed_gemm_fp16, Gemm.packed_gemm_fp16,
// Conv.im2col_gemm_fp16) against the FP32 reference kernels. Skipped on CPUs without AVX512-FP16.
//
// Tolerances. Kernel: the reference is computed in double from the inputs
// rounded to fp16 as the kernel rounds them, so only the kernel's own sums
// differ: fp16 sums of at most kChunk = 64 products (relative rounding 2^-11
// per add) added in f32. Bound: |got - want| <= 2e-3 * sum_k |a_ik b_kj|
// (about 4x the typical error of a 64-term fp16 sum). Tactics: against FP32
// on unrounded inputs, 2e-2 of the output range (the BF16 bound, which FP16
// meets with room).
#include <cmath>

#include "backends/cpu/precision.h"
#include "backends/cpu/ukernels/gemm_fp16.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

namespace g16 = cpu::gemm16;

#define SKIP_WITHOUT_FP16() \
  if (!g16::hostSupportsFP16()) GTEST_SKIP() << "this CPU has no AVX512-FP16"

float roundHalf(float x) { return static_cast<float>(static_cast<_Float16>(x)); }

struct Case {
  int64_t m, n, k;
  bool transA = false;  // A read through csa = M (column-major)
  bool epilogue = false;
};

void checkCase(const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << c.m << "x" << c.n << "x" << c.k << (c.transA ? " transA" : "")
                                    << (c.epilogue ? " bias+Gelu" : ""));
  const ir::Tensor at = randomTensor({std::max<int64_t>(c.m * c.k, 1)}, seed);
  const ir::Tensor bt = randomTensor({std::max<int64_t>(c.k * c.n, 1)}, seed + 1);
  const ir::Tensor bias = randomTensor({std::max<int64_t>(c.n, 1)}, seed + 2);
  const float* a = at.as<float>();
  const float* b = bt.as<float>();
  const int64_t rsa = c.transA ? 1 : c.k, csa = c.transA ? c.m : 1;
  cpu::gemm::Epilogue ep;
  if (c.epilogue) {
    ep.colBias = bias.as<float>();
    ep.act.kind = cpu::ActKind::kGelu;
  }
  std::vector<uint32_t> ah(std::max<int64_t>(c.m * c.k, 1));
  std::vector<uint16_t> bh(std::max<int64_t>(g16::packedBSize(c.k, c.n), 1));
  ThreadPool pool(2);
  g16::convertA(pool, a, rsa, csa, c.m, c.k, ah.data());
  g16::packB(b, c.n, 1, c.k, c.n, bh.data());
  const int64_t ldc = c.n + 3;  // C with a row stride of its own
  std::vector<float> got(std::max<int64_t>(c.m * ldc, 1), NAN);
  g16::run(pool, c.m, c.n, c.k, ah.data(), bh.data(), got.data(), ldc, ep);
  int bad = 0;
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      double acc = 0, mag = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        const double p = double(roundHalf(a[i * rsa + kk * csa])) * roundHalf(b[kk * c.n + j]);
        acc += p;
        mag += std::fabs(p);
      }
      float want = static_cast<float>(acc);
      float tol = 2e-3f * static_cast<float>(mag) + 1e-6f;
      if (c.epilogue) {  // Gelu's slope is within [-0.17, 1.13]
        want = cpu::applyActivation(ep.act, want + ep.colBias[j]);
        tol *= 1.2f;
      }
      const float g = got[i * ldc + j];
      if (!(std::fabs(g - want) <= tol) && bad++ < 5)
        ADD_FAILURE() << "C(" << i << ", " << j << ") = " << g << ", want " << want << " +- " << tol;
    }
  EXPECT_EQ(bad, 0);
}

TEST(GemmFP16, MatchesTheDefinitionOnEdgeShapes) {
  SKIP_WITHOUT_FP16();
  const Case cases[] = {
      {1, 1, 1},         {7, 13, 5},          {12, 64, 64},        {13, 65, 65},        {11, 63, 129},
      {25, 130, 257},    {128, 67, 768},      {197, 200, 3072},    {5, 7, 0},           {0, 5, 7},
      {3, 100, 40, true}, {30, 96, 300, true}, {17, 70, 90, false, true}, {128, 192, 768, false, true},
  };
  uint32_t seed = 1;
  for (const Case& c : cases) checkCase(c, seed += 10);
}

void allowFP16(OpSpec& s) { s.attrs[cpu::kFP16Attr] = int64_t{1}; }

// The FP16 tactic supports the marked node, packs fp16 weights, and matches the FP32 reference.
void expectFP16MatchesRef(OpSpec s) {
  const std::string tactic = s.op + ".packed_gemm_fp16";
  SCOPED_TRACE(tactic);
  const cpu::Tactic* t = cpu::tactics().find(tactic);
  ASSERT_TRUE(t && cpu::isFP16Tactic(*t));
  EXPECT_FALSE(t->supports(*buildGraph(s).node)) << "unmarked layers stay FP32";
  allowFP16(s);
  BuiltGraph b = buildGraph(s);
  ASSERT_TRUE(t->supports(*b.node)) << b.node->describe();
  t->prepack(*b.node, *b.graph);
  EXPECT_EQ(b.node->inputs[1]->dtype, DType::kHALF) << "the plan keeps the weights in fp16";
  const auto want = runTactic(s, s.op + ".ref");
  const auto got = runTactic(s, tactic);
  EXPECT_TRUE(withinRange(got[0], want[0]));
}

OpSpec matmul(std::vector<int64_t> a, std::vector<int64_t> b, uint32_t seed, bool bias = false, std::string act = "") {
  OpSpec s;
  s.op = "MatMul";
  s.inputs = {dyn(randomTensor(a, seed)), cst(randomTensor(b, seed + 1))};
  if (bias) s.inputs.push_back(cst(randomTensor({b.back()}, seed + 2)));
  if (!act.empty()) s.attrs["kiln_act"] = act;
  return s;
}

TEST(GemmFP16Tactics, MatMulBatchesBiasAndActivations) {
  SKIP_WITHOUT_FP16();
  expectFP16MatchesRef(matmul({7, 1}, {1, 9}, 1));
  expectFP16MatchesRef(matmul({13, 37}, {37, 21}, 3));
  expectFP16MatchesRef(matmul({2, 3, 5, 70}, {70, 65}, 5));           // batch dims fold into rows
  expectFP16MatchesRef(matmul({1, 128, 768}, {768, 130}, 7, true, "Gelu"));
  expectFP16MatchesRef(matmul({1, 197, 300}, {300, 64}, 9, true, "Relu"));
  expectFP16MatchesRef(matmul({3, 40}, {40, 33}, 11, true));
}

TEST(GemmFP16Tactics, GemmTransposesAlphaBetaAndC) {
  SKIP_WITHOUT_FP16();
  const int64_t M = 13, K = 37, N = 70;
  uint32_t seed = 50;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int cshape = 0; cshape < 5; ++cshape) {
        OpSpec s;
        s.op = "Gemm";
        s.attrs = {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}, {"alpha", 0.75f}, {"beta", 1.5f},
                   {"kiln_act", std::string("Relu")}};
        s.inputs = {dyn(randomTensor(ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K}, seed++)),
                    cst(randomTensor(tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N}, seed++))};
        const std::vector<int64_t> cdims[] = {{N}, {M, 1}, {M, N}, {1}};
        if (cshape < 4) s.inputs.push_back(cst(randomTensor(cdims[cshape], seed++)));
        SCOPED_TRACE(::testing::Message() << "transA " << ta << " transB " << tb << " C " << cshape);
        expectFP16MatchesRef(s);
      }
}

TEST(GemmFP16Tactics, DeclinedOrRefused) {
  SKIP_WITHOUT_FP16();
  const cpu::Tactic* t = cpu::tactics().find("MatMul.packed_gemm_fp16");
  // A B computed at run time (attention's Q K^T) stays FP32.
  OpSpec runtimeB = matmul({4, 16}, {16, 8}, 1);
  runtimeB.inputs[1].constant = false;
  allowFP16(runtimeB);
  EXPECT_FALSE(t->supports(*buildGraph(runtimeB).node));
  // FP32-packed weights are not FP16 ones, and the other way round.
  OpSpec s = matmul({4, 16}, {16, 8}, 2);
  allowFP16(s);
  BuiltGraph b = buildGraph(s);
  cpu::tactics().find("MatMul.packed_gemm")->prepack(*b.node, *b.graph);
  EXPECT_FALSE(t->supports(*b.node));
  EXPECT_TRUE(throwsWith([&] { t->create(*b.node); }, "gemm16_b_nr64"));
  BuiltGraph c = buildGraph(s);
  t->prepack(*c.node, *c.graph);
  EXPECT_FALSE(cpu::tactics().find("MatMul.packed_gemm")->supports(*c.node));
}

struct ConvCase {
  std::vector<int64_t> x, w;
  std::map<std::string, ir::Attribute> attrs;
  bool bias = true, residual = false;
  std::string act;
};

TEST(GemmFP16Tactics, ConvEdgeShapes) {
  SKIP_WITHOUT_FP16();
  using V = std::vector<int64_t>;
  const ConvCase cases[] = {
      {{1, 8, 5, 7}, {16, 8, 1, 1}, {}},                                                   // 1x1: the input is B
      {{1, 64, 14, 15}, {70, 64, 1, 1}, {}, true, true, "Relu"},                          // 1x1 + residual
      {{1, 8, 9, 9}, {5, 8, 1, 1}, {{"strides", V{2, 2}}}},                               // 1x1 stride 2: im2col
      {{1, 3, 23, 29}, {10, 3, 7, 7}, {{"strides", V{2, 2}}, {"pads", V{3, 3, 3, 3}}}},  // stem
      {{2, 16, 12, 11}, {24, 16, 3, 3}, {{"pads", V{1, 1, 1, 1}}}, true, true, "Silu"},  // batch 2, residual
      {{1, 8, 10, 9}, {12, 2, 3, 3}, {{"pads", V{1, 1, 1, 1}}, {"group", int64_t{4}}}},  // groups
      {{1, 4, 12, 11}, {6, 4, 3, 3}, {{"pads", V{2, 2, 2, 2}}, {"dilations", V{2, 2}}}}, // dilation
      {{1, 4, 9, 10}, {5, 4, 3, 3}, {{"pads", V{0, 1, 2, 0}}}, false},                   // asymmetric pads, no bias
      {{2, 5, 31}, {7, 5, 3}, {{"strides", V{2}}, {"pads", V{1, 2}}}},                    // 1-D
      {{1, 32, 40, 40}, {48, 32, 3, 3}, {{"pads", V{1, 1, 1, 1}}}},                      // 1600 positions: chunks
  };
  uint32_t seed = 400;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "x " << ir::toString(c.x) << " w " << ir::toString(c.w));
    OpSpec s;
    s.op = "Conv";
    s.attrs = c.attrs;
    if (!c.act.empty()) s.attrs["kiln_act"] = c.act;
    s.inputs = {dyn(randomTensor(c.x, seed)), cst(randomTensor(c.w, seed + 1))};
    if (c.bias || c.residual) s.inputs.push_back(c.bias ? cst(randomTensor({c.w[0]}, seed + 2)) : none());
    if (c.residual)
      s.inputs.push_back(dyn(randomTensor(ir::staticDims(buildGraph(s).node->outputs[0]->shape), seed + 3)));
    seed += 10;
    const cpu::Tactic* t = cpu::tactics().find("Conv.im2col_gemm_fp16");
    ASSERT_TRUE(t && cpu::isFP16Tactic(*t));
    EXPECT_FALSE(t->supports(*buildGraph(s).node)) << "unmarked layers stay FP32";
    allowFP16(s);
    BuiltGraph b = buildGraph(s);
    ASSERT_TRUE(t->supports(*b.node));
    t->prepack(*b.node, *b.graph);
    EXPECT_EQ(b.node->inputs[1]->dtype, DType::kHALF);
    EXPECT_TRUE(withinRange(runTactic(s, "Conv.im2col_gemm_fp16")[0], runTactic(s, "Conv.ref")[0]));
  }
  // Depthwise convs are left to Conv.depthwise.
  OpSpec dw;
  dw.op = "Conv";
  dw.attrs = {{"group", int64_t{16}}, {"pads", V{1, 1, 1, 1}}};
  dw.inputs = {dyn(randomTensor({1, 16, 8, 8}, 1)), cst(randomTensor({16, 1, 3, 3}, 2))};
  allowFP16(dw);
  EXPECT_FALSE(cpu::tactics().find("Conv.im2col_gemm_fp16")->supports(*buildGraph(dw).node));
}

}  // namespace
}  // namespace kiln::test
