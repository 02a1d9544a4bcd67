// Importers for convolution, GEMM, normalization, pooling, softmax and resize.
#include "ir/tensor.h"
#include "onnx/importers/importers.h"

namespace kiln::onnx {

namespace {

void importGemm(NodeContext& ctx) {
  // `broadcast` is a pre-opset-7 leftover that some exporters still write.
  ctx.emit("Gemm", ctx.inputs(), ctx.attrs({"broadcast"}));
}

// Kiln's MatMul and Conv schemas take more inputs than ONNX's (the fusions'
// bias and residual), so a model's extra input would be read as one: ONNX's
// arity is checked here.
void importMatMul(NodeContext& ctx) {
  KILN_NODE_CHECK(ctx, ctx.numInputs() == 2, ErrorCode::kINVALID_NODE, "has ", ctx.numInputs(),
                  " inputs; ONNX MatMul takes 2 (A, B)");
  importSame(ctx);
}

void importConv(NodeContext& ctx) {
  KILN_NODE_CHECK(ctx, ctx.numInputs() <= 3, ErrorCode::kINVALID_NODE, "has ", ctx.numInputs(),
                  " inputs; ONNX Conv takes 2 or 3 (X, W, optional B)");
  importSame(ctx);
}

void importBatchNorm(NodeContext& ctx) {
  KILN_NODE_CHECK(ctx, ctx.attrInt("training_mode", 0) == 0, ErrorCode::kUNSUPPORTED_NODE_ATTR,
                  "training_mode=1 is not supported (Kiln runs inference only)");
  for (std::size_t i = 1; i < ctx.numOutputs(); ++i)
    KILN_NODE_CHECK(ctx, !ctx.outputUsed(i), ErrorCode::kUNSUPPORTED_NODE, "output ", i, " (\"",
                    ctx.proto().output(static_cast<int>(i)),
                    "\") holds training statistics; Kiln imports inference-mode BatchNormalization only");
  ctx.emit("BatchNormalization", ctx.inputs(),
           ctx.attrs({"spatial", "is_test", "consumed_inputs", "training_mode"}), 1);
}

//! Softmax and LogSoftmax before opset 13 flatten the input to 2-D at `axis`
//! (default 1) and normalize each row. When `axis` is the last dim that is the
//! opset-13 op on that axis; otherwise Flatten -> op(axis 1) -> Reshape back.
void importSoftmax(NodeContext& ctx) {
  if (ctx.opset() >= 13) return importSame(ctx);
  ir::Value* x = ctx.requireInput(0);
  int64_t rank = static_cast<int64_t>(x->shape.size());
  int64_t axis = ctx.attrInt("axis", 1);
  KILN_NODE_CHECK(ctx, axis >= -rank && axis <= rank, ErrorCode::kINVALID_NODE, "axis ", axis,
                  " is out of range for rank ", rank);
  if (axis < 0) axis += rank;
  if (axis == rank - 1) {
    ctx.emit(ctx.op(), {x}, {{"axis", int64_t{-1}}});
    return;
  }
  ir::Value* flat = ctx.emitInner("Flatten", "flatten", {x}, {{"axis", axis}});
  ir::Value* norm = ctx.emitInner(ctx.op(), "rows", {flat}, {{"axis", int64_t{1}}});
  ir::Value* shape = ir::isStatic(x->shape) ? ctx.constInts("shape", ir::staticDims(x->shape))
                                             : ctx.emitInner("Shape", "shape", {x});
  ir::Node* back = ctx.emit("Reshape", {norm, shape});
  // The result has exactly x's shape (symbols included), which inference
  // cannot see through a Shape -> Reshape pair.
  back->outputs[0]->shape = x->shape;
}

//! A 0-element constant stands for "absent" in Resize-11/12 (`roi` and
//! `scales` were required inputs then).
ir::Value* emptyToAbsent(NodeContext& ctx, std::size_t i) {
  const ir::Tensor* t = ctx.constInput(i);
  return t && t->numel() == 0 ? nullptr : ctx.input(i);
}

void importResize(NodeContext& ctx) {
  ir::Value* x = ctx.requireInput(0);
  if (ctx.opset() < 11) {
    // Resize-10: (X, scales); sampling is Upsample's: asymmetric coordinates, floor.
    Attrs attrs = ctx.attrs();
    attrs["coordinate_transformation_mode"] = std::string("asymmetric");
    attrs["nearest_mode"] = std::string("floor");
    ctx.emit("Resize", {x, nullptr, ctx.requireInput(1)}, std::move(attrs));
    return;
  }
  ctx.emit("Resize", {x, emptyToAbsent(ctx, 1), emptyToAbsent(ctx, 2), ctx.input(3)}, ctx.attrs());
}

//! Upsample (opsets 7-9, deprecated since 10) is Resize with asymmetric
//! coordinates and floor rounding; opset 7 keeps the scales in an attribute.
void importUpsample(NodeContext& ctx) {
  ir::Value* x = ctx.requireInput(0);
  ir::Value* scales = nullptr;
  if (ctx.opset() < 9) {
    std::vector<float> s = ctx.attrFloats("scales");
    KILN_NODE_CHECK(ctx, !s.empty(), ErrorCode::kINVALID_NODE, "attribute 'scales' is required");
    scales = ctx.constant("scales", ir::Tensor::fromFloat(s, {static_cast<int64_t>(s.size())}));
  } else {
    scales = ctx.requireInput(1);
  }
  std::string mode = ctx.attrString("mode", "nearest");
  if (mode == "bilinear") mode = "linear";  // the opset-1 spelling
  ctx.emit("Resize", {x, nullptr, scales},
           {{"mode", mode},
            {"coordinate_transformation_mode", std::string("asymmetric")},
            {"nearest_mode", std::string("floor")}});
}

//! GridSample-16..19 spells the modes 'bilinear' / 'bicubic' and allows 4-D
//! input only; opset 20 renamed them 'linear' / 'cubic' and went N-D.
void importGridSample(NodeContext& ctx) {
  Attrs attrs = ctx.attrs();
  std::string mode = ctx.attrString("mode", ctx.opset() < 20 ? "bilinear" : "linear");
  if (mode == "bilinear") mode = "linear";
  if (mode == "bicubic") mode = "cubic";
  attrs["mode"] = mode;
  ctx.emit("GridSample", ctx.inputs(), std::move(attrs));
}

}  // namespace

void addNnImporters(ImporterTable& t) {
  t.insert(t.end(), {
                        {"Conv", 1, importConv},
                        {"ConvTranspose", 1, importSame},
                        {"Gemm", 1, importGemm},
                        {"MatMul", 1, importMatMul},
                        {"BatchNormalization", 1, importBatchNorm},
                        {"LayerNormalization", 17, importSame},
                        {"MaxPool", 1, importSame},
                        {"AveragePool", 1, importSame},
                        {"GlobalAveragePool", 1, importSame},
                        {"GlobalMaxPool", 1, importSame},
                        {"Softmax", 1, importSoftmax},
                        {"LogSoftmax", 1, importSoftmax},
                        {"Resize", 10, importResize},
                        {"Upsample", 7, importUpsample},
                        {"GridSample", 16, importGridSample},
                        {"AffineGrid", 20, importSame},
                        {"NegativeLogLikelihoodLoss", 12, importSame},
                        {"SoftmaxCrossEntropyLoss", 12, importSame},
                        {"DeformConv", 19, importSame},
                        {"Col2Im", 18, importSame},
                        {"MaxUnpool", 9, importSame},
                    });
}

}  // namespace kiln::onnx
