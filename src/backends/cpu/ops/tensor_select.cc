// Kernels of NonZero and Compress, whose output sizes depend on the data:
// each writes its elements contiguously for the size it finds and reports
// that size (reportOutputDims); its output buffer holds the upper bound.
#include <algorithm>
#include <cstring>
#include <string>

#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

//! Whether element i of `v` is nonzero (floats: -0.0 is zero too).
bool isNonZero(const TensorView& v, int64_t i) {
  switch (v.dtype) {
    case DType::kFLOAT: return v.as<const float>()[i] != 0.0f;
    case DType::kHALF:
    case DType::kBF16: return (v.as<const uint16_t>()[i] & 0x7fffu) != 0;
    default: break;
  }
  switch (elementSize(v)) {
    case 1: return v.as<const uint8_t>()[i] != 0;
    case 2: return v.as<const uint16_t>()[i] != 0;
    case 4: return v.as<const uint32_t>()[i] != 0;
    default: return v.as<const uint64_t>()[i] != 0;
  }
}

class NonZeroKernel : public Kernel {
 public:
  explicit NonZeroKernel(const ir::Node& node) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    int64_t numel = x.numel(), count = 0;
    for (int64_t i = 0; i < numel; ++i) count += isNonZero(x, i);
    int rank = std::max(1, x.rank);
    int64_t* dst = out[0].as<int64_t>();
    int64_t k = 0;
    for (int64_t i = 0; i < numel; ++i) {
      if (!isNonZero(x, i)) continue;
      // Row d of the output holds coordinate d of every nonzero element.
      int64_t rest = i;
      for (int d = x.rank - 1; d >= 0; --d) {
        dst[d * count + k] = rest % x.dims[d];
        rest /= x.dims[d];
      }
      if (x.rank == 0) dst[k] = 0;
      ++k;
    }
    reportOutputDims(ctx, 0, {rank, count});
  }
};

class CompressKernel : public Kernel {
 public:
  explicit CompressKernel(const ir::Node& node)
      : who_(node.describe()), hasAxis_(node.has("axis")), axis_(node.i("axis", 0)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &cond = in[1];
    const uint8_t* keep = cond.as<const uint8_t>();
    int64_t es = elementSize(x);
    const uint8_t* src = x.as<const uint8_t>();
    uint8_t* dst = out[0].as<uint8_t>();
    if (!hasAxis_) {
      int64_t n = std::min(x.numel(), cond.numel()), kept = 0;
      for (int64_t i = 0; i < n; ++i)
        if (keep[i]) std::memcpy(dst + (kept++) * es, src + i * es, static_cast<std::size_t>(es));
      reportOutputDims(ctx, 0, {kept});
      return;
    }
    int rank = x.rank;
    KILN_CHECK(axis_ >= -rank && axis_ < rank, who_, ": axis ", axis_, " is out of range for rank ", rank);
    int axis = static_cast<int>(axis_ < 0 ? axis_ + rank : axis_);
    int64_t outer = 1, inner = 1, dim = x.dims[axis];
    for (int k = 0; k < axis; ++k) outer *= x.dims[k];
    for (int k = axis + 1; k < rank; ++k) inner *= x.dims[k];
    int64_t n = std::min(dim, cond.numel()), kept = 0;
    for (int64_t j = 0; j < n; ++j) kept += keep[j] != 0;
    std::size_t slice = static_cast<std::size_t>(inner * es);
    for (int64_t o = 0; o < outer; ++o) {
      int64_t k = 0;
      for (int64_t j = 0; j < n; ++j)
        if (keep[j]) std::memcpy(dst + ((o * kept) + k++) * slice, src + (o * dim + j) * slice, slice);
    }
    if (ctx.actualOutputs) {
      TensorView& actual = ctx.actualOutputs[0];
      actual.rank = rank;
      for (int k = 0; k < rank; ++k) actual.dims[k] = k == axis ? kept : x.dims[k];
    }
  }

 private:
  std::string who_;
  bool hasAxis_;
  int64_t axis_;
};

}  // namespace

void registerSelectKernels(TacticRegistry& r) {
  r.add(refTactic<NonZeroKernel>("NonZero"));
  r.add(refTactic<CompressKernel>("Compress"));
}

}  // namespace kiln::cpu
