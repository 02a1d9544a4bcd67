// KilnAttention's CPU kernels (src/backends/cpu/ops/attention.cc): the
// reference against ONNX's unfused math (MatMul, scale, Add, Softmax,
// MatMul, computed here in double), the fused tactic against the reference,
// on odd sizes, Sq != Sk, broadcast masks, rank 3 and 4, batch > 1; the
// BF16 tactic against the same math within BF16's bound (2e-2 of the output
// range, as the benchmark checks BF16 models).
#include <cmath>
#include <limits>

#include "backends/cpu/precision.h"
#include "backends/cpu/ukernels/gemm_bf16.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

struct Case {
  std::vector<int64_t> lead;  //!< leading dims (1 or 2 of them)
  int64_t sq, sk, d, dv;
  std::vector<int64_t> mask;  //!< mask dims; empty: no mask
  float scale = 0.125f;
};

std::vector<int64_t> dims(const std::vector<int64_t>& lead, int64_t a, int64_t b) {
  std::vector<int64_t> r = lead;
  r.push_back(a);
  r.push_back(b);
  return r;
}

OpSpec spec(const Case& c, uint32_t seed) {
  OpSpec s;
  s.op = "KilnAttention";
  s.attrs["scale"] = c.scale;
  s.inputs = {dyn(randomTensor(dims(c.lead, c.sq, c.d), seed, -2.f, 2.f)),
              dyn(randomTensor(dims(c.lead, c.sk, c.d), seed + 1, -2.f, 2.f)),
              dyn(randomTensor(dims(c.lead, c.sk, c.dv), seed + 2))};
  if (!c.mask.empty()) {
    ir::Tensor m = randomTensor(c.mask, seed + 3, -4.f, 0.f);
    // Some keys masked out as BERT does (-10000), never a whole row.
    float* p = m.mutableAs<float>();
    for (int64_t i = 0; i < m.numel(); i += 3) p[i] = -10000.f;
    s.inputs.push_back(dyn(std::move(m)));
  }
  return s;
}

//! softmax(scale * Q K^T + mask) V the way the unfused ONNX graph computes
//! it (float scores, then probabilities and the product in double).
ir::Tensor unfused(const Case& c, const OpSpec& s) {
  const ir::Tensor &q = s.inputs[0].value, &k = s.inputs[1].value, &v = s.inputs[2].value;
  const ir::Tensor* mask = s.inputs.size() > 3 ? &s.inputs[3].value : nullptr;
  int64_t bh = 1;
  for (int64_t x : c.lead) bh *= x;
  const int r = static_cast<int>(c.lead.size()) + 2;
  ir::Tensor y(DType::kFLOAT, dims(c.lead, c.sq, c.dv));
  std::vector<double> p(static_cast<std::size_t>(c.sk));
  for (int64_t b = 0; b < bh; ++b)
    for (int64_t i = 0; i < c.sq; ++i) {
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < c.sk; ++j) {
        double dot = 0;
        for (int64_t e = 0; e < c.d; ++e)
          dot += double(q.as<float>()[(b * c.sq + i) * c.d + e]) * k.as<float>()[(b * c.sk + j) * c.d + e];
        // The scores are float tensors in the unfused graph: with a -10000 mask
        // entry their rounding is ~1e-3, so they are rounded here as there.
        float sc = static_cast<float>(dot) * c.scale;
        if (mask) {  // numpy broadcasting of the mask against [lead..., Sq, Sk]
          std::vector<int64_t> idx(r);
          int64_t bb = b;
          for (int a = r - 3; a >= 0; --a) {
            idx[a] = bb % c.lead[a];
            bb /= c.lead[a];
          }
          idx[r - 2] = i;
          idx[r - 1] = j;
          const std::vector<int64_t>& md = mask->dims();
          int64_t off = 0;
          for (std::size_t a = 0; a < md.size(); ++a)
            off = off * md[a] + (md[a] == 1 ? 0 : idx[r - md.size() + a]);
          sc += mask->as<float>()[off];
        }
        p[j] = sc;
        mx = std::max(mx, static_cast<double>(sc));
      }
      double total = 0;
      for (double& x : p) total += (x = std::exp(x - mx));
      for (int64_t e = 0; e < c.dv; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < c.sk; ++j) acc += p[j] / total * v.as<float>()[(b * c.sk + j) * c.dv + e];
        y.mutableAs<float>()[(b * c.sq + i) * c.dv + e] = static_cast<float>(acc);
      }
    }
  return y;
}

const Case kCases[] = {
    {{1, 12}, 197, 197, 64, 64, {}},                 // ViT-B/16's heads
    {{2, 3}, 128, 128, 64, 64, {2, 1, 1, 128}},      // BERT's, batch 2 with a padding mask
    {{2, 2}, 13, 29, 80, 80, {2, 1, 1, 29}},         // Sq != Sk, D = 80
    {{1, 2}, 50, 7, 80, 48, {50, 7}},                // rank-2 mask, Dv != D
    {{3}, 17, 19, 13, 5, {17, 1}},                   // rank 3, odd D and Dv, a per-row mask
    {{5}, 1, 1, 1, 1, {1}},                          // one of everything, a scalar mask
    {{2}, 61, 33, 33, 31, {2, 61, 33}},              // a full mask, sizes past tiles
    {{2, 3}, 7, 40, 24, 16, {2, 3, 7, 40}},          // rank-4 full mask
    {{1, 3}, 6, 97, 64, 64, {3, 1, 97}, 1.f},        // head-wise mask, scale 1
};

TEST(KilnAttentionRef, MatchesTheUnfusedMath) {
  uint32_t seed = 1;
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "Sq " << c.sq << " Sk " << c.sk << " D " << c.d << " Dv " << c.dv);
    OpSpec s = spec(c, seed += 7);
    EXPECT_TRUE(near(runTactic(s, "KilnAttention.ref")[0], unfused(c, s), 2e-5f, 2e-5f));
  }
}

TEST(KilnAttentionFused, MatchesTheReference) {
  uint32_t seed = 100;
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "Sq " << c.sq << " Sk " << c.sk << " D " << c.d << " Dv " << c.dv);
    OpSpec s = spec(c, seed += 7);
    EXPECT_EQ(compareWithRef(s, 2e-5f, 2e-5f), 1);
    EXPECT_TRUE(near(runTactic(s, "KilnAttention.fused")[0], unfused(c, s), 2e-5f, 2e-5f));
  }
}

TEST(KilnAttentionFused, AnyThreadCount) {
  // Scratch slots per running thread: 1, 3 and 8 threads give the same result.
  const Case c = {{2, 3}, 45, 31, 16, 24, {2, 1, 1, 31}};
  OpSpec s = spec(c, 7);
  const ir::Tensor want = runTactic(s, "KilnAttention.ref")[0];
  for (int threads : {1, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_TRUE(near(runTactic(s, "KilnAttention.fused", pool)[0], want, 2e-5f, 2e-5f)) << threads;
  }
}

//! A fused kernel made while the shapes were symbolic has no workspace: it
//! runs the reference loops rather than write past it.
void checkMadeWithUnknownShapes(const Case& c, const OpSpec& s, const char* tactic) {
  BuiltGraph b = buildGraph(s);
  std::vector<ir::Shape> known;
  for (ir::Value* v : b.node->inputs) {
    known.push_back(v->shape);
    v->shape[0] = ir::Dim(std::string("batch"));
  }
  auto kernel = cpu::tactics().find(tactic)->create(*b.node);
  for (std::size_t i = 0; i < known.size(); ++i) b.node->inputs[i]->shape = known[i];
  EXPECT_EQ(kernel->workspaceBytes(), 0u);
  ThreadPool pool(2);
  EXPECT_TRUE(near(runKernel(*kernel, *b.node, s.inputs, pool)[0], unfused(c, s), 2e-5f, 2e-5f));
}

TEST(KilnAttentionFused, ShapesUnknownAtCreateStillRun) {
  const Case c = {{2}, 9, 11, 8, 8, {2, 9, 11}};
  checkMadeWithUnknownShapes(c, spec(c, 3), "KilnAttention.fused");
}

TEST(KilnAttentionFused, ZeroKeysGiveZeros) {
  const Case c = {{2}, 3, 0, 4, 5, {}};
  OpSpec s = spec(c, 9);
  for (const char* t : {"KilnAttention.ref", "KilnAttention.fused"})
    EXPECT_TRUE(equals(runTactic(s, t)[0], {2, 3, 5}, std::vector<float>(30, 0.f))) << t;
}

TEST(KilnAttentionFused, BadShapesNameTheNode) {
  // The kernel checks its views itself (a plan's shapes can be wrong at run time).
  const Case c = {{2}, 4, 6, 8, 8, {2, 1, 6}};
  OpSpec s = spec(c, 5);
  BuiltGraph b = buildGraph(s);
  auto kernel = cpu::tactics().find("KilnAttention.fused")->create(*b.node);
  std::vector<OpInput> bad = s.inputs;
  bad[3] = dyn(randomTensor({2, 1, 5}, 1));  // 5 keys in the mask, 6 in K
  ThreadPool pool(2);
  EXPECT_TRUE(throwsWith([&] { runKernel(*kernel, *b.node, bad, pool); }, "does not broadcast to the scores"));
  EXPECT_TRUE(throwsWith([&] { runKernel(*kernel, *b.node, bad, pool); }, "KilnAttention node \"node0\""));
}

// ---- KilnAttention.fused_bf16 ----------------------------------------------

#define SKIP_WITHOUT_BF16() \
  if (!cpu::gemmbf16::hostSupportsBF16()) GTEST_SKIP() << "this CPU has no AVX512_BF16"

OpSpec bf16Spec(const Case& c, uint32_t seed) {
  OpSpec s = spec(c, seed);
  s.attrs[cpu::kBF16Attr] = int64_t{1};  // what builder/cpu_precision.h marks under kBF16
  return s;
}

//! max |got - want| <= 2e-2 x want's range, and not exactly FP32's result
//! (the tactic did compute in BF16).
::testing::AssertionResult withinBf16(const ir::Tensor& got, const ir::Tensor& want) {
  const float* g = got.as<float>();
  const float* w = want.as<float>();
  float lo = w[0], hi = w[0], worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) lo = std::min(lo, w[i]), hi = std::max(hi, w[i]);
  for (int64_t i = 0; i < want.numel(); ++i) {
    const float e = std::fabs(g[i] - w[i]);
    if (!(e <= 2e-2f * std::max(hi - lo, 1e-3f)))
      return ::testing::AssertionFailure() << "element " << i << ": " << g[i] << " vs " << w[i] << " (range "
                                           << hi - lo << ")";
    worst = std::max(worst, e);
  }
  return ::testing::AssertionSuccess() << "worst error " << worst << " of range " << hi - lo;
}

TEST(KilnAttentionFusedBf16, WithinBf16OfTheUnfusedMath) {
  SKIP_WITHOUT_BF16();
  uint32_t seed = 300;
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "Sq " << c.sq << " Sk " << c.sk << " D " << c.d << " Dv " << c.dv);
    OpSpec s = bf16Spec(c, seed += 7);
    EXPECT_TRUE(withinBf16(runTactic(s, "KilnAttention.fused_bf16")[0], unfused(c, s)));
  }
}

TEST(KilnAttentionFusedBf16, AnyThreadCountSameResult) {
  SKIP_WITHOUT_BF16();
  const Case c = {{2, 3}, 45, 31, 16, 24, {2, 1, 1, 31}};
  OpSpec s = bf16Spec(c, 7);
  ThreadPool one(1);
  const ir::Tensor want = runTactic(s, "KilnAttention.fused_bf16", one)[0];
  EXPECT_TRUE(withinBf16(want, unfused(c, s)));
  for (int threads : {3, 8}) {  // the same blocks, in any order: bit-identical
    ThreadPool pool(threads);
    EXPECT_TRUE(near(runTactic(s, "KilnAttention.fused_bf16", pool)[0], want, 0.f, 0.f)) << threads;
  }
}

TEST(KilnAttentionFusedBf16, OnlyLayersMarkedBf16) {
  const Case c = {{2}, 4, 6, 8, 8, {}};
  const cpu::Tactic* t = cpu::tactics().find("KilnAttention.fused_bf16");
  ASSERT_NE(t, nullptr);
  BuiltGraph fp32 = buildGraph(spec(c, 1));
  EXPECT_FALSE(t->supports(*fp32.node));
  BuiltGraph marked = buildGraph(bf16Spec(c, 1));
  EXPECT_EQ(t->supports(*marked.node), cpu::gemmbf16::hostSupportsBF16());
  // A plan carrying the tactic, loaded on a CPU without AVX512_BF16, fails to make the kernel by name.
  if (!cpu::gemmbf16::hostSupportsBF16())
    EXPECT_TRUE(throwsWith([&] { t->create(*marked.node); }, "needs AVX512_BF16"));
}

TEST(KilnAttentionFusedBf16, ZeroKeysAndUnknownShapes) {
  SKIP_WITHOUT_BF16();
  OpSpec empty = bf16Spec({{2}, 3, 0, 4, 5, {}}, 9);
  EXPECT_TRUE(equals(runTactic(empty, "KilnAttention.fused_bf16")[0], {2, 3, 5}, std::vector<float>(30, 0.f)));
  const Case c = {{2}, 9, 11, 8, 8, {2, 9, 11}};
  checkMadeWithUnknownShapes(c, bf16Spec(c, 3), "KilnAttention.fused_bf16");
}

}  // namespace
}  // namespace kiln::test
