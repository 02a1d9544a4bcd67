// Resize (opset 19 semantics): nearest (any dtype, as data movement) and
// N-D linear (float32), every coordinate_transformation_mode, scales or
// sizes, the `axes` attribute and keep_aspect_ratio_policy. Cubic and
// antialiased linear are resize_filter.cc's ("Resize.filter").
//
// The output is walked row by row (the last axis): source coordinates of the
// outer axes are computed once per row, those of the last axis per element,
// so no tables (and no workspace) are needed.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
namespace {

enum class Coord { kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNN,
                   kTfCropAndResize };
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

constexpr int64_t kTapTable = 1024;  // taps of the last axis kept per thread (24 KiB of stack)

// Where output index o of one axis reads: taps i0 (weight 1 - w1) and i1
// (weight w1) for linear, i0 alone for nearest; outside = extrapolate.
struct Tap {
  int64_t i0 = 0, i1 = 0;
  float w1 = 0.f;
  bool outside = false;
};

class ResizeRef final : public Kernel {
 public:
  explicit ResizeRef(const ir::Node& node)
      : linear_(node.s("mode", "nearest") == "linear"),
        extrapolation_(node.f("extrapolation_value", 0.f)),
        numInputs_(node.inputs.size()) {
    const std::string c = node.s("coordinate_transformation_mode", "half_pixel");
    coord_ = c == "half_pixel_symmetric" ? Coord::kHalfPixelSymmetric
             : c == "pytorch_half_pixel" ? Coord::kPytorchHalfPixel
             : c == "align_corners"      ? Coord::kAlignCorners
             : c == "asymmetric"         ? Coord::kAsymmetric
             : c == "tf_half_pixel_for_nn" ? Coord::kTfHalfPixelForNN
             : c == "tf_crop_and_resize" ? Coord::kTfCropAndResize
                                         : Coord::kHalfPixel;
    const std::string n = node.s("nearest_mode", "round_prefer_floor");
    nearest_ = n == "round_prefer_ceil" ? Nearest::kRoundPreferCeil
               : n == "floor"           ? Nearest::kFloor
               : n == "ceil"            ? Nearest::kCeil
                                        : Nearest::kRoundPreferFloor;
    const std::string policy = node.s("keep_aspect_ratio_policy", "stretch");
    policy_ = policy == "not_larger" ? 1 : policy == "not_smaller" ? 2 : 0;
    const int64_t rank = static_cast<int64_t>(node.inputs[0]->shape.size());
    axes_ = node.ints("axes");
    if (axes_.empty())
      for (int64_t i = 0; i < rank; ++i) axes_.push_back(i);
    for (int64_t& a : axes_) a = a < 0 ? a + rank : a;
    elemSize_ = dtypeSize(node.inputs[0]->dtype);
    isFloat32_ = node.inputs[0]->dtype == DType::kFLOAT;
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& y = out[0];
    const int r = x.rank;
    float scale[kMaxRank], roiStart[kMaxRank], roiEnd[kMaxRank];
    for (int a = 0; a < r; ++a) {
      scale[a] = 1.f;
      roiStart[a] = 0.f;
      roiEnd[a] = 1.f;
    }
    const TensorView* scales = numInputs_ > 2 && in[2].data && in[2].numel() > 0 ? &in[2] : nullptr;
    const TensorView* sizes = numInputs_ > 3 && in[3].data && in[3].numel() > 0 ? &in[3] : nullptr;
    const int64_t na = static_cast<int64_t>(axes_.size());
    if (scales) {
      for (int64_t j = 0; j < na; ++j) scale[axes_[j]] = scales->as<const float>()[j];
    } else if (sizes && policy_ != 0) {
      // One scale for every listed axis (keep_aspect_ratio_policy).
      float s = policy_ == 1 ? 3.4e38f : 0.f;
      for (int64_t j = 0; j < na; ++j) {
        float ratio = static_cast<float>(sizes->as<const int64_t>()[j]) / static_cast<float>(x.dims[axes_[j]]);
        s = policy_ == 1 ? std::min(s, ratio) : std::max(s, ratio);
      }
      for (int64_t j = 0; j < na; ++j) scale[axes_[j]] = s;
    } else {
      for (int64_t j = 0; j < na; ++j)
        scale[axes_[j]] = static_cast<float>(y.dims[axes_[j]]) / static_cast<float>(x.dims[axes_[j]]);
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
    // Output rows: every index of the axes before the last.
    const int64_t inner = y.dims[r - 1], rows = y.numel() / std::max<int64_t>(inner, 1);
    int64_t inStride[kMaxRank];
    inStride[r - 1] = 1;
    for (int a = r - 2; a >= 0; --a) inStride[a] = inStride[a + 1] * x.dims[a + 1];
    const uint8_t* xd = static_cast<const uint8_t*>(x.data);
    uint8_t* yd = static_cast<uint8_t*>(y.data);
    ctx.pool->parallelFor(rows, [&](int64_t b, int64_t e) {
      Tap taps[kTapTable];
      int64_t filled = -1;  // first output index whose taps are in `taps`
      for (int64_t row = b; row < e; ++row) {
        // Taps of the outer axes: up to 2^(r-1) (offset, weight) pairs.
        int64_t offs[1 << (kMaxRank - 1)];
        float wts[1 << (kMaxRank - 1)];
        int n = 1;
        offs[0] = 0;
        wts[0] = 1.f;
        bool outside = false;
        int64_t rem = row;
        for (int a = r - 2; a >= 0; --a) {
          const int64_t o = rem % y.dims[a];
          rem /= y.dims[a];
          const Tap t = tap(o, x.dims[a], y.dims[a], scale[a], roiStart[a], roiEnd[a]);
          outside = outside || t.outside;
          if (!linear_ || t.w1 == 0.f || t.i0 == t.i1) {
            for (int k = 0; k < n; ++k) offs[k] += t.i0 * inStride[a];
            continue;
          }
          for (int k = 0; k < n; ++k) {
            offs[n + k] = offs[k] + t.i1 * inStride[a];
            wts[n + k] = wts[k] * t.w1;
            offs[k] += t.i0 * inStride[a];
            wts[k] *= 1.f - t.w1;
          }
          n *= 2;
        }
        const int64_t la = r - 1;
        for (int64_t o0 = 0; o0 < inner; o0 += kTapTable) {
          const int64_t o1 = std::min(inner, o0 + kTapTable);
          if (filled != o0) {  // taps of the last axis are the same for every row
            for (int64_t o = o0; o < o1; ++o) taps[o - o0] = tap(o, x.dims[la], inner, scale[la], roiStart[la], roiEnd[la]);
            filled = o0;
          }
          if (!linear_) {
            uint8_t* dst = yd + row * inner * elemSize_;
            switch (elemSize_) {
              case 1: nearestRow<uint8_t>(dst, xd, offs[0], taps, o0, o1, outside); break;
              case 2: nearestRow<uint16_t>(dst, xd, offs[0], taps, o0, o1, outside); break;
              case 4: nearestRow<uint32_t>(dst, xd, offs[0], taps, o0, o1, outside); break;
              default: nearestRow<uint64_t>(dst, xd, offs[0], taps, o0, o1, outside); break;
            }
            continue;
          }
          const float* xf = reinterpret_cast<const float*>(xd);
          float* dst = reinterpret_cast<float*>(yd) + row * inner;
          for (int64_t o = o0; o < o1; ++o) {
            const Tap& t = taps[o - o0];
            if (outside || t.outside) {
              dst[o] = extrapolation_;
              continue;
            }
            float v = 0.f;
            for (int k = 0; k < n; ++k) {
              const float* s = xf + offs[k];
              v += wts[k] * ((1.f - t.w1) * s[t.i0] + t.w1 * s[t.i1]);
            }
            dst[o] = v;
          }
        }
      }
    });
  }

 private:
  // The ONNX coordinate transform of output index o on one axis.
  float original(int64_t o, int64_t lenIn, int64_t lenOut, float scale, float roiStart, float roiEnd) const {
    const float xo = static_cast<float>(o), fin = static_cast<float>(lenIn), fout = static_cast<float>(lenOut);
    switch (coord_) {
      case Coord::kHalfPixel: return (xo + 0.5f) / scale - 0.5f;
      case Coord::kHalfPixelSymmetric: {
        const float adjustment = fout / (scale * fin);
        const float offset = fin / 2.f * (1.f - adjustment);
        return offset + (xo + 0.5f) / scale - 0.5f;
      }
      case Coord::kPytorchHalfPixel: return lenOut > 1 ? (xo + 0.5f) / scale - 0.5f : 0.f;
      // The resized length here is scale * length (not the rounded output
      // size), as ONNX's reference and conformance data have it.
      case Coord::kAlignCorners: return lenOut > 1 ? xo * (fin - 1.f) / (scale * fin - 1.f) : 0.f;
      case Coord::kAsymmetric: return xo / scale;
      case Coord::kTfHalfPixelForNN: return (xo + 0.5f) / scale;
      case Coord::kTfCropAndResize:
        return lenOut > 1 ? roiStart * (fin - 1.f) + xo * (roiEnd - roiStart) * (fin - 1.f) / (fout - 1.f)
                          : 0.5f * (roiStart + roiEnd) * (fin - 1.f);
    }
    return 0.f;
  }

  Tap tap(int64_t o, int64_t lenIn, int64_t lenOut, float scale, float roiStart, float roiEnd) const {
    const float xf = original(o, lenIn, lenOut, scale, roiStart, roiEnd);
    Tap t;
    if (coord_ == Coord::kTfCropAndResize && (xf < 0.f || xf > static_cast<float>(lenIn - 1))) {
      t.outside = true;
      return t;
    }
    if (!linear_) {
      const float fl = std::floor(xf);
      int64_t i;
      switch (nearest_) {
        case Nearest::kRoundPreferFloor: i = static_cast<int64_t>(xf - fl == 0.5f ? fl : std::round(xf)); break;
        case Nearest::kRoundPreferCeil: i = static_cast<int64_t>(xf - fl == 0.5f ? fl + 1.f : std::round(xf)); break;
        case Nearest::kFloor: i = static_cast<int64_t>(fl); break;
        default: i = static_cast<int64_t>(std::ceil(xf)); break;
      }
      t.i0 = t.i1 = std::clamp<int64_t>(i, 0, lenIn - 1);
      return t;
    }
    const float fl = std::floor(xf);
    const int64_t i0 = static_cast<int64_t>(fl);
    t.w1 = xf - fl;
    // Taps beyond the edge read the edge (ONNX pads the input by replication).
    t.i0 = std::clamp<int64_t>(i0, 0, lenIn - 1);
    t.i1 = std::clamp<int64_t>(i0 + 1, 0, lenIn - 1);
    return t;
  }

  // One row of nearest output, columns [o0, o1), as T-sized elements.
  template <typename T>
  void nearestRow(uint8_t* dstBytes, const uint8_t* xBytes, int64_t rowOffset, const Tap* taps, int64_t o0,
                  int64_t o1, bool outside) const {
    T* dst = reinterpret_cast<T*>(dstBytes);
    const T* src = reinterpret_cast<const T*>(xBytes) + rowOffset;
    for (int64_t o = o0; o < o1; ++o) {
      const Tap& t = taps[o - o0];
      if (outside || t.outside)
        fillExtrapolation(reinterpret_cast<uint8_t*>(dst + o));
      else
        dst[o] = src[t.i0];
    }
  }

  void fillExtrapolation(uint8_t* dst) const {
    if (isFloat32_) {
      std::memcpy(dst, &extrapolation_, 4);
    } else {  // extrapolation_value is a float: other dtypes get zeros
      std::memset(dst, 0, elemSize_);
    }
  }

  bool linear_;
  float extrapolation_;
  std::size_t numInputs_;
  Coord coord_ = Coord::kHalfPixel;
  Nearest nearest_ = Nearest::kRoundPreferFloor;
  int policy_ = 0;  // 0 stretch, 1 not_larger, 2 not_smaller
  std::vector<int64_t> axes_;
  std::size_t elemSize_ = 4;
  bool isFloat32_ = true;
};

bool supports(const ir::Node& node) {
  if (!node.inputs[0] || node.inputs[0]->shape.empty()) return false;
  if (node.s("mode", "nearest") == "linear")
    return node.inputs[0]->dtype == DType::kFLOAT && node.i("antialias", 0) == 0;
  return node.s("mode", "nearest") == "nearest";
}

}  // namespace

void registerResizeKernels(TacticRegistry& r) {
  r.add({"Resize.ref", "Resize", 0, supports,
         [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ResizeRef>(n); }, nullptr});
  registerResizeFilterKernels(r);
}

}  // namespace kiln::cpu
