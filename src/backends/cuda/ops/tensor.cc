// Data-movement ops on the device: Reshape/Flatten/Squeeze/Unsqueeze/Identity
// (a device copy unless the memory planner aliased output and input),
// Transpose (transpose.cu: planned per run, transpose_kernels.h), Gather (kernels.cu) and Concat (one launch for all inputs: row_pieces.h), any dtype;
// KilnReformat (Transpose's plans, converting float types on the way).
// Gather cannot raise on a bad index on the device: it writes zeros there.
#include "backends/cuda/check.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/row_pieces.h"
#include "backends/cuda/ops/tactic_util.h"
#include "backends/cuda/ops/transpose_kernels.h"

namespace kiln::cuda {
namespace {

class CopyKernel final : public backends::DeviceKernel {
 public:
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    std::size_t bytes = static_cast<std::size_t>(out[0].numel()) * dtypeSize(out[0].dtype);
    if (in[0].data != out[0].data && bytes)
      KILN_CUDA_CHECK(cudaMemcpyAsync(out[0].data, in[0].data, bytes, cudaMemcpyDeviceToDevice, streamOf(launch)));
  }
};

class TransposeKernel final : public backends::DeviceKernel {
 public:
  explicit TransposeKernel(std::vector<int64_t> perm) : perm_(std::move(perm)) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const int32_t elementBytes = static_cast<int32_t>(dtypeSize(in[0].dtype));
    const kernels::TransposePlan p =
        kernels::planTranspose(transposeShape(in[0].shape(), perm_), elementBytes,
                               reinterpret_cast<uintptr_t>(in[0].data), reinterpret_cast<uintptr_t>(out[0].data));
    if (p.kind == kernels::TransposeKind::kCopy) {
      const std::size_t bytes = static_cast<std::size_t>(p.words) * static_cast<std::size_t>(elementBytes);
      if (bytes && in[0].data != out[0].data)
        KILN_CUDA_CHECK(cudaMemcpyAsync(out[0].data, in[0].data, bytes, cudaMemcpyDeviceToDevice, streamOf(launch)));
      return;
    }
    kernels::transpose(in[0].data, out[0].data, p, streamOf(launch));
  }

 private:
  std::vector<int64_t> perm_;
};

class ReformatKernel final : public backends::DeviceKernel {
 public:
  ReformatKernel(std::vector<int64_t> perm, kernels::Elem from, kernels::Elem to)
      : perm_(std::move(perm)), from_(from), to_(to) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const kernels::TransposePlan p = kernels::planReformat(transposeShape(in[0].shape(), perm_));
    kernels::reformat(in[0].data, from_, out[0].data, to_, p, streamOf(launch));
  }

 private:
  std::vector<int64_t> perm_;
  kernels::Elem from_, to_;
};

class ConcatKernel final : public backends::DeviceKernel {
 public:
  ConcatKernel(int64_t axis, std::size_t inputs) : axis_(axis), inputs_(inputs) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView& y = out[0];
    int64_t axis = axis_ < 0 ? axis_ + y.rank : axis_;
    KILN_CHECK(axis >= 0 && axis < y.rank, "Concat: axis ", axis_, " is out of range for rank ", y.rank);
    int64_t outer = 1, inner = static_cast<int64_t>(dtypeSize(y.dtype));
    for (int d = 0; d < axis; ++d) outer *= y.dims[d];
    for (int d = axis + 1; d < y.rank; ++d) inner *= y.dims[d];
    std::vector<void*> pieces;
    std::vector<int64_t> widths;
    for (std::size_t i = 0; i < inputs_; ++i) {
      pieces.push_back(in[i].data);
      widths.push_back(in[i].dims[axis] * inner);
    }
    kernels::copyPieces(y.data, outer, y.dims[axis] * inner, pieces, widths, true, streamOf(launch));
  }

 private:
  int64_t axis_;
  std::size_t inputs_;
};

class GatherKernel final : public backends::DeviceKernel {
 public:
  explicit GatherKernel(int64_t axis) : axis_(axis) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView &data = in[0], &idx = in[1];
    int64_t axis = axis_ < 0 ? axis_ + data.rank : axis_;
    KILN_CHECK(axis >= 0 && axis < data.rank, "Gather: axis ", axis_, " is out of range for rank ", data.rank);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= data.dims[d];
    for (int d = static_cast<int>(axis) + 1; d < data.rank; ++d) inner *= data.dims[d];
    kernels::gather(data.data, idx.data, idx.dtype == DType::kINT64, out[0].data, outer, data.dims[axis], idx.numel(),
                    inner, static_cast<int32_t>(dtypeSize(data.dtype)), streamOf(launch));
  }

 private:
  int64_t axis_;
};

bool supportsCopy(const ir::Node& n) { return !n.inputs.empty() && n.inputs[0] && n.outputs.size() == 1; }
bool supportsTranspose(const ir::Node& n) {
  return n.inputs.size() == 1 && n.outputs.size() == 1 && n.inputs[0]->shape.size() <= kernels::kMaxRank &&
         dtypeSize(n.inputs[0]->dtype) <= 8;
}
bool supportsReformat(const ir::Node& n) {
  kernels::Elem a, b;
  return n.inputs.size() == 1 && n.inputs[0] && n.outputs.size() == 1 &&
         n.inputs[0]->shape.size() <= kernels::kMaxRank && floatElem(n.inputs[0]->dtype, &a) &&
         floatElem(n.outputs[0]->dtype, &b);
}
std::unique_ptr<backends::DeviceKernel> createReformat(const ir::Node& n) {
  kernels::Elem a, b;
  KILN_CHECK(floatElem(n.inputs[0]->dtype, &a) && floatElem(n.outputs[0]->dtype, &b), n.describe(),
             ": a reformat converts float32, float16 and bfloat16 only");
  return std::make_unique<ReformatKernel>(n.ints("perm"), a, b);
}
bool supportsConcat(const ir::Node& n) {
  for (const ir::Value* v : n.inputs)
    if (!v) return false;
  return !n.inputs.empty() && n.outputs.size() == 1;
}

bool supportsGather(const ir::Node& n) {
  if (n.inputs.size() != 2 || !n.inputs[0] || !n.inputs[1] || n.outputs.size() != 1) return false;
  std::size_t es = dtypeSize(n.inputs[0]->dtype);
  return (es == 1 || es == 2 || es == 4 || es == 8) &&
         (n.inputs[1]->dtype == DType::kINT64 || n.inputs[1]->dtype == DType::kINT32);
}
std::unique_ptr<backends::DeviceKernel> createGather(const ir::Node& n) {
  return std::make_unique<GatherKernel>(n.i("axis", 0));
}

std::unique_ptr<backends::DeviceKernel> createCopy(const ir::Node&) { return std::make_unique<CopyKernel>(); }
std::unique_ptr<backends::DeviceKernel> createTranspose(const ir::Node& n) {
  return std::make_unique<TransposeKernel>(n.ints("perm"));
}
std::unique_ptr<backends::DeviceKernel> createConcat(const ir::Node& n) {
  return std::make_unique<ConcatKernel>(n.i("axis", 0), n.inputs.size());
}

}  // namespace

void registerTensorTactics(TacticList& out) {
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
    out.push_back({std::string(op) + ".cuda", op, 0, supportsCopy, createCopy});
  out.push_back({"Transpose.cuda", "Transpose", 0, supportsTranspose, createTranspose});
  out.push_back({"KilnReformat.cuda", "KilnReformat", 0, supportsReformat, createReformat});
  out.push_back({"Concat.cuda", "Concat", 0, supportsConcat, createConcat});
  out.push_back({"Gather.cuda", "Gather", 0, supportsGather, createGather});
}

}  // namespace kiln::cuda
