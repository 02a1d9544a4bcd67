// KilnAttention's CPU kernels reading Q, K, V and writing y through views
// (ir/ops/attention_view.h): the export layouts (BERT's [B,S,H,D], the packed
// QKV [S,B,3,H,D] with a select, a rank-3 seq-first packed form) are built
// here by hand-written index maps, and both tactics must give what the
// reference gives on the same numbers laid out contiguously.
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using Ints = std::vector<int64_t>;

enum class Layout { kBert, kPacked, kSeqFirst3 };

struct Case {
  Layout layout;
  Ints lead;  //!< {B, H} (rank 4) or {BH} (rank 3)
  int64_t sq, sk, d, dv;
  Ints mask;  //!< empty: none
};

Ints logicalDims(const Case& c, int64_t rows, int64_t cols) {
  Ints r = c.lead;
  r.push_back(rows);
  r.push_back(cols);
  return r;
}

//! The tensor X holding operand `i` (0 Q, 1 K, 2 V; 3 y) and its element offset of logical (b0, b1, s, e).
Ints viewDims(const Case& c, int i) {
  const int64_t rows = i == 0 || i == 3 ? c.sq : c.sk, cols = i == 2 || i == 3 ? c.dv : c.d;
  switch (c.layout) {
    case Layout::kBert: return {c.lead[0], rows, c.lead[1], cols};
    case Layout::kPacked: return i == 3 ? Ints{rows, c.lead[0], c.lead[1], cols} : Ints{rows, c.lead[0], 3, c.lead[1], cols};
    case Layout::kSeqFirst3: return i == 3 ? Ints{rows, c.lead[0], cols} : Ints{rows, 3, c.lead[0], cols};
  }
  return {};
}

int64_t viewOffset(const Case& c, int i, int64_t b0, int64_t b1, int64_t s, int64_t e) {
  const int64_t rows = i == 0 || i == 3 ? c.sq : c.sk, cols = i == 2 || i == 3 ? c.dv : c.d;
  switch (c.layout) {
    case Layout::kBert: return ((b0 * rows + s) * c.lead[1] + b1) * cols + e;
    case Layout::kPacked:
      if (i == 3) return ((s * c.lead[0] + b0) * c.lead[1] + b1) * cols + e;
      return (((s * c.lead[0] + b0) * 3 + i) * c.lead[1] + b1) * cols + e;
    case Layout::kSeqFirst3:
      if (i == 3) return (s * c.lead[0] + b0) * cols + e;
      return ((s * 3 + i) * c.lead[0] + b0) * cols + e;
  }
  return 0;
}

void addViewAttrs(const Case& c, std::map<std::string, ir::Attribute>& attrs) {
  const char* names[] = {"q", "k", "v", "y"};
  for (int i = 0; i < 4; ++i) {
    const std::string w = names[i];
    switch (c.layout) {
      case Layout::kBert: attrs[w + "_perm"] = Ints{0, 2, 1, 3}; break;
      case Layout::kPacked:
        attrs[w + "_perm"] = Ints{1, 2, 0, 3};
        if (i < 3) attrs[w + "_select"] = Ints{2, i};
        break;
      case Layout::kSeqFirst3:
        attrs[w + "_perm"] = Ints{1, 0, 2};
        if (i < 3) attrs[w + "_select"] = Ints{1, i};
        break;
    }
  }
}

//! Calls f(b0, b1, s, e, logical flat index) over a logical [lead..., rows, cols] tensor.
template <typename F>
void forEach(const Case& c, int64_t rows, int64_t cols, F&& f) {
  const int64_t n0 = c.lead[0], n1 = c.lead.size() > 1 ? c.lead[1] : 1;
  int64_t flat = 0;
  for (int64_t b0 = 0; b0 < n0; ++b0)
    for (int64_t b1 = 0; b1 < n1; ++b1)
      for (int64_t s = 0; s < rows; ++s)
        for (int64_t e = 0; e < cols; ++e) f(b0, b1, s, e, flat++);
}

struct Specs {
  OpSpec contiguous, viewed;
};

Specs makeSpecs(const Case& c, uint32_t seed) {
  Specs out;
  const ir::Tensor q = randomTensor(logicalDims(c, c.sq, c.d), seed, -2.f, 2.f);
  const ir::Tensor k = randomTensor(logicalDims(c, c.sk, c.d), seed + 1, -2.f, 2.f);
  const ir::Tensor v = randomTensor(logicalDims(c, c.sk, c.dv), seed + 2);
  out.contiguous.op = out.viewed.op = "KilnAttention";
  out.contiguous.attrs["scale"] = out.viewed.attrs["scale"] = 0.2f;
  out.contiguous.inputs = {dyn(q), dyn(k), dyn(v)};
  addViewAttrs(c, out.viewed.attrs);
  const bool packed = c.layout != Layout::kBert;
  ir::Tensor shared(DType::kFLOAT, viewDims(c, 0));  // the packed layouts: one tensor for all three
  for (int i = 0; i < 3; ++i) {
    const ir::Tensor& logical = i == 0 ? q : i == 1 ? k : v;
    ir::Tensor x = packed ? ir::Tensor() : ir::Tensor(DType::kFLOAT, viewDims(c, i));
    float* xp = packed ? shared.mutableAs<float>() : x.mutableAs<float>();
    forEach(c, i == 0 ? c.sq : c.sk, i == 2 ? c.dv : c.d, [&](int64_t b0, int64_t b1, int64_t s, int64_t e, int64_t f) {
      xp[viewOffset(c, i, b0, b1, s, e)] = logical.as<float>()[f];
    });
    if (!packed) out.viewed.inputs.push_back(dyn(std::move(x)));
  }
  if (packed) out.viewed.inputs = {dyn(shared), dyn(shared), dyn(shared)};
  if (!c.mask.empty()) {
    ir::Tensor m = randomTensor(c.mask, seed + 3, -4.f, 0.f);
    for (int64_t i = 0; i < m.numel(); i += 5) m.mutableAs<float>()[i] = -10000.f;
    out.contiguous.inputs.push_back(dyn(m));
    out.viewed.inputs.push_back(dyn(m));
  }
  return out;
}

//! y read back from its view's layout into the logical (contiguous) order.
ir::Tensor unview(const Case& c, const ir::Tensor& y) {
  ir::Tensor out(DType::kFLOAT, logicalDims(c, c.sq, c.dv));
  forEach(c, c.sq, c.dv, [&](int64_t b0, int64_t b1, int64_t s, int64_t e, int64_t f) {
    out.mutableAs<float>()[f] = y.as<float>()[viewOffset(c, 3, b0, b1, s, e)];
  });
  return out;
}

const Case kCases[] = {
    {Layout::kBert, {2, 3}, 7, 7, 64, 64, {2, 1, 1, 7}},     // BERT, batch 2, padding mask
    {Layout::kBert, {1, 1}, 1, 1, 32, 32, {}},               // one token, one head
    {Layout::kBert, {3, 5}, 13, 29, 13, 7, {3, 1, 13, 29}},  // Sq != Sk, odd D and Dv, odd H
    {Layout::kPacked, {1, 12}, 197, 197, 64, 64, {}},        // ViT-B/16
    {Layout::kPacked, {2, 3}, 7, 7, 32, 32, {7, 7}},         // batch 2, odd H, a mask
    {Layout::kPacked, {4, 1}, 1, 1, 8, 8, {}},               // S = 1
    {Layout::kSeqFirst3, {6}, 11, 11, 16, 16, {6, 11, 11}},  // rank 3, full mask
    {Layout::kSeqFirst3, {1}, 1, 1, 5, 5, {}},
};

TEST(KilnAttentionViews, BothTacticsMatchTheContiguousReference) {
  uint32_t seed = 1;
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "layout " << static_cast<int>(c.layout) << " lead " << ir::toString(c.lead)
                                      << " Sq " << c.sq << " Sk " << c.sk << " D " << c.d << " Dv " << c.dv);
    const Specs s = makeSpecs(c, seed += 11);
    const ir::Tensor want = runTactic(s.contiguous, "KilnAttention.ref")[0];
    for (const char* tactic : {"KilnAttention.ref", "KilnAttention.fused"}) {
      const ir::Tensor y = runTactic(s.viewed, tactic)[0];
      ASSERT_EQ(y.dims(), viewDims(c, 3)) << tactic;  // the schema's output shape: y's layout
      EXPECT_TRUE(near(unview(c, y), want, 2e-5f, 2e-5f)) << tactic;
    }
  }
}

TEST(KilnAttentionViews, AnyThreadCount) {
  const Case c = {Layout::kPacked, {2, 3}, 45, 45, 16, 16, {2, 1, 1, 45}};
  const Specs s = makeSpecs(c, 5);
  const ir::Tensor want = runTactic(s.contiguous, "KilnAttention.ref")[0];
  for (int threads : {1, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_TRUE(near(unview(c, runTactic(s.viewed, "KilnAttention.fused", pool)[0]), want, 2e-5f, 2e-5f)) << threads;
  }
}

TEST(KilnAttentionViews, BadViewsNameTheNode) {
  const Case c = {Layout::kPacked, {1, 2}, 3, 3, 4, 4, {}};
  Specs s = makeSpecs(c, 9);
  OpSpec bad = s.viewed;
  bad.attrs["q_perm"] = Ints{1, 2, 3, 0};  // the head dim would not be X's last
  EXPECT_TRUE(throwsWith([&] { buildGraph(bad); }, "head dim"));
  bad = s.viewed;
  bad.attrs["k_select"] = Ints{2, 3};  // index 3 of a dim of 3
  EXPECT_TRUE(throwsWith([&] { buildGraph(bad); }, "k_select index 3"));
  bad = s.viewed;
  bad.attrs["y_select"] = Ints{0, 0};
  EXPECT_TRUE(throwsWith([&] { buildGraph(bad); }, "KilnAttention node \"node0\""));
  bad = s.viewed;
  bad.attrs.erase("v_select");  // V is then all of the rank-5 tensor
  EXPECT_TRUE(throwsWith([&] { buildGraph(bad); }, "the perm has 4 entries for 5 dims"));
}

}  // namespace
}  // namespace kiln::test
