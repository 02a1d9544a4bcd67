// MaxPool / AveragePool (2-D, no Indices output) and GlobalAveragePool, FP32/FP16/BF16 (FP32 math),
// NCHW (kernels.cu) or, with kiln_layout NHWC (builder/device_layout.h), channels-last (layout.cu).
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/layout_kernels.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"
#include "ir/ops/spatial.h"

namespace kiln::cuda {
namespace {

class PoolKernel final : public backends::DeviceKernel {
 public:
  explicit PoolKernel(const ir::Node& n) : attrs_(ir::readWindowAttrs(n, 2)), last_(ir::channelsLast(n)) {
    desc_.op = n.op, desc_.name = n.name, desc_.attrs = n.attrs;
    KILN_CHECK(uniformFloat(n, &elem_), n.describe(), ": input and output must share one of FP32/FP16/BF16");
  }
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    if (!last_) {
      kernels::Pool2d p = pool2dParams(desc_, attrs_, in[0].shape(), out[0].shape());
      kernels::pool2d(in[0].data, out[0].data, p, elem_, streamOf(launch));
      return;
    }
    // The same geometry, from the channels-first view of the NHWC dims.
    const TensorView &x = in[0], &y = out[0];
    // The NHWC kernel walks rows and columns in int (its per-pixel arithmetic).
    KILN_CHECK(x.dims[1] < (int64_t{1} << 30) && x.dims[2] < (int64_t{1} << 30), desc_.describe(), ": spatial size ",
               x.dims[1], "x", x.dims[2], " is too large for the channels-last pool");
    const std::vector<int64_t> xs{x.dims[0], x.dims[3], x.dims[1], x.dims[2]};
    const std::vector<int64_t> ys{y.dims[0], y.dims[3], y.dims[1], y.dims[2]};
    kernels::pool2dNhwc(x.data, y.data, pool2dParams(desc_, attrs_, xs, ys), elem_, streamOf(launch));
  }

 private:
  ir::Node desc_;  //!< op, name and attributes, for errors at run time
  ir::WindowAttrs attrs_;
  bool last_;  //!< kiln_layout NHWC
  kernels::Elem elem_ = kernels::Elem::kFloat;
};

class GlobalAveragePoolKernel final : public backends::DeviceKernel {
 public:
  GlobalAveragePoolKernel(kernels::Elem elem, bool last) : elem_(elem), last_(last) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    if (last_) {  // [N, spatial.., C]: the mean over the middle axes
      int64_t hw = 1;
      for (int d = 1; d + 1 < x.rank; ++d) hw *= x.dims[d];
      kernels::meanOverMiddle(x.data, out[0].data, x.dims[0], hw, x.dims[x.rank - 1], elem_, streamOf(launch));
      return;
    }
    int64_t rows = x.rank >= 2 ? x.dims[0] * x.dims[1] : 1, hw = 1;
    for (int d = 2; d < x.rank; ++d) hw *= x.dims[d];
    kernels::rowMean(x.data, out[0].data, rows, hw, elem_, streamOf(launch));
  }

 private:
  kernels::Elem elem_;
  bool last_;
};

bool validLayout(const ir::Node& n) {
  const std::string layout = n.s(ir::kLayoutAttr, "NCHW");
  return layout == "NCHW" || layout == "NHWC";
}

bool supportsPool(const ir::Node& n) {
  // Indices (MaxPool's second output) and storage_order are not implemented on CUDA;
  // NHWC: the same, channels-last (layout.cu).
  kernels::Elem e;
  return uniformFloat(n, &e) && n.inputs.size() == 1 && n.outputs.size() == 1 && n.inputs[0]->shape.size() == 4 &&
         n.i("storage_order", 0) == 0 && validLayout(n);
}

bool supportsGlobal(const ir::Node& n) {
  kernels::Elem e;
  return uniformFloat(n, &e) && n.inputs.size() == 1 && n.outputs.size() == 1 && n.inputs[0]->shape.size() >= 3 &&
         validLayout(n);
}

std::unique_ptr<backends::DeviceKernel> createPool(const ir::Node& n) { return std::make_unique<PoolKernel>(n); }
std::unique_ptr<backends::DeviceKernel> createGlobal(const ir::Node& n) {
  kernels::Elem e;
  KILN_CHECK(uniformFloat(n, &e), n.describe(), ": input and output must share one of FP32/FP16/BF16");
  return std::make_unique<GlobalAveragePoolKernel>(e, ir::channelsLast(n));
}

}  // namespace

void registerPoolTactics(TacticList& out) {
  out.push_back({"MaxPool.cuda", "MaxPool", 0, supportsPool, createPool});
  out.push_back({"AveragePool.cuda", "AveragePool", 0, supportsPool, createPool});
  out.push_back({"GlobalAveragePool.cuda", "GlobalAveragePool", 0, supportsGlobal, createGlobal});
}

}  // namespace kiln::cuda
