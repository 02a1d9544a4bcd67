// BatchNormalization (inference) after a Conv, ConvTranspose or Gemm with
// constant weights folds into them: per output channel c,
//   bn(y) = y * scale[c] + shift[c],  scale = gamma / sqrt(var + eps),
//   shift = beta - mean * scale,
// so the weights of channel c are multiplied by scale[c] and the bias becomes
// bias * scale + shift. The BN node disappears. A BN elsewhere stays (its
// kernel runs it). New constants are made; shared weights are never changed.
#include <cmath>
#include <optional>

#include "core/error.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

struct BnFold {
  ir::Node* producer;  // Conv, ConvTranspose or Gemm
  ir::Node* bn;
  std::vector<float> scale, shift;  // per output channel
};

std::optional<BnFold> matchBn(const ir::Graph& g, ir::Node* bn) {
  if (bn->op != "BatchNormalization" || bn->inputs.size() != 5 || !bn->input(0)) return std::nullopt;
  for (std::size_t i = 1; i < bn->outputs.size(); ++i)
    if (isUsed(g, bn->outputs[i])) return std::nullopt;  // training-mode statistics are read
  ir::Node* p = producerOf(bn->inputs[0]);
  if (!p || (p->op != "Conv" && p->op != "ConvTranspose" && p->op != "Gemm")) return std::nullopt;
  if (soleConsumer(g, bn->inputs[0]) != bn || p->has("kiln_act") || p->inputs.size() > 3) return std::nullopt;
  if (!floatConstant(p->input(1))) return std::nullopt;
  if (p->input(2) && !floatConstant(p->input(2))) return std::nullopt;

  std::vector<float> params[4];  // gamma, beta, mean, var
  for (int i = 0; i < 4; ++i) {
    const ir::Tensor* t = floatConstant(bn->inputs[i + 1]);
    if (!t || t->dims().size() != 1) return std::nullopt;
    params[i] = t->toFloat();
    if (params[i].size() != params[0].size()) return std::nullopt;
  }
  float eps = bn->f("epsilon", 1e-5f);
  BnFold m{p, bn, {}, {}};
  for (std::size_t c = 0; c < params[0].size(); ++c) {
    float s = params[0][c] / std::sqrt(params[3][c] + eps);
    m.scale.push_back(s);
    m.shift.push_back(params[1][c] - params[2][c] * s);
  }
  return m;
}

//! The output channel of each element of a weight tensor, or {} when the
//! weight does not have one channel per BN channel.
std::vector<int64_t> outputChannels(const ir::Node& p, const ir::Tensor& w, int64_t channels) {
  const std::vector<int64_t>& d = w.dims();
  int64_t n = w.numel();
  std::vector<int64_t> ch(static_cast<std::size_t>(n));
  if (p.op == "Conv") {  // [M, C/group, k...]
    if (d.empty() || d[0] != channels) return {};
    for (int64_t i = 0; i < n; ++i) ch[i] = i / (n / channels);
  } else if (p.op == "ConvTranspose") {  // [C, M/group, k...]; channel = group * M/group + j
    int64_t group = p.i("group", 1);
    if (d.size() < 2 || group <= 0 || d[0] % group || d[1] * group != channels) return {};
    int64_t spatial = n / (d[0] * d[1]), perGroupIn = d[0] / group;
    for (int64_t i = 0; i < n; ++i) ch[i] = (i / (d[1] * spatial)) / perGroupIn * d[1] + (i / spatial) % d[1];
  } else {  // Gemm: B is [K, N], or [N, K] with transB
    if (d.size() != 2) return {};
    bool transB = p.i("transB", 0) != 0;
    if ((transB ? d[0] : d[1]) != channels) return {};
    for (int64_t i = 0; i < n; ++i) ch[i] = transB ? i / d[1] : i % d[1];
  }
  return ch;
}

//! The folded bias: (beta * old bias) * scale + shift. A Gemm's C may be a
//! scalar, [N], [1, N] or [M, N]; a Conv bias is [M].
std::optional<ir::Tensor> foldedBias(const ir::Node& p, const ir::Tensor* bias, const BnFold& m) {
  int64_t channels = static_cast<int64_t>(m.scale.size());
  float beta = p.op == "Gemm" ? p.f("beta", 1.f) : 1.f;
  std::vector<int64_t> dims{channels};
  int64_t rows = 1, bRows = 1, bCols = 1;
  if (bias) {
    const std::vector<int64_t>& d = bias->dims();
    if (d.size() > 2) return std::nullopt;
    bCols = d.empty() ? 1 : d.back();
    bRows = d.size() == 2 ? d[0] : 1;
    if (bCols != 1 && bCols != channels) return std::nullopt;
    if (bRows != 1) dims = {rows = bRows, channels};
  }
  std::vector<float> b = bias ? bias->toFloat() : std::vector<float>{0.f};
  std::vector<float> out(static_cast<std::size_t>(rows * channels));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) {
      float old = bias ? beta * b[(bRows == 1 ? 0 : r) * bCols + (bCols == 1 ? 0 : c)] : 0.f;
      out[r * channels + c] = old * m.scale[c] + m.shift[c];
    }
  return ir::Tensor::fromFloat(out, dims);
}

bool fold(Rewriter& rw, const BnFold& m) {
  ir::Node* p = m.producer;
  const ir::Tensor& w = *p->inputs[1]->constant;
  std::vector<int64_t> ch = outputChannels(*p, w, static_cast<int64_t>(m.scale.size()));
  std::optional<ir::Tensor> bias = foldedBias(*p, p->input(2) ? p->input(2)->constant.get() : nullptr, m);
  if (ch.empty() || !bias) return false;
  std::vector<float> wv = w.toFloat();
  for (std::size_t i = 0; i < wv.size(); ++i) wv[i] *= m.scale[ch[i]];

  ir::Graph& g = rw.graph;
  p->inputs.resize(3, nullptr);
  p->inputs[1] = g.addConstant(p->inputs[1]->name + "_bn", ir::Tensor::fromFloat(wv, w.dims()));
  p->inputs[2] = g.addConstant(p->name + "_bias_bn", std::move(*bias));
  if (p->op == "Gemm") p->attrs["beta"] = 1.f;
  redirectOutput(p, 0, m.bn->outputs[0]);
  rw.remove(m.bn);
  return true;
}

}  // namespace

bool foldBatchNorm(ir::Graph& graph, PassContext& ctx) {
  Rewriter rw(graph);
  int folded = rw.forEachNode([&](ir::Node* n) {
    std::optional<BnFold> m = matchBn(graph, n);
    return m && fold(rw, *m);
  });
  if (folded) ctx.log.push_back(strCat("fold_batchnorm: folded ", folded, " BatchNormalization nodes"));
  return folded > 0;
}

}  // namespace kiln::passes
