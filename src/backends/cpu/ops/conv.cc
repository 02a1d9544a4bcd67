// Conv and ConvTranspose: the reference kernels (direct loops, the oracle
// for every faster tactic and what constant folding runs) and the tactic list.
// Both handle 1-D, 2-D and 3-D through a D x H x W view of the spatial axes.
#include <algorithm>
#include <vector>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/conv_internal.h"
#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/ops/onednn_util.h"

namespace kiln::cpu {
namespace {

class ConvRef final : public Kernel {
 public:
  explicit ConvRef(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, node.inputs[0]->shape.size() - 2)),
        act_(fusedActivation(node)),
        group_(node.i("group", 1)),
        numInputs_(node.inputs.size()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& w = in[1];
    const float* bias = numInputs_ > 2 ? in[2].as<const float>() : nullptr;
    const float* res = numInputs_ > 3 ? in[3].as<const float>() : nullptr;
    const TensorView& y = out[0];
    const Geometry3 g = windowGeometry(desc_, attrs_, x, w.dims + 2, y);
    const int64_t n = x.dims[0], c = x.dims[1], k = w.dims[0], cg = w.dims[1], kg = k / group_;
    KILN_CHECK(cg * group_ == c, desc_.describe(), ": weight has ", cg, " input channels per group, input has ", c);
    const float* xd = x.as<const float>();
    const float* wd = w.as<const float>();
    float* yd = y.as<float>();
    const int64_t inSize = g.inSize(), outSize = g.outSize(), ks = g.kernelSize();
    ctx.pool->parallelFor(n * k, [&](int64_t b, int64_t e) {
      for (int64_t nk = b; nk < e; ++nk) {
        const int64_t img = nk / k, oc = nk % k, grp = oc / kg;
        const float* xg = xd + (img * c + grp * cg) * inSize;
        const float* wk = wd + oc * cg * ks;
        float* yp = yd + nk * outSize;
        const float* rp = res ? res + nk * outSize : nullptr;
        for (int64_t od = 0; od < g.out[0]; ++od)
          for (int64_t oh = 0; oh < g.out[1]; ++oh)
            for (int64_t ow = 0; ow < g.out[2]; ++ow) {
              float acc = 0.f;
              for (int64_t ci = 0; ci < cg; ++ci)
                for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
                  const int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
                  if (id < 0 || id >= g.in[0]) continue;
                  for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                    const int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
                    if (ih < 0 || ih >= g.in[1]) continue;
                    for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                      const int64_t iw = ow * g.stride[2] - g.pad[2] + kw * g.dil[2];
                      if (iw < 0 || iw >= g.in[2]) continue;
                      acc += xg[ci * inSize + (id * g.in[1] + ih) * g.in[2] + iw] *
                             wk[ci * ks + (kd * g.kernel[1] + kh) * g.kernel[2] + kw];
                    }
                  }
                }
              const int64_t o = (od * g.out[1] + oh) * g.out[2] + ow;
              float v = acc;
              if (bias) v += bias[oc];
              if (rp) v += rp[o];
              yp[o] = applyActivation(act_, v);
            }
      }
    });
  }

 private:
  ir::Node desc_;
  ir::WindowAttrs attrs_;
  Activation act_;
  int64_t group_;
  std::size_t numInputs_;
};

// Y[n, k, o] = B[k] + sum over c, t with o = i * stride - pad + t * dilation
// of X[n, c, i] * W[c, k, t]: a gather per output element. Honors a fused
// activation (kiln_act) like Conv.
class ConvTransposeRef final : public Kernel {
 public:
  explicit ConvTransposeRef(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, node.inputs[0]->shape.size() - 2)),
        act_(fusedActivation(node)),
        group_(node.i("group", 1)),
        numInputs_(node.inputs.size()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& w = in[1];
    const float* bias = numInputs_ > 2 ? in[2].as<const float>() : nullptr;
    const TensorView& y = out[0];
    const Geometry3 g = windowGeometry(desc_, attrs_, x, w.dims + 2, y, /*transposed=*/true);
    const int64_t n = x.dims[0], c = x.dims[1], kg = w.dims[1], k = kg * group_, cg = c / group_;
    KILN_CHECK(w.dims[0] == c && y.dims[1] == k, desc_.describe(), ": weight ", ir::toString(w.shape()),
               " does not match input ", ir::toString(x.shape()));
    const float* xd = x.as<const float>();
    const float* wd = w.as<const float>();
    float* yd = y.as<float>();
    const int64_t inSize = g.inSize(), outSize = g.outSize(), ks = g.kernelSize();
    ctx.pool->parallelFor(n * k, [&](int64_t b, int64_t e) {
      for (int64_t nk = b; nk < e; ++nk) {
        const int64_t img = nk / k, oc = nk % k, grp = oc / kg, kk = oc % kg;
        float* yp = yd + nk * outSize;
        for (int64_t od = 0; od < g.out[0]; ++od)
          for (int64_t oh = 0; oh < g.out[1]; ++oh)
            for (int64_t ow = 0; ow < g.out[2]; ++ow) {
              float acc = 0.f;
              for (int64_t ci = grp * cg; ci < (grp + 1) * cg; ++ci) {
                const float* xc = xd + (img * c + ci) * inSize;
                const float* wc = wd + (ci * kg + kk) * ks;
                for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
                  const int64_t td = od + g.pad[0] - kd * g.dil[0];
                  if (td < 0 || td % g.stride[0] || td / g.stride[0] >= g.in[0]) continue;
                  for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                    const int64_t th = oh + g.pad[1] - kh * g.dil[1];
                    if (th < 0 || th % g.stride[1] || th / g.stride[1] >= g.in[1]) continue;
                    for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                      const int64_t tw = ow + g.pad[2] - kw * g.dil[2];
                      if (tw < 0 || tw % g.stride[2] || tw / g.stride[2] >= g.in[2]) continue;
                      const int64_t i = ((td / g.stride[0]) * g.in[1] + th / g.stride[1]) * g.in[2] + tw / g.stride[2];
                      acc += xc[i] * wc[(kd * g.kernel[1] + kh) * g.kernel[2] + kw];
                    }
                  }
                }
              }
              yp[(od * g.out[1] + oh) * g.out[2] + ow] = applyActivation(act_, bias ? acc + bias[oc] : acc);
            }
      }
    });
  }

 private:
  ir::Node desc_;
  ir::WindowAttrs attrs_;
  Activation act_;
  int64_t group_;
  std::size_t numInputs_;
};

// KilnScaledConv's oracle: x times the scale into a scratch copy (allocated per
// run: this is the reference, not a tactic the builder picks for speed), then ConvRef.
class ScaledConvRef final : public Kernel {
 public:
  explicit ScaledConvRef(const ir::Node& node) : conv_(node), desc_(nodeDescription(node)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& s = in[4];
    const int64_t n = x.dims[0], c = x.dims[1], plane = x.numel() / std::max<int64_t>(1, n * c);
    KILN_CHECK(s.numel() == c || s.numel() == n * c, desc_.describe(), ": scale has ", s.numel(),
               " values, expected ", c, " or ", n * c);
    std::vector<float> scaled(static_cast<std::size_t>(x.numel()));
    const float* xd = x.as<const float>();
    const float* sd = s.as<const float>();
    for (int64_t img = 0; img < n; ++img)
      for (int64_t ch = 0; ch < c; ++ch) {
        const float f = sd[(s.numel() == c ? 0 : img * c) + ch];
        const int64_t at = (img * c + ch) * plane;
        for (int64_t i = 0; i < plane; ++i) scaled[at + i] = xd[at + i] * f;
      }
    TensorView inputs[5] = {x, in[1], in[2], in[3], s};
    inputs[0].data = scaled.data();
    conv_.run(ctx, inputs, out);
  }

 private:
  ConvRef conv_;
  ir::Node desc_;
};

bool supportsScaledConvRef(const ir::Node& node) {
  return node.inputs.size() == 5 && node.input(4) && node.input(4)->dtype == DType::kFLOAT &&
         node.inputs[0]->shape.size() >= 3 && !node.has("kiln_packed") && node.inputs[0]->dtype == DType::kFLOAT;
}

bool supportsConvRef(const ir::Node& node) {
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1] || node.has("kiln_packed")) return false;
  std::size_t rank = node.inputs[0]->shape.size();
  return rank >= 3 && rank <= 5 && node.inputs[0]->dtype == DType::kFLOAT;
}

}  // namespace

void registerConvKernels(TacticRegistry& r) {
  r.add({"Conv.ref", "Conv", 0, supportsConvRef,
         [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ConvRef>(n); }, nullptr});
  r.add({"ConvTranspose.ref", "ConvTranspose", 0, supportsConvRef,
         [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ConvTransposeRef>(n); },
         nullptr});
  r.add({"KilnScaledConv.ref", "KilnScaledConv", 0, supportsScaledConvRef,
         [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ScaledConvRef>(n); }, nullptr});
  r.add(convIm2colGemmTactic());
  r.add(scaledConvIm2colGemmTactic());
  r.add(convIm2colGemmFP16Tactic());
  r.add(convDepthwiseTactic());
  r.add(convTransposeGemmTactic());
  r.add(convGemvTactic());
  r.add(convWinogradTactic());
  addOnednnConvTactics(r);
}

}  // namespace kiln::cpu
