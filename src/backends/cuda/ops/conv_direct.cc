// Conv.cuda_direct: Kiln's direct stem convolution (conv_direct.cu) for a
// channels-last Conv with a 3x3 window over 3 input channels, at most 16
// output channels, group 1 and constant weights (and bias): the layer that
// reads an RGB image, which cuDNN's tensor-core engines pad to their tile.
// The weights and bias are read from the node once, as FP32, and passed to
// every launch by value; the residual and the fused activation (kiln_act, any
// the CUDA kernels have) run in the same pass. One kernel, no variants; the
// builder times it against the cuDNN tactics and keeps it only where it wins,
// and it sits below them in priority, so an untimed build does not pick it.
#include <vector>

#include "backends/cuda/ops/conv_direct_kernels.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/tactic_util.h"
#include "ir/ops/spatial.h"

namespace kiln::cuda {
namespace {

class ConvDirectKernel final : public backends::DeviceKernel {
 public:
  explicit ConvDirectKernel(const ir::Node& n)
      : attrs_(ir::readWindowAttrs(n, 2)),
        hasBias_(n.inputs.size() > 2 && n.inputs[2]),
        hasResidual_(n.inputs.size() > 3 && n.inputs[3]) {
    desc_.op = n.op, desc_.name = n.name, desc_.attrs = n.attrs;
    KILN_CHECK(unaryParams(n.s("kiln_act", ""), n, true, &act_), n.describe(), ": unsupported fused activation");
    KILN_CHECK(uniformFloat(n, &elem_), n.describe(), ": x, w, bias, residual and y must share one of FP32/FP16/BF16");
    const ir::Value* w = n.inputs[1];
    const ir::Value* b = hasBias_ ? n.inputs[2] : nullptr;
    KILN_CHECK(w->isConstant() && (!b || b->isConstant()), n.describe(),
               ": the direct stem tactic needs constant weights and bias");
    weights_ = w->constant->toFloat();
    weightDims_ = w->constant->dims();
    if (b) bias_ = b->constant->toFloat();
  }

  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &w = in[1], &y = out[0];  // NHWC, KRSC, NHWC
    kernels::DirectConv p;
    p.n = int32_t(x.dims[0]), p.h = int32_t(x.dims[1]), p.w = int32_t(x.dims[2]), p.c = int32_t(x.dims[3]);
    p.k = int32_t(w.dims[0]), p.r = int32_t(w.dims[1]), p.s = int32_t(w.dims[2]);
    p.oh = int32_t(y.dims[1]), p.ow = int32_t(y.dims[2]);
    KILN_CHECK(weightDims_ == std::vector<int64_t>(w.dims, w.dims + 4) && w.dims[3] == x.dims[3] &&
                   y.dims[3] == w.dims[0] && y.dims[0] == x.dims[0] && kernels::directConvStemFits(p),
               desc_.describe(), ": x [", x.dims[0], ", ", x.dims[1], ", ", x.dims[2], ", ", x.dims[3], "], w [",
               w.dims[0], ", ", w.dims[1], ", ", w.dims[2], ", ", w.dims[3], "] and y [", y.dims[0], ", ", y.dims[1],
               ", ", y.dims[2], ", ", y.dims[3], "] are not the NHWC stem convolution this kernel was made for");
    const int64_t inSize[2] = {x.dims[1], x.dims[2]}, kernel[2] = {w.dims[1], w.dims[2]};
    const int64_t outSize[2] = {y.dims[1], y.dims[2]};
    int32_t pads[2], strides[2], dil[2];
    for (std::size_t i = 0; i < 2; ++i) {
      const ir::AxisGeometry g = ir::windowAxis(desc_, attrs_, i, inSize[i], kernel[i]);
      KILN_CHECK(g.out == outSize[i], desc_.describe(), ": output size ", outSize[i], " disagrees with ", g.out);
      pads[i] = int32_t(g.padBegin), strides[i] = int32_t(attrs_.strides[i]), dil[i] = int32_t(attrs_.dilations[i]);
    }
    p.padTop = pads[0], p.padLeft = pads[1], p.strideH = strides[0], p.strideW = strides[1];
    p.dilH = dil[0], p.dilW = dil[1];
    kernels::directConvStem(x.data, weights_.data(), hasBias_ ? bias_.data() : nullptr,
                            hasResidual_ ? in[3].data : nullptr, y.data, p, act_, elem_, streamOf(launch));
  }

 private:
  ir::Node desc_;
  ir::WindowAttrs attrs_;
  bool hasBias_, hasResidual_;
  kernels::UnaryParams act_;
  kernels::Elem elem_ = kernels::Elem::kFloat;
  std::vector<float> weights_, bias_;  //!< the constant w (KRSC) and bias, FP32
  std::vector<int64_t> weightDims_;
};

bool supports(const ir::Node& n) {
  kernels::UnaryParams act;
  kernels::Elem elem;
  if (!uniformFloat(n, &elem) || n.outputs.size() != 1 || n.inputs.size() < 2 || !n.inputs[0] || !n.inputs[1])
    return false;
  const ir::Value* w = n.inputs[1];
  const ir::Value* b = n.inputs.size() > 2 ? n.inputs[2] : nullptr;
  if (n.inputs[0]->shape.size() != 4 || !w->isConstant() || w->constant->dims().size() != 4 ||
      (b && !b->isConstant()))
    return false;
  if (n.s(ir::kLayoutAttr, "NCHW") != "NHWC" || n.i("group", 1) != 1) return false;
  if (!unaryParams(n.s("kiln_act", ""), n, true, &act)) return false;
  const std::vector<int64_t>& d = w->constant->dims();  // KRSC
  kernels::DirectConv p;
  p.k = int32_t(d[0]), p.r = int32_t(d[1]), p.s = int32_t(d[2]), p.c = int32_t(d[3]);
  return kernels::directConvStemFits(p);
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) { return std::make_unique<ConvDirectKernel>(n); }

}  // namespace

void registerConvDirectTactics(TacticList& out) {
  out.push_back({"Conv.cuda_direct", "Conv", -1, supports, create, nullptr});
}

}  // namespace kiln::cuda
