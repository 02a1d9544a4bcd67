// Softmax / LogSoftmax (opset 13+: over one axis), FP32/FP16/BF16 (FP32 math), one block per row (kernels.cu).
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"

namespace kiln::cuda {
namespace {

class SoftmaxKernel final : public backends::DeviceKernel {
 public:
  SoftmaxKernel(int64_t axis, bool log, kernels::Elem elem) : axis_(axis), log_(log), elem_(elem) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    SoftmaxSplit s = softmaxSplit(in[0].shape(), axis_);
    kernels::softmax(in[0].data, out[0].data, s.outer, s.axis, s.inner, log_, elem_, streamOf(launch));
  }

 private:
  int64_t axis_;
  bool log_;
  kernels::Elem elem_;
};

bool supports(const ir::Node& n) {
  kernels::Elem e;
  return uniformFloat(n, &e) && n.inputs.size() == 1 && n.outputs.size() == 1;
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  kernels::Elem e;
  KILN_CHECK(uniformFloat(n, &e), n.describe(), ": input and output must share one of FP32/FP16/BF16");
  return std::make_unique<SoftmaxKernel>(n.i("axis", -1), n.op == "LogSoftmax", e);
}

}  // namespace

void registerSoftmaxTactics(TacticList& out) {
  out.push_back({"Softmax.cuda", "Softmax", 0, supports, create});
  out.push_back({"LogSoftmax.cuda", "LogSoftmax", 0, supports, create});
}

}  // namespace kiln::cuda
