// MaxPool / AveragePool (2-D, NCHW, no Indices output) and GlobalAveragePool, FP32 (kernels.cu).
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/tactic_util.h"

namespace kiln::cuda {
namespace {

class PoolKernel final : public backends::DeviceKernel {
 public:
  explicit PoolKernel(const ir::Node& n) : attrs_(ir::readWindowAttrs(n, 2)) {
    desc_.op = n.op, desc_.name = n.name, desc_.attrs = n.attrs;
  }
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    kernels::Pool2d p = pool2dParams(desc_, attrs_, in[0].shape(), out[0].shape());
    kernels::pool2d(in[0].as<const float>(), out[0].as<float>(), p, streamOf(launch));
  }

 private:
  ir::Node desc_;  //!< op, name and attributes, for errors at run time
  ir::WindowAttrs attrs_;
};

class GlobalAveragePoolKernel final : public backends::DeviceKernel {
 public:
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    int64_t rows = x.rank >= 2 ? x.dims[0] * x.dims[1] : 1, hw = 1;
    for (int d = 2; d < x.rank; ++d) hw *= x.dims[d];
    kernels::rowMean(x.as<const float>(), out[0].as<float>(), rows, hw, streamOf(launch));
  }
};

bool supportsPool(const ir::Node& n) {
  // Indices (MaxPool's second output) and storage_order are not implemented on CUDA.
  return allFloat(n) && n.inputs.size() == 1 && n.outputs.size() == 1 && n.inputs[0]->shape.size() == 4 &&
         n.i("storage_order", 0) == 0;
}

bool supportsGlobal(const ir::Node& n) {
  return allFloat(n) && n.inputs.size() == 1 && n.outputs.size() == 1 && n.inputs[0]->shape.size() >= 3;
}

std::unique_ptr<backends::DeviceKernel> createPool(const ir::Node& n) { return std::make_unique<PoolKernel>(n); }
std::unique_ptr<backends::DeviceKernel> createGlobal(const ir::Node&) {
  return std::make_unique<GlobalAveragePoolKernel>();
}

}  // namespace

void registerPoolTactics(TacticList& out) {
  out.push_back({"MaxPool.cuda", "MaxPool", 0, supportsPool, createPool});
  out.push_back({"AveragePool.cuda", "AveragePool", 0, supportsPool, createPool});
  out.push_back({"GlobalAveragePool.cuda", "GlobalAveragePool", 0, supportsGlobal, createGlobal});
}

}  // namespace kiln::cuda
