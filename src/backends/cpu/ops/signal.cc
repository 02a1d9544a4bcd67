// Reference kernels of DFT, STFT and MelWeightMatrix, computed in double.
// DFT is the direct O(N^2) sum (exact twiddles from std::cos/sin of the
// reduced index k*n mod N), as the reference it is; an FFT tactic can be
// checked against it later. MelWeightMatrix follows ONNX's reference
// implementation step by step (its integer bin edges included).
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

double loadAt(const TensorView& v, int64_t i) {
  return v.dtype == DType::kDOUBLE ? v.as<const double>()[i] : static_cast<double>(v.as<const float>()[i]);
}
void storeAt(const TensorView& v, int64_t i, double x) {
  if (v.dtype == DType::kDOUBLE) v.as<double>()[i] = x;
  else v.as<float>()[i] = static_cast<float>(x);
}
//! The one value of a scalar input of any numeric type.
double scalarOf(const TensorView& v) {
  switch (v.dtype) {
    case DType::kINT32: return v.as<const int32_t>()[0];
    case DType::kINT64: return static_cast<double>(v.as<const int64_t>()[0]);
    case DType::kDOUBLE: return v.as<const double>()[0];
    case DType::kFLOAT: return v.as<const float>()[0];
    default: fail("signal ops: unsupported scalar type ", dataTypeName(v.dtype));
  }
}

//! out[k] = sum_{n < min(len, N)} in[n] * e^{-+2 pi i k n / N} for k < outLen, one line.
//! `in` / `out` are (re, im) pairs at the given strides; `complexIn` false: im = 0.
void dftLine(const TensorView& x, int64_t inBase, int64_t inStride, int64_t len, bool complexIn, const TensorView& y,
             int64_t outBase, int64_t outStride, int64_t outLen, int64_t N, bool inverse) {
  const double sign = inverse ? 1.0 : -1.0;
  const int64_t used = std::min(len, N);
  for (int64_t k = 0; k < outLen; ++k) {
    double re = 0, im = 0;
    for (int64_t n = 0; n < used; ++n) {
      double a = 2 * std::numbers::pi * static_cast<double>((k * n) % N) / static_cast<double>(N);
      double c = std::cos(a), s = sign * std::sin(a);
      int64_t at = inBase + n * inStride;
      double xr = loadAt(x, at), xi = complexIn ? loadAt(x, at + 1) : 0.0;
      re += xr * c - xi * s;
      im += xr * s + xi * c;
    }
    if (inverse) re /= static_cast<double>(N), im /= static_cast<double>(N);
    storeAt(y, outBase + k * outStride, re);
    storeAt(y, outBase + k * outStride + 1, im);
  }
}

class DftKernel : public Kernel {
 public:
  explicit DftKernel(const ir::Node& node)
      : who_(node.describe()), inverse_(node.i("inverse", 0) != 0), onesided_(node.i("onesided", 0) != 0),
        hasLength_(node.input(1) != nullptr), hasAxis_(node.input(2) != nullptr) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &y = out[0];
    const int rank = x.rank;
    int64_t axis = hasAxis_ ? static_cast<int64_t>(scalarOf(in[2])) : -2;
    KILN_CHECK(axis >= -rank && axis < rank - (axis >= 0 ? 1 : 0) && axis != -1, who_, ": axis ", axis,
               " is not a signal dim of a rank-", rank, " input");
    if (axis < 0) axis += rank;
    const int64_t len = x.dims[axis];
    const int64_t N = hasLength_ ? static_cast<int64_t>(scalarOf(in[1])) : len;
    KILN_CHECK(N >= 1, who_, ": dft_length must be >= 1, got ", N);
    const int64_t outLen = onesided_ ? N / 2 + 1 : N;
    KILN_CHECK(y.dims[axis] == outLen, who_, ": the output was built for ", y.dims[axis], " bins, this run has ",
               outLen);
    const bool complexIn = x.dims[rank - 1] == 2;
    // [outer, axis, inner, complex] in both tensors.
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; ++k) outer *= x.dims[k];
    for (int k = static_cast<int>(axis) + 1; k < rank - 1; ++k) inner *= x.dims[k];
    const int64_t cin = complexIn ? 2 : 1;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i)
        dftLine(x, (o * len * inner + i) * cin, inner * cin, len, complexIn, y, (o * outLen * inner + i) * 2,
                inner * 2, outLen, N, inverse_);
  }

 private:
  std::string who_;
  bool inverse_, onesided_, hasLength_, hasAxis_;
};

class StftKernel : public Kernel {
 public:
  explicit StftKernel(const ir::Node& node)
      : who_(node.describe()), onesided_(node.i("onesided", 1) != 0), hasWindow_(node.input(2) != nullptr),
        hasLength_(node.input(3) != nullptr) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &y = out[0];
    const int64_t batch = x.dims[0], len = x.dims[1];
    const bool complexIn = x.dims[2] == 2;
    const int64_t step = static_cast<int64_t>(scalarOf(in[1]));
    int64_t L = hasWindow_ ? in[2].dims[0] : hasLength_ ? static_cast<int64_t>(scalarOf(in[3])) : len;
    KILN_CHECK(step >= 1 && L >= 1 && L <= len, who_, ": frame_step ", step, " / frame_length ", L,
               " do not fit a signal of length ", len);
    const int64_t frames = (len - L) / step + 1, bins = onesided_ ? L / 2 + 1 : L;
    KILN_CHECK(y.dims[1] == frames && y.dims[2] == bins, who_, ": the output was built for ", y.dims[1], "x",
               y.dims[2], " frames x bins, this run has ", frames, "x", bins);
    const int64_t cin = complexIn ? 2 : 1;
    std::vector<double> frame(static_cast<std::size_t>(2 * L));
    TensorView fv = makeView(frame.data(), DType::kDOUBLE, {L, 2});
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t f = 0; f < frames; ++f) {
        for (int64_t n = 0; n < L; ++n) {
          double w = hasWindow_ ? loadAt(in[2], n) : 1.0;
          int64_t at = (b * len + f * step + n) * cin;
          frame[2 * n] = w * loadAt(x, at);
          frame[2 * n + 1] = complexIn ? w * loadAt(x, at + 1) : 0.0;
        }
        dftLine(fv, 0, 2, L, true, y, (b * frames + f) * bins * 2, 2, bins, L, false);
      }
  }

 private:
  std::string who_;
  bool onesided_, hasWindow_, hasLength_;
};

class MelWeightMatrixKernel : public Kernel {
 public:
  explicit MelWeightMatrixKernel(const ir::Node&) {}
  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const auto numMel = static_cast<int64_t>(scalarOf(in[0])), dftLength = static_cast<int64_t>(scalarOf(in[1]));
    const double sampleRate = scalarOf(in[2]), lower = scalarOf(in[3]), upper = scalarOf(in[4]);
    const TensorView& y = out[0];
    const int64_t rows = dftLength / 2 + 1;
    KILN_CHECK(y.dims[0] == rows && y.dims[1] == numMel, "MelWeightMatrix: output shape differs from the inputs'");
    const double lowMel = 2595 * std::log10(1 + lower / 700), highMel = 2595 * std::log10(1 + upper / 700);
    const double melStep = (highMel - lowMel) / static_cast<double>(numMel + 2);
    std::vector<int64_t> edge(static_cast<std::size_t>(numMel + 2));
    for (int64_t i = 0; i < numMel + 2; ++i) {
      double hz = 700 * (std::pow(10.0, (static_cast<double>(i) * melStep + lowMel) / 2595) - 1);
      edge[i] = static_cast<int64_t>(std::floor(static_cast<double>(dftLength + 1) * hz / sampleRate));
    }
    for (int64_t e = 0; e < y.numel(); ++e) storeAt(y, e, 0);
    auto set = [&](int64_t r, int64_t c, double v) {
      KILN_CHECK(r >= 0 && r < rows, "MelWeightMatrix: a mel bin edge falls outside the ", rows, " spectrogram bins");
      storeAt(y, r * numMel + c, v);
    };
    for (int64_t i = 0; i < numMel; ++i) {
      const int64_t lo = edge[i], center = edge[i + 1], hi = edge[i + 2];
      if (center == lo) set(center, i, 1);
      else
        for (int64_t j = lo; j <= center; ++j)
          set(j, i, static_cast<double>(j - lo) / static_cast<double>(center - lo));
      for (int64_t j = center; j < hi; ++j) set(j, i, static_cast<double>(hi - j) / static_cast<double>(hi - center));
    }
  }
};

bool supportsSignal(const ir::Node& node) {
  DType t = node.outputs[0]->dtype;
  return (t == DType::kFLOAT || t == DType::kDOUBLE) &&
         (node.op == "MelWeightMatrix" || node.inputs[0]->dtype == t);
}

}  // namespace

void registerSignalKernels(TacticRegistry& r) {
  r.add(refTactic<DftKernel>("DFT", supportsSignal));
  r.add(refTactic<StftKernel>("STFT", supportsSignal));
  r.add(refTactic<MelWeightMatrixKernel>("MelWeightMatrix", supportsSignal));
}

}  // namespace kiln::cpu
