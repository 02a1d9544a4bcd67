// Kernels of Gather and GatherElements. Indices may be int32 or int64 and
// negative (counted from the end). They are checked before any copy starts,
// so a bad index is a kiln::Error naming the node, not a read out of bounds.
#include <algorithm>
#include <string>

#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

void checkIndices(const std::string& who, const TensorView& indices, int64_t dim, int64_t axis) {
  int64_t n = indices.numel();
  for (int64_t k = 0; k < n; ++k) {
    int64_t v = readIndex(indices, k);
    KILN_CHECK(v >= -dim && v < dim, who, ": index ", v, " is out of range for axis ", axis, " of size ", dim);
  }
}

class GatherKernel : public Kernel {
 public:
  explicit GatherKernel(const ir::Node& node) : who_(node.describe()), axis_(node.i("axis", 0)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &data = in[0], &indices = in[1];
    int64_t rank = data.rank;
    KILN_CHECK(axis_ >= -rank && axis_ < rank, who_, ": axis ", axis_, " is out of range for rank ", rank);
    int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    int64_t es = elementSize(data), outer = 1, inner = 1, dim = data.dims[axis];
    for (int64_t k = 0; k < axis; ++k) outer *= data.dims[k];
    for (int64_t k = axis + 1; k < rank; ++k) inner *= data.dims[k];
    int64_t count = indices.numel();
    checkIndices(who_, indices, dim, axis);
    KILN_CHECK(out[0].numel() == outer * count * inner, who_, ": output has ", out[0].numel(),
               " elements, expected ", outer * count * inner);
    dispatchBySize(es, [&]<typename T>() {
      const T* src = data.as<const T>();
      T* dst = out[0].as<T>();
      // One piece = one gathered slice of `inner` elements.
      maybeParallel(ctx, outer * count, outer * count * inner * es, [&](int64_t begin, int64_t end) {
        for (int64_t piece = begin; piece < end; ++piece) {
          int64_t o = piece / count, v = readIndex(indices, piece % count);
          if (v < 0) v += dim;
          const T* from = src + (o * dim + v) * inner;
          T* to = dst + piece * inner;
          if (inner == 1) *to = *from;
          else std::memcpy(to, from, static_cast<std::size_t>(inner) * sizeof(T));
        }
      });
    });
  }

 private:
  std::string who_;
  int64_t axis_;
};

class GatherElementsKernel : public Kernel {
 public:
  explicit GatherElementsKernel(const ir::Node& node) : who_(node.describe()), axis_(node.i("axis", 0)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &data = in[0], &indices = in[1];
    int rank = data.rank;
    KILN_CHECK(indices.rank == rank, who_, ": indices have rank ", indices.rank, ", data has rank ", rank);
    KILN_CHECK(axis_ >= -rank && axis_ < rank, who_, ": axis ", axis_, " is out of range for rank ", rank);
    int axis = static_cast<int>(axis_ < 0 ? axis_ + rank : axis_);
    for (int k = 0; k < rank; ++k)
      KILN_CHECK(k == axis || indices.dims[k] <= data.dims[k], who_, ": indices exceed the data on axis ", k);
    int64_t dim = data.dims[axis];
    checkIndices(who_, indices, dim, axis);
    int64_t strides[kMaxRank];
    contiguousStrides(data, strides);
    int64_t last = indices.dims[rank - 1], numel = indices.numel();
    if (numel == 0) return;
    int64_t rows = numel / last, axisStride = strides[axis];
    dispatchBySize(elementSize(data), [&]<typename T>() {
      const T* src = data.as<const T>();
      T* dst = out[0].as<T>();
      maybeParallel(ctx, rows, numel * static_cast<int64_t>(sizeof(T)), [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row) {
          // Data offset of the row's start, leaving out the gathered axis.
          int64_t base = 0, r = row;
          for (int k = rank - 2; k >= 0; --k) {
            int64_t i = r % indices.dims[k];
            r /= indices.dims[k];
            if (k != axis) base += i * strides[k];
          }
          const T* s = src + base;
          T* o = dst + row * last;
          int64_t first = row * last;
          for (int64_t j = 0; j < last; ++j) {
            int64_t v = readIndex(indices, first + j);
            if (v < 0) v += dim;
            o[j] = axis == rank - 1 ? s[v] : s[j * strides[rank - 1] + v * axisStride];
          }
        }
      });
    });
  }

 private:
  std::string who_;
  int64_t axis_;
};

}  // namespace

void registerGatherKernels(TacticRegistry& r) {
  r.add(refTactic<GatherKernel>("Gather"));
  r.add(refTactic<GatherElementsKernel>("GatherElements"));
}

}  // namespace kiln::cpu
