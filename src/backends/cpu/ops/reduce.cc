// Reference kernels of the reductions (ReduceSum/Mean/Max/Min/Prod/L1/L2/
// SumSquare/LogSum/LogSumExp) and of ArgMax/ArgMin.
//
// The input shape is collapsed at run time into runs of kept and reduced
// dimensions (size-1 dimensions dropped, neighbours of the same kind merged).
// The common layouts then reduce without index math:
//   [M, K]     each output is one contiguous row (8 partial accumulators);
//   [M, K, N]  each output row of N accumulates K input rows (vectorizes);
// anything else (e.g. axes {0, 2} of a 4-D tensor) walks each output's
// reduced elements with an odometer. keepdims does not change the output's
// memory layout, so the kernels ignore it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "backends/cpu/ops/broadcast.h"
#include "backends/cpu/ops/elementwise.h"
#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
namespace {

enum class RKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

struct RInfo {
  const char* name;
  RKind kind;
  bool floatOnly;
};

constexpr RInfo kReduceOps[] = {
    {"ReduceSum", RKind::kSum, false},        {"ReduceMean", RKind::kMean, false},
    {"ReduceMax", RKind::kMax, false},        {"ReduceMin", RKind::kMin, false},
    {"ReduceProd", RKind::kProd, false},      {"ReduceL1", RKind::kL1, false},
    {"ReduceL2", RKind::kL2, true},           {"ReduceSumSquare", RKind::kSumSquare, false},
    {"ReduceLogSum", RKind::kLogSum, true},   {"ReduceLogSumExp", RKind::kLogSumExp, true},
};

//! One reduction as init / map (applied to each element) / combine / finalize.
//! LogSumExp is Sum over exp(x - max) plus a first pass for the max; `shift`
//! carries that max (0 for every other kind).
template <RKind K, typename T>
struct Red {
  static T init() {
    if constexpr (K == RKind::kMax)
      return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                  : std::numeric_limits<T>::lowest();
    else if constexpr (K == RKind::kMin)
      return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
    else if constexpr (K == RKind::kProd)
      return T{1};
    else
      return T{0};
  }
  static T map(T x, T shift) {
    if constexpr (K == RKind::kL1) return x < 0 ? ew::wrapSub(T{0}, x) : x;
    else if constexpr (K == RKind::kL2 || K == RKind::kSumSquare) return ew::wrapMul(x, x);
    else if constexpr (K == RKind::kLogSumExp) return std::exp(x - shift);
    else return x;
  }
  static T combine(T a, T b) {
    if constexpr (K == RKind::kMax) return ew::max(a, b);
    else if constexpr (K == RKind::kMin) return ew::min(a, b);
    else if constexpr (K == RKind::kProd) return ew::wrapMul(a, b);
    else return ew::wrapAdd(a, b);
  }
  static T finalize(T acc, int64_t count, T shift) {
    if constexpr (K == RKind::kMean) {
      if constexpr (std::is_floating_point_v<T>) return acc / static_cast<T>(count);
      else return ew::div(acc, static_cast<T>(count));
    } else if constexpr (K == RKind::kL2) {
      return static_cast<T>(std::sqrt(acc));
    } else if constexpr (K == RKind::kLogSum) {
      return static_cast<T>(std::log(acc));
    } else if constexpr (K == RKind::kLogSumExp) {
      // All -inf (or an empty set) gives -inf; +inf or NaN in the input is the answer as it is.
      return std::isfinite(shift) ? shift + static_cast<T>(std::log(acc)) : shift;
    } else {
      return acc;
    }
  }
};

//! Reduces x[0], x[stride], ... (n elements) with 8 independent partial
//! results, which both vectorizes and keeps float sums more accurate.
template <RKind K, typename T>
T reduceRow(const T* x, int64_t n, int64_t stride, T shift) {
  using R = Red<K, T>;
  T acc[8];
  for (T& a : acc) a = R::init();
  int64_t i = 0;
  if (stride == 1)
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) acc[j] = R::combine(acc[j], R::map(x[i + j], shift));
  for (; i < n; ++i) acc[0] = R::combine(acc[0], R::map(x[i * stride], shift));
  for (int j = 1; j < 8; ++j) acc[0] = R::combine(acc[0], acc[j]);
  return acc[0];
}

//! The input shape as alternating kept / reduced runs.
struct Collapsed {
  int n = 0;
  int64_t size[kMaxRank];
  bool reduced[kMaxRank];
};

Collapsed collapse(const TensorView& x, uint32_t mask) {
  Collapsed c;
  for (int d = 0; d < x.rank; ++d) {
    if (x.dims[d] == 1) continue;
    bool r = (mask >> d) & 1u;
    if (c.n > 0 && c.reduced[c.n - 1] == r) {
      c.size[c.n - 1] *= x.dims[d];
    } else {
      c.size[c.n] = x.dims[d];
      c.reduced[c.n] = r;
      ++c.n;
    }
  }
  return c;
}

template <RKind K, typename T>
void reduceTyped(const ExecContext& ctx, const TensorView& xv, const TensorView& yv, uint32_t mask) {
  using R = Red<K, T>;
  constexpr bool kTwoPass = K == RKind::kLogSumExp;
  const T* x = xv.as<T>();
  T* y = yv.as<T>();
  const int64_t outN = yv.numel();
  const Collapsed c = collapse(xv, mask);
  int64_t count = 1;
  for (int i = 0; i < c.n; ++i)
    if (c.reduced[i]) count *= c.size[i];
  if (xv.numel() == 0) {  // reductions over an empty set: the op's identity
    T v = R::finalize(R::init(), 0, kTwoPass ? -std::numeric_limits<T>::infinity() : T{0});
    std::fill(y, y + outN, v);
    return;
  }

  // Classify as [M, K, N] when there is at most one reduced run.
  int64_t M = 1, Kd = 1, N = 1;
  int firstRed = -1, numRed = 0;
  for (int i = 0; i < c.n; ++i)
    if (c.reduced[i]) {
      if (firstRed < 0) firstRed = i;
      ++numRed;
    }
  if (numRed <= 1) {
    for (int i = 0; i < c.n; ++i) {
      if (c.reduced[i]) Kd = c.size[i];
      else if (firstRed < 0 || i < firstRed) M *= c.size[i];
      else N *= c.size[i];
    }
    if (N == 1) {
      // Contiguous rows: one output per row.
      int64_t grain = std::max<int64_t>(1, kGrainCheap / Kd);
      parallelFlat(ctx, M, grain, [&](int64_t b, int64_t e) {
        for (int64_t m = b; m < e; ++m) {
          const T* row = x + m * Kd;
          T shift = kTwoPass ? reduceRow<RKind::kMax, T>(row, Kd, 1, T{0}) : T{0};
          if (kTwoPass && !std::isfinite(shift)) {
            y[m] = shift;
            continue;
          }
          y[m] = R::finalize(reduceRow<K, T>(row, Kd, 1, shift), count, shift);
        }
      });
      return;
    }
    // Output rows of N, each accumulating Kd input rows; work split over (m, column chunk).
    constexpr int64_t kChunk = 256;
    const int64_t chunks = (N + kChunk - 1) / kChunk;
    int64_t grain = std::max<int64_t>(1, kGrainCheap / (Kd * kChunk));
    parallelFlat(ctx, M * chunks, grain, [&](int64_t b, int64_t e) {
      T shift[kChunk];
      for (int64_t t = b; t < e; ++t) {
        int64_t m = t / chunks, n0 = (t % chunks) * kChunk, w = std::min(kChunk, N - n0);
        const T* base = x + m * Kd * N + n0;
        T* out = y + m * N + n0;
        if constexpr (kTwoPass) {
          for (int64_t j = 0; j < w; ++j) shift[j] = Red<RKind::kMax, T>::init();
          for (int64_t k = 0; k < Kd; ++k)
            for (int64_t j = 0; j < w; ++j) shift[j] = ew::max(shift[j], base[k * N + j]);
        } else {
          for (int64_t j = 0; j < w; ++j) shift[j] = T{0};
        }
        for (int64_t j = 0; j < w; ++j) out[j] = R::init();
        for (int64_t k = 0; k < Kd; ++k) {
          const T* row = base + k * N;
          for (int64_t j = 0; j < w; ++j) out[j] = R::combine(out[j], R::map(row[j], shift[j]));
        }
        for (int64_t j = 0; j < w; ++j) out[j] = R::finalize(out[j], count, shift[j]);
      }
    });
    return;
  }

  // General layout: per output element, walk the reduced runs with an odometer.
  int64_t stride[kMaxRank];
  int64_t s = 1;
  for (int i = c.n - 1; i >= 0; --i) {
    stride[i] = s;
    s *= c.size[i];
  }
  int nk = 0, nr = 0;
  int64_t kSize[kMaxRank], kStride[kMaxRank], rSize[kMaxRank], rStride[kMaxRank];
  for (int i = 0; i < c.n; ++i) {
    if (c.reduced[i]) {
      rSize[nr] = c.size[i];
      rStride[nr++] = stride[i];
    } else {
      kSize[nk] = c.size[i];
      kStride[nk++] = stride[i];
    }
  }
  auto walk = [&](int64_t base, auto&& fn) {  // fn(element) over the reduced elements, innermost run contiguous-ish
    int64_t idx[kMaxRank] = {};
    int64_t off = base;
    const int64_t inner = rSize[nr - 1], innerStride = rStride[nr - 1];
    for (;;) {
      for (int64_t i = 0; i < inner; ++i) fn(x[off + i * innerStride]);
      int d = nr - 2;
      for (; d >= 0; --d) {
        off += rStride[d];
        if (++idx[d] < rSize[d]) break;
        off -= idx[d] * rStride[d];
        idx[d] = 0;
      }
      if (d < 0) return;
    }
  };
  parallelFlat(ctx, outN, std::max<int64_t>(1, kGrainCheap / count), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      int64_t base = 0, rem = o;
      for (int i = nk - 1; i >= 0; --i) {
        base += (rem % kSize[i]) * kStride[i];
        rem /= kSize[i];
      }
      T shift = T{0};
      if constexpr (kTwoPass) {
        shift = Red<RKind::kMax, T>::init();
        walk(base, [&](T v) { shift = ew::max(shift, v); });
        if (!std::isfinite(shift)) {
          y[o] = shift;
          continue;
        }
      }
      T acc = R::init();
      walk(base, [&](T v) { acc = R::combine(acc, R::map(v, shift)); });
      y[o] = R::finalize(acc, count, shift);
    }
  });
}

template <typename T>
void reduceDispatch(const ExecContext& ctx, RKind kind, const TensorView& x, const TensorView& y, uint32_t mask) {
  switch (kind) {
    case RKind::kSum: return reduceTyped<RKind::kSum, T>(ctx, x, y, mask);
    case RKind::kMean: return reduceTyped<RKind::kMean, T>(ctx, x, y, mask);
    case RKind::kMax: return reduceTyped<RKind::kMax, T>(ctx, x, y, mask);
    case RKind::kMin: return reduceTyped<RKind::kMin, T>(ctx, x, y, mask);
    case RKind::kProd: return reduceTyped<RKind::kProd, T>(ctx, x, y, mask);
    case RKind::kL1: return reduceTyped<RKind::kL1, T>(ctx, x, y, mask);
    case RKind::kSumSquare: return reduceTyped<RKind::kSumSquare, T>(ctx, x, y, mask);
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (kind) {
      case RKind::kL2: return reduceTyped<RKind::kL2, T>(ctx, x, y, mask);
      case RKind::kLogSum: return reduceTyped<RKind::kLogSum, T>(ctx, x, y, mask);
      case RKind::kLogSumExp: return reduceTyped<RKind::kLogSumExp, T>(ctx, x, y, mask);
      default: break;
    }
  }
  fail("internal: reduction ", static_cast<int>(kind), " has no ", sizeof(T) == 4 ? "int32" : "int64", " form");
}

class ReduceKernel final : public Kernel {
 public:
  ReduceKernel(RKind kind, uint32_t mask, bool identity) : kind_(kind), mask_(mask), identity_(identity) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    if (identity_) {  // noop_with_empty_axes with no axes
      std::memcpy(out[0].data, in[0].data, static_cast<std::size_t>(in[0].numel()) * dtypeSize(in[0].dtype));
      return;
    }
    // bool Max/Min (opset 20) are any/all: uint8's max/min on 0/1.
    if (in[0].dtype == DType::kBOOL) return reduceDispatch<uint8_t>(ctx, kind_, in[0], out[0], mask_);
    dispatchNumeric(in[0].dtype, [&](auto t) { reduceDispatch<decltype(t)>(ctx, kind_, in[0], out[0], mask_); });
  }

 private:
  RKind kind_;
  uint32_t mask_;
  bool identity_;
};

const RInfo* findReduce(const std::string& op) {
  for (const RInfo& r : kReduceOps)
    if (op == r.name) return &r;
  return nullptr;
}

bool supportsReduce(const ir::Node& node) {
  const RInfo* info = findReduce(node.op);
  if (!info || node.inputs.empty() || !node.inputs[0] || node.outputs.size() != 1) return false;
  if (node.input(1) && !node.input(1)->isConstant()) return false;
  DType t = node.inputs[0]->dtype;
  if (info->floatOnly) return t == DType::kFLOAT || t == DType::kDOUBLE;
  if (t == DType::kBOOL) return info->kind == RKind::kMax || info->kind == RKind::kMin;
  return isNumericType(t);
}

std::unique_ptr<Kernel> createReduce(const ir::Node& node) {
  const RInfo* info = findReduce(node.op);
  KILN_CHECK(info, node.describe(), ": not a reduction");
  // The rank is fixed for a node (only sizes vary across a profile); axes are constant.
  int64_t rank = static_cast<int64_t>(node.inputs[0]->shape.size());
  std::vector<int64_t> axes;
  if (const ir::Value* a = node.input(1)) {
    KILN_CHECK(a->isConstant(), node.describe(), ": axes must be a constant");
    axes = a->constant->toInt64();
  }
  uint32_t mask = 0;
  if (axes.empty()) {
    if (node.i("noop_with_empty_axes", 0)) return std::make_unique<ReduceKernel>(info->kind, 0, true);
    mask = (1u << rank) - 1;
  }
  for (int64_t axis : axes) {
    KILN_CHECK(axis >= -rank && axis < rank, node.describe(), ": axis ", axis, " is out of range for rank ", rank);
    mask |= 1u << (axis < 0 ? axis + rank : axis);
  }
  return std::make_unique<ReduceKernel>(info->kind, mask, false);
}

// ArgMax / ArgMin over one axis, viewed as [M, K, N].
template <typename T, bool kMax, bool kLast>
void argReduce(const ExecContext& ctx, const TensorView& xv, int axis, int64_t* y) {
  const T* x = xv.as<T>();
  int64_t M = 1, K = xv.dims[axis], N = 1;
  for (int d = 0; d < axis; ++d) M *= xv.dims[d];
  for (int d = axis + 1; d < xv.rank; ++d) N *= xv.dims[d];
  KILN_CHECK(K > 0, (kMax ? "ArgMax" : "ArgMin"), ": cannot reduce an empty axis");
  // "better" is strict for the first index of equal values, non-strict for the last.
  auto better = [](T v, T best) { return kMax ? (kLast ? v >= best : v > best) : (kLast ? v <= best : v < best); };
  constexpr int64_t kChunk = 256;
  const int64_t chunks = (N + kChunk - 1) / kChunk;
  parallelFlat(ctx, M * chunks, std::max<int64_t>(1, kGrainCheap / (K * std::min(N, kChunk))),
               [&](int64_t b, int64_t e) {
    T best[kChunk];
    for (int64_t t = b; t < e; ++t) {
      int64_t m = t / chunks, n0 = (t % chunks) * kChunk, w = std::min(kChunk, N - n0);
      const T* base = x + m * K * N + n0;
      int64_t* out = y + m * N + n0;
      for (int64_t j = 0; j < w; ++j) {
        best[j] = base[j];
        out[j] = 0;
      }
      for (int64_t k = 1; k < K; ++k)
        for (int64_t j = 0; j < w; ++j)
          if (better(base[k * N + j], best[j])) {
            best[j] = base[k * N + j];
            out[j] = k;
          }
    }
  });
}

class ArgKernel final : public Kernel {
 public:
  ArgKernel(bool isMax, int axis, bool last) : isMax_(isMax), axis_(axis), last_(last) {}
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    int64_t* y = out[0].as<int64_t>();
    dispatchNumeric(in[0].dtype, [&](auto t) {
      using T = decltype(t);
      if (isMax_) {
        if (last_) argReduce<T, true, true>(ctx, in[0], axis_, y);
        else argReduce<T, true, false>(ctx, in[0], axis_, y);
      } else {
        if (last_) argReduce<T, false, true>(ctx, in[0], axis_, y);
        else argReduce<T, false, false>(ctx, in[0], axis_, y);
      }
    });
  }

 private:
  bool isMax_;
  int axis_;
  bool last_;
};

bool supportsArg(const ir::Node& node) {
  if (node.inputs.size() != 1 || !node.inputs[0] || node.outputs.size() != 1) return false;
  return isNumericType(node.inputs[0]->dtype);
}

std::unique_ptr<Kernel> createArg(const ir::Node& node) {
  int64_t rank = static_cast<int64_t>(node.inputs[0]->shape.size());
  int64_t axis = node.i("axis", 0);
  KILN_CHECK(axis >= -rank && axis < rank, node.describe(), ": axis ", axis, " is out of range for rank ", rank);
  return std::make_unique<ArgKernel>(node.op == "ArgMax", static_cast<int>(axis < 0 ? axis + rank : axis),
                                     node.i("select_last_index", 0) != 0);
}

}  // namespace

void registerReduceKernels(TacticRegistry& r) {
  for (const RInfo& info : kReduceOps)
    r.add(Tactic{std::string(info.name) + ".ref", info.name, 0, supportsReduce, createReduce, nullptr});
  r.add(Tactic{"ArgMax.ref", "ArgMax", 0, supportsArg, createArg, nullptr});
  r.add(Tactic{"ArgMin.ref", "ArgMin", 0, supportsArg, createArg, nullptr});
}

}  // namespace kiln::cpu
