// Kernels of the ops that keep the data as is (Reshape, Flatten, Squeeze,
// Unsqueeze, Identity, Dropout in inference) and of the shape producers
// (Shape, Size, ConstantOfShape, Range). registerTensorKernels gathers every
// data-movement family.
#include <algorithm>
#include <string>

#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

// The output holds the input's bytes. When the memory planner lets the output
// alias the input there is nothing to do.
class CopyKernel : public Kernel {
 public:
  explicit CopyKernel(const ir::Node& node) : who_(node.describe()) {}
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    KILN_CHECK(in[0].numel() == out[0].numel(), who_, ": input has ", in[0].numel(), " elements, output has ",
               out[0].numel());
    auto bytes = static_cast<std::size_t>(in[0].numel() * elementSize(in[0]));
    if (in[0].data != out[0].data) parallelCopy(ctx, out[0].data, in[0].data, bytes);
  }

 private:
  std::string who_;
};

// Inference Dropout: the identity, and a mask of all true when asked for.
class DropoutKernel : public Kernel {
 public:
  explicit DropoutKernel(const ir::Node& node) : mask_(node.outputs.size() > 1 && node.outputs[1]) {}
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    KILN_CHECK(in[0].numel() == out[0].numel(), "Dropout: output size differs from the input's");
    auto bytes = static_cast<std::size_t>(in[0].numel() * elementSize(in[0]));
    if (in[0].data != out[0].data) parallelCopy(ctx, out[0].data, in[0].data, bytes);
    if (mask_ && out[1].data) std::memset(out[1].data, 1, static_cast<std::size_t>(out[1].numel()));
  }

 private:
  bool mask_;
};

class ShapeKernel : public Kernel {
 public:
  explicit ShapeKernel(const ir::Node& node)
      : start_(node.i("start", 0)), end_(node.i("end", kMaxRank)), hasEnd_(node.has("end")) {}
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    int64_t rank = in[0].rank;
    auto clampIndex = [&](int64_t v) {
      if (v < 0) v += rank;
      return std::clamp<int64_t>(v, 0, rank);
    };
    int64_t start = clampIndex(start_), end = hasEnd_ ? clampIndex(end_) : rank;
    auto* o = out[0].as<int64_t>();
    for (int64_t k = start; k < end; ++k) o[k - start] = in[0].dims[k];
  }

 private:
  int64_t start_, end_;
  bool hasEnd_;
};

class SizeKernel : public Kernel {
 public:
  explicit SizeKernel(const ir::Node& node) {}
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    *out[0].as<int64_t>() = in[0].numel();
  }
};

class ConstantOfShapeKernel : public Kernel {
 public:
  explicit ConstantOfShapeKernel(const ir::Node& node) {
    const ir::Tensor* v = node.has("value") ? node.tensor("value") : nullptr;
    if (v) {
      KILN_CHECK(v->numel() == 1, node.describe(), ": value must have one element");
      size_ = dtypeSize(v->dtype());
      std::memcpy(value_, v->data(), static_cast<std::size_t>(size_));
    }
  }
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    fillElements(out[0].data, value_, size_, out[0].numel());
  }

 private:
  unsigned char value_[8] = {};  // float 0 by default
  int64_t size_ = 4;
};

class RangeKernel : public Kernel {
 public:
  explicit RangeKernel(const ir::Node& node) {}
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    int64_t n = out[0].numel();
    switch (out[0].dtype) {
      case DType::kFLOAT: fillRange<float>(in, out[0], n); break;
      case DType::kINT32: fillRange<int32_t>(in, out[0], n); break;
      case DType::kINT64: fillRange<int64_t>(in, out[0], n); break;
      default: fail("Range: unsupported dtype ", dataTypeName(out[0].dtype));
    }
  }

 private:
  template <typename T>
  static void fillRange(const TensorView* in, const TensorView& out, int64_t n) {
    T start = *in[0].as<const T>(), delta = *in[2].as<const T>();
    T* o = out.as<T>();
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(start + static_cast<T>(i) * delta);
  }
};

bool supportsRange(const ir::Node& node) {
  DType t = node.outputs[0]->dtype;
  return t == DType::kFLOAT || t == DType::kINT32 || t == DType::kINT64;
}

bool supportsAny(const ir::Node&) { return true; }

}  // namespace

void registerReshapeLikeKernels(TacticRegistry& r) {
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
    r.add(refTactic<CopyKernel>(op, supportsAny));
  r.add(refTactic<DropoutKernel>("Dropout", supportsAny));
  r.add(refTactic<ShapeKernel>("Shape", supportsAny));
  r.add(refTactic<SizeKernel>("Size", supportsAny));
  r.add(refTactic<ConstantOfShapeKernel>("ConstantOfShape"));
  r.add(refTactic<RangeKernel>("Range", supportsRange));
}

void registerTensorKernels(TacticRegistry& r) {
  registerReshapeLikeKernels(r);
  registerConcatSliceKernels(r);
  registerGatherKernels(r);
  registerLayoutKernels(r);
  registerPadKernels(r);
  registerSelectKernels(r);
  registerScatterKernels(r);
}

}  // namespace kiln::cpu
