// ReduceMean / ReduceSum over one run of adjacent constant axes (FP32): the
// input is viewed as [outer, reduce, inner]. Other axis sets are declined.
#include <algorithm>

#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"

namespace kiln::cuda {
namespace {

//! The reduced axes, normalized and sorted; false when they are not constant,
//! empty, or not adjacent.
bool adjacentAxes(const ir::Node& n, std::size_t rank, std::vector<int64_t>* axes) {
  if (n.inputs.size() < 2 || !n.inputs[1] || !n.inputs[1]->isConstant()) return false;
  *axes = n.inputs[1]->constant->toInt64();
  if (axes->empty()) return false;
  for (int64_t& a : *axes) {
    if (a < 0) a += static_cast<int64_t>(rank);
    if (a < 0 || a >= static_cast<int64_t>(rank)) return false;
  }
  std::sort(axes->begin(), axes->end());
  for (std::size_t i = 1; i < axes->size(); ++i)
    if ((*axes)[i] != (*axes)[i - 1] + 1) return false;
  return true;
}

class ReduceKernel final : public backends::DeviceKernel {
 public:
  ReduceKernel(int64_t first, int64_t last, bool mean) : first_(first), last_(last), mean_(mean) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    int64_t outer = 1, reduce = 1, inner = 1;
    for (int d = 0; d < x.rank; ++d) (d < first_ ? outer : d <= last_ ? reduce : inner) *= x.dims[d];
    kernels::reduceMiddle(x.as<const float>(), out[0].as<float>(), outer, reduce, inner, mean_, streamOf(launch));
  }

 private:
  int64_t first_, last_;
  bool mean_;
};

bool supports(const ir::Node& n) {
  std::vector<int64_t> axes;
  return n.inputs[0] && n.inputs[0]->dtype == DType::kFLOAT && n.outputs.size() == 1 &&
         n.outputs[0]->dtype == DType::kFLOAT && adjacentAxes(n, n.inputs[0]->shape.size(), &axes);
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  std::vector<int64_t> axes;
  KILN_CHECK(adjacentAxes(n, n.inputs[0]->shape.size(), &axes), n.describe(), ": axes not supported on CUDA");
  return std::make_unique<ReduceKernel>(axes.front(), axes.back(), n.op == "ReduceMean");
}

}  // namespace

void registerReduceTactics(TacticList& out) {
  out.push_back({"ReduceMean.cuda", "ReduceMean", 0, supports, create});
  out.push_back({"ReduceSum.cuda", "ReduceSum", 0, supports, create});
}

}  // namespace kiln::cuda
