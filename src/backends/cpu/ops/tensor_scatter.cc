// Reference kernels of ScatterElements, ScatterND, GatherND and
// ReverseSequence (index-driven copies), and of the ops that build tensors
// from attributes: OneHot, EyeLike and the window functions.
//
// Scatters copy the data, then apply the updates in index order, so that with
// reduction "none" and duplicate indices the last update wins (as ONNX
// Runtime). Indices are checked before anything is written.
#include <cmath>
#include <cstring>
#include <numbers>
#include <string>

#include "backends/cpu/ops/broadcast.h"
#include "backends/cpu/ops/elementwise.h"
#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction reductionOf(const ir::Node& node) {
  std::string r = node.s("reduction", "none");
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  KILN_CHECK(r == "none", node.describe(), ": unknown reduction \"", r, "\"");
  return Reduction::kNone;
}

template <typename T>
T combine(Reduction r, T a, T b) {
  switch (r) {
    case Reduction::kAdd: return ew::wrapAdd(a, b);
    case Reduction::kMul: return ew::wrapMul(a, b);
    case Reduction::kMax: return ew::max(a, b);
    case Reduction::kMin: return ew::min(a, b);
    case Reduction::kNone: break;
  }
  return b;
}

//! Calls fn(T{}) with the element type for a reduction, or a same-sized
//! unsigned type for plain copies (any dtype).
template <typename Fn>
void dispatchScatter(const std::string& who, Reduction r, DType t, Fn&& fn) {
  if (r == Reduction::kNone) {
    dispatchBySize(dtypeSize(t), [&]<typename T>() { fn(T{}); });
    return;
  }
  KILN_CHECK(dispatchArith(t, fn), who, ": reductions are not supported on ", dataTypeName(t));
}

bool supportsScatter(const ir::Node& node) {
  if (!supportsElementSizes(node)) return false;
  std::string r = node.s("reduction", "none");
  return r == "none" || isArithType(node.outputs[0]->dtype);
}

class ScatterElementsKernel : public Kernel {
 public:
  explicit ScatterElementsKernel(const ir::Node& node)
      : who_(node.describe()), axis_(node.i("axis", 0)), red_(reductionOf(node)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &data = in[0], &indices = in[1], &updates = in[2];
    const int rank = data.rank;
    KILN_CHECK(axis_ >= -rank && axis_ < rank, who_, ": axis ", axis_, " is out of range for rank ", rank);
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + rank : axis_);
    const int64_t dim = data.dims[axis], n = indices.numel();
    for (int k = 0; k < rank; ++k)
      KILN_CHECK(indices.dims[k] == updates.dims[k] && (k == axis || indices.dims[k] <= data.dims[k]), who_,
                 ": indices / updates do not fit the data on axis ", k);
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = readIndex(indices, i);
      KILN_CHECK(v >= -dim && v < dim, who_, ": index ", v, " is out of range for axis ", axis, " of size ", dim);
    }
    if (out[0].data != data.data)
      parallelCopy(ctx, out[0].data, data.data, static_cast<std::size_t>(data.numel() * elementSize(data)));
    int64_t strides[kMaxRank];
    contiguousStrides(data, strides);
    dispatchScatter(who_, red_, data.dtype, [&](auto t) {
      using T = decltype(t);
      T* dst = out[0].as<T>();
      const T* upd = updates.as<const T>();
      int64_t coord[kMaxRank] = {};
      for (int64_t i = 0; i < n; ++i) {
        int64_t v = readIndex(indices, i);
        if (v < 0) v += dim;
        int64_t off = 0;
        for (int k = 0; k < rank; ++k) off += (k == axis ? v : coord[k]) * strides[k];
        dst[off] = red_ == Reduction::kNone ? upd[i] : combine(red_, dst[off], upd[i]);
        for (int k = rank - 1; k >= 0; --k) {  // odometer over the indices' shape
          if (++coord[k] < indices.dims[k]) break;
          coord[k] = 0;
        }
      }
    });
  }

 private:
  std::string who_;
  int64_t axis_;
  Reduction red_;
};

//! indices [..., q] addressing the first q dims of `data`: the element offset
//! (in units of the trailing slice) of tuple `t`, checked.
int64_t tupleOffset(const std::string& who, const TensorView& data, const TensorView& indices, int64_t t, int64_t q,
                    int first) {
  int64_t off = 0;
  for (int64_t j = 0; j < q; ++j) {
    int64_t dim = data.dims[first + j], v = readIndex(indices, t * q + j);
    KILN_CHECK(v >= -dim && v < dim, who, ": index ", v, " is out of range for axis ", first + j, " of size ", dim);
    off = off * dim + (v < 0 ? v + dim : v);
  }
  return off;
}

class ScatterNDKernel : public Kernel {
 public:
  explicit ScatterNDKernel(const ir::Node& node) : who_(node.describe()), red_(reductionOf(node)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &data = in[0], &indices = in[1], &updates = in[2];
    const int64_t q = indices.dims[indices.rank - 1];
    KILN_CHECK(q >= 1 && q <= data.rank, who_, ": indices' last dim ", q, " exceeds the data's rank ", data.rank);
    int64_t slice = 1;
    for (int k = static_cast<int>(q); k < data.rank; ++k) slice *= data.dims[k];
    const int64_t tuples = q ? indices.numel() / q : 0;
    KILN_CHECK(updates.numel() == tuples * slice, who_, ": updates have ", updates.numel(), " elements, expected ",
               tuples * slice);
    for (int64_t t = 0; t < tuples; ++t) tupleOffset(who_, data, indices, t, q, 0);
    if (out[0].data != data.data)
      parallelCopy(ctx, out[0].data, data.data, static_cast<std::size_t>(data.numel() * elementSize(data)));
    dispatchScatter(who_, red_, data.dtype, [&](auto tag) {
      using T = decltype(tag);
      T* dst = out[0].as<T>();
      const T* upd = updates.as<const T>();
      for (int64_t t = 0; t < tuples; ++t) {
        T* to = dst + tupleOffset(who_, data, indices, t, q, 0) * slice;
        const T* from = upd + t * slice;
        for (int64_t e = 0; e < slice; ++e) to[e] = red_ == Reduction::kNone ? from[e] : combine(red_, to[e], from[e]);
      }
    });
  }

 private:
  std::string who_;
  Reduction red_;
};

class GatherNDKernel : public Kernel {
 public:
  explicit GatherNDKernel(const ir::Node& node) : who_(node.describe()), batchDims_(node.i("batch_dims", 0)) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView &data = in[0], &indices = in[1];
    const int b = static_cast<int>(batchDims_);
    const int64_t q = indices.dims[indices.rank - 1];
    KILN_CHECK(q >= 1 && b + q <= data.rank, who_, ": indices' last dim ", q, " does not fit the data's rank ",
               data.rank);
    int64_t batch = 1, slice = 1;
    for (int k = 0; k < b; ++k) batch *= data.dims[k];
    for (int k = b + static_cast<int>(q); k < data.rank; ++k) slice *= data.dims[k];
    int64_t perBatch = 1;  // data elements per batch entry
    for (int k = b; k < data.rank; ++k) perBatch *= data.dims[k];
    const int64_t tuples = indices.numel() / q, tuplesPerBatch = batch ? tuples / batch : 0;
    const int64_t es = elementSize(data);
    auto* dst = static_cast<uint8_t*>(out[0].data);
    auto* src = static_cast<const uint8_t*>(data.data);
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t bi = tuplesPerBatch ? t / tuplesPerBatch : 0;
      int64_t off = bi * perBatch + tupleOffset(who_, data, indices, t, q, b) * slice;
      std::memcpy(dst + t * slice * es, src + off * es, static_cast<std::size_t>(slice * es));
    }
  }

 private:
  std::string who_;
  int64_t batchDims_;
};

class ReverseSequenceKernel : public Kernel {
 public:
  explicit ReverseSequenceKernel(const ir::Node& node)
      : who_(node.describe()), timeAxis_(node.i("time_axis", 0)), batchAxis_(node.i("batch_axis", 1)) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t T = x.dims[timeAxis_], B = x.dims[batchAxis_];
    int64_t inner = 1;
    for (int k = 2; k < x.rank; ++k) inner *= x.dims[k];
    const int64_t es = elementSize(x);
    const int64_t* lens = in[1].as<const int64_t>();
    KILN_CHECK(in[1].numel() == B, who_, ": sequence_lens has ", in[1].numel(), " values for a batch of ", B);
    auto* dst = static_cast<uint8_t*>(out[0].data);
    auto* src = static_cast<const uint8_t*>(x.data);
    for (int64_t b = 0; b < B; ++b) {
      KILN_CHECK(lens[b] >= 0 && lens[b] <= T, who_, ": sequence_lens[", b, "] = ", lens[b], " is outside [0, ", T,
                 "]");
      for (int64_t t = 0; t < T; ++t) {
        int64_t from = t < lens[b] ? lens[b] - 1 - t : t;
        auto offset = [&](int64_t tt) { return (timeAxis_ == 0 ? tt * B + b : b * T + tt) * inner * es; };
        std::memcpy(dst + offset(t), src + offset(from), static_cast<std::size_t>(inner * es));
      }
    }
  }

 private:
  std::string who_;
  int64_t timeAxis_, batchAxis_;
};

//! Element `i` of a numeric view as double (OneHot's indices and depth).
double readNumber(const TensorView& v, int64_t i) {
  double out = 0;
  bool ok = dispatchArith(v.dtype, [&](auto t) { out = static_cast<double>(v.as<const decltype(t)>()[i]); });
  if (!ok && v.dtype == DType::kHALF) return halfToFloat(v.as<const uint16_t>()[i]);
  if (!ok && v.dtype == DType::kBF16) return bf16ToFloat(v.as<const uint16_t>()[i]);
  KILN_CHECK(ok, "OneHot: unsupported index type ", dataTypeName(v.dtype));
  return out;
}

class OneHotKernel : public Kernel {
 public:
  explicit OneHotKernel(const ir::Node& node) : who_(node.describe()), axis_(node.i("axis", -1)) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView &idx = in[0], &y = out[0];
    const int rank = y.rank;
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + rank : axis_);
    const int64_t depth = static_cast<int64_t>(readNumber(in[1], 0));
    KILN_CHECK(y.dims[axis] == depth, who_, ": depth ", depth, " differs from the built output's ", y.dims[axis]);
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; ++k) outer *= y.dims[k];
    for (int k = axis + 1; k < rank; ++k) inner *= y.dims[k];
    const int64_t es = elementSize(y);
    auto* dst = static_cast<uint8_t*>(y.data);
    auto* values = static_cast<const uint8_t*>(in[2].data);
    for (int64_t e = 0; e < y.numel(); ++e) std::memcpy(dst + e * es, values, static_cast<std::size_t>(es));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        // Indices in [-depth, depth) pick a slot (negative ones from the end); others stay all "off".
        auto v = static_cast<int64_t>(readNumber(idx, o * inner + i));
        if (v < 0) v += depth;
        if (v < 0 || v >= depth) continue;
        std::memcpy(dst + ((o * depth + v) * inner + i) * es, values + es, static_cast<std::size_t>(es));
      }
  }

 private:
  std::string who_;
  int64_t axis_;
};

//! Writes `v` (0 or 1, or a window value) as element i of `y`.
void writeNumber(const TensorView& y, int64_t i, double v) {
  if (y.dtype == DType::kHALF) { y.as<uint16_t>()[i] = floatToHalf(static_cast<float>(v)); return; }
  if (y.dtype == DType::kBF16) { y.as<uint16_t>()[i] = floatToBf16(static_cast<float>(v)); return; }
  if (y.dtype == DType::kBOOL) { y.as<uint8_t>()[i] = v != 0; return; }
  bool ok = dispatchArith(y.dtype, [&](auto t) {
    using T = decltype(t);
    y.as<T>()[i] = static_cast<T>(v);
  });
  KILN_CHECK(ok, "cannot write a ", dataTypeName(y.dtype), " tensor");
}

bool supportsNumberOut(const ir::Node& node) {
  DType t = node.outputs[0]->dtype;
  return isArithType(t) || t == DType::kHALF || t == DType::kBF16 || t == DType::kBOOL;
}

class EyeLikeKernel : public Kernel {
 public:
  explicit EyeLikeKernel(const ir::Node& node) : k_(node.i("k", 0)) {}
  void run(const ExecContext&, const TensorView*, const TensorView* out) const override {
    const TensorView& y = out[0];
    const int64_t rows = y.dims[0], cols = y.dims[1];
    std::memset(y.data, 0, static_cast<std::size_t>(y.numel() * dtypeSize(y.dtype)));
    for (int64_t r = 0; r < rows; ++r)
      if (int64_t c = r + k_; c >= 0 && c < cols) writeNumber(y, r * cols + c, 1);
  }

 private:
  int64_t k_;
};

// The window functions as ONNX defines them: w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N),
// N = size when periodic, size - 1 when symmetric.
class WindowKernel : public Kernel {
 public:
  explicit WindowKernel(const ir::Node& node) : periodic_(node.i("periodic", 1) != 0) {
    if (node.op == "BlackmanWindow") a_[0] = 0.42, a_[1] = 0.5, a_[2] = 0.08;
    else if (node.op == "HannWindow") a_[0] = 0.5, a_[1] = 0.5, a_[2] = 0;
    else a_[0] = 25.0 / 46.0, a_[1] = 1 - 25.0 / 46.0, a_[2] = 0;  // Hamming
  }
  void run(const ExecContext&, const TensorView*, const TensorView* out) const override {
    const int64_t size = out[0].dims[0];
    const double N = static_cast<double>(periodic_ ? size : size - 1);
    for (int64_t n = 0; n < size; ++n) {
      const double x = 2 * std::numbers::pi * static_cast<double>(n) / N;
      writeNumber(out[0], n, N > 0 ? a_[0] - a_[1] * std::cos(x) + a_[2] * std::cos(2 * x) : 1.0);
    }
  }

 private:
  bool periodic_;
  double a_[3] = {};
};

}  // namespace

void registerScatterKernels(TacticRegistry& r) {
  r.add(refTactic<ScatterElementsKernel>("ScatterElements", supportsScatter));
  r.add(refTactic<ScatterNDKernel>("ScatterND", supportsScatter));
  r.add(refTactic<GatherNDKernel>("GatherND"));
  r.add(refTactic<ReverseSequenceKernel>("ReverseSequence"));
  r.add(refTactic<OneHotKernel>("OneHot"));
  r.add(refTactic<EyeLikeKernel>("EyeLike", supportsNumberOut));
  for (const char* op : {"BlackmanWindow", "HannWindow", "HammingWindow"})
    r.add(refTactic<WindowKernel>(op, supportsNumberOut));
}

}  // namespace kiln::cpu
