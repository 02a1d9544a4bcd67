// Pad in the four ONNX modes (constant, reflect, edge, wrap), with pads,
// constant_value and axes read from the inputs at run time. Negative pads crop.
// The output is written row by row (a row = the last axis): the part of a row
// that lies inside the input is one memcpy, only the borders are per element.
#include <algorithm>
#include <string>

#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

PadMode parseMode(const ir::Node& node) {
  std::string m = node.s("mode", "constant");
  if (m == "constant") return PadMode::kConstant;
  if (m == "reflect") return PadMode::kReflect;
  if (m == "edge") return PadMode::kEdge;
  if (m == "wrap") return PadMode::kWrap;
  fail(node.describe(), ": unknown mode '", m, "'");
}

// The input coordinate that output coordinate x (already shifted by the begin
// pad) reads along an axis of size d, or -1 for the constant value.
inline int64_t sourceCoord(PadMode mode, int64_t x, int64_t d) {
  if (x >= 0 && x < d) return x;
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kEdge: return x < 0 ? 0 : d - 1;
    case PadMode::kWrap: return ((x % d) + d) % d;
    case PadMode::kReflect: {
      if (d == 1) return 0;
      int64_t period = 2 * (d - 1);
      x = ((x % period) + period) % period;
      return x < d ? x : period - x;
    }
  }
  return -1;
}

class PadKernel : public Kernel {
 public:
  explicit PadKernel(const ir::Node& node)
      : who_(node.describe()), mode_(parseMode(node)), hasValue_(node.input(2) != nullptr),
        hasAxes_(node.input(3) != nullptr) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &src = in[0], &dst = out[0];
    int rank = src.rank;
    int64_t es = elementSize(src);
    KILN_CHECK(dst.rank == rank, who_, ": output rank differs from the input's");
    int64_t begin[kMaxRank] = {};
    int64_t n = hasAxes_ && in[3].data ? in[3].numel() : rank;
    KILN_CHECK(in[1].numel() == 2 * n, who_, ": pads has ", in[1].numel(), " values for ", n, " axes");
    for (int64_t j = 0; j < n; ++j) {
      int64_t axis = hasAxes_ && in[3].data ? readIndex(in[3], j) : j;
      KILN_CHECK(axis >= -rank && axis < rank, who_, ": axis ", axis, " is out of range for rank ", rank);
      if (axis < 0) axis += rank;
      begin[axis] = readIndex(in[1], j);
      int64_t size = src.dims[axis] + begin[axis] + readIndex(in[1], j + n);
      KILN_CHECK(size == dst.dims[axis], who_, ": axis ", axis, " pads to ", size, ", output has ",
                 dst.dims[axis]);
      KILN_CHECK(mode_ == PadMode::kConstant || src.dims[axis] > 0 || size == 0, who_,
                 ": cannot pad an empty axis in this mode");
    }
    unsigned char value[8] = {};
    if (hasValue_ && in[2].data && in[2].numel() > 0) std::memcpy(value, in[2].data, static_cast<std::size_t>(es));
    int64_t total = dst.numel();
    if (total == 0) return;
    if (rank == 0) {
      std::memcpy(dst.data, src.data, static_cast<std::size_t>(es));
      return;
    }
    if (src.numel() == 0) {  // constant mode over an empty input: all padding
      fillElements(dst.data, value, es, total);
      return;
    }
    int64_t srcStrides[kMaxRank];
    contiguousStrides(src, srcStrides);
    int last = rank - 1;
    int64_t width = dst.dims[last], rows = total / width;
    dispatchBySize(es, [&]<typename T>() {
      T fill;
      std::memcpy(&fill, value, sizeof(T));
      const T* s = src.as<const T>();
      T* d = dst.as<T>();
      int64_t inW = src.dims[last], pb = begin[last];
      // Columns [lo, hi) of an output row lie inside the input row.
      int64_t lo = std::clamp<int64_t>(pb, 0, width), hi = std::clamp<int64_t>(pb + inW, 0, width);
      maybeParallel(ctx, rows, total * es, [&](int64_t b, int64_t e) {
        for (int64_t row = b; row < e; ++row) {
          T* o = d + row * width;
          int64_t offset = 0, r = row;
          bool inside = true;
          for (int k = last - 1; k >= 0; --k) {
            int64_t x = sourceCoord(mode_, r % dst.dims[k] - begin[k], src.dims[k]);
            r /= dst.dims[k];
            if (x < 0) inside = false;
            offset += x * srcStrides[k];
          }
          if (!inside) {
            std::fill(o, o + width, fill);
            continue;
          }
          const T* in = s + offset;
          if (hi > lo) std::memcpy(o + lo, in + (lo - pb), static_cast<std::size_t>(hi - lo) * sizeof(T));
          auto border = [&](int64_t j) {
            int64_t x = sourceCoord(mode_, j - pb, inW);
            o[j] = x < 0 ? fill : in[x];
          };
          for (int64_t j = 0; j < std::min(lo, width); ++j) border(j);
          for (int64_t j = std::max(hi, lo); j < width; ++j) border(j);
        }
      });
    });
  }

 private:
  std::string who_;
  PadMode mode_;
  bool hasValue_, hasAxes_;
};

}  // namespace

void registerPadKernels(TacticRegistry& r) { r.add(refTactic<PadKernel>("Pad")); }

}  // namespace kiln::cpu
