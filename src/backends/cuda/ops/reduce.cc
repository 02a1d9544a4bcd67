// ReduceMean / ReduceSum over one run of adjacent constant axes (FP32): the
// input is viewed as [outer, reduce, inner]. FP32/FP16/BF16, accumulated in FP32.
// Other axis sets are declined.
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
  ReduceKernel(int64_t first, int64_t last, bool mean, kernels::Elem elem)
      : first_(first), last_(last), mean_(mean), elem_(elem) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    int64_t outer = 1, reduce = 1, inner = 1;
    for (int d = 0; d < x.rank; ++d) (d < first_ ? outer : d <= last_ ? reduce : inner) *= x.dims[d];
    kernels::reduceMiddle(x.data, out[0].data, outer, reduce, inner, mean_, elem_, streamOf(launch));
  }

 private:
  int64_t first_, last_;
  bool mean_;
  kernels::Elem elem_;
};

bool supports(const ir::Node& n) {
  std::vector<int64_t> axes;
  kernels::Elem e;
  return n.inputs[0] && uniformFloat(n, &e, {1}) && n.outputs.size() == 1 &&
         adjacentAxes(n, n.inputs[0]->shape.size(), &axes);
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  std::vector<int64_t> axes;
  kernels::Elem e;
  KILN_CHECK(adjacentAxes(n, n.inputs[0]->shape.size(), &axes), n.describe(), ": axes not supported on CUDA");
  KILN_CHECK(uniformFloat(n, &e, {1}), n.describe(), ": data and output must share one of FP32/FP16/BF16");
  return std::make_unique<ReduceKernel>(axes.front(), axes.back(), n.op == "ReduceMean", e);
}

}  // namespace

void registerReduceTactics(TacticList& out) {
  out.push_back({"ReduceMean.cuda", "ReduceMean", 0, supports, create});
  out.push_back({"ReduceSum.cuda", "ReduceSum", 0, supports, create});
}

}  // namespace kiln::cuda
