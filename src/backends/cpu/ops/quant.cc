// Reference kernels of the quantization ops (ONNX reference semantics):
// QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked),
// DynamicQuantizeLinear, MatMulInteger, QLinearMatMul, ConvInteger,
// QLinearConv. Quantized values are int8 / uint8 (the integer ops), plus
// int16 / uint16 and the float8 formats for QuantizeLinear (int32 too into
// DequantizeLinear); scales float32 or float16. Integer rounding is half to
// even (the default floating-point rounding mode, as numpy's rint), results
// saturate to the output type. Float8 uses core's conversions (nearest even,
// `saturate` as ONNX Cast) and, as ONNX's reference, no zero point.
// Integer accumulation is exact (int32). These are the oracles for the INT8
// fast paths that come later.
#include <cmath>

#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/nn_util.h"
#include "core/dtype.h"

namespace kiln::cpu {
namespace {

inline int32_t loadInt(const TensorView& v, int64_t i) {
  switch (v.dtype) {
    case DType::kINT8: return v.as<const int8_t>()[i];
    case DType::kUINT8: return v.as<const uint8_t>()[i];
    case DType::kINT16: return v.as<const int16_t>()[i];
    case DType::kUINT16: return v.as<const uint16_t>()[i];
    default: return v.as<const int32_t>()[i];
  }
}

inline float loadFloat(const TensorView& v, int64_t i) {
  return v.dtype == DType::kHALF ? halfToFloat(v.as<const uint16_t>()[i]) : v.as<const float>()[i];
}

inline void storeFloat(const TensorView& v, int64_t i, float f) {
  if (v.dtype == DType::kHALF) v.as<uint16_t>()[i] = floatToHalf(f);
  else v.as<float>()[i] = f;
}

// Rounds half to even and saturates to the integer output (int8, uint8,
// int16 or uint16; every value of those is exact in float).
inline void storeQuantized(const TensorView& v, int64_t i, float f) {
  float lo = 0.f, hi = 255.f;
  switch (v.dtype) {
    case DType::kINT8: lo = -128.f, hi = 127.f; break;
    case DType::kINT16: lo = -32768.f, hi = 32767.f; break;
    case DType::kUINT16: hi = 65535.f; break;
    default: break;
  }
  const float n = std::nearbyint(f);
  const float r = n > hi ? hi : n >= lo ? n : lo;  // NaN -> lo, never an undefined cast
  switch (v.dtype) {
    case DType::kINT8: v.as<int8_t>()[i] = static_cast<int8_t>(r); break;
    case DType::kINT16: v.as<int16_t>()[i] = static_cast<int16_t>(r); break;
    case DType::kUINT16: v.as<uint16_t>()[i] = static_cast<uint16_t>(r); break;
    default: v.as<uint8_t>()[i] = static_cast<uint8_t>(r); break;
  }
}

// The view of optional input i, or an empty one (data == nullptr) when the
// node has no such input: `in` holds one view per node input only.
inline TensorView optionalInput(const TensorView* in, std::size_t numInputs, std::size_t i) {
  return i < numInputs ? in[i] : TensorView{};
}

// Which scale / zero point element serves element i of x: one (per tensor),
// one per index along `axis`, or one per block of `block` indices along it.
struct QuantIndex {
  int64_t inner = 1, dim = 1, blocks = 1, block = 0;
  bool perTensor = true;

  QuantIndex(const TensorView& x, const TensorView& scale, int64_t axis, int64_t blockSize) {
    perTensor = scale.numel() == 1 && blockSize == 0;
    if (perTensor) return;
    if (axis < 0) axis += x.rank;
    dim = x.dims[axis];
    for (int a = static_cast<int>(axis) + 1; a < x.rank; ++a) inner *= x.dims[a];
    block = blockSize;
    blocks = block > 0 ? scale.dims[axis] : dim;
  }
  int64_t at(int64_t i) const {
    if (perTensor) return 0;
    const int64_t in = i % inner, a = (i / inner) % dim;
    if (block == 0) return a;
    const int64_t outer = i / (inner * dim);
    return (outer * blocks + a / block) * inner + in;
  }
};

// QuantizeLinear: y = saturate(rint(x / scale) + zero point) for integer
// outputs, y = float8(x / scale) (with `saturate`) for float8 ones.
// DequantizeLinear: y = (x - zero point) * scale, y = float(x) * scale for
// float8 x. A float8 zero point is not read (ONNX's reference requires it to
// be 0 and leaves it out of the arithmetic).
template <bool kQuantize>
class QuantizeRef final : public Kernel {
 public:
  explicit QuantizeRef(const ir::Node& node)
      : axis_(node.i("axis", 1)),
        block_(node.i("block_size", 0)),
        saturate_(node.i("saturate", 1) != 0),
        numInputs_(node.inputs.size()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const QuantIndex qi(x, in[1], axis_, block_);
    const DType quantType = kQuantize ? out[0].dtype : x.dtype;
    const bool fp8 = isFp8(quantType);
    const Fp8Format format = fp8Format(quantType);
    const TensorView zeroPoint = optionalInput(in, numInputs_, 2);
    const bool hasZero = zeroPoint.data != nullptr && !fp8;
    // numpy divides float16 by float16 in float16; the float32 quotient of
    // two float16 values rounds to the same float16.
    const bool halfQuotient = kQuantize && x.dtype == DType::kHALF;
    ctx.pool->parallelFor(x.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t p = qi.at(i);
        const float scale = loadFloat(in[1], p);
        const int32_t zero = hasZero ? loadInt(zeroPoint, p) : 0;
        if (kQuantize) {
          float q = loadFloat(x, i) / scale;
          if (halfQuotient) q = halfToFloat(floatToHalf(q));
          if (fp8) out[0].as<uint8_t>()[i] = floatToFp8(q, format, saturate_);
          else storeQuantized(out[0], i, std::nearbyint(q) + static_cast<float>(zero));
        } else {
          const float v = fp8 ? fp8ToFloat(x.as<const uint8_t>()[i], format) : static_cast<float>(loadInt(x, i) - zero);
          storeFloat(out[0], i, v * scale);
        }
      }
    });
  }

 private:
  int64_t axis_, block_;
  bool saturate_;
  std::size_t numInputs_;
};

// y_scale = (max(0, max x) - min(0, min x)) / 255, y_zero_point =
// round(clamp(-min / y_scale, 0, 255)), y = saturate(round(x / y_scale) + zp).
class DynamicQuantizeRef final : public Kernel {
 public:
  explicit DynamicQuantizeRef(const ir::Node&) {}

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const float* xd = x.as<const float>();
    float mx = 0.f, mn = 0.f;
    for (int64_t i = 0; i < x.numel(); ++i) {
      mx = std::max(mx, xd[i]);
      mn = std::min(mn, xd[i]);
    }
    const float scale = (mx == mn ? 1.f : mx - mn) / 255.f;
    const float zero = std::nearbyint(std::min(255.f, std::max(0.f, 0.f - mn / scale)));
    for (int64_t i = 0; i < x.numel(); ++i) storeQuantized(out[0], i, std::nearbyint(xd[i] / scale) + zero);
    out[1].as<float>()[0] = scale;
    out[2].as<uint8_t>()[0] = static_cast<uint8_t>(zero);
  }
};

// MatMulInteger (int32 out) and QLinearMatMul (requantized out). Inputs are
// numpy-matmul operands: rank-1 A is a row, rank-1 B a column, batch dims
// broadcast. Zero points and scales of A are per row (or one), of B per
// column (or one).
template <bool kRequantize>
class IntegerMatMulRef final : public Kernel {
 public:
  explicit IntegerMatMulRef(const ir::Node& node) : numInputs_(node.inputs.size()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    // Input slots: MatMulInteger (A, B, azp, bzp); QLinearMatMul (a, as, azp, b, bs, bzp, ys, yzp).
    const TensorView& a = in[0];
    const TensorView& b = in[kRequantize ? 3 : 1];
    const TensorView azpView = optionalInput(in, numInputs_, 2);  // the same slot in both ops
    const TensorView bzpView = optionalInput(in, numInputs_, kRequantize ? 5 : 3);
    const TensorView* azp = &azpView;
    const TensorView* bzp = &bzpView;
    const TensorView& y = out[0];
    const int64_t m = a.rank >= 2 ? a.dims[a.rank - 2] : 1, k = a.dims[a.rank - 1];
    const int64_t n = b.rank >= 2 ? b.dims[b.rank - 1] : 1;
    const int aBatchRank = std::max(0, a.rank - 2), bBatchRank = std::max(0, b.rank - 2);
    const int batchRank = std::max(aBatchRank, bBatchRank);
    int64_t batchDims[kMaxRank], aStride[kMaxRank], bStride[kMaxRank], batches = 1;
    int64_t as = m * k, bs = k * n;
    for (int i = batchRank - 1; i >= 0; --i) {
      const int ai = i - (batchRank - aBatchRank), bi = i - (batchRank - bBatchRank);
      const int64_t ad = ai >= 0 ? a.dims[ai] : 1, bd = bi >= 0 ? b.dims[bi] : 1;
      batchDims[i] = std::max(ad, bd);
      aStride[i] = ad == 1 ? 0 : as;
      bStride[i] = bd == 1 ? 0 : bs;
      as *= ad;
      bs *= bd;
      batches *= batchDims[i];
    }
    const int64_t azpN = azp->data ? azp->numel() : 0, bzpN = bzp->data ? bzp->numel() : 0;
    ctx.pool->parallelFor(batches * m, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t batch = r / m, row = r % m;
        int64_t aOff = 0, bOff = 0, rest = batch;
        for (int i = batchRank - 1; i >= 0; --i) {
          const int64_t idx = rest % batchDims[i];
          rest /= batchDims[i];
          aOff += idx * aStride[i];
          bOff += idx * bStride[i];
        }
        const int32_t za = azpN == 0 ? 0 : loadInt(*azp, azpN == 1 ? 0 : row);
        for (int64_t col = 0; col < n; ++col) {
          const int32_t zb = bzpN == 0 ? 0 : loadInt(*bzp, bzpN == 1 ? 0 : col);
          int32_t acc = 0;
          for (int64_t j = 0; j < k; ++j)
            acc += (loadInt(a, aOff + row * k + j) - za) * (loadInt(b, bOff + j * n + col) - zb);
          const int64_t o = r * n + col;
          if (!kRequantize) {
            y.as<int32_t>()[o] = acc;
          } else {
            const float sa = loadFloat(in[1], in[1].numel() == 1 ? 0 : row);
            const float sb = loadFloat(in[4], in[4].numel() == 1 ? 0 : col);
            const float sy = loadFloat(in[6], 0);
            storeQuantized(y, o, static_cast<float>(acc) * (sa * sb / sy) + static_cast<float>(loadInt(in[7], 0)));
          }
        }
      }
    });
  }

 private:
  std::size_t numInputs_;
};

// ConvInteger (int32 out) and QLinearConv (requantized out): direct loops;
// padding reads the zero point (it contributes 0 after the shift).
template <bool kRequantize>
class IntegerConvRef final : public Kernel {
 public:
  explicit IntegerConvRef(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, node.inputs[0]->shape.size() - 2)),
        group_(node.i("group", 1)),
        numInputs_(node.inputs.size()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    // Input slots: ConvInteger (x, w, xzp, wzp); QLinearConv (x, xs, xzp, w, ws, wzp, ys, yzp, [B]).
    const TensorView& x = in[0];
    const TensorView& w = in[kRequantize ? 3 : 1];
    const TensorView xzp = optionalInput(in, numInputs_, 2);
    const TensorView wzp = optionalInput(in, numInputs_, kRequantize ? 5 : 3);
    const TensorView& y = out[0];
    int64_t kernel[3] = {1, 1, 1};
    for (int i = 0; i < x.rank - 2; ++i) kernel[i] = w.dims[2 + i];
    const Geometry3 g = windowGeometry(desc_, attrs_, x, kernel, y);
    const int64_t n = x.dims[0], c = x.dims[1], mOut = w.dims[0], cg = c / group_, mg = mOut / group_;
    const int64_t inSize = g.inSize(), outSize = g.outSize(), kSize = g.kernelSize();
    const int32_t zx = xzp.data ? loadInt(xzp, 0) : 0;
    const TensorView bias = optionalInput(in, numInputs_, 8);
    const bool hasBias = kRequantize && bias.data != nullptr;
    ctx.pool->parallelFor(n * mOut, [&](int64_t begin, int64_t end) {
      for (int64_t nm = begin; nm < end; ++nm) {
        const int64_t b = nm / mOut, m = nm % mOut, grp = m / mg;
        const int32_t zw = wzp.data ? loadInt(wzp, wzp.numel() == 1 ? 0 : m) : 0;
        for (int64_t od = 0; od < g.out[0]; ++od)
          for (int64_t oh = 0; oh < g.out[1]; ++oh)
            for (int64_t ow = 0; ow < g.out[2]; ++ow) {
              int32_t acc = hasBias ? loadInt(bias, m) : 0;
              for (int64_t ci = 0; ci < cg; ++ci) {
                const int64_t xBase = (b * c + grp * cg + ci) * inSize, wBase = (m * cg + ci) * kSize;
                for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
                  const int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
                  if (id < 0 || id >= g.in[0]) continue;
                  for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                    const int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
                    if (ih < 0 || ih >= g.in[1]) continue;
                    for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                      const int64_t iw = ow * g.stride[2] - g.pad[2] + kw * g.dil[2];
                      if (iw < 0 || iw >= g.in[2]) continue;
                      const int32_t xv = loadInt(x, xBase + (id * g.in[1] + ih) * g.in[2] + iw) - zx;
                      const int32_t wv = loadInt(w, wBase + (kd * g.kernel[1] + kh) * g.kernel[2] + kw) - zw;
                      acc += xv * wv;
                    }
                  }
                }
              }
              const int64_t o = nm * outSize + (od * g.out[1] + oh) * g.out[2] + ow;
              if (!kRequantize) {
                y.as<int32_t>()[o] = acc;
              } else {
                const float sx = loadFloat(in[1], 0), sw = loadFloat(in[4], in[4].numel() == 1 ? 0 : m);
                const float sy = loadFloat(in[6], 0);
                storeQuantized(y, o, static_cast<float>(acc) * (sx * sw / sy) + static_cast<float>(loadInt(in[7], 0)));
              }
            }
      }
    });
  }

 private:
  ir::Node desc_;
  ir::WindowAttrs attrs_;
  int64_t group_;
  std::size_t numInputs_;
};

bool supportsAny(const ir::Node& node) { return node.inputs[0] && node.inputs[0]->shape.size() <= kMaxRank; }
bool supportsConv(const ir::Node& node) {
  return node.inputs[0] && node.inputs[0]->shape.size() >= 3 && node.inputs[0]->shape.size() <= 5;
}

template <typename K>
std::unique_ptr<Kernel> make(const ir::Node& n) {
  return std::make_unique<K>(n);
}

}  // namespace

void registerQuantKernels(TacticRegistry& r) {
  r.add({"QuantizeLinear.ref", "QuantizeLinear", 0, supportsAny, make<QuantizeRef<true>>, nullptr});
  r.add({"DequantizeLinear.ref", "DequantizeLinear", 0, supportsAny, make<QuantizeRef<false>>, nullptr});
  r.add({"DynamicQuantizeLinear.ref", "DynamicQuantizeLinear", 0, supportsAny, make<DynamicQuantizeRef>, nullptr});
  r.add({"MatMulInteger.ref", "MatMulInteger", 0, supportsAny, make<IntegerMatMulRef<false>>, nullptr});
  r.add({"QLinearMatMul.ref", "QLinearMatMul", 0, supportsAny, make<IntegerMatMulRef<true>>, nullptr});
  r.add({"ConvInteger.ref", "ConvInteger", 0, supportsConv, make<IntegerConvRef<false>>, nullptr});
  r.add({"QLinearConv.ref", "QLinearConv", 0, supportsConv, make<IntegerConvRef<true>>, nullptr});
}

}  // namespace kiln::cpu
