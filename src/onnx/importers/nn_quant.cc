// Importers for the quantization ops and the normalizations / pools that
// nn.cc does not hold: QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear, QLinearMatMul, MatMulInteger, ConvInteger,
// QLinearConv, InstanceNormalization, GroupNormalization, LRN,
// MeanVarianceNormalization, LpNormalization, LpPool.
#include "ir/tensor.h"
#include "onnx/importers/importers.h"
#include "onnx/tensor_proto.h"

namespace kiln::onnx {

namespace {

//! QuantizeLinear-21's output_dtype without a zero point becomes a zero
//! point of that type (0), so the IR's output type always follows the zero
//! point (absent: uint8). Older opsets have no output_dtype; opset 10-12 no
//! axis (per tensor only), which the IR reads the same way. An INT4 / UINT4
//! output_dtype or zero point fails in requireDtype / the parser's type
//! check: Kiln has no 4-bit DType.
void importQuantize(NodeContext& ctx) {
  std::vector<ir::Value*> inputs = ctx.inputs();
  inputs.resize(3, nullptr);
  const int64_t outputType = ctx.attrInt("output_dtype", 0);
  if (outputType != 0) {
    const DType t = requireDtype(static_cast<int32_t>(outputType), "attribute 'output_dtype'");
    if (inputs[2]) {
      KILN_NODE_CHECK(ctx, inputs[2]->dtype == t, ErrorCode::kINVALID_NODE, "output_dtype ",
                      onnxTypeName(static_cast<int32_t>(outputType)), " differs from the zero point's type ",
                      dataTypeName(inputs[2]->dtype));
    } else {
      // Zeros of the scale's shape: a per-axis or blocked scale needs a zero
      // point of the same shape (a dynamic scale of unknown shape gets a
      // scalar, and the schema's shape check names the mismatch).
      const ir::Value* scale = inputs[1];
      if (scale && ir::isStatic(scale->shape) && ir::numElements(ir::staticDims(scale->shape)) > 1) {
        const std::vector<int64_t> dims = ir::staticDims(scale->shape);
        const std::vector<float> zeros(static_cast<std::size_t>(ir::numElements(dims)), 0.f);
        inputs[2] = ctx.constant("zero_point", ir::Tensor::fromFloat(zeros, dims).castTo(t));
      } else {
        inputs[2] = ctx.constScalar("zero_point", t, 0.f);
      }
    }
  }
  if (!inputs[2]) inputs.resize(2);
  // `saturate` (opset 19 on) stays: the kernel applies it to float8 outputs.
  ctx.emit("QuantizeLinear", inputs, ctx.attrs({"output_dtype"}));
}

//! InstanceNormalization-1 carried the obsolete `consumed_inputs`.
void importInstanceNorm(NodeContext& ctx) {
  ctx.emit("InstanceNormalization", ctx.inputs(), ctx.attrs({"consumed_inputs"}));
}

//! GroupNormalization-18..20 has one scale and bias per group; opset 21 (the
//! IR's form) one per channel. Constant per-group vectors are repeated per
//! channel here.
void importGroupNorm(NodeContext& ctx) {
  if (ctx.opset() >= 21) return importSame(ctx);
  ir::Value* x = ctx.requireInput(0);
  const int64_t groups = ctx.attrInt("num_groups", 0);
  KILN_NODE_CHECK(ctx, groups >= 1, ErrorCode::kINVALID_NODE, "attribute 'num_groups' is ", groups,
                  "; expected >= 1");
  KILN_NODE_CHECK(ctx, x->shape.size() >= 2 && x->shape[1].known(), ErrorCode::kUNSUPPORTED_NODE,
                  "opset ", ctx.opset(), " GroupNormalization needs a known channel count (input ",
                  ir::toString(x->shape), ")");
  const int64_t channels = x->shape[1].value;
  KILN_NODE_CHECK(ctx, channels % groups == 0, ErrorCode::kINVALID_NODE, "input has ", channels,
                  " channels, not a multiple of num_groups ", groups);
  std::vector<ir::Value*> inputs{x};
  const char* names[] = {"", "scale", "bias"};
  for (std::size_t i = 1; i < 3; ++i) {
    const ir::Tensor* t = ctx.constInput(i);
    KILN_NODE_CHECK(ctx, t != nullptr, ErrorCode::kUNSUPPORTED_NODE, "opset ", ctx.opset(),
                    " GroupNormalization needs a constant ", names[i], " (one value per group)");
    std::vector<float> perGroup = t->toFloat();
    KILN_NODE_CHECK(ctx, static_cast<int64_t>(perGroup.size()) == groups, ErrorCode::kINVALID_NODE, names[i],
                    " has ", perGroup.size(), " values, expected num_groups = ", groups);
    std::vector<float> perChannel(static_cast<std::size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) perChannel[c] = perGroup[c / (channels / groups)];
    inputs.push_back(ctx.constant(names[i], ir::Tensor::fromFloat(perChannel, {channels})));
  }
  ctx.emit("GroupNormalization", inputs, ctx.attrs({"stash_type"}));
}

//! LpPool-1 had a float `p`; later opsets an int.
void importLpPool(NodeContext& ctx) {
  Attrs attrs = ctx.attrs({"p"});
  const ::onnx::AttributeProto* p = ctx.attr("p");
  int64_t pv = 2;
  if (p) pv = p->type() == ::onnx::AttributeProto::FLOAT ? static_cast<int64_t>(p->f()) : p->i();
  attrs["p"] = pv;
  ctx.emit("LpPool", ctx.inputs(), std::move(attrs));
}

}  // namespace

void addQuantImporters(ImporterTable& t) {
  t.insert(t.end(), {
                        {"QuantizeLinear", 10, importQuantize},
                        {"DequantizeLinear", 10, importSame},
                        {"DynamicQuantizeLinear", 11, importSame},
                        {"QLinearMatMul", 10, importSame},
                        {"MatMulInteger", 10, importSame},
                        {"ConvInteger", 10, importSame},
                        {"QLinearConv", 10, importSame},
                        {"InstanceNormalization", 1, importInstanceNorm},
                        {"GroupNormalization", 18, importGroupNorm},
                        {"LRN", 1, importSame},
                        {"MeanVarianceNormalization", 9, importSame},
                        {"LpNormalization", 1, importSame},
                        {"LpPool", 1, importLpPool},
                    });
}

}  // namespace kiln::onnx
