// LayerNormalization (output Y only; Mean/InvStdDev outputs not implemented), FP32/FP16/BF16 (statistics in FP32):
// norm.cu, one warp per row up to 1024 elements (the row in registers), else one block per row.
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"

namespace kiln::cuda {
namespace {

class LayerNormKernel final : public backends::DeviceKernel {
 public:
  LayerNormKernel(int64_t axis, float eps, bool bias, kernels::Elem elem)
      : axis_(axis), eps_(eps), bias_(bias), elem_(elem) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    int64_t axis = axis_ < 0 ? axis_ + x.rank : axis_;
    KILN_CHECK(axis >= 0 && axis < x.rank, "LayerNormalization: axis ", axis_, " is out of range for rank ", x.rank);
    int64_t rows = 1, cols = 1;
    for (int d = 0; d < axis; ++d) rows *= x.dims[d];
    for (int d = static_cast<int>(axis); d < x.rank; ++d) cols *= x.dims[d];
    KILN_CHECK(in[1].numel() == cols && (!bias_ || in[2].numel() == cols), "LayerNormalization: scale/bias have ",
               in[1].numel(), " elements, the normalized shape has ", cols, " (broadcast scales: not on CUDA yet)");
    kernels::layerNorm(x.data, in[1].data, bias_ ? in[2].data : nullptr, out[0].data, rows, cols, eps_, elem_,
                       streamOf(launch));
  }

 private:
  int64_t axis_;
  float eps_;
  bool bias_;
  kernels::Elem elem_;
};

bool supports(const ir::Node& n) {
  kernels::Elem e;
  if (!uniformFloat(n, &e) || n.inputs.size() < 2 || !n.inputs[0] || !n.inputs[1]) return false;
  for (std::size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i]) return false;  // Mean / InvStdDev outputs: not on CUDA yet
  return n.i("stash_type", 1) == 1;
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  kernels::Elem e;
  KILN_CHECK(uniformFloat(n, &e), n.describe(), ": X, Scale, B and Y must share one of FP32/FP16/BF16");
  return std::make_unique<LayerNormKernel>(n.i("axis", -1), n.f("epsilon", 1e-5f), n.inputs.size() > 2 && n.inputs[2],
                                           e);
}

}  // namespace

void registerNormTactics(TacticList& out) {
  out.push_back({"LayerNormalization.cuda", "LayerNormalization", 0, supports, create});
}

}  // namespace kiln::cuda
