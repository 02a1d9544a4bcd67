// Resize with a filter wider than two taps: mode 'cubic' (cubic_coeff_a,
// exclude_outside) and antialiased 'linear' / 'cubic' (the filter stretched
// by 1 / scale when downsampling, its taps normalized), every
// coordinate_transformation_mode, scales or sizes, axes and
// keep_aspect_ratio_policy. resize.cc serves nearest and plain linear.
//
// ONNX's reference picks, per axis, the n input indices nearest to the
// source coordinate x (ties to the smaller), reading the edge value beyond
// the input ('edge' padding); with r = x - floor(x) in (0, 1] (1 when x is
// whole) the taps are base + 1 - n/2 + k for base = ceil(x) - 1, k in [0, n).
// The output is the separable product over the axes; each output element's
// taps are computed where it is written, so no tables (and no workspace).
#include <cmath>

#include "backends/cpu/ops/families.h"
#include "core/error.h"

namespace kiln::cpu {
namespace {

constexpr int kMaxTaps = 128;  // per axis: antialiased cubic at scale 1/32

enum class Coord { kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNN,
                   kTfCropAndResize };

struct AxisTaps {
  int n = 0;
  int64_t index[kMaxTaps];
  float weight[kMaxTaps];
  bool outside = false;  // tf_crop_and_resize: the coordinate is outside the input
};

class ResizeFilterRef final : public Kernel {
 public:
  explicit ResizeFilterRef(const ir::Node& node)
      : who_(node.describe()),
        cubic_(node.s("mode", "nearest") == "cubic"),
        antialias_(node.i("antialias", 0) != 0),
        excludeOutside_(node.i("exclude_outside", 0) != 0),
        a_(node.f("cubic_coeff_a", -0.75f)),
        extrapolation_(node.f("extrapolation_value", 0.f)),
        numInputs_(node.inputs.size()) {
    const std::string c = node.s("coordinate_transformation_mode", "half_pixel");
    coord_ = c == "half_pixel_symmetric"   ? Coord::kHalfPixelSymmetric
             : c == "pytorch_half_pixel"   ? Coord::kPytorchHalfPixel
             : c == "align_corners"        ? Coord::kAlignCorners
             : c == "asymmetric"           ? Coord::kAsymmetric
             : c == "tf_half_pixel_for_nn" ? Coord::kTfHalfPixelForNN
             : c == "tf_crop_and_resize"   ? Coord::kTfCropAndResize
                                           : Coord::kHalfPixel;
    const std::string policy = node.s("keep_aspect_ratio_policy", "stretch");
    policy_ = policy == "not_larger" ? 1 : policy == "not_smaller" ? 2 : 0;
    const int64_t rank = static_cast<int64_t>(node.inputs[0]->shape.size());
    axes_ = node.ints("axes");
    if (axes_.empty())
      for (int64_t i = 0; i < rank; ++i) axes_.push_back(i);
    for (int64_t& a : axes_) a = a < 0 ? a + rank : a;
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& y = out[0];
    const int r = x.rank;
    double scale[kMaxRank], roiStart[kMaxRank], roiEnd[kMaxRank];
    for (int a = 0; a < r; ++a) {
      scale[a] = 1.0;
      roiStart[a] = 0.0;
      roiEnd[a] = 1.0;
    }
    const TensorView* scales = numInputs_ > 2 && in[2].data && in[2].numel() > 0 ? &in[2] : nullptr;
    const TensorView* sizes = numInputs_ > 3 && in[3].data && in[3].numel() > 0 ? &in[3] : nullptr;
    const int64_t na = static_cast<int64_t>(axes_.size());
    if (scales) {
      for (int64_t j = 0; j < na; ++j) scale[axes_[j]] = scales->as<const float>()[j];
    } else if (sizes && policy_ != 0) {
      double s = policy_ == 1 ? 1e300 : 0.0;
      for (int64_t j = 0; j < na; ++j) {
        const double ratio =
            static_cast<double>(sizes->as<const int64_t>()[j]) / static_cast<double>(x.dims[axes_[j]]);
        s = policy_ == 1 ? std::min(s, ratio) : std::max(s, ratio);
      }
      for (int64_t j = 0; j < na; ++j) scale[axes_[j]] = s;
    } else {
      for (int64_t j = 0; j < na; ++j)
        scale[axes_[j]] = static_cast<double>(y.dims[axes_[j]]) / static_cast<double>(x.dims[axes_[j]]);
    }
    if (coord_ == Coord::kTfCropAndResize && numInputs_ > 1 && in[1].data) {
      const float* roi = in[1].as<const float>();
      const int64_t n = in[1].numel() / 2;
      for (int64_t j = 0; j < n && j < na; ++j) {
        const int64_t a = n == r ? j : axes_[j];
        roiStart[a] = roi[j];
        roiEnd[a] = roi[n + j];
      }
    }
    for (int a = 0; a < r; ++a)
      KILN_CHECK(scale[a] > 0.0 && std::isfinite(scale[a]), who_, ": scale ", scale[a], " on axis ", a,
                 " must be positive and finite");
    int64_t inStride[kMaxRank];
    inStride[r - 1] = 1;
    for (int a = r - 2; a >= 0; --a) inStride[a] = inStride[a + 1] * x.dims[a + 1];
    const float* xd = x.as<const float>();
    float* yd = y.as<float>();
    ctx.pool->parallelFor(y.numel(), [&](int64_t begin, int64_t end) {
      AxisTaps taps[kMaxRank];
      for (int64_t o = begin; o < end; ++o) {
        int64_t rest = o;
        bool outside = false;
        int64_t combos = 1;
        for (int a = r - 1; a >= 0; --a) {
          const int64_t oi = rest % y.dims[a];
          rest /= y.dims[a];
          axisTaps(oi, x.dims[a], y.dims[a], scale[a], roiStart[a], roiEnd[a], taps[a]);
          outside = outside || taps[a].outside;
          combos *= taps[a].n;
        }
        if (outside) {
          yd[o] = extrapolation_;
          continue;
        }
        double acc = 0.0;
        for (int64_t combo = 0; combo < combos; ++combo) {
          int64_t c = combo, off = 0;
          double w = 1.0;
          for (int a = r - 1; a >= 0; --a) {
            const int k = static_cast<int>(c % taps[a].n);
            c /= taps[a].n;
            off += taps[a].index[k] * inStride[a];
            w *= taps[a].weight[k];
          }
          acc += w * xd[off];
        }
        yd[o] = static_cast<float>(acc);
      }
    });
  }

 private:
  double original(int64_t o, int64_t lenIn, int64_t lenOut, double scale, double roiStart, double roiEnd) const {
    const double xo = static_cast<double>(o), fin = static_cast<double>(lenIn);
    const double resized = scale * fin;  // ONNX's reference uses scale * length, not the rounded size
    switch (coord_) {
      case Coord::kHalfPixel: return (xo + 0.5) / scale - 0.5;
      case Coord::kHalfPixelSymmetric: {
        const double adjustment = static_cast<double>(lenOut) / resized;
        return fin / 2.0 * (1.0 - adjustment) + (xo + 0.5) / scale - 0.5;
      }
      case Coord::kPytorchHalfPixel: return resized == 1.0 ? -0.5 : (xo + 0.5) / scale - 0.5;
      case Coord::kAlignCorners: return resized == 1.0 ? 0.0 : xo * (fin - 1.0) / (resized - 1.0);
      case Coord::kAsymmetric: return xo / scale;
      case Coord::kTfHalfPixelForNN: return (xo + 0.5) / scale;
      case Coord::kTfCropAndResize:
        return (resized == 1.0 ? (roiEnd - roiStart) * (fin - 1.0) / 2.0
                               : xo * (roiEnd - roiStart) * (fin - 1.0) / (resized - 1.0)) +
               roiStart * (fin - 1.0);
    }
    return 0.0;
  }

  double cubic(double d) const {  // Keys' kernel with a = cubic_coeff_a
    const double a = a_;
    d = std::fabs(d);
    if (d <= 1.0) return ((a + 2) * d - (a + 3)) * d * d + 1;
    if (d < 2.0) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
    return 0.0;
  }

  void axisTaps(int64_t o, int64_t lenIn, int64_t lenOut, double scale, double roiStart, double roiEnd,
                AxisTaps& t) const {
    const double xf = original(o, lenIn, lenOut, scale, roiStart, roiEnd);
    t.outside = coord_ == Coord::kTfCropAndResize && (xf < 0.0 || xf > static_cast<double>(lenIn - 1));
    const double fl = std::floor(xf);
    const double ratio = xf == fl ? 1.0 : xf - fl;
    const int64_t base = static_cast<int64_t>(std::ceil(xf)) - 1;
    // Filter support in input pixels: 1 (linear) or 2 (cubic), times 1 / scale when antialiasing a downscale.
    const double s = antialias_ ? std::min(scale, 1.0) : 1.0;
    const int64_t start = antialias_ ? static_cast<int64_t>(std::floor((cubic_ ? -2.0 : -1.0) / s)) + 1
                                     : (cubic_ ? -1 : 0);
    const int64_t n = 2 - 2 * start;
    KILN_CHECK(n <= kMaxTaps, who_, ": the resize filter needs ", n, " taps per axis (scale ", scale,
               "); at most ", kMaxTaps, " are supported");
    double w[kMaxTaps], sum = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      const double d = (static_cast<double>(start + k) - ratio) * s;
      w[k] = cubic_ ? cubic(d) : std::max(0.0, 1.0 - std::fabs(d));
      const int64_t i = base + 1 - n / 2 + k;
      if (excludeOutside_ && (i < 0 || i >= lenIn)) w[k] = 0.0;
      sum += w[k];
    }
    const bool normalize = antialias_ || excludeOutside_;
    t.n = 0;
    for (int64_t k = 0; k < n; ++k) {
      if (w[k] == 0.0) continue;  // skipped taps keep the product small
      const int64_t i = base + 1 - n / 2 + k;
      t.index[t.n] = std::min<int64_t>(std::max<int64_t>(i, 0), lenIn - 1);  // 'edge' padding
      t.weight[t.n] = static_cast<float>(normalize && sum != 0.0 ? w[k] / sum : w[k]);
      ++t.n;
    }
    if (t.n == 0) {  // all weights 0 (cannot happen for a valid filter): read the nearest pixel
      t.index[0] = std::min<int64_t>(std::max<int64_t>(base, 0), lenIn - 1);
      t.weight[0] = 0.f;
      t.n = 1;
    }
  }

  std::string who_;
  bool cubic_, antialias_, excludeOutside_;
  float a_, extrapolation_;
  std::size_t numInputs_;
  Coord coord_ = Coord::kHalfPixel;
  int policy_ = 0;  // 0 stretch, 1 not_larger, 2 not_smaller
  std::vector<int64_t> axes_;
};

bool supportsFilter(const ir::Node& node) {
  if (!node.inputs[0] || node.inputs[0]->shape.empty() || node.inputs[0]->dtype != DType::kFLOAT) return false;
  const std::string mode = node.s("mode", "nearest");
  return mode == "cubic" || (mode == "linear" && node.i("antialias", 0) != 0);
}

}  // namespace

void registerResizeFilterKernels(TacticRegistry& r) {
  r.add({"Resize.filter", "Resize", 0, supportsFilter,
         [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ResizeFilterRef>(n); }, nullptr});
}

}  // namespace kiln::cpu
