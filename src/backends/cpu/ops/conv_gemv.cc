// "Conv.gemv": a 1x1 convolution (group 1) whose input and output are one
// pixel, as in squeeze-excitation blocks (GlobalAveragePool -> 1x1 Conv ->
// act -> 1x1 Conv -> Sigmoid): y[n, k] = act(b[k] + sum_c W[k, c] x[n, c]
// (+ residual)). A GEMM with one column wastes most of its micro-tile
// (Conv.im2col_gemm ran EfficientNet-B0's 34 SE convs at ~1 GMAC/s); here
// each output channel is a dot product over the plain weight rows, with
// kLanes independent partial sums so it vectorizes (the sum order differs
// from Conv.ref's).
#include "backends/cpu/activation.h"
#include "backends/cpu/ops/conv_internal.h"
#include "backends/cpu/ops/nn_util.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kLanes = 16;

float dot(const float* __restrict w, const float* __restrict x, int64_t c) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= c; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) acc[l] += w[i + l] * x[i + l];
  float sum = 0.f;
  for (int64_t l = 0; l < kLanes; ++l) sum += acc[l];
  for (; i < c; ++i) sum += w[i] * x[i];
  return sum;
}

class ConvGemv final : public Kernel {
 public:
  explicit ConvGemv(const ir::Node& node)
      : desc_(nodeDescription(node)), act_(fusedActivation(node)), numInputs_(node.inputs.size()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& w = in[1];
    const int64_t n = x.dims[0], c = x.dims[1], k = w.dims[0];
    KILN_CHECK(w.dims[1] == c && x.numel() == n * c && out[0].numel() == n * k, desc_.describe(),
               ": Conv.gemv needs one input and one output pixel and weights [K, C, 1, ...]; input ",
               ir::toString(x.shape()), ", weights ",
               ir::toString(w.shape()));
    const float* xd = x.as<const float>();
    const float* wd = w.as<const float>();
    const float* bias = numInputs_ > 2 && in[2].data ? in[2].as<const float>() : nullptr;
    const float* res = numInputs_ > 3 && in[3].data ? in[3].as<const float>() : nullptr;
    float* yd = out[0].as<float>();
    ctx.pool->parallelFor(k, [&](int64_t b, int64_t e) {
      for (int64_t img = 0; img < n; ++img) {
        float* yr = yd + img * k;
        for (int64_t oc = b; oc < e; ++oc) {
          float v = dot(wd + oc * c, xd + img * c, c) + (bias ? bias[oc] : 0.f);
          if (res) v += res[img * k + oc];
          yr[oc] = v;
        }
        applyActivation(act_, yr + b, e - b);
      }
    });
  }

 private:
  ir::Node desc_;
  Activation act_;
  std::size_t numInputs_;
};

// Static shapes only: one pixel in and out, a 1x1 kernel without padding, group 1, float.
bool supports(const ir::Node& node) {
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1] || node.has("kiln_packed")) return false;
  const ir::Value* x = node.inputs[0];
  const ir::Value* w = node.inputs[1];
  const ir::Value* y = node.outputs.empty() ? nullptr : node.outputs[0];
  if (!y || x->dtype != DType::kFLOAT || w->dtype != DType::kFLOAT || node.i("group", 1) != 1) return false;
  if (x->shape.size() < 3 || x->shape.size() > 5 || w->shape.size() != x->shape.size() || !ir::isStatic(w->shape) ||
      !ir::isStatic(x->shape) || !ir::isStatic(y->shape))
    return false;
  for (std::size_t i = 2; i < x->shape.size(); ++i)
    if (x->shape[i].value != 1 || w->shape[i].value != 1 || y->shape[i].value != 1) return false;
  for (int64_t p : node.ints("pads", {}))
    if (p != 0) return false;
  return true;
}

}  // namespace

Tactic convGemvTactic() {
  return {"Conv.gemv", "Conv", 12, supports,
          [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ConvGemv>(n); }, nullptr};
}

}  // namespace kiln::cpu
