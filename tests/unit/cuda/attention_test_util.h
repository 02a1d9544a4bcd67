// The CUDA KilnAttention tests' reference and cases (attention_gpu_test.cc: the flash
// tactic; attention_gemm_gpu_test.cc: the unfused one): y = softmax(scale * Q K^T +
// mask) V in FP64 on the tested type's numbers, the comparison (NaN where the
// reference is NaN, else relative to the element and the output's scale), a case's
// random inputs, and BERT-style padding masks.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "unit/ops_nn/op_test_util.h"

namespace kiln::test::attention_ref {

using Dims = std::vector<int64_t>;
inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

//! The flat index in a row-major `mask` (numpy-broadcast to `scores`) of score coordinates `c`.
inline int64_t broadcastIndex(const Dims& mask, const Dims& scores, const Dims& c) {
  const std::size_t lead = scores.size() - mask.size();
  int64_t index = 0;
  for (std::size_t i = 0; i < mask.size(); ++i) index = index * mask[i] + (mask[i] == 1 ? 0 : c[lead + i]);
  return index;
}

//! y = softmax(scale * Q K^T + mask) V in FP64 on `spec`'s inputs (already rounded to the tested type).
inline ir::Tensor reference(const OpSpec& spec, float scale) {
  const ir::Tensor &q = spec.inputs[0].value, &k = spec.inputs[1].value, &v = spec.inputs[2].value;
  const bool hasMask = spec.inputs.size() == 4;
  const std::vector<float> qf = q.toFloat(), kf = k.toFloat(), vf = v.toFloat();
  const std::vector<float> mf = hasMask ? spec.inputs[3].value.toFloat() : std::vector<float>{};
  const Dims qd = q.dims();
  const std::size_t rank = qd.size();
  const int64_t sq = qd[rank - 2], d = qd[rank - 1], sk = k.dims()[rank - 2], dv = v.dims()[rank - 1];
  int64_t batch = 1;  // the leading dims (also where Sq or D is 0)
  for (std::size_t i = 0; i + 2 < rank; ++i) batch *= qd[i];
  Dims scores = qd, outDims = qd;
  scores[rank - 1] = sk;
  outDims[rank - 1] = dv;
  ir::Tensor y(DType::kFLOAT, outDims);
  float* out = y.mutableAs<float>();
  std::vector<double> s(sk);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < sq; ++i) {
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < sk; ++j) {
        double dot = 0;
        for (int64_t x = 0; x < d; ++x) dot += double(qf[(b * sq + i) * d + x]) * kf[(b * sk + j) * d + x];
        s[j] = dot * scale;
        if (hasMask) {
          // The masked score rounded to FP32, as every form of the graph stores it (the unfused
          // Add writes it in FP32 or narrower; the kernel holds it in an FP32 register): with a
          // large finite mask (-10000) on every key of a row, that rounding (ulp 1e-3) is what
          // the softmax sees, and FP64 here would ask for more than either form can give.
          Dims c = rank == 4 ? Dims{b / qd[1], b % qd[1], i, j} : Dims{b, i, j};
          s[j] = static_cast<float>(static_cast<float>(s[j]) + mf[broadcastIndex(spec.inputs[3].value.dims(), scores, c)]);
        }
        m = std::max(m, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < sk; ++j) sum += s[j] = std::exp(s[j] - m);  // all -inf: NaN, as the unfused Softmax
      for (int64_t x = 0; x < dv; ++x) {
        double acc = 0;
        for (int64_t j = 0; j < sk; ++j) acc += s[j] / sum * vf[(b * sk + j) * dv + x];
        out[(b * sq + i) * dv + x] = sk == 0 ? 0.f : static_cast<float>(acc);
      }
    }
  return y;
}

//! `got` against `want`: NaN where want is NaN, else within rtol of the element and of the output's scale.
inline ::testing::AssertionResult close(const ir::Tensor& got, const ir::Tensor& want, float rtol) {
  if (got.dims() != want.dims())
    return ::testing::AssertionFailure() << "shape " << ir::toString(got.dims()) << ", want " << ir::toString(want.dims());
  const std::vector<float> g = got.toFloat(), w = want.toFloat();
  float scale = 0.f;
  for (float x : w)
    if (!std::isnan(x)) scale = std::max(scale, std::fabs(x));
  int64_t bad = 0, first = -1;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const bool ok = std::isnan(w[i]) ? std::isnan(g[i]) : std::fabs(g[i] - w[i]) <= rtol * (std::fabs(w[i]) + scale);
    if (!ok && bad++ == 0) first = static_cast<int64_t>(i);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << g.size() << " elements off; first at flat index " << first
                                       << ": got " << g[first] << ", want " << w[first] << " (scale " << scale << ")";
}

struct Case {
  Dims q, k, v;
  Dims mask;            //!< empty: no mask
  float maskLo = 0, maskHi = 0;  //!< random mask values in [lo, hi)
  float scale = 0;      //!< 0: the default 1/sqrt(D)
};

inline std::string describe(const Case& c, DType type) {
  std::ostringstream o;
  o << dataTypeName(type) << " Q " << ir::toString(c.q) << " K " << ir::toString(c.k) << " V " << ir::toString(c.v);
  if (!c.mask.empty()) o << " mask " << ir::toString(c.mask);
  if (c.scale != 0) o << " scale " << c.scale;
  return o.str();
}

//! The case's inputs, rounded to `type` (the reference reads the same values as the GPU).
inline OpSpec makeSpec(const Case& c, DType type, uint32_t seed) {
  OpSpec s;
  s.op = "KilnAttention";
  s.inputs = {dyn(randomTensor(c.q, seed, -2.f, 2.f).castTo(type)),
              dyn(randomTensor(c.k, seed + 1, -2.f, 2.f).castTo(type)),
              dyn(randomTensor(c.v, seed + 2, -1.f, 1.f).castTo(type))};
  if (!c.mask.empty()) s.inputs.push_back(dyn(randomTensor(c.mask, seed + 3, c.maskLo, c.maskHi).castTo(type)));
  if (c.scale != 0) s.attrs["scale"] = c.scale;
  return s;
}

inline float scaleOf(const OpSpec& s) {
  auto it = s.attrs.find("scale");
  if (it != s.attrs.end()) return std::get<float>(it->second);
  return 1.f / std::sqrt(static_cast<float>(s.inputs[0].value.dims().back()));
}

//! A BERT-style padding mask: per batch b the last pads[b] keys get `masked`, every other key 0.
inline ir::Tensor paddingMask(int64_t batch, int64_t sk, const std::vector<int64_t>& pads, float masked) {
  std::vector<float> m(batch * sk, 0.f);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = sk - pads[b]; j < sk; ++j) m[b * sk + j] = masked;
  return floats({batch, 1, 1, sk}, m);
}


}  // namespace kiln::test::attention_ref
