// Where on the device (where.cu), any dtype of 1, 2, 4 or 8 bytes, all three
// operands broadcast to the output. BERT's attention mask (a Where over the
// mask input) is one that constant folding leaves.
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/tactic_util.h"
#include "backends/cuda/ops/where_kernels.h"
#include "core/error.h"

namespace kiln::cuda {

kernels::WhereShape kernels::whereShape(const std::vector<int64_t>& cond, const std::vector<int64_t>& x,
                                        const std::vector<int64_t>& y, const std::vector<int64_t>& out) {
  KILN_CHECK(cond.size() <= out.size() && x.size() <= out.size() && y.size() <= out.size(), "Where: operand ranks ",
             cond.size(), ", ", x.size(), ", ", y.size(), " exceed the output rank ", out.size());
  WhereShape s;
  s.rank = static_cast<int32_t>(out.size());
  // broadcastShape(v, out, out) checks v against out and gives v's strides as its first operand's.
  const std::pair<const std::vector<int64_t>*, int64_t*> operands[] = {
      {&cond, s.condStrides}, {&x, s.xStrides}, {&y, s.yStrides}};
  for (const auto& [dims, strides] : operands) {
    BroadcastShape b = broadcastShape(*dims, out, out);
    for (int d = 0; d < s.rank; ++d) strides[d] = b.aStrides[d];
  }
  for (int d = 0; d < s.rank; ++d) s.dims[d] = out[d];
  return s;
}

namespace {

class WhereKernel final : public backends::DeviceKernel {
 public:
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    kernels::WhereShape s = kernels::whereShape(in[0].shape(), in[1].shape(), in[2].shape(), out[0].shape());
    kernels::where(in[0].as<const bool>(), in[1].data, in[2].data, out[0].data,
                   static_cast<int32_t>(dtypeSize(out[0].dtype)), s, streamOf(launch));
  }
};

bool supportsWhere(const ir::Node& n) {
  if (n.inputs.size() != 3 || n.outputs.size() != 1) return false;
  for (const ir::Value* v : n.inputs)
    if (!v) return false;
  const std::size_t es = dtypeSize(n.inputs[1]->dtype);
  return n.inputs[0]->dtype == DType::kBOOL && n.inputs[1]->dtype == n.inputs[2]->dtype &&
         n.outputs[0]->dtype == n.inputs[1]->dtype && (es == 1 || es == 2 || es == 4 || es == 8) &&
         n.outputs[0]->shape.size() <= kernels::kMaxRank;
}
std::unique_ptr<backends::DeviceKernel> createWhere(const ir::Node&) { return std::make_unique<WhereKernel>(); }

}  // namespace

void registerWhereTactics(TacticList& out) { out.push_back({"Where.cuda", "Where", 0, supportsWhere, createWhere}); }

}  // namespace kiln::cuda
