// Split on the device (split.h): the output sizes come from the output views,
// so the `split` input (constant or not) and num_outputs need no reading here.
// YOLO's C2f blocks split their channels this way.
#include "backends/cuda/ops/split.h"

#include "backends/cuda/check.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/row_pieces.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"

namespace kiln::cuda {

std::vector<SplitCopy> splitCopies(const std::vector<int64_t>& in, int64_t axis, const std::vector<int64_t>& parts,
                                   std::size_t elementBytes) {
  const int64_t rank = static_cast<int64_t>(in.size());
  const int64_t a = axis < 0 ? axis + rank : axis;
  KILN_CHECK(a >= 0 && a < rank, "Split: axis ", axis, " is out of range for rank ", rank);
  int64_t total = 0;
  for (int64_t p : parts) {
    KILN_CHECK(p >= 0, "Split: an output has negative size ", p, " on axis ", a);
    total += p;
  }
  KILN_CHECK(total == in[a], "Split: outputs sum to ", total, " on axis ", a, ", input has ", in[a]);
  std::size_t outer = 1, inner = elementBytes;
  for (int64_t d = 0; d < a; ++d) outer *= static_cast<std::size_t>(in[d]);
  for (int64_t d = a + 1; d < rank; ++d) inner *= static_cast<std::size_t>(in[d]);
  std::vector<SplitCopy> copies;
  std::size_t offset = 0;
  for (int64_t p : parts) {
    SplitCopy c;
    c.srcOffsetBytes = offset;
    c.srcPitchBytes = static_cast<std::size_t>(in[a]) * inner;
    c.widthBytes = static_cast<std::size_t>(p) * inner;
    c.rows = outer;
    copies.push_back(c);
    offset += c.widthBytes;
  }
  return copies;
}

namespace {

class SplitKernel final : public backends::DeviceKernel {
 public:
  SplitKernel(int64_t axis, std::size_t outputs) : axis_(axis), outputs_(outputs) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t a = axis_ < 0 ? axis_ + x.rank : axis_;
    KILN_CHECK(a >= 0 && a < x.rank, "Split: axis ", axis_, " is out of range for rank ", x.rank);
    std::vector<int64_t> parts;
    for (std::size_t i = 0; i < outputs_; ++i) parts.push_back(out[i].dims[a]);
    std::vector<SplitCopy> copies = splitCopies(x.shape(), axis_, parts, dtypeSize(x.dtype));
    std::vector<void*> pieces;
    std::vector<int64_t> widths;
    for (std::size_t i = 0; i < outputs_; ++i) {
      pieces.push_back(out[i].data);
      widths.push_back(static_cast<int64_t>(copies[i].widthBytes));
    }
    if (copies.empty()) return;
    kernels::copyPieces(x.data, static_cast<int64_t>(copies[0].rows),
                        static_cast<int64_t>(copies[0].srcPitchBytes), pieces, widths, false, streamOf(launch));
  }

 private:
  int64_t axis_;
  std::size_t outputs_;
};

bool supportsSplit(const ir::Node& n) {
  if (n.inputs.empty() || !n.inputs[0] || n.outputs.empty()) return false;
  for (const ir::Value* v : n.outputs)
    if (!v || v->dtype != n.inputs[0]->dtype) return false;
  return true;
}
std::unique_ptr<backends::DeviceKernel> createSplit(const ir::Node& n) {
  return std::make_unique<SplitKernel>(n.i("axis", 0), n.outputs.size());
}

}  // namespace

void registerSplitTactics(TacticList& out) { out.push_back({"Split.cuda", "Split", 0, supportsSplit, createSplit}); }

}  // namespace kiln::cuda
