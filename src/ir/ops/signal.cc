// Schemas of the signal-processing ops: DFT (opset 20 form: axis is input 2),
// STFT, MelWeightMatrix. Their output sizes come from inputs (dft_length,
// frame_step, the mel parameters), which must then be constants.
#include <optional>
#include <string>

#include "ir/ops/families.h"
#include "ir/ops/tensor_util.h"

namespace kiln::ir {
namespace {
using namespace tensor_ops;

bool isSignalFloat(DType t) { return t == DType::kFLOAT || t == DType::kDOUBLE; }

//! The one value of constant scalar input `i`, or nullopt when it is absent or not a constant.
std::optional<int64_t> constScalar(const InferContext& ctx, std::size_t i, const char* what) {
  if (!ctx.hasInput(i)) return std::nullopt;
  const Tensor* t = ctx.constInput(i);
  if (!t) return std::nullopt;
  ctx.check(t->numel() == 1, what, " must hold one value, got shape ", toString(t->dims()));
  return static_cast<int64_t>(t->castTo(DType::kDOUBLE).as<double>()[0]);
}

void checkBool(const InferContext& ctx, const char* attr, int64_t dflt) {
  int64_t v = ctx.node().i(attr, dflt);
  ctx.check(v == 0 || v == 1, "attribute '", attr, "' must be 0 or 1, got ", v);
}

void inferDft(InferContext& ctx) {
  const Value& x = ctx.in(0);
  ctx.check(isSignalFloat(x.dtype), "needs a float32/float64 input, got ", dataTypeName(x.dtype));
  int64_t rank = ctx.rank(0);
  ctx.check(rank >= 2, "input must have rank >= 2 ([..., signal, 1 or 2])");
  const Dim& last = x.shape.back();
  ctx.check(!last.known() || last.value == 1 || last.value == 2, "the last dim must be 1 (real) or 2 (complex), got ",
            last.value);
  checkBool(ctx, "inverse", 0);
  checkBool(ctx, "onesided", 0);
  bool onesided = ctx.node().i("onesided", 0) != 0;
  ctx.check(!onesided || !last.known() || last.value == 1, "onesided needs a real input (last dim 1)");
  auto length = constScalar(ctx, 1, "dft_length");
  if (length) ctx.check(*length >= 1, "dft_length must be >= 1, got ", *length);
  Shape out = x.shape;
  out.back() = Dim(int64_t{2});
  if (ctx.hasInput(2) && !ctx.constInput(2)) {  // axis unknown: only the complex dim is known
    if (length || onesided)
      for (std::size_t k = 0; k + 1 < out.size(); ++k) out[k] = Dim();
    ctx.setOutput(0, x.dtype, std::move(out));
    return;
  }
  int64_t axis = constScalar(ctx, 2, "axis").value_or(-2);
  axis = ctx.axis(axis, rank);
  ctx.check(axis != rank - 1, "axis must not be the last (complex) dim");
  Dim n = length ? Dim(*length) : x.shape[axis];
  if (onesided) n = n.known() ? Dim(n.value / 2 + 1) : Dim();
  if (ctx.hasInput(1) && !length) n = Dim();
  out[axis] = n;
  ctx.setOutput(0, x.dtype, std::move(out));
}

void inferStft(InferContext& ctx) {
  const Value& x = ctx.in(0);
  ctx.check(isSignalFloat(x.dtype), "needs a float32/float64 signal, got ", dataTypeName(x.dtype));
  ctx.check(ctx.rank(0) == 3, "signal must be [batch, length, 1 or 2], got ", toString(x.shape));
  checkBool(ctx, "onesided", 1);
  bool onesided = ctx.node().i("onesided", 1) != 0;
  auto step = constScalar(ctx, 1, "frame_step");
  if (step) ctx.check(*step >= 1, "frame_step must be >= 1, got ", *step);
  std::optional<int64_t> length = constScalar(ctx, 3, "frame_length");
  if (ctx.hasInput(2)) {
    ctx.check(ctx.rank(2) == 1, "window must be 1-D");
    const Dim& w = ctx.in(2).shape[0];
    if (w.known()) {
      ctx.check(!length || *length == w.value, "frame_length ", length.value_or(0), " differs from the window's ",
                w.value);
      length = w.value;
    }
  }
  if (!length && !ctx.hasInput(2) && !ctx.hasInput(3) && x.shape[1].known()) length = x.shape[1].value;
  Dim frames, bins;
  if (length) {
    ctx.check(*length >= 1 && (!x.shape[1].known() || *length <= x.shape[1].value), "frame_length ", *length,
              " does not fit the signal of length ", toString(Shape{x.shape[1]}));
    bins = Dim(onesided ? *length / 2 + 1 : *length);
    if (step && x.shape[1].known()) frames = Dim((x.shape[1].value - *length) / *step + 1);
  }
  ctx.setOutput(0, x.dtype, {x.shape[0], frames, bins, Dim(int64_t{2})});
}

void inferMelWeightMatrix(InferContext& ctx) {
  for (std::size_t i = 0; i < 3; ++i)
    ctx.check(ctx.in(i).dtype == DType::kINT32 || ctx.in(i).dtype == DType::kINT64, "input ", i,
              " must be int32 or int64");
  auto bins = constScalar(ctx, 0, "num_mel_bins");
  auto length = constScalar(ctx, 1, "dft_length");
  if (bins) ctx.check(*bins >= 1, "num_mel_bins must be >= 1, got ", *bins);
  if (length) ctx.check(*length >= 1, "dft_length must be >= 1, got ", *length);
  int64_t t = ctx.node().i("output_datatype", 1);
  ctx.check(t == 1 || t == 11, "attribute 'output_datatype' must be FLOAT (1) or DOUBLE (11), got ", t);
  ctx.setOutput(0, t == 1 ? DType::kFLOAT : DType::kDOUBLE,
                {length ? Dim(*length / 2 + 1) : Dim(), bins ? Dim(*bins) : Dim()});
}

}  // namespace

void registerSignalSchemas(SchemaRegistry& r) {
  r.add({"DFT", 1, 3, 1, 1, inferDft});
  r.add({"STFT", 2, 4, 1, 1, inferStft});
  r.add({"MelWeightMatrix", 5, 5, 1, 1, inferMelWeightMatrix});
}

}  // namespace kiln::ir
