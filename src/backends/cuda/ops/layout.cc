// "Transpose.tiled": the Transposes that are batched 2-D transposes (the
// NCHW <-> NHWC boundaries the device layout pass inserts, and any perm of
// that form) through one tiled shared-memory kernel (layout.cu), above the
// general index walk of Transpose.cuda.
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/layout.h"
#include "backends/cuda/ops/layout_kernels.h"
#include "backends/cuda/ops/tactic_util.h"

namespace kiln::cuda {
namespace {

class TiledTransposeKernel final : public backends::DeviceKernel {
 public:
  explicit TiledTransposeKernel(BatchedSplit split) : split_(split) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const Batched2d t = batched2d(split_, in[0].dims, in[0].rank);
    kernels::batchedTranspose(in[0].data, out[0].data, t.batch, t.rows, t.cols,
                              static_cast<int32_t>(dtypeSize(in[0].dtype)), streamOf(launch));
  }

 private:
  BatchedSplit split_;
};

bool supportsTiled(const ir::Node& n) {
  BatchedSplit s;
  if (n.inputs.size() != 1 || !n.inputs[0] || n.outputs.size() != 1 || !n.has("perm")) return false;
  const std::size_t es = dtypeSize(n.inputs[0]->dtype);
  return (es == 1 || es == 2 || es == 4 || es == 8) && n.ints("perm").size() == n.inputs[0]->shape.size() &&
         batchedSplit(n.ints("perm"), &s);
}

std::unique_ptr<backends::DeviceKernel> createTiled(const ir::Node& n) {
  BatchedSplit s;
  KILN_CHECK(batchedSplit(n.ints("perm"), &s), n.describe(), ": perm is not a batched 2-D transpose");
  return std::make_unique<TiledTransposeKernel>(s);
}

}  // namespace

void registerLayoutTactics(TacticList& out) {
  out.push_back({"Transpose.tiled", "Transpose", 1, supportsTiled, createTiled});
}

}  // namespace kiln::cuda
