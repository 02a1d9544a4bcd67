// MaxPool (with optional Indices), AveragePool, LpPool, GlobalAveragePool,
// GlobalMaxPool: direct loops over a D x H x W view, parallel over planes
// (the reference), and a row-wise 2-D kernel for float MaxPool / AveragePool
// without Indices (ukernels/pool.h, compiled per ISA): per output row it
// sweeps each tap across the row's interior instead of walking each window.
// Both add / compare the taps of a window in the same (kh, kw) order, so
// they agree exactly. Global pools have a lane-parallel kernel beside the reference.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/ukernels/pool.h"

namespace kiln::cpu {
namespace {

// The taps t in [0, k) of one axis whose position start + t * d lies in the
// input ([lo, hi)) and how many lie before the end padding (what
// count_include_pad divides by; no tap starts before the begin padding).
struct TapRange {
  int64_t lo, hi, padded;
};

inline TapRange tapRange(int64_t start, int64_t k, int64_t d, int64_t in, int64_t padEnd) {
  TapRange r;
  if (d == 1) {  // the common case, without divisions
    r.lo = start >= 0 ? 0 : -start;
    r.hi = std::min(k, in - start);
    r.padded = std::min(k, in + padEnd - start);
  } else {
    r.lo = start >= 0 ? 0 : (-start + d - 1) / d;
    r.hi = in - 1 - start < 0 ? 0 : std::min(k, (in - 1 - start) / d + 1);
    r.padded = in + padEnd - 1 - start < 0 ? 0 : std::min(k, (in + padEnd - 1 - start) / d + 1);
  }
  r.lo = std::min(r.lo, k);
  r.hi = std::max(r.hi, r.lo);
  r.padded = std::max<int64_t>(r.padded, 0);
  return r;
}

// Calls fn(inputIndex) for each tap of the window of output (od, oh, ow)
// that lies inside the input, and returns how many taps lie inside the
// padded input.
template <typename Fn>
int64_t forWindow(const Geometry3& g, int64_t od, int64_t oh, int64_t ow, Fn&& fn) {
  const int64_t sd = od * g.stride[0] - g.pad[0], sh = oh * g.stride[1] - g.pad[1], sw = ow * g.stride[2] - g.pad[2];
  const TapRange rd = tapRange(sd, g.kernel[0], g.dil[0], g.in[0], g.padEnd[0]);
  const TapRange rh = tapRange(sh, g.kernel[1], g.dil[1], g.in[1], g.padEnd[1]);
  const TapRange rw = tapRange(sw, g.kernel[2], g.dil[2], g.in[2], g.padEnd[2]);
  for (int64_t kd = rd.lo; kd < rd.hi; ++kd) {
    const int64_t id = sd + kd * g.dil[0];
    for (int64_t kh = rh.lo; kh < rh.hi; ++kh) {
      const int64_t base = (id * g.in[1] + sh + kh * g.dil[1]) * g.in[2] + sw;
      for (int64_t kw = rw.lo; kw < rw.hi; ++kw) fn(base + kw * g.dil[2]);
    }
  }
  return rd.padded * rh.padded * rw.padded;
}

class PoolRef final : public Kernel {
 public:
  explicit PoolRef(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, node.inputs[0]->shape.size() - 2)),
        max_(node.op == "MaxPool"),
        lp_(node.op == "LpPool"),
        p_(static_cast<float>(node.i("p", 2))),
        includePad_(node.i("count_include_pad", 0) != 0),
        columnMajor_(node.i("storage_order", 0) != 0),
        indices_(node.outputs.size() > 1 && node.outputs[1] != nullptr) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const Geometry3 g = windowGeometry(desc_, attrs_, x, attrs_.kernel.data(), out[0]);
    if (x.dtype == DType::kUINT8) return maxPoolInteger<uint8_t>(ctx, g, x, out);
    if (x.dtype == DType::kINT8) return maxPoolInteger<int8_t>(ctx, g, x, out);
    const int64_t planes = x.dims[0] * x.dims[1], inSize = g.inSize(), outSize = g.outSize();
    const float* xd = x.as<const float>();
    float* yd = out[0].as<float>();
    int64_t* idx = indices_ ? out[1].as<int64_t>() : nullptr;
    ctx.pool->parallelFor(planes, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const float* xp = xd + pl * inSize;
        float* yp = yd + pl * outSize;
        for (int64_t od = 0; od < g.out[0]; ++od)
          for (int64_t oh = 0; oh < g.out[1]; ++oh)
            for (int64_t ow = 0; ow < g.out[2]; ++ow) {
              const int64_t o = (od * g.out[1] + oh) * g.out[2] + ow;
              if (max_ && idx) {
                float best = -std::numeric_limits<float>::infinity();
                int64_t at = -1;
                forWindow(g, od, oh, ow, [&](int64_t i) {
                  if (at < 0 || xp[i] > best) {
                    best = xp[i];
                    at = i;
                  }
                });
                yp[o] = best;
                idx[pl * outSize + o] = at < 0 ? -1 : pl * inSize + storageIndex(g, at);
              } else if (max_) {
                // Branch-free (a max instruction): random data defeats branch prediction.
                float best = -std::numeric_limits<float>::infinity();
                forWindow(g, od, oh, ow, [&](int64_t i) { best = xp[i] > best ? xp[i] : best; });
                yp[o] = best;
              } else if (lp_) {
                float sum = 0.f;  // padding contributes |0|^p = 0
                forWindow(g, od, oh, ow, [&](int64_t i) {
                  const float a = std::fabs(xp[i]);
                  sum += p_ == 2.f ? a * a : p_ == 1.f ? a : std::pow(a, p_);
                });
                yp[o] = p_ == 2.f ? std::sqrt(sum) : p_ == 1.f ? sum : std::pow(sum, 1.f / p_);
              } else {
                float sum = 0.f;
                int64_t valid = 0;
                const int64_t padded = forWindow(g, od, oh, ow, [&](int64_t i) {
                  sum += xp[i];
                  ++valid;
                });
                const int64_t count = includePad_ ? padded : valid;
                yp[o] = count > 0 ? sum / static_cast<float>(count) : 0.f;
              }
            }
      }
    });
  }

 private:
  // MaxPool of int8 / uint8 data (with Indices when asked): the max of the
  // taps inside the input; a window with none (all padding) gives the type's lowest.
  template <typename T>
  void maxPoolInteger(const ExecContext& ctx, const Geometry3& g, const TensorView& x, const TensorView* out) const {
    const int64_t planes = x.dims[0] * x.dims[1], inSize = g.inSize(), outSize = g.outSize();
    const T* xd = x.as<const T>();
    T* yd = out[0].as<T>();
    int64_t* idx = indices_ ? out[1].as<int64_t>() : nullptr;
    ctx.pool->parallelFor(planes, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* xp = xd + pl * inSize;
        for (int64_t od = 0; od < g.out[0]; ++od)
          for (int64_t oh = 0; oh < g.out[1]; ++oh)
            for (int64_t ow = 0; ow < g.out[2]; ++ow) {
              const int64_t o = (od * g.out[1] + oh) * g.out[2] + ow;
              T best = std::numeric_limits<T>::lowest();
              int64_t at = -1;
              forWindow(g, od, oh, ow, [&](int64_t i) {
                if (at < 0 || xp[i] > best) {
                  best = xp[i];
                  at = i;
                }
              });
              yd[pl * outSize + o] = best;
              if (idx) idx[pl * outSize + o] = at < 0 ? -1 : pl * inSize + storageIndex(g, at);
            }
      }
    });
  }

  // ONNX's Indices: the flat input position, row- or column-major over the
  // spatial axes as storage_order says.
  int64_t storageIndex(const Geometry3& g, int64_t i) const {
    if (!columnMajor_) return i;
    const int64_t w = i % g.in[2], h = (i / g.in[2]) % g.in[1], d = i / (g.in[1] * g.in[2]);
    const int64_t off = 3 - g.spatial;
    int64_t pos[3] = {d, h, w}, r = 0, s = 1;
    for (int64_t a = off; a < 3; ++a) {  // first spatial axis varies fastest
      r += pos[a] * s;
      s *= g.in[a];
    }
    return r;
  }

  ir::Node desc_;
  ir::WindowAttrs attrs_;
  bool max_, lp_;
  float p_;
  bool includePad_, columnMajor_, indices_;
};

class Pool2dRows final : public Kernel {
 public:
  explicit Pool2dRows(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, 2)),
        max_(node.op == "MaxPool"),
        includePad_(node.i("count_include_pad", 0) != 0),
        nhwc_(max_ && node.i(kNhwcAttr, 0) != 0),
        kernels_(pool::hostKernels()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const Geometry3 g = windowGeometry(desc_, attrs_, x, attrs_.kernel.data(), out[0]);
    pool::Rows r;
    r.h = g.in[1], r.w = g.in[2], r.ow = g.out[2];
    r.kh = g.kernel[1], r.kw = g.kernel[2];
    r.sh = g.stride[1], r.sw = g.stride[2], r.dh = g.dil[1], r.dw = g.dil[2];
    r.ph = g.pad[1], r.pw = g.pad[2], r.padEndH = g.padEnd[1], r.padEndW = g.padEnd[2];
    r.max = max_;
    r.includePad = includePad_;
    const int64_t planes = x.dims[0] * x.dims[1], inSize = g.inSize(), outSize = g.outSize();
    const float* xd = x.as<const float>();
    float* yd = out[0].as<float>();
    if (nhwc_) return runNhwc(ctx, r, x.dims[0], x.dims[1], g, xd, yd);
    const int64_t rows = planes * g.out[1];
    // Rows of several planes per task: one row is little work.
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.out[2] * g.kernelSize()));
    auto rowsOf = [&](int64_t b, int64_t e) {
      for (int64_t i = b * grain; i < std::min(rows, e * grain); ++i) {
        const int64_t pl = i / g.out[1], oh = i % g.out[1];
        kernels_.row(r, xd + pl * inSize, oh, yd + pl * outSize + oh * g.out[2]);
      }
    };
    const int64_t tasks = (rows + grain - 1) / grain;
    if ((planes * (inSize + outSize)) * int64_t{sizeof(float)} < ThreadPool::kMinSplitBytes) return rowsOf(0, tasks);
    ctx.pool->parallelFor(tasks, rowsOf);
  }

 private:
  // The NHWC form (kNhwcAttr): the dims are NCHW's, the data channels-innermost.
  void runNhwc(const ExecContext& ctx, const pool::Rows& r, int64_t batch, int64_t channels, const Geometry3& g,
               const float* xd, float* yd) const {
    const int64_t inImage = g.inSize() * channels, outRow = g.out[2] * channels, outImage = g.out[1] * outRow;
    const int64_t rows = batch * g.out[1];
    auto rowsOf = [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t img = i / g.out[1], oh = i % g.out[1];
        kernels_.nhwcMaxRow(r, channels, xd + img * inImage, oh, yd + img * outImage + oh * outRow);
      }
    };
    if (batch * (inImage + outImage) * int64_t{sizeof(float)} < ThreadPool::kMinSplitBytes) return rowsOf(0, rows);
    ctx.pool->parallelFor(rows, rowsOf);
  }

  ir::Node desc_;
  ir::WindowAttrs attrs_;
  bool max_, includePad_, nhwc_;
  const pool::Kernels& kernels_;
};

class GlobalPoolRef final : public Kernel {
 public:
  explicit GlobalPoolRef(const ir::Node& node) : max_(node.op == "GlobalMaxPool") {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t planes = x.dims[0] * x.dims[1], size = x.numel() / std::max<int64_t>(1, planes);
    const float* xd = x.as<const float>();
    float* yd = out[0].as<float>();
    ctx.pool->parallelFor(planes, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const float* xp = xd + pl * size;
        if (max_) {
          float best = -std::numeric_limits<float>::infinity();
          for (int64_t i = 0; i < size; ++i) best = xp[i] > best ? xp[i] : best;
          yd[pl] = best;
        } else {
          float sum = 0.f;
          for (int64_t i = 0; i < size; ++i) sum += xp[i];
          yd[pl] = size > 0 ? sum / static_cast<float>(size) : 0.f;
        }
      }
    });
  }

 private:
  bool max_;
};

// Global pools over contiguous planes with kLanes independent partial sums
// (max: partial maxima): the reference's single running sum is a chain of
// dependent adds (4 cycles each) the compiler may not reorder, while
// independent lanes vectorize; EfficientNet's squeeze-excitation blocks
// pool 17 planes of up to 144 x 56 x 56 per run. The sum order differs from
// the reference (not bit-exact for the average; the max is exact).
// With kNhwcAttr (a 4-D input a oneDNN chain keeps channels-last, set by
// conv_onednn_chains.cc) the channels are the lanes: each pixel adds a run of
// channels to as many partial sums.
class GlobalPoolLanes final : public Kernel {
 public:
  explicit GlobalPoolLanes(const ir::Node& node)
      : max_(node.op == "GlobalMaxPool"), nhwc_(node.i(kNhwcAttr, 0) != 0) {
    KILN_CHECK(!nhwc_ || (node.inputs[0] && node.inputs[0]->shape.size() == 4), node.describe(),
               ": the channels-last form needs a 4-D input");
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t planes = x.dims[0] * x.dims[1], size = x.numel() / std::max<int64_t>(1, planes);
    const float* xd = x.as<const float>();
    float* yd = out[0].as<float>();
    if (nhwc_) return runNhwc(ctx, xd, yd, x.dims[0], x.dims[1], size);
    ctx.pool->parallelFor(planes, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) yd[pl] = max_ ? planeMax(xd + pl * size, size) : planeMean(xd + pl * size, size);
    });
  }

 private:
  static constexpr int64_t kLanes = 16;

  static float planeMean(const float* xp, int64_t size) {
    if (size == 0) return 0.f;
    float acc[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= size; i += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) acc[l] += xp[i + l];
    float sum = 0.f;
    for (int64_t l = 0; l < kLanes; ++l) sum += acc[l];
    for (; i < size; ++i) sum += xp[i];
    return sum / static_cast<float>(size);
  }

  static float planeMax(const float* xp, int64_t size) {
    float acc[kLanes];
    for (int64_t l = 0; l < kLanes; ++l) acc[l] = -std::numeric_limits<float>::infinity();
    int64_t i = 0;
    for (; i + kLanes <= size; i += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) acc[l] = xp[i + l] > acc[l] ? xp[i + l] : acc[l];
    float best = -std::numeric_limits<float>::infinity();
    for (int64_t l = 0; l < kLanes; ++l) best = acc[l] > best ? acc[l] : best;
    for (; i < size; ++i) best = xp[i] > best ? xp[i] : best;
    return best;
  }

  // x is [n][size][c]: a task is one image's run of up to kRun channels,
  // swept over every pixel (the sums stay in registers; rows are c apart).
  void runNhwc(const ExecContext& ctx, const float* xd, float* yd, int64_t n, int64_t c, int64_t size) const {
    constexpr int64_t kRun = 64;
    const int64_t runs = (c + kRun - 1) / kRun;
    ctx.pool->parallelFor(n * runs, [&](int64_t b, int64_t e) {
      for (int64_t task = b; task < e; ++task) {
        const int64_t img = task / runs, c0 = task % runs * kRun, len = std::min(kRun, c - c0);
        const float* xp = xd + img * size * c + c0;
        float acc[kRun];
        for (int64_t l = 0; l < len; ++l) acc[l] = max_ ? -std::numeric_limits<float>::infinity() : 0.f;
        for (int64_t p = 0; p < size; ++p, xp += c) {
          if (max_)
            for (int64_t l = 0; l < len; ++l) acc[l] = xp[l] > acc[l] ? xp[l] : acc[l];
          else
            for (int64_t l = 0; l < len; ++l) acc[l] += xp[l];
        }
        const float count = static_cast<float>(std::max<int64_t>(1, size));  // size 0: the sums stay 0
        for (int64_t l = 0; l < len; ++l) yd[img * c + c0 + l] = max_ ? acc[l] : acc[l] / count;
      }
    });
  }

  bool max_;
  bool nhwc_;
};

// MaxUnpool: Y = 0, then Y.flat[I[i]] = X[i]. The indices are MaxPool's
// (flat over the whole N x C x spatial tensor the pool read), so they address
// the output as shaped by output_shape, as ONNX Runtime and PyTorch read them.
class MaxUnpoolRef final : public Kernel {
 public:
  explicit MaxUnpoolRef(const ir::Node& node) : who_(node.describe()) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t n = x.numel(), size = out[0].numel();
    const float* xd = x.as<const float>();
    const int64_t* idx = in[1].as<const int64_t>();
    float* yd = out[0].as<float>();
    for (int64_t i = 0; i < size; ++i) yd[i] = 0.f;
    for (int64_t i = 0; i < n; ++i) {
      KILN_CHECK(idx[i] >= 0 && idx[i] < size, who_, ": index ", idx[i], " (element ", i,
                 " of I) is outside the output of ", size, " elements");
      yd[idx[i]] = xd[i];
    }
  }

 private:
  std::string who_;
};

bool supportsPool(const ir::Node& node) {
  if (!node.inputs[0]) return false;
  const DType t = node.inputs[0]->dtype;
  if (t != DType::kFLOAT && !(node.op == "MaxPool" && (t == DType::kINT8 || t == DType::kUINT8))) return false;
  const std::size_t rank = node.inputs[0]->shape.size();
  return rank >= 3 && rank <= 5;
}

// 2-D float, no Indices output (int8/uint8 MaxPool stays on the reference).
bool supportsPool2dRows(const ir::Node& node) {
  return supportsPool(node) && node.inputs[0]->dtype == DType::kFLOAT && node.inputs[0]->shape.size() == 4 &&
         (node.outputs.size() < 2 || node.outputs[1] == nullptr);
}

bool supportsGlobal(const ir::Node& node) {
  return node.inputs[0] && node.inputs[0]->dtype == DType::kFLOAT && node.inputs[0]->shape.size() >= 3;
}

template <typename K>
std::unique_ptr<Kernel> make(const ir::Node& n) {
  return std::make_unique<K>(n);
}

}  // namespace

void registerPoolKernels(TacticRegistry& r) {
  r.add({"MaxPool.ref", "MaxPool", 0, supportsPool, make<PoolRef>, nullptr});
  r.add({"AveragePool.ref", "AveragePool", 0, supportsPool, make<PoolRef>, nullptr});
  r.add({"LpPool.ref", "LpPool", 0, supportsPool, make<PoolRef>, nullptr});
  r.add({"MaxUnpool.ref", "MaxUnpool", 0, supportsPool, make<MaxUnpoolRef>, nullptr});
  r.add({"MaxPool.rows", "MaxPool", 1, supportsPool2dRows, make<Pool2dRows>, nullptr});
  r.add({"AveragePool.rows", "AveragePool", 1, supportsPool2dRows, make<Pool2dRows>, nullptr});
  r.add({"GlobalAveragePool.ref", "GlobalAveragePool", 0, supportsGlobal, make<GlobalPoolRef>, nullptr});
  r.add({"GlobalMaxPool.ref", "GlobalMaxPool", 0, supportsGlobal, make<GlobalPoolRef>, nullptr});
  r.add({"GlobalAveragePool.lanes", "GlobalAveragePool", 1, supportsGlobal, make<GlobalPoolLanes>, nullptr});
  r.add({"GlobalMaxPool.lanes", "GlobalMaxPool", 1, supportsGlobal, make<GlobalPoolLanes>, nullptr});
}

}  // namespace kiln::cpu
