// BatchNormalization (inference), LayerNormalization, Softmax, LogSoftmax.
// The reference loops run parallel over rows / planes; the ".vec" tactics of
// LayerNormalization and (Log)Softmax run the same loops with the vector row
// kernels of ukernels/vmath.h where a row is contiguous (Softmax over the
// last axis; LayerNorm with scale / bias of the row's full shape) and fall
// back to the reference row otherwise.
#include <cmath>
#include <limits>

#include "backends/cpu/ops/families.h"
#include "backends/cpu/ukernels/vmath.h"

namespace kiln::cpu {
namespace {

class BatchNormRef final : public Kernel {
 public:
  explicit BatchNormRef(const ir::Node& node) : eps_(node.f("epsilon", 1e-5f)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t n = x.dims[0], c = x.dims[1], plane = x.numel() / std::max<int64_t>(1, n * c);
    const float* xd = x.as<const float>();
    const float* scale = in[1].as<const float>();
    const float* bias = in[2].as<const float>();
    const float* mean = in[3].as<const float>();
    const float* var = in[4].as<const float>();
    float* yd = out[0].as<float>();
    ctx.pool->parallelFor(n * c, [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc) {
        const int64_t ch = nc % c;
        const float mul = scale[ch] / std::sqrt(var[ch] + eps_), m = mean[ch], add = bias[ch];
        const float* xp = xd + nc * plane;
        float* yp = yd + nc * plane;
        for (int64_t i = 0; i < plane; ++i) yp[i] = (xp[i] - m) * mul + add;
      }
    });
  }

 private:
  float eps_;
};

// Index of element j (of the normalized part, dims `inner`) in a parameter
// that broadcasts to those dims.
struct ParamIndex {
  int rank = 0;
  int64_t dims[kMaxRank] = {};    // normalized dims
  int64_t stride[kMaxRank] = {};  // parameter strides, 0 where it broadcasts
  int64_t numel = 0;              // parameter elements; == inner: direct, 1: scalar
  int64_t inner = 0;
  int64_t at(int64_t j) const {
    if (numel == inner) return j;
    if (numel == 1) return 0;
    int64_t off = 0;
    for (int i = rank - 1; i >= 0; --i) {
      off += (j % dims[i]) * stride[i];
      j /= dims[i];
    }
    return off;
  }
};

ParamIndex paramIndex(const TensorView& x, int64_t axis, const TensorView& p) {
  ParamIndex pi;
  pi.rank = static_cast<int>(x.rank - axis);
  pi.inner = 1;
  for (int i = 0; i < pi.rank; ++i) {
    pi.dims[i] = x.dims[axis + i];
    pi.inner *= pi.dims[i];
  }
  pi.numel = p.numel();
  int64_t s = 1;
  for (int i = pi.rank - 1; i >= 0; --i) {
    const int pj = i - (pi.rank - p.rank);
    const int64_t d = pj >= 0 ? p.dims[pj] : 1;
    pi.stride[i] = d == 1 ? 0 : s;
    s *= d;
  }
  return pi;
}

class LayerNormRef final : public Kernel {
 public:
  LayerNormRef(const ir::Node& node, bool vec)
      : axis_(node.i("axis", -1)), eps_(node.f("epsilon", 1e-5f)), numInputs_(node.inputs.size()), vec_(vec) {
    for (std::size_t i = 1; i < 3; ++i) hasOut_[i] = i < node.outputs.size() && node.outputs[i] != nullptr;
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t axis = axis_ < 0 ? axis_ + x.rank : axis_;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < x.rank; ++i) (i < axis ? outer : inner) *= x.dims[i];
    const ParamIndex si = paramIndex(x, axis, in[1]);
    const bool hasBias = numInputs_ > 2 && in[2].data;
    const ParamIndex bi = hasBias ? paramIndex(x, axis, in[2]) : ParamIndex{};
    const float* xd = x.as<const float>();
    const float* scale = in[1].as<const float>();
    const float* bias = hasBias ? in[2].as<const float>() : nullptr;
    float* yd = out[0].as<float>();
    float* meanOut = hasOut_[1] ? out[1].as<float>() : nullptr;
    float* invOut = hasOut_[2] ? out[2].as<float>() : nullptr;
    const bool rowKernel = vec_ && inner > 0 && si.numel == inner && (!bias || bi.numel == inner);
    const vmath::Kernels& vk = vmath::hostKernels();
    ctx.pool->parallelFor(outer, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float* xp = xd + r * inner;
        float* yp = yd + r * inner;
        if (rowKernel) {
          float mean, inv;
          vk.layerNormRow(xp, yp, inner, scale, bias, eps_, &mean, &inv);
          if (meanOut) meanOut[r] = mean;
          if (invOut) invOut[r] = inv;
          continue;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < inner; ++j) sum += xp[j];
        const float mean = static_cast<float>(sum / static_cast<double>(inner));
        double sq = 0.0;
        for (int64_t j = 0; j < inner; ++j) {
          const double d = static_cast<double>(xp[j]) - mean;
          sq += d * d;
        }
        const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(inner) + eps_));
        for (int64_t j = 0; j < inner; ++j) {
          float v = (xp[j] - mean) * inv * scale[si.at(j)];
          yp[j] = bias ? v + bias[bi.at(j)] : v;
        }
        if (meanOut) meanOut[r] = mean;
        if (invOut) invOut[r] = inv;
      }
    });
  }

 private:
  int64_t axis_;
  float eps_;
  std::size_t numInputs_;
  bool vec_;
  bool hasOut_[3] = {true, false, false};
};

// Softmax / LogSoftmax over one axis: rows of n values, `inner` apart.
template <bool kLog>
class SoftmaxRef final : public Kernel {
 public:
  SoftmaxRef(const ir::Node& node, bool vec) : axis_(node.i("axis", -1)), vec_(vec) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t axis = axis_ < 0 ? axis_ + x.rank : axis_;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.dims[i];
    for (int64_t i = axis + 1; i < x.rank; ++i) inner *= x.dims[i];
    const int64_t n = x.dims[axis];
    const float* xd = x.as<const float>();
    float* yd = out[0].as<float>();
    if (vec_ && inner == 1 && n > 0) {
      const vmath::Kernels& vk = vmath::hostKernels();
      const int64_t grain = std::max<int64_t>(1, 2048 / n);  // rows per task
      auto rowsOf = [&](int64_t b, int64_t e) {
        for (int64_t r = b * grain; r < std::min(outer, e * grain); ++r) {
          if (kLog) vk.logSoftmaxRow(xd + r * n, yd + r * n, n);
          else vk.softmaxRow(xd + r * n, yd + r * n, n);
        }
      };
      const int64_t tasks = (outer + grain - 1) / grain;
      // Bytes read and written, x4 for the exp per value: too little to split runs here.
      if (outer * n * int64_t{sizeof(float)} * 2 * 4 < ThreadPool::kMinSplitBytes) return rowsOf(0, tasks);
      ctx.pool->parallelFor(tasks, rowsOf);
      return;
    }
    ctx.pool->parallelFor(outer * inner, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t o = r / inner, i = r % inner;
        const float* xp = xd + o * n * inner + i;
        float* yp = yd + o * n * inner + i;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < n; ++j) mx = std::max(mx, xp[j * inner]);
        float sum = 0.f;
        for (int64_t j = 0; j < n; ++j) {
          const float ev = std::exp(xp[j * inner] - mx);
          if (!kLog) yp[j * inner] = ev;
          sum += ev;
        }
        if (kLog) {
          const float ls = std::log(sum);
          for (int64_t j = 0; j < n; ++j) yp[j * inner] = xp[j * inner] - mx - ls;
        } else {
          for (int64_t j = 0; j < n; ++j) yp[j * inner] /= sum;
        }
      }
    });
  }

 private:
  int64_t axis_;
  bool vec_;
};

bool supportsFloat(const ir::Node& node) { return node.inputs[0] && node.inputs[0]->dtype == DType::kFLOAT; }

template <typename K>
std::unique_ptr<Kernel> make(const ir::Node& n) {
  return std::make_unique<K>(n);
}

template <typename K, bool kVec>
std::unique_ptr<Kernel> makeRows(const ir::Node& n) {
  return std::make_unique<K>(n, kVec);
}

// Softmax over the last axis: rows are contiguous.
bool supportsSoftmaxRows(const ir::Node& node) {
  if (!supportsFloat(node)) return false;
  const int64_t rank = static_cast<int64_t>(node.inputs[0]->shape.size()), axis = node.i("axis", -1);
  return rank > 0 && (axis == -1 || axis == rank - 1);
}

}  // namespace

void registerNormKernels(TacticRegistry& r) {
  r.add({"BatchNormalization.ref", "BatchNormalization", 0, supportsFloat, make<BatchNormRef>, nullptr});
  r.add({"LayerNormalization.ref", "LayerNormalization", 0, supportsFloat, makeRows<LayerNormRef, false>, nullptr});
  r.add({"Softmax.ref", "Softmax", 0, supportsFloat, makeRows<SoftmaxRef<false>, false>, nullptr});
  r.add({"LogSoftmax.ref", "LogSoftmax", 0, supportsFloat, makeRows<SoftmaxRef<true>, false>, nullptr});
  r.add({"LayerNormalization.vec", "LayerNormalization", 1, supportsFloat, makeRows<LayerNormRef, true>, nullptr});
  r.add({"Softmax.vec", "Softmax", 1, supportsSoftmaxRows, makeRows<SoftmaxRef<false>, true>, nullptr});
  r.add({"LogSoftmax.vec", "LogSoftmax", 1, supportsSoftmaxRows, makeRows<SoftmaxRef<true>, true>, nullptr});
}

}  // namespace kiln::cpu
