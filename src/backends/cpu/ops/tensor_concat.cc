// Kernels of Concat, Split and Slice. Concat and Split move whole blocks (one
// per input per outer index) with memcpy, in parallel when large; Slice is a
// strided copy whose parameters are read at run time.
// Between oneDNN convolutions that keep a value channels-last (kNhwcAttr, set
// by chainOnednnConvLayouts), a 4-D Concat or Split on the channel axis reads
// its data as NHWC: the views' dims are permuted so, and the axis is the last.
#include <algorithm>

#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

int64_t normalizeAxis(int64_t axis, int64_t rank, const char* op) {
  KILN_CHECK(axis >= -rank && axis < rank, op, ": axis ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

// Shared by Concat (gather = false: parts -> whole) and Split (parts <- whole):
// the whole is [outer, sum(parts' axis dims) * inner]; part i is
// [outer, dims_i[axis] * inner].
void moveBlocks(const ExecContext& ctx, const TensorView& whole, const TensorView* parts, int64_t numParts,
                int64_t axis, bool toWhole) {
  int64_t es = elementSize(whole);
  int64_t outer = 1, inner = es;
  for (int64_t k = 0; k < axis; ++k) outer *= whole.dims[k];
  for (int64_t k = axis + 1; k < whole.rank; ++k) inner *= whole.dims[k];
  int64_t rowBytes = whole.dims[axis] * inner;
  auto* w = static_cast<char*>(whole.data);
  if (outer == 1) {  // one block per part: parallelize inside each block instead
    int64_t offset = 0;
    for (int64_t i = 0; i < numParts; ++i) {
      int64_t block = parts[i].dims[axis] * inner;
      if (parts[i].data) {
        if (toWhole) parallelCopy(ctx, w + offset, parts[i].data, static_cast<std::size_t>(block));
        else parallelCopy(ctx, parts[i].data, w + offset, static_cast<std::size_t>(block));
      }
      offset += block;
    }
    return;
  }
  maybeParallel(ctx, outer * numParts, outer * rowBytes, [&](int64_t begin, int64_t end) {
    int64_t o = begin / numParts, i = begin % numParts;
    int64_t prefix = 0;  // offset of part i inside a row
    for (int64_t k = 0; k < i; ++k) prefix += parts[k].dims[axis] * inner;
    for (int64_t piece = begin; piece < end; ++piece) {
      int64_t block = parts[i].dims[axis] * inner;
      char* p = static_cast<char*>(parts[i].data);
      if (p && block) {
        if (toWhole) std::memcpy(w + o * rowBytes + prefix, p + o * block, static_cast<std::size_t>(block));
        else std::memcpy(p + o * block, w + o * rowBytes + prefix, static_cast<std::size_t>(block));
      }
      prefix += block;
      if (++i == numParts) {
        i = 0;
        prefix = 0;
        ++o;
      }
    }
  });
}

// moveBlocks on the channel axis of 4-D NCHW-shaped views whose data is NHWC
// (kNhwcAttr): the dims permuted to [N, H, W, C], the axis the last.
void moveChannelBlocksNhwc(const ExecContext& ctx, const TensorView& whole, const TensorView* parts, int64_t numParts,
                           int64_t axis, bool toWhole, const char* op) {
  constexpr int64_t kMaxParts = 64;
  KILN_CHECK(whole.rank == 4 && axis == 1 && numParts <= kMaxParts, op, ": the NHWC form takes at most ", kMaxParts,
             " 4-D parts on axis 1");
  TensorView views[kMaxParts + 1];
  std::copy(parts, parts + numParts, views);
  views[numParts] = whole;
  for (int64_t i = 0; i <= numParts; ++i) {
    int64_t* d = views[i].dims;
    const int64_t c = d[1];
    d[1] = d[2], d[2] = d[3], d[3] = c;
  }
  moveBlocks(ctx, views[numParts], views, numParts, 3, toWhole);
}

class ConcatKernel : public Kernel {
 public:
  explicit ConcatKernel(const ir::Node& node)
      : axis_(node.i("axis", 0)),
        numInputs_(static_cast<int64_t>(node.inputs.size())),
        nhwc_(node.i(kNhwcAttr, 0) != 0) {}
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    int64_t axis = normalizeAxis(axis_, out[0].rank, "Concat");
    int64_t total = 0;
    for (int64_t i = 0; i < numInputs_; ++i) total += in[i].dims[axis];
    KILN_CHECK(total == out[0].dims[axis], "Concat: inputs sum to ", total, " on axis ", axis, ", output has ",
               out[0].dims[axis]);
    if (nhwc_) return moveChannelBlocksNhwc(ctx, out[0], in, numInputs_, axis, true, "Concat");
    moveBlocks(ctx, out[0], in, numInputs_, axis, true);
  }

 private:
  int64_t axis_, numInputs_;
  bool nhwc_;
};

class SplitKernel : public Kernel {
 public:
  explicit SplitKernel(const ir::Node& node)
      : axis_(node.i("axis", 0)),
        numOutputs_(static_cast<int64_t>(node.outputs.size())),
        nhwc_(node.i(kNhwcAttr, 0) != 0) {}
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    int64_t axis = normalizeAxis(axis_, in[0].rank, "Split");
    int64_t total = 0;
    for (int64_t i = 0; i < numOutputs_; ++i) total += out[i].dims[axis];
    KILN_CHECK(total == in[0].dims[axis], "Split: outputs sum to ", total, " on axis ", axis, ", input has ",
               in[0].dims[axis]);
    if (nhwc_) return moveChannelBlocksNhwc(ctx, in[0], out, numOutputs_, axis, false, "Split");
    moveBlocks(ctx, in[0], out, numOutputs_, axis, false);
  }

 private:
  int64_t axis_, numOutputs_;
  bool nhwc_;
};

class SliceKernel : public Kernel {
 public:
  explicit SliceKernel(const ir::Node& node)
      : hasAxes_(node.input(3) != nullptr), hasSteps_(node.input(4) != nullptr) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& data = in[0];
    int rank = data.rank;
    int64_t start[kMaxRank], step[kMaxRank], strides[kMaxRank], len[kMaxRank];
    contiguousStrides(data, strides);
    for (int k = 0; k < rank; ++k) {
      start[k] = 0;
      step[k] = 1;
      len[k] = data.dims[k];
    }
    int64_t n = in[1].numel();
    KILN_CHECK(in[2].numel() == n, "Slice: starts has ", n, " values, ends has ", in[2].numel());
    for (int64_t j = 0; j < n; ++j) {
      int64_t axis = hasAxes_ && in[3].data ? normalizeAxis(readIndex(in[3], j), rank, "Slice") : j;
      KILN_CHECK(axis < rank, "Slice: slices more axes than the input's ", rank);
      int64_t s = hasSteps_ && in[4].data ? readIndex(in[4], j) : 1;
      KILN_CHECK(s != 0, "Slice: steps must not be 0");
      int64_t dim = data.dims[axis], b = readIndex(in[1], j), e = readIndex(in[2], j);
      if (b < 0) b += dim;
      if (e < 0) e += dim;
      if (dim == 0) {
        len[axis] = 0;
      } else if (s > 0) {
        b = std::clamp<int64_t>(b, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        len[axis] = e > b ? (e - b + s - 1) / s : 0;
      } else {
        b = std::clamp<int64_t>(b, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        len[axis] = b > e ? (b - e - s - 1) / -s : 0;
      }
      start[axis] = b;
      step[axis] = s;
    }
    int64_t offset = 0, inStrides[kMaxRank];
    for (int k = 0; k < rank; ++k) {
      KILN_CHECK(len[k] == out[0].dims[k], "Slice: axis ", k, " slices to ", len[k], " elements, output has ",
                 out[0].dims[k]);
      if (len[k] > 0) offset += start[k] * strides[k];
      inStrides[k] = strides[k] * step[k];
    }
    int64_t es = elementSize(data);
    stridedCopy(ctx, out[0].data, static_cast<const char*>(data.data) + offset * es, es, rank, out[0].dims,
                inStrides);
  }

 private:
  bool hasAxes_, hasSteps_;
};

}  // namespace

void registerConcatSliceKernels(TacticRegistry& r) {
  r.add(refTactic<ConcatKernel>("Concat"));
  r.add(refTactic<SplitKernel>("Split"));
  r.add(refTactic<SliceKernel>("Slice"));
}

}  // namespace kiln::cpu
