// Kernels of the ops that rearrange or replicate elements: Transpose, Expand,
// Tile, DepthToSpace, SpaceToDepth (all one strided copy each, see
// tensor_copy.cc), Trilu, and KilnReformat (a Transpose that converts between
// float32, float16 and bfloat16 as it copies: the reference for the device's
// fused boundary reformats).
#include <algorithm>
#include <string>
#include <vector>

#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

// Output = the input viewed as `viewDims` (row-major), with its axes permuted.
void permuteCopy(const ExecContext& ctx, const TensorView& in, const TensorView& out, int rank,
                 const int64_t* viewDims, const int64_t* perm) {
  int64_t strides[kMaxCopyRank], dims[kMaxCopyRank], permStrides[kMaxCopyRank];
  int64_t s = 1;
  for (int k = rank - 1; k >= 0; --k) {
    strides[k] = s;
    s *= viewDims[k];
  }
  for (int k = 0; k < rank; ++k) {
    dims[k] = viewDims[perm[k]];
    permStrides[k] = strides[perm[k]];
  }
  stridedCopy(ctx, out.data, in.data, elementSize(in), rank, dims, permStrides);
}

class TransposeKernel : public Kernel {
 public:
  explicit TransposeKernel(const ir::Node& node) : who_(node.describe()), perm_(node.ints("perm")) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    int rank = in[0].rank;
    int64_t perm[kMaxRank];
    KILN_CHECK(perm_.empty() || static_cast<int>(perm_.size()) == rank, who_, ": perm has ", perm_.size(),
               " axes, input has rank ", rank);
    bool seen[kMaxRank] = {};
    for (int k = 0; k < rank; ++k) {
      perm[k] = perm_.empty() ? rank - 1 - k : perm_[k];
      KILN_CHECK(perm[k] >= 0 && perm[k] < rank && !seen[perm[k]], who_, ": perm is not a permutation");
      seen[perm[k]] = true;
      KILN_CHECK(out[0].dims[k] == in[0].dims[perm[k]], who_, ": output dim ", k, " is ", out[0].dims[k],
                 ", expected ", in[0].dims[perm[k]]);
    }
    permuteCopy(ctx, in[0], out[0], rank, in[0].dims, perm);
  }

 private:
  std::string who_;
  std::vector<int64_t> perm_;
};

class ExpandKernel : public Kernel {
 public:
  explicit ExpandKernel(const ir::Node& node) : who_(node.describe()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &src = in[0], &dst = out[0];
    int shift = dst.rank - src.rank;
    KILN_CHECK(shift >= 0, who_, ": output rank ", dst.rank, " is below the input's ", src.rank);
    int64_t strides[kMaxRank], inStrides[kMaxRank];
    contiguousStrides(src, strides);
    for (int k = 0; k < dst.rank; ++k) {
      int kin = k - shift;
      if (kin < 0 || (src.dims[kin] == 1 && dst.dims[k] != 1)) {
        inStrides[k] = 0;  // broadcast
      } else {
        KILN_CHECK(src.dims[kin] == dst.dims[k], who_, ": cannot expand dim ", src.dims[kin], " to ", dst.dims[k]);
        inStrides[k] = strides[kin];
      }
    }
    stridedCopy(ctx, dst.data, src.data, elementSize(src), dst.rank, dst.dims, inStrides);
  }

 private:
  std::string who_;
};

// Tile viewed as a broadcast: output [r0*d0, r1*d1, ...] is [r0, d0, r1, d1, ...]
// reading the input with stride 0 along each r.
class TileKernel : public Kernel {
 public:
  explicit TileKernel(const ir::Node& node) : who_(node.describe()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &src = in[0], &dst = out[0];
    KILN_CHECK(src.rank == dst.rank, who_, ": output rank differs from the input's");
    if (dst.numel() == 0) return;
    int64_t strides[kMaxRank], dims[kMaxCopyRank], inStrides[kMaxCopyRank];
    contiguousStrides(src, strides);
    for (int k = 0; k < src.rank; ++k) {
      int64_t d = src.dims[k];
      KILN_CHECK(d > 0 && dst.dims[k] % d == 0, who_, ": output dim ", dst.dims[k], " is not a multiple of ", d);
      dims[2 * k] = dst.dims[k] / d;
      inStrides[2 * k] = 0;
      dims[2 * k + 1] = d;
      inStrides[2 * k + 1] = strides[k];
    }
    stridedCopy(ctx, dst.data, src.data, elementSize(src), 2 * src.rank, dims, inStrides);
  }

 private:
  std::string who_;
};

// DepthToSpace and SpaceToDepth are a reshape to 6-D, a transpose and a
// reshape back; the reshapes are free, so each is one permuted copy.
class DepthToSpaceKernel : public Kernel {
 public:
  explicit DepthToSpaceKernel(const ir::Node& node)
      : block_(node.i("blocksize", 1)), crd_(node.s("mode", "DCR") == "CRD") {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const int64_t* d = in[0].dims;
    int64_t b = block_, c = d[1] / (b * b);
    KILN_CHECK(in[0].rank == 4 && b > 0 && d[1] % (b * b) == 0 && out[0].numel() == in[0].numel(),
               "DepthToSpace: input ", ir::toString(in[0].shape()), " does not fit blocksize ", b);
    if (crd_) {
      int64_t view[6] = {d[0], c, b, b, d[2], d[3]}, perm[6] = {0, 1, 4, 2, 5, 3};
      permuteCopy(ctx, in[0], out[0], 6, view, perm);
    } else {
      int64_t view[6] = {d[0], b, b, c, d[2], d[3]}, perm[6] = {0, 3, 4, 1, 5, 2};
      permuteCopy(ctx, in[0], out[0], 6, view, perm);
    }
  }

 private:
  int64_t block_;
  bool crd_;
};

class SpaceToDepthKernel : public Kernel {
 public:
  explicit SpaceToDepthKernel(const ir::Node& node) : block_(node.i("blocksize", 1)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const int64_t* d = in[0].dims;
    int64_t b = block_;
    KILN_CHECK(in[0].rank == 4 && b > 0 && d[2] % b == 0 && d[3] % b == 0 && out[0].numel() == in[0].numel(),
               "SpaceToDepth: input ", ir::toString(in[0].shape()), " does not fit blocksize ", b);
    int64_t view[6] = {d[0], d[1], d[2] / b, b, d[3] / b, b}, perm[6] = {0, 3, 5, 1, 2, 4};
    permuteCopy(ctx, in[0], out[0], 6, view, perm);
  }

 private:
  int64_t block_;
};

class TriluKernel : public Kernel {
 public:
  explicit TriluKernel(const ir::Node& node)
      : upper_(node.i("upper", 1) != 0), hasK_(node.input(1) != nullptr) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& src = in[0];
    int64_t k = hasK_ && in[1].data ? readIndex(in[1], 0) : 0;
    int64_t rows = src.dims[src.rank - 2], cols = src.dims[src.rank - 1];
    if (rows == 0 || cols == 0) return;
    k = std::clamp<int64_t>(k, -rows - 1, cols + 1);  // beyond that nothing changes; no overflow below
    int64_t es = elementSize(src), total = src.numel() / cols;
    const auto* s = static_cast<const char*>(src.data);
    auto* o = static_cast<char*>(out[0].data);
    maybeParallel(ctx, total, total * cols * es, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        int64_t i = r % rows;
        // Columns kept in row i: j >= i + k (upper) or j <= i + k (lower).
        int64_t lo = upper_ ? std::clamp<int64_t>(i + k, 0, cols) : 0;
        int64_t hi = upper_ ? cols : std::clamp<int64_t>(i + k + 1, 0, cols);
        char* row = o + r * cols * es;
        const char* from = s + r * cols * es;
        if (hi > lo && row != from)
          std::memcpy(row + lo * es, from + lo * es, static_cast<std::size_t>((hi - lo) * es));
        if (hi <= lo) {
          std::memset(row, 0, static_cast<std::size_t>(cols * es));
        } else {
          std::memset(row, 0, static_cast<std::size_t>(lo * es));
          std::memset(row + hi * es, 0, static_cast<std::size_t>((cols - hi) * es));
        }
      }
    });
  }

 private:
  bool upper_, hasK_;
};

// Elements as float and back, for the three float types KilnReformat moves.
float loadFloat(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::kHALF: return halfToFloat(static_cast<const uint16_t*>(p)[i]);
    case DType::kBF16: return bf16ToFloat(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}
void storeFloat(void* p, DType t, int64_t i, float v) {
  switch (t) {
    case DType::kHALF: static_cast<uint16_t*>(p)[i] = floatToHalf(v); break;
    case DType::kBF16: static_cast<uint16_t*>(p)[i] = floatToBf16(v); break;
    default: static_cast<float*>(p)[i] = v; break;
  }
}

class ReformatKernel : public Kernel {
 public:
  explicit ReformatKernel(const ir::Node& node) : who_(node.describe()), perm_(node.ints("perm")) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &y = out[0];
    const int rank = x.rank;
    KILN_CHECK(static_cast<int>(perm_.size()) == rank && y.rank == rank, who_, ": perm has ", perm_.size(),
               " axes, input rank ", rank, ", output rank ", y.rank);
    int64_t inStrides[kMaxRank], permStrides[kMaxRank], idx[kMaxRank] = {};
    int64_t stride = 1;
    for (int k = rank - 1; k >= 0; --k) inStrides[k] = stride, stride *= x.dims[k];
    for (int k = 0; k < rank; ++k) {
      KILN_CHECK(y.dims[k] == x.dims[perm_[k]], who_, ": output dim ", k, " is ", y.dims[k], ", expected ",
                 x.dims[perm_[k]]);
      permStrides[k] = inStrides[perm_[k]];
    }
    const int64_t n = y.numel();
    for (int64_t o = 0; o < n; ++o) {
      int64_t src = 0;
      for (int k = 0; k < rank; ++k) src += idx[k] * permStrides[k];
      storeFloat(y.data, y.dtype, o, loadFloat(x.data, x.dtype, src));
      for (int k = rank - 1; k >= 0; --k)
        if (++idx[k] < y.dims[k]) break; else idx[k] = 0;
    }
  }

 private:
  std::string who_;
  std::vector<int64_t> perm_;
};

bool supportsReformat(const ir::Node& n) {
  return n.inputs.size() == 1 && n.inputs[0] && n.outputs.size() == 1 && isFloat32Or16(n.inputs[0]->dtype) &&
         isFloat32Or16(n.outputs[0]->dtype) && n.inputs[0]->shape.size() <= static_cast<std::size_t>(kMaxRank);
}

}  // namespace

void registerLayoutKernels(TacticRegistry& r) {
  r.add(refTactic<TransposeKernel>("Transpose"));
  r.add(refTactic<ExpandKernel>("Expand"));
  r.add(refTactic<TileKernel>("Tile"));
  r.add(refTactic<DepthToSpaceKernel>("DepthToSpace"));
  r.add(refTactic<SpaceToDepthKernel>("SpaceToDepth"));
  r.add(refTactic<TriluKernel>("Trilu"));
  r.add(refTactic<ReformatKernel>("KilnReformat", supportsReformat));
}

}  // namespace kiln::cpu
