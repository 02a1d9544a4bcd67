// Reference kernels of CumSum, TopK, Hardmax, Einsum and Det.
//
// Einsum is one generic kernel: the parsed equation (ir/ops/einsum.h) becomes,
// per input, a stride for every label (repeated labels add their strides,
// which walks diagonals; broadcast 1s get stride 0), and the output is the
// sum over the contracted labels of the product of the inputs. That covers
// every equation (transposes, traces, diagonals, batched matmuls,
// contractions of several inputs) in one loop nest; it does the work of a
// naive matmul, so models whose einsums are large matmuls want a lowering
// to MatMul first (not done yet).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "backends/cpu/ops/broadcast.h"
#include "backends/cpu/ops/elementwise.h"
#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/tensor_copy.h"
#include "ir/ops/einsum.h"

namespace kiln::cpu {
namespace {

//! Half/bfloat16 bits or a native number, read and written as T = float/double/int.
template <typename Fn>
bool dispatchMath(DType t, Fn&& fn) {
  switch (t) {
    case DType::kFLOAT: fn(float{}); return true;
    case DType::kDOUBLE: fn(double{}); return true;
    case DType::kINT32: fn(int32_t{}); return true;
    case DType::kINT64: fn(int64_t{}); return true;
    case DType::kUINT32: fn(uint32_t{}); return true;
    case DType::kUINT64: fn(uint64_t{}); return true;
    default: return false;
  }
}

double loadF(const TensorView& v, int64_t i) {
  if (v.dtype == DType::kHALF) return halfToFloat(v.as<const uint16_t>()[i]);
  if (v.dtype == DType::kBF16) return bf16ToFloat(v.as<const uint16_t>()[i]);
  if (v.dtype == DType::kDOUBLE) return v.as<const double>()[i];
  return v.as<const float>()[i];
}
void storeF(const TensorView& v, int64_t i, double x) {
  if (v.dtype == DType::kHALF) v.as<uint16_t>()[i] = floatToHalf(static_cast<float>(x));
  else if (v.dtype == DType::kBF16) v.as<uint16_t>()[i] = floatToBf16(static_cast<float>(x));
  else if (v.dtype == DType::kDOUBLE) v.as<double>()[i] = x;
  else v.as<float>()[i] = static_cast<float>(x);
}
bool isFloatView(DType t) {
  return t == DType::kFLOAT || t == DType::kDOUBLE || t == DType::kHALF || t == DType::kBF16;
}

//! [outer, dim, inner] view of `v` around `axis`.
void around(const TensorView& v, int axis, int64_t* outer, int64_t* dim, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int k = 0; k < axis; ++k) *outer *= v.dims[k];
  for (int k = axis + 1; k < v.rank; ++k) *inner *= v.dims[k];
  *dim = v.dims[axis];
}

class CumSumKernel : public Kernel {
 public:
  explicit CumSumKernel(const ir::Node& node)
      : who_(node.describe()), exclusive_(node.i("exclusive", 0) != 0), reverse_(node.i("reverse", 0) != 0) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    KILN_CHECK(in[1].numel() == 1, who_, ": axis must hold one value");
    int64_t a = readIndex(in[1], 0);
    KILN_CHECK(a >= -x.rank && a < x.rank, who_, ": axis ", a, " is out of range for rank ", x.rank);
    int64_t outer, dim, inner;
    around(x, static_cast<int>(a < 0 ? a + x.rank : a), &outer, &dim, &inner);
    auto scan = [&](auto load, auto store, auto zero) {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          auto acc = zero;
          for (int64_t s = 0; s < dim; ++s) {
            int64_t k = reverse_ ? dim - 1 - s : s;
            int64_t at = (o * dim + k) * inner + i;
            auto v = load(at);
            if (exclusive_) {
              store(at, acc);
              acc = ew::wrapAdd(acc, v);
            } else {
              acc = ew::wrapAdd(acc, v);
              store(at, acc);
            }
          }
        }
    };
    const TensorView& y = out[0];
    if (x.dtype == DType::kHALF || x.dtype == DType::kBF16) {  // accumulate in float, as ONNX Runtime
      return scan([&](int64_t i) { return static_cast<float>(loadF(x, i)); },
                  [&](int64_t i, float v) { storeF(y, i, v); }, 0.f);
    }
    dispatchMath(x.dtype, [&](auto t) {
      using T = decltype(t);
      const T* src = x.as<const T>();
      T* dst = y.as<T>();
      // The output may alias nothing here (the planner does not alias CumSum), but read before write anyway.
      scan([&](int64_t i) { return src[i]; }, [&](int64_t i, T v) { dst[i] = v; }, T{0});
    });
  }

 private:
  std::string who_;
  bool exclusive_, reverse_;
};

bool supportsCumSum(const ir::Node& node) {
  DType t = node.inputs[0]->dtype;
  return t == DType::kFLOAT || t == DType::kDOUBLE || t == DType::kINT32 || t == DType::kINT64 ||
         t == DType::kUINT32 || t == DType::kUINT64 || t == DType::kHALF || t == DType::kBF16;
}

class TopKKernel : public Kernel {
 public:
  explicit TopKKernel(const ir::Node& node)
      : who_(node.describe()), axis_(node.i("axis", -1)), largest_(node.i("largest", 1) != 0),
        sorted_(node.i("sorted", 1) != 0) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + x.rank : axis_);
    int64_t outer, dim, inner;
    around(x, axis, &outer, &dim, &inner);
    KILN_CHECK(in[1].numel() == 1, who_, ": K must hold one value");
    const int64_t k = in[1].as<const int64_t>()[0];
    KILN_CHECK(k >= 0 && k <= dim, who_, ": K is ", k, " but axis ", axis, " has size ", dim);
    KILN_CHECK(out[0].dims[axis] == k, who_, ": K ", k, " differs from the built output's ", out[0].dims[axis]);
    int64_t* indices = out[1].data ? out[1].as<int64_t>() : nullptr;
    dispatchArith(x.dtype, [&](auto t) {
      using T = decltype(t);
      const T* src = x.as<const T>();
      T* values = out[0].as<T>();
      std::vector<int64_t> order(static_cast<std::size_t>(dim));
      const bool largest = largest_;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          auto at = [&](int64_t j) { return src[(o * dim + j) * inner + i]; };
          // Ties go to the lower index (ONNX); NaN counts as the largest value.
          auto before = [&](int64_t a, int64_t b) {
            T va = at(a), vb = at(b);
            bool na = va != va, nb = vb != vb;
            if (na || nb) return na != nb ? (largest ? na : nb) : a < b;
            if (va != vb) return largest ? va > vb : va < vb;
            return a < b;
          };
          std::iota(order.begin(), order.end(), int64_t{0});
          std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
          // sorted = 0 lets any order out; the sorted one is as good as any.
          for (int64_t j = 0; j < k; ++j) {
            int64_t dst = (o * k + j) * inner + i;
            values[dst] = at(order[static_cast<std::size_t>(j)]);
            if (indices) indices[dst] = order[static_cast<std::size_t>(j)];
          }
        }
    });
    (void)sorted_;
  }

 private:
  std::string who_;
  int64_t axis_;
  bool largest_, sorted_;
};

bool supportsTopK(const ir::Node& node) { return isArithType(node.inputs[0]->dtype); }

class HardmaxKernel : public Kernel {
 public:
  explicit HardmaxKernel(const ir::Node& node) : axis_(node.i("axis", -1)) {}
  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &y = out[0];
    int64_t outer, dim, inner;
    around(x, static_cast<int>(axis_ < 0 ? axis_ + x.rank : axis_), &outer, &dim, &inner);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t best = 0;
        double bestV = dim ? loadF(x, o * dim * inner + i) : 0;
        for (int64_t j = 0; j < dim; ++j) {
          double v = loadF(x, (o * dim + j) * inner + i);
          if (v > bestV) best = j, bestV = v;  // the first maximum wins
          storeF(y, (o * dim + j) * inner + i, 0);
        }
        if (dim) storeF(y, (o * dim + best) * inner + i, 1);
      }
  }

 private:
  int64_t axis_;
};

bool supportsFloatIn(const ir::Node& node) { return isFloatView(node.inputs[0]->dtype); }

class EinsumKernel : public Kernel {
 public:
  explicit EinsumKernel(const ir::Node& node)
      : who_(node.describe()), equation_(node.s("equation", "")), numInputs_(node.inputs.size()) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const std::size_t n = numInputs_;
    std::vector<int64_t> ranks;
    for (std::size_t i = 0; i < n; ++i) ranks.push_back(in[i].rank);
    ir::EinsumSpec spec;
    std::string error;
    KILN_CHECK(ir::parseEinsum(equation_, ranks, &spec, &error), who_, ": ", error);
    // Labels: output ones first (in output order), then the contracted ones.
    std::vector<int> labels = spec.output;
    std::map<int, int64_t> size;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < spec.inputs[i].size(); ++k) {
        int l = spec.inputs[i][k];
        int64_t d = in[i].dims[k];
        auto [it, fresh] = size.emplace(l, d);
        if (!fresh && it->second == 1) it->second = d;
        KILN_CHECK(fresh || d == 1 || d == it->second, who_, ": a label has sizes ", it->second, " and ", d);
        if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
      }
    const std::size_t L = labels.size(), numOut = spec.output.size();
    std::vector<int64_t> dims(L);
    for (std::size_t j = 0; j < L; ++j) dims[j] = size[labels[j]];
    // strides[i][j]: how far input i moves when label j steps (0 when absent or broadcast).
    std::vector<std::vector<int64_t>> strides(n, std::vector<int64_t>(L, 0));
    for (std::size_t i = 0; i < n; ++i) {
      int64_t s = 1;
      for (std::size_t k = spec.inputs[i].size(); k-- > 0;) {
        std::size_t j = std::find(labels.begin(), labels.end(), spec.inputs[i][k]) - labels.begin();
        if (in[i].dims[k] != 1) strides[i][j] += s;
        s *= in[i].dims[k];
      }
    }
    int64_t outCount = 1, redCount = 1;
    for (std::size_t j = 0; j < L; ++j) (j < numOut ? outCount : redCount) *= dims[j];
    dispatchMath(out[0].dtype, [&](auto t) {
      using T = decltype(t);
      T* y = out[0].as<T>();
      std::vector<int64_t> coord(L, 0), offs(n, 0);
      for (int64_t o = 0; o < outCount; ++o) {
        T acc{0};
        for (int64_t r = 0; r < redCount; ++r) {
          T prod{1};
          for (std::size_t i = 0; i < n; ++i) prod = ew::wrapMul(prod, in[i].as<const T>()[offs[i]]);
          acc = ew::wrapAdd(acc, prod);
          step(coord, offs, dims, strides, numOut, L);  // the contracted labels
        }
        y[o] = acc;
        step(coord, offs, dims, strides, 0, numOut);  // the output labels (contracted ones wrapped to 0)
      }
    });
  }

 private:
  //! Odometer over labels [lo, hi) (the last fastest), keeping each input's offset.
  static void step(std::vector<int64_t>& coord, std::vector<int64_t>& offs, const std::vector<int64_t>& dims,
                   const std::vector<std::vector<int64_t>>& strides, std::size_t lo, std::size_t hi) {
    for (std::size_t j = hi; j-- > lo;) {
      ++coord[j];
      for (std::size_t i = 0; i < offs.size(); ++i) offs[i] += strides[i][j];
      if (coord[j] < dims[j]) return;
      for (std::size_t i = 0; i < offs.size(); ++i) offs[i] -= coord[j] * strides[i][j];
      coord[j] = 0;
    }
  }
  std::string who_, equation_;
  std::size_t numInputs_;
};

bool supportsEinsum(const ir::Node& node) {
  DType t = node.outputs[0]->dtype;
  return t == DType::kFLOAT || t == DType::kDOUBLE || t == DType::kINT32 || t == DType::kINT64;
}

// Det: LU decomposition with partial pivoting, in double.
class DetKernel : public Kernel {
 public:
  explicit DetKernel(const ir::Node&) {}
  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t m = x.dims[x.rank - 1], count = out[0].numel();
    std::vector<double> a(static_cast<std::size_t>(m * m));
    for (int64_t b = 0; b < count; ++b) {
      for (int64_t e = 0; e < m * m; ++e) a[e] = loadF(x, b * m * m + e);
      double det = 1;
      for (int64_t c = 0; c < m && det != 0; ++c) {
        int64_t p = c;
        for (int64_t r = c + 1; r < m; ++r)
          if (std::fabs(a[r * m + c]) > std::fabs(a[p * m + c])) p = r;
        if (a[p * m + c] == 0) {
          det = 0;
          break;
        }
        if (p != c) {
          for (int64_t k = 0; k < m; ++k) std::swap(a[p * m + k], a[c * m + k]);
          det = -det;
        }
        det *= a[c * m + c];
        for (int64_t r = c + 1; r < m; ++r) {
          double f = a[r * m + c] / a[c * m + c];
          for (int64_t k = c; k < m; ++k) a[r * m + k] -= f * a[c * m + k];
        }
      }
      storeF(out[0], b, det);
    }
  }
};

}  // namespace

void registerMathKernels(TacticRegistry& r) {
  r.add(refTactic<CumSumKernel>("CumSum", supportsCumSum));
  r.add(refTactic<TopKKernel>("TopK", supportsTopK));
  r.add(refTactic<HardmaxKernel>("Hardmax", supportsFloatIn));
  r.add(refTactic<EinsumKernel>("Einsum", supportsEinsum));
  r.add(refTactic<DetKernel>("Det", supportsFloatIn));
}

}  // namespace kiln::cpu
