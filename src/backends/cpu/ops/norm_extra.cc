// InstanceNormalization, GroupNormalization (per-channel scale / bias, opset
// 21 form), LRN, MeanVarianceNormalization and LpNormalization: reference
// loops, statistics in double, parallel over the independent groups.
// Memory-bound like the other normalizations (norm.cc): the only tactics.
#include <cmath>

#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
namespace {

// Mean and 1 / sqrt(var + eps) of n contiguous values.
void moments(const float* x, int64_t n, float eps, float& mean, float& inv) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const double m = n > 0 ? sum / static_cast<double>(n) : 0.0;
  double sq = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - m;
    sq += d * d;
  }
  mean = static_cast<float>(m);
  inv = static_cast<float>(1.0 / std::sqrt((n > 0 ? sq / static_cast<double>(n) : 0.0) + eps));
}

// InstanceNormalization (groups == channels) and GroupNormalization: each of
// the N x groups blocks of C / groups contiguous planes is normalized on its
// own, then scaled and shifted per channel.
class GroupNormRef final : public Kernel {
 public:
  explicit GroupNormRef(const ir::Node& node)
      : instance_(node.op == "InstanceNormalization"),
        groups_(node.i("num_groups", 1)),
        eps_(node.f("epsilon", 1e-5f)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t n = x.dims[0], c = x.dims[1], plane = x.numel() / std::max<int64_t>(1, n * c);
    const int64_t groups = instance_ ? c : groups_, perGroup = c / groups;
    const float* xd = x.as<const float>();
    const float* scale = in[1].as<const float>();
    const float* bias = in[2].as<const float>();
    float* yd = out[0].as<float>();
    ctx.pool->parallelFor(n * groups, [&](int64_t b, int64_t e) {
      for (int64_t ng = b; ng < e; ++ng) {
        const int64_t block = perGroup * plane;
        const float* xp = xd + ng * block;
        float* yp = yd + ng * block;
        float mean, inv;
        moments(xp, block, eps_, mean, inv);
        for (int64_t k = 0; k < perGroup; ++k) {
          const int64_t ch = (ng % groups) * perGroup + k;
          const float mul = inv * scale[ch], add = bias[ch];
          for (int64_t i = 0; i < plane; ++i) yp[k * plane + i] = (xp[k * plane + i] - mean) * mul + add;
        }
      }
    });
  }

 private:
  bool instance_;
  int64_t groups_;
  float eps_;
};

// LRN across channels: y = x / (bias + alpha / size * sum of x^2 over the
// channels [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta.
class LrnRef final : public Kernel {
 public:
  explicit LrnRef(const ir::Node& node)
      : size_(node.i("size", 1)),
        alpha_(node.f("alpha", 1e-4f)),
        beta_(node.f("beta", 0.75f)),
        bias_(node.f("bias", 1.f)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t n = x.dims[0], c = x.dims[1], plane = x.numel() / std::max<int64_t>(1, n * c);
    const int64_t before = (size_ - 1) / 2, after = size_ - 1 - before;
    const float* xd = x.as<const float>();
    float* yd = out[0].as<float>();
    ctx.pool->parallelFor(n * c, [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc) {
        const int64_t batch = nc / c, ch = nc % c;
        const int64_t lo = std::max<int64_t>(0, ch - before), hi = std::min<int64_t>(c - 1, ch + after);
        const float* base = xd + batch * c * plane;
        for (int64_t i = 0; i < plane; ++i) {
          float sq = 0.f;
          for (int64_t k = lo; k <= hi; ++k) sq += base[k * plane + i] * base[k * plane + i];
          const float v = base[ch * plane + i];
          yd[nc * plane + i] = v / std::pow(bias_ + alpha_ / static_cast<float>(size_) * sq, beta_);
        }
      }
    });
  }

 private:
  int64_t size_;
  float alpha_, beta_, bias_;
};

// The elements that share one statistic: `count` positions over the reduced
// axes, each group found by its index over the kept axes.
struct AxisSplit {
  int kept = 0, reduced = 0;
  int64_t keptDims[kMaxRank], keptStrides[kMaxRank], redDims[kMaxRank], redStrides[kMaxRank];
  int64_t groups = 1, count = 1;

  AxisSplit(const TensorView& x, const bool* isReduced) {
    int64_t stride = 1, strides[kMaxRank];
    for (int a = x.rank - 1; a >= 0; --a) {
      strides[a] = stride;
      stride *= x.dims[a];
    }
    for (int a = 0; a < x.rank; ++a) {
      if (isReduced[a]) {
        redDims[reduced] = x.dims[a];
        redStrides[reduced++] = strides[a];
        count *= x.dims[a];
      } else {
        keptDims[kept] = x.dims[a];
        keptStrides[kept++] = strides[a];
        groups *= x.dims[a];
      }
    }
  }
  static int64_t offset(int64_t i, int rank, const int64_t* dims, const int64_t* strides) {
    int64_t off = 0;
    for (int a = rank - 1; a >= 0; --a) {
      off += (i % dims[a]) * strides[a];
      i /= dims[a];
    }
    return off;
  }
  int64_t groupOffset(int64_t g) const { return offset(g, kept, keptDims, keptStrides); }
  int64_t memberOffset(int64_t j) const { return offset(j, reduced, redDims, redStrides); }
};

// MeanVarianceNormalization (y = (x - mean) / (std + 1e-9), ONNX's function
// body) and LpNormalization (y = x / ||x||_p along one axis).
class AxisNormRef final : public Kernel {
 public:
  explicit AxisNormRef(const ir::Node& node)
      : mvn_(node.op == "MeanVarianceNormalization"),
        axes_(mvn_ ? node.ints("axes", {0, 2, 3}) : std::vector<int64_t>{node.i("axis", -1)}),
        p_(node.i("p", 2)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    bool isReduced[kMaxRank] = {};
    for (int64_t a : axes_) isReduced[a < 0 ? a + x.rank : a] = true;
    const AxisSplit s(x, isReduced);
    const float* xd = x.as<const float>();
    float* yd = out[0].as<float>();
    ctx.pool->parallelFor(s.groups, [&](int64_t b, int64_t e) {
      for (int64_t g = b; g < e; ++g) {
        const int64_t base = s.groupOffset(g);
        double a = 0.0, q = 0.0;
        for (int64_t j = 0; j < s.count; ++j) {
          const double v = xd[base + s.memberOffset(j)];
          a += mvn_ ? v : (p_ == 1 ? std::fabs(v) : v * v);
          q += v * v;
        }
        float shift = 0.f, div = 1.f;
        if (mvn_) {
          const double mean = a / static_cast<double>(s.count);
          const double var = std::max(0.0, q / static_cast<double>(s.count) - mean * mean);
          shift = static_cast<float>(mean);
          div = static_cast<float>(std::sqrt(var) + 1e-9);
        } else {
          div = static_cast<float>(p_ == 1 ? a : std::sqrt(a));
        }
        for (int64_t j = 0; j < s.count; ++j) {
          const int64_t off = base + s.memberOffset(j);
          yd[off] = (xd[off] - shift) / div;
        }
      }
    });
  }

 private:
  bool mvn_;
  std::vector<int64_t> axes_;
  int64_t p_;
};

bool supportsFloat(const ir::Node& node) { return node.inputs[0] && node.inputs[0]->dtype == DType::kFLOAT; }

template <typename K>
std::unique_ptr<Kernel> make(const ir::Node& n) {
  return std::make_unique<K>(n);
}

}  // namespace

void registerNormExtraKernels(TacticRegistry& r) {
  r.add({"InstanceNormalization.ref", "InstanceNormalization", 0, supportsFloat, make<GroupNormRef>, nullptr});
  r.add({"GroupNormalization.ref", "GroupNormalization", 0, supportsFloat, make<GroupNormRef>, nullptr});
  r.add({"LRN.ref", "LRN", 0, supportsFloat, make<LrnRef>, nullptr});
  r.add({"MeanVarianceNormalization.ref", "MeanVarianceNormalization", 0, supportsFloat, make<AxisNormRef>,
         nullptr});
  r.add({"LpNormalization.ref", "LpNormalization", 0, supportsFloat, make<AxisNormRef>, nullptr});
}

}  // namespace kiln::cpu
