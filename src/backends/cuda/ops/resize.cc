// Resize, mode "nearest" (any dtype of 1, 2, 4 or 8 bytes; the coordinate
// transforms in kernels.h). Linear/cubic modes are not on CUDA yet.
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"

namespace kiln::cuda {
namespace {

class ResizeNearestKernel final : public backends::DeviceKernel {
 public:
  explicit ResizeNearestKernel(ResizeConfig c) : c_(std::move(c)) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    kernels::ResizeParams p = resizeParams(c_, in[0].shape(), out[0].shape());
    kernels::resizeNearest(in[0].data, out[0].data, static_cast<int32_t>(dtypeSize(in[0].dtype)), p, streamOf(launch));
  }

 private:
  ResizeConfig c_;
};

bool supports(const ir::Node& n) {
  ResizeConfig c;
  if (n.inputs.empty() || !n.inputs[0] || n.outputs.size() != 1) return false;
  std::size_t es = dtypeSize(n.inputs[0]->dtype);
  return (es == 1 || es == 2 || es == 4 || es == 8) && resizeConfig(n, &c);
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  ResizeConfig c;
  KILN_CHECK(resizeConfig(n, &c), n.describe(), ": not supported by the CUDA nearest Resize");
  return std::make_unique<ResizeNearestKernel>(std::move(c));
}

}  // namespace

void registerResizeTactics(TacticList& out) { out.push_back({"Resize.cuda", "Resize", 0, supports, create}); }

}  // namespace kiln::cuda
