// "Conv.depthwise": 2-D convolution with group == input channels (each
// output channel reads one input channel; K = C * multiplier). GEMM would
// see a 1 x 9 x P product per channel, so direct loops are much faster here
// (MobileNet-style networks are mostly these). The plane kernel is in
// ukernels/dwconv_*.cc, one build per ISA.
#include "backends/cpu/activation.h"
#include "backends/cpu/ops/conv_internal.h"
#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/ukernels/dwconv.h"

namespace kiln::cpu {
namespace {

class ConvDepthwise final : public Kernel {
 public:
  explicit ConvDepthwise(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, 2)),
        act_(fusedActivation(node)),
        plane_(dw::hostPlaneKernel()),
        group_(node.i("group", 1)),
        numInputs_(node.inputs.size()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& w = in[1];
    const float* bias = numInputs_ > 2 ? in[2].as<const float>() : nullptr;
    const float* res = numInputs_ > 3 ? in[3].as<const float>() : nullptr;
    const TensorView& y = out[0];
    const Geometry3 g = windowGeometry(desc_, attrs_, x, w.dims + 2, y);
    const int64_t n = x.dims[0], c = x.dims[1], k = w.dims[0];
    KILN_CHECK(c == group_ && w.dims[1] == 1 && k % c == 0, desc_.describe(), ": not a depthwise convolution");
    const int64_t mult = k / c, inSize = g.inSize(), outSize = g.outSize(), ks = g.kernelSize();
    const float* xd = x.as<const float>();
    const float* wd = w.as<const float>();
    float* yd = y.as<float>();
    ctx.pool->parallelFor(n * k, [&](int64_t b, int64_t e) {
      for (int64_t nk = b; nk < e; ++nk) {
        const int64_t img = nk / k, oc = nk % k;
        dw::Plane p;
        p.x = xd + (img * c + oc / mult) * inSize;
        p.h = g.in[1];
        p.w = g.in[2];
        p.k = wd + oc * ks;
        p.kh = g.kernel[1];
        p.kw = g.kernel[2];
        p.sh = g.stride[1];
        p.sw = g.stride[2];
        p.dh = g.dil[1];
        p.dw = g.dil[2];
        p.ph = g.pad[1];
        p.pw = g.pad[2];
        p.y = yd + nk * outSize;
        p.oh = g.out[1];
        p.ow = g.out[2];
        p.bias = bias ? bias[oc] : 0.f;
        p.residual = res ? res + nk * outSize : nullptr;
        p.act = act_;
        plane_(p);
      }
    });
  }

 private:
  ir::Node desc_;
  ir::WindowAttrs attrs_;
  Activation act_;
  dw::PlaneFn plane_;
  int64_t group_;
  std::size_t numInputs_;
};

bool supports(const ir::Node& node) {
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1] || node.has("kiln_packed")) return false;
  const ir::Value* x = node.inputs[0];
  const ir::Value* w = node.inputs[1];
  if (x->dtype != DType::kFLOAT || x->shape.size() != 4 || w->shape.size() != 4) return false;
  const int64_t group = node.i("group", 1);
  return group > 1 && x->shape[1].known() && x->shape[1].value == group && w->shape[1].known() &&
         w->shape[1].value == 1 && w->shape[0].known() && w->shape[0].value % group == 0;
}

}  // namespace

Tactic convDepthwiseTactic() {
  return {"Conv.depthwise", "Conv", 20, supports,
          [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ConvDepthwise>(n); }, nullptr};
}

}  // namespace kiln::cpu
