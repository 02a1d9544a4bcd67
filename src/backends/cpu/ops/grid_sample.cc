// GridSample (opset 20 semantics, any number of spatial axes) and AffineGrid.
//
// GridSample follows ONNX's reference (and PyTorch's grid_sampler): the grid's
// last axis holds normalized coordinates in reverse axis order (x = width
// first); they are denormalized per align_corners, clamped (border) or
// reflected (reflection) when outside the borders, and sampled with separable
// taps: 1 (nearest, rounded half to even), 2 (linear) or 4 (cubic, Keys
// a = -0.75) per axis. Each tap index is mapped by padding_mode again (zeros:
// out-of-range taps read 0). Parallel over output points of all batches.
#include <cmath>

#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/nn_util.h"

namespace kiln::cpu {
namespace {

enum class SampleMode { kNearest, kLinear, kCubic };
enum class Padding { kZeros, kBorder, kReflection };

constexpr int kMaxSpatial = kMaxRank - 2;

// Reflects x by the nearer border until it lies in [lo, hi].
float reflect(float x, float lo, float hi) {
  const float range = hi - lo;
  if (range <= 0.f) return lo;
  if (x < lo) {
    const float dx = lo - x;
    const int64_t n = static_cast<int64_t>(dx / range);
    const float r = dx - static_cast<float>(n) * range;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const float dx = x - hi;
    const int64_t n = static_cast<int64_t>(dx / range);
    const float r = dx - static_cast<float>(n) * range;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

void cubicCoeffs(float t, float* c) {
  constexpr float a = -0.75f;
  const float x0 = t + 1.f, x1 = t, x2 = 1.f - t, x3 = 2.f - t;
  c[0] = ((a * x0 - 5 * a) * x0 + 8 * a) * x0 - 4 * a;
  c[1] = ((a + 2) * x1 - (a + 3)) * x1 * x1 + 1;
  c[2] = ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1;
  c[3] = ((a * x3 - 5 * a) * x3 + 8 * a) * x3 - 4 * a;
}

class GridSampleRef final : public Kernel {
 public:
  explicit GridSampleRef(const ir::Node& node) : alignCorners_(node.i("align_corners", 0) != 0) {
    const std::string m = node.s("mode", "linear");
    mode_ = m == "nearest" ? SampleMode::kNearest : m == "cubic" ? SampleMode::kCubic : SampleMode::kLinear;
    const std::string p = node.s("padding_mode", "zeros");
    padding_ = p == "border" ? Padding::kBorder : p == "reflection" ? Padding::kReflection : Padding::kZeros;
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& grid = in[1];
    const int spatial = x.rank - 2;
    const int64_t n = x.dims[0], c = x.dims[1];
    int64_t size[kMaxSpatial], inPlane = 1, outPlane = 1;
    float lo[kMaxSpatial], hi[kMaxSpatial];
    for (int a = 0; a < spatial; ++a) {
      size[a] = x.dims[2 + a];
      inPlane *= size[a];
      outPlane *= out[0].dims[2 + a];
      lo[a] = alignCorners_ ? 0.f : -0.5f;
      hi[a] = alignCorners_ ? static_cast<float>(size[a] - 1) : static_cast<float>(size[a]) - 0.5f;
    }
    const int taps = mode_ == SampleMode::kNearest ? 1 : mode_ == SampleMode::kLinear ? 2 : 4;
    int64_t combos = 1;
    for (int a = 0; a < spatial; ++a) combos *= taps;
    const float* xd = x.as<const float>();
    const float* gd = grid.as<const float>();
    float* yd = out[0].as<float>();
    ctx.pool->parallelFor(n * outPlane, [&](int64_t begin, int64_t end) {
      int64_t index[kMaxSpatial][4];
      float weight[kMaxSpatial][4];
      bool valid[kMaxSpatial][4];
      for (int64_t p = begin; p < end; ++p) {
        const int64_t b = p / outPlane, o = p % outPlane;
        const float* g = gd + p * spatial;
        for (int a = 0; a < spatial; ++a) {
          const float len = static_cast<float>(size[a]);
          const float gn = g[spatial - 1 - a];  // reverse axis order
          float v = alignCorners_ ? (gn + 1.f) / 2.f * (len - 1.f) : ((gn + 1.f) * len - 1.f) / 2.f;
          if (mode_ == SampleMode::kNearest) v = std::nearbyint(v);  // half to even (default rounding mode)
          if (v < lo[a] || v > hi[a]) {
            if (padding_ == Padding::kBorder) v = std::min(std::max(v, 0.f), len - 1.f);
            if (padding_ == Padding::kReflection) v = reflect(v, lo[a], hi[a]);
          }
          // Far outside, every tap is outside too (border / reflection have moved v in already);
          // bounding v keeps the integer tap arithmetic defined for huge, infinite or NaN grids.
          const float bound = len + 8.f;
          v = v >= -bound ? (v <= bound ? v : bound) : -bound;
          int64_t first;
          if (mode_ == SampleMode::kNearest) {
            first = static_cast<int64_t>(v);  // truncation, as the reference's int cast
            weight[a][0] = 1.f;
          } else {
            const float fl = std::floor(v);
            const float t = v - fl;
            first = static_cast<int64_t>(fl) - (mode_ == SampleMode::kCubic ? 1 : 0);
            if (mode_ == SampleMode::kLinear) {
              weight[a][0] = 1.f - t;
              weight[a][1] = t;
            } else {
              cubicCoeffs(t, weight[a]);
            }
          }
          for (int k = 0; k < taps; ++k) {
            int64_t i = first + k;
            valid[a][k] = true;
            if (i < 0 || i >= size[a]) {
              if (padding_ == Padding::kZeros) valid[a][k] = false;
              else if (padding_ == Padding::kBorder) i = std::min<int64_t>(std::max<int64_t>(i, 0), size[a] - 1);
              else i = static_cast<int64_t>(reflect(static_cast<float>(i), lo[a], hi[a]));
              i = std::min<int64_t>(std::max<int64_t>(i, 0), size[a] - 1);  // guards float edge cases
            }
            index[a][k] = i;
          }
        }
        for (int64_t ch = 0; ch < c; ++ch) {
          const float* plane = xd + (b * c + ch) * inPlane;
          float acc = 0.f;
          for (int64_t combo = 0; combo < combos; ++combo) {
            int64_t rest = combo, off = 0;
            float w = 1.f;
            bool ok = true;
            for (int a = spatial - 1; a >= 0; --a) {  // last axis varies fastest
              const int k = static_cast<int>(rest % taps);
              rest /= taps;
              ok = ok && valid[a][k];
              w *= weight[a][k];
            }
            if (!ok) continue;
            rest = combo;
            int64_t stride = 1;
            for (int a = spatial - 1; a >= 0; --a) {
              off += index[a][rest % taps] * stride;
              rest /= taps;
              stride *= size[a];
            }
            acc += w * plane[off];
          }
          yd[(b * c + ch) * outPlane + o] = acc;
        }
      }
    });
  }

 private:
  SampleMode mode_;
  Padding padding_;
  bool alignCorners_;
};

// AffineGrid: grid[n, p, k] = sum_j theta[n, k, j] * base_j(p), base = (x, y,
// [z], 1) with x the width coordinate, each a normalized pixel center (or
// corner with align_corners) of the output size.
class AffineGridRef final : public Kernel {
 public:
  explicit AffineGridRef(const ir::Node& node) : alignCorners_(node.i("align_corners", 0) != 0) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView& y = out[0];
    const int spatial = y.rank - 2;
    const int64_t n = y.dims[0];
    int64_t points = 1;
    for (int a = 0; a < spatial; ++a) points *= y.dims[1 + a];
    const float* theta = in[0].as<const float>();
    float* yd = y.as<float>();
    for (int64_t b = 0; b < n; ++b) {
      const float* t = theta + b * spatial * (spatial + 1);
      for (int64_t p = 0; p < points; ++p) {
        float base[kMaxSpatial + 1];
        int64_t rest = p;
        for (int a = spatial - 1; a >= 0; --a) {  // base[0] is the last (width) axis
          const int64_t len = y.dims[1 + a], i = rest % len;
          rest /= len;
          const float fi = static_cast<float>(i), fl = static_cast<float>(len);
          base[spatial - 1 - a] = alignCorners_ ? (len > 1 ? -1.f + 2.f * fi / (fl - 1.f) : -1.f)
                                                : -1.f + (2.f * fi + 1.f) / fl;
        }
        base[spatial] = 1.f;
        float* g = yd + (b * points + p) * spatial;
        for (int k = 0; k < spatial; ++k) {
          float acc = 0.f;
          for (int j = 0; j <= spatial; ++j) acc += t[k * (spatial + 1) + j] * base[j];
          g[k] = acc;
        }
      }
    }
  }

 private:
  bool alignCorners_;
};

bool supportsFloatInput(const ir::Node& node) { return node.inputs[0] && node.inputs[0]->dtype == DType::kFLOAT; }

template <typename K>
std::unique_ptr<Kernel> make(const ir::Node& n) {
  return std::make_unique<K>(n);
}

}  // namespace

void registerGridSampleKernels(TacticRegistry& r) {
  r.add({"GridSample.ref", "GridSample", 0, supportsFloatInput, make<GridSampleRef>, nullptr});
  r.add({"AffineGrid.ref", "AffineGrid", 0, supportsFloatInput, make<AffineGridRef>, nullptr});
}

}  // namespace kiln::cpu
