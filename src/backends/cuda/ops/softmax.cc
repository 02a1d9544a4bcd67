// Softmax / LogSoftmax (opset 13+: over one axis), FP32, one block per row (kernels.cu).
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/tactic_util.h"

namespace kiln::cuda {
namespace {

class SoftmaxKernel final : public backends::DeviceKernel {
 public:
  SoftmaxKernel(int64_t axis, bool log) : axis_(axis), log_(log) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    SoftmaxSplit s = softmaxSplit(in[0].shape(), axis_);
    kernels::softmax(in[0].as<const float>(), out[0].as<float>(), s.outer, s.axis, s.inner, log_, streamOf(launch));
  }

 private:
  int64_t axis_;
  bool log_;
};

bool supports(const ir::Node& n) { return allFloat(n) && n.inputs.size() == 1 && n.outputs.size() == 1; }

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  return std::make_unique<SoftmaxKernel>(n.i("axis", -1), n.op == "LogSoftmax");
}

}  // namespace

void registerSoftmaxTactics(TacticList& out) {
  out.push_back({"Softmax.cuda", "Softmax", 0, supports, create});
  out.push_back({"LogSoftmax.cuda", "LogSoftmax", 0, supports, create});
}

}  // namespace kiln::cuda
