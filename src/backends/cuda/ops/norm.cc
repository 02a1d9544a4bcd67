// LayerNormalization (output Y only; Mean/InvStdDev outputs not implemented), FP32, one block per row.
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"

namespace kiln::cuda {
namespace {

class LayerNormKernel final : public backends::DeviceKernel {
 public:
  LayerNormKernel(int64_t axis, float eps, bool bias) : axis_(axis), eps_(eps), bias_(bias) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    int64_t axis = axis_ < 0 ? axis_ + x.rank : axis_;
    KILN_CHECK(axis >= 0 && axis < x.rank, "LayerNormalization: axis ", axis_, " is out of range for rank ", x.rank);
    int64_t rows = 1, cols = 1;
    for (int d = 0; d < axis; ++d) rows *= x.dims[d];
    for (int d = static_cast<int>(axis); d < x.rank; ++d) cols *= x.dims[d];
    KILN_CHECK(in[1].numel() == cols && (!bias_ || in[2].numel() == cols), "LayerNormalization: scale/bias have ",
               in[1].numel(), " elements, the normalized shape has ", cols, " (broadcast scales: not on CUDA yet)");
    kernels::layerNorm(x.as<const float>(), in[1].as<const float>(), bias_ ? in[2].as<const float>() : nullptr,
                       out[0].as<float>(), rows, cols, eps_, streamOf(launch));
  }

 private:
  int64_t axis_;
  float eps_;
  bool bias_;
};

bool supports(const ir::Node& n) {
  if (!allFloat(n) || n.inputs.size() < 2 || !n.inputs[0] || !n.inputs[1]) return false;
  for (std::size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i]) return false;  // Mean / InvStdDev outputs: not on CUDA yet
  return n.i("stash_type", 1) == 1;
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  return std::make_unique<LayerNormKernel>(n.i("axis", -1), n.f("epsilon", 1e-5f), n.inputs.size() > 2 && n.inputs[2]);
}

}  // namespace

void registerNormTactics(TacticList& out) {
  out.push_back({"LayerNormalization.cuda", "LayerNormalization", 0, supports, create});
}

}  // namespace kiln::cuda
