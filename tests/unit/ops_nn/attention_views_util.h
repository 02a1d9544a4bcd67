// KilnAttention operand views for the kernel tests (CPU: ops_nn/attention_views_test.cc,
// CUDA: cuda/attention_views_gpu_test.cc): the export layouts (BERT's [B,S,H,D], the
// packed QKV [S,B,3,H,D] with a select (torch MHA), the batch-first packed [B,S,3,H,D]
// (torchvision's ViT), a rank-3 seq-first packed form) built by
// hand-written index maps, independent of ir/ops/attention_view.cc's arithmetic.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "unit/ops_nn/op_test_util.h"

namespace kiln::test::attention_views {

using Ints = std::vector<int64_t>;

enum class Layout { kBert, kPacked, kPackedBatchFirst, kSeqFirst3 };

struct Case {
  Layout layout;
  Ints lead;  //!< {B, H} (rank 4) or {BH} (rank 3)
  int64_t sq, sk, d, dv;
  Ints mask;  //!< empty: none
};

inline Ints logicalDims(const Case& c, int64_t rows, int64_t cols) {
  Ints r = c.lead;
  r.push_back(rows);
  r.push_back(cols);
  return r;
}

//! The tensor X holding operand `i` (0 Q, 1 K, 2 V; 3 y) and its element offset of logical (b0, b1, s, e).
inline Ints viewDims(const Case& c, int i) {
  const int64_t rows = i == 0 || i == 3 ? c.sq : c.sk, cols = i == 2 || i == 3 ? c.dv : c.d;
  switch (c.layout) {
    case Layout::kBert: return {c.lead[0], rows, c.lead[1], cols};
    case Layout::kPacked: return i == 3 ? Ints{rows, c.lead[0], c.lead[1], cols} : Ints{rows, c.lead[0], 3, c.lead[1], cols};
    case Layout::kPackedBatchFirst:
      return i == 3 ? Ints{c.lead[0], rows, c.lead[1], cols} : Ints{c.lead[0], rows, 3, c.lead[1], cols};
    case Layout::kSeqFirst3: return i == 3 ? Ints{rows, c.lead[0], cols} : Ints{rows, 3, c.lead[0], cols};
  }
  return {};
}

inline int64_t viewOffset(const Case& c, int i, int64_t b0, int64_t b1, int64_t s, int64_t e) {
  const int64_t rows = i == 0 || i == 3 ? c.sq : c.sk, cols = i == 2 || i == 3 ? c.dv : c.d;
  switch (c.layout) {
    case Layout::kBert: return ((b0 * rows + s) * c.lead[1] + b1) * cols + e;
    case Layout::kPacked:
      if (i == 3) return ((s * c.lead[0] + b0) * c.lead[1] + b1) * cols + e;
      return (((s * c.lead[0] + b0) * 3 + i) * c.lead[1] + b1) * cols + e;
    case Layout::kPackedBatchFirst:
      if (i == 3) return ((b0 * rows + s) * c.lead[1] + b1) * cols + e;
      return (((b0 * rows + s) * 3 + i) * c.lead[1] + b1) * cols + e;
    case Layout::kSeqFirst3:
      if (i == 3) return (s * c.lead[0] + b0) * cols + e;
      return ((s * 3 + i) * c.lead[0] + b0) * cols + e;
  }
  return 0;
}

inline void addViewAttrs(const Case& c, std::map<std::string, ir::Attribute>& attrs) {
  const char* names[] = {"q", "k", "v", "y"};
  for (int i = 0; i < 4; ++i) {
    const std::string w = names[i];
    switch (c.layout) {
      case Layout::kBert: attrs[w + "_perm"] = Ints{0, 2, 1, 3}; break;
      case Layout::kPacked:
        attrs[w + "_perm"] = Ints{1, 2, 0, 3};
        if (i < 3) attrs[w + "_select"] = Ints{2, i};
        break;
      case Layout::kPackedBatchFirst:  // X [B, S, 3, H, D] less the select: [B, S, H, D]
        attrs[w + "_perm"] = Ints{0, 2, 1, 3};
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
inline void forEach(const Case& c, int64_t rows, int64_t cols, F&& f) {
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

//! `contiguous`: FP32 Q, K, V (and mask) laid out as the contract's default; `viewed`: the same
//! numbers (rounded to `type` first, in both) in the case's layout, in `type`.
inline Specs makeSpecs(const Case& c, uint32_t seed, DType type = DType::kFLOAT) {
  Specs out;
  auto rounded = [&](ir::Tensor t) { return type == DType::kFLOAT ? t : t.castTo(type).castTo(DType::kFLOAT); };
  const ir::Tensor q = rounded(randomTensor(logicalDims(c, c.sq, c.d), seed, -2.f, 2.f));
  const ir::Tensor k = rounded(randomTensor(logicalDims(c, c.sk, c.d), seed + 1, -2.f, 2.f));
  const ir::Tensor v = rounded(randomTensor(logicalDims(c, c.sk, c.dv), seed + 2));
  out.contiguous.op = out.viewed.op = "KilnAttention";
  out.contiguous.attrs["scale"] = out.viewed.attrs["scale"] = 0.2f;
  out.contiguous.inputs = {dyn(q), dyn(k), dyn(v)};
  addViewAttrs(c, out.viewed.attrs);
  const bool packed = c.layout != Layout::kBert;
  ir::Tensor shared(DType::kFLOAT, viewDims(c, 0));  // the packed layouts: one tensor for all three
  for (int i = 0; i < 3; ++i) {
    const ir::Tensor& logical = i == 0 ? q : i == 1 ? k : v;
    ir::Tensor x(DType::kFLOAT, packed ? Ints{} : viewDims(c, i));
    float* xp = packed ? shared.mutableAs<float>() : x.mutableAs<float>();
    forEach(c, i == 0 ? c.sq : c.sk, i == 2 ? c.dv : c.d, [&](int64_t b0, int64_t b1, int64_t s, int64_t e, int64_t f) {
      xp[viewOffset(c, i, b0, b1, s, e)] = logical.as<float>()[f];
    });
    if (!packed) out.viewed.inputs.push_back(dyn(x.castTo(type)));
  }
  if (packed) out.viewed.inputs = {dyn(shared.castTo(type)), dyn(shared.castTo(type)), dyn(shared.castTo(type))};
  if (!c.mask.empty()) {
    ir::Tensor m = randomTensor(c.mask, seed + 3, -4.f, 0.f);
    for (int64_t i = 0; i < m.numel(); i += 5) m.mutableAs<float>()[i] = -10000.f;
    m = rounded(m);
    out.contiguous.inputs.push_back(dyn(m));
    out.viewed.inputs.push_back(dyn(m.castTo(type)));
  }
  return out;
}

//! y (of any float type) read back from its view's layout into the logical (contiguous) order, in FP32.
inline ir::Tensor unview(const Case& c, const ir::Tensor& y) {
  const std::vector<float> yf = y.toFloat();
  ir::Tensor out(DType::kFLOAT, logicalDims(c, c.sq, c.dv));
  forEach(c, c.sq, c.dv, [&](int64_t b0, int64_t b1, int64_t s, int64_t e, int64_t f) {
    out.mutableAs<float>()[f] = yf[static_cast<std::size_t>(viewOffset(c, 3, b0, b1, s, e))];
  });
  return out;
}

}  // namespace kiln::test::attention_views
