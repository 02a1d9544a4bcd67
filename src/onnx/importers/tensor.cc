// Importers for data movement and shape ops, and Constant.
#include "onnx/importers/importers.h"
#include "onnx/tensor_proto.h"

namespace kiln::onnx {

namespace {

//! Constant nodes become graph constants named after their output; no node.
void importConstant(NodeContext& ctx) {
  KILN_NODE_CHECK(ctx, ctx.proto().attribute_size() == 1, ErrorCode::kINVALID_NODE,
                  "needs exactly one value attribute, has ", ctx.proto().attribute_size());
  const auto& a = ctx.proto().attribute(0);
  const std::string& key = a.name();
  ir::Tensor value;
  if (key == "value") {
    KILN_NODE_CHECK(ctx, a.has_t(), ErrorCode::kINVALID_NODE, "attribute 'value' must be a tensor");
    value = std::get<ir::Tensor>(ctx.convert(a));
  } else if (key == "value_float") {
    value = ir::Tensor::fromFloat({ctx.attrFloat(key, 0)}, {});
  } else if (key == "value_floats") {
    std::vector<float> v = ctx.attrFloats(key);
    value = ir::Tensor::fromFloat(v, {static_cast<int64_t>(v.size())});
  } else if (key == "value_int") {
    value = ir::Tensor::fromInt64({ctx.attrInt(key, 0)}, {});
  } else if (key == "value_ints") {
    std::vector<int64_t> v = ctx.attrInts(key);
    value = ir::Tensor::fromInt64(v, {static_cast<int64_t>(v.size())});
  } else {
    KILN_NODE_FAIL(ctx, ErrorCode::kUNSUPPORTED_NODE_ATTR, "attribute '", key,
                   "' is not supported (Kiln has no string or sparse tensors)");
  }
  KILN_NODE_CHECK(ctx, ctx.numOutputs() == 1 && !ctx.proto().output(0).empty(), ErrorCode::kINVALID_NODE,
                  "needs exactly one named output");
  ctx.bindOutput(0, ctx.graph().addConstant(ctx.proto().output(0), std::move(value)));
}

//! Squeeze/Unsqueeze took `axes` as an attribute until opset 13; the IR takes input 1.
void importAxesOp(NodeContext& ctx) {
  if (ctx.opset() >= 13) return importSame(ctx);
  std::vector<int64_t> axes = ctx.attrInts("axes");
  ir::Value* axesIn = axes.empty() ? nullptr : ctx.constInts("axes", axes);
  ctx.emit(ctx.op(), {ctx.requireInput(0), axesIn}, ctx.attrs({"axes"}));
}

//! Split: `split` sizes were an attribute until opset 13 and an equal split
//! was implied by the output count until opset 18, which made it the
//! `num_outputs` attribute.
void importSplit(NodeContext& ctx) {
  if (ctx.opset() >= 18) return importSame(ctx);
  ir::Value* x = ctx.requireInput(0);
  ir::Value* split = nullptr;
  if (ctx.opset() >= 13) {
    split = ctx.input(1);
  } else if (std::vector<int64_t> s = ctx.attrInts("split"); !s.empty()) {
    split = ctx.constInts("split", s);
  }
  Attrs attrs = ctx.attrs({"split"});
  if (!split) attrs["num_outputs"] = static_cast<int64_t>(ctx.numOutputs());
  ctx.emit("Split", {x, split}, std::move(attrs));
}

//! Slice before opset 10 keeps starts/ends/axes in attributes (no steps).
void importSlice(NodeContext& ctx) {
  if (ctx.opset() >= 10) return importSame(ctx);
  KILN_NODE_CHECK(ctx, ctx.hasAttr("starts") && ctx.hasAttr("ends"), ErrorCode::kINVALID_NODE,
                  "attributes 'starts' and 'ends' are required");
  ir::Value* starts = ctx.constInts("starts", ctx.attrInts("starts"));
  ir::Value* ends = ctx.constInts("ends", ctx.attrInts("ends"));
  ir::Value* axes = ctx.hasAttr("axes") ? ctx.constInts("axes", ctx.attrInts("axes")) : nullptr;
  ctx.emit("Slice", {ctx.requireInput(0), starts, ends, axes});
}

//! Pad before opset 11 keeps pads and the fill value in attributes.
void importPad(NodeContext& ctx) {
  if (ctx.opset() >= 11) return importSame(ctx);
  ir::Value* x = ctx.requireInput(0);
  KILN_NODE_CHECK(ctx, ctx.hasAttr("pads"), ErrorCode::kINVALID_NODE, "attribute 'pads' is required");
  ir::Value* pads = ctx.constInts("pads", ctx.attrInts("pads"));
  float fill = ctx.attrFloat("value", 0.0f);
  ir::Value* value = fill != 0.0f ? ctx.constScalar("value", x->dtype, fill) : nullptr;
  ctx.emit("Pad", {x, pads, value}, ctx.attrs({"pads", "value"}));
}

}  // namespace

void addTensorImporters(ImporterTable& t) {
  t.insert(t.end(), {
                        {"Constant", 1, importConstant},
                        {"Reshape", 5, importSame},
                        {"Flatten", 1, importSame},
                        {"Transpose", 1, importSame},
                        {"Concat", 1, importSame},
                        {"Split", 1, importSplit},
                        {"Slice", 1, importSlice},
                        {"Gather", 1, importSame},
                        {"GatherElements", 11, importSame},
                        {"Squeeze", 1, importAxesOp},
                        {"Unsqueeze", 1, importAxesOp},
                        {"Shape", 1, importSame},
                        {"Size", 1, importSame},
                        {"ConstantOfShape", 9, importSame},
                        {"Expand", 8, importSame},
                        {"Tile", 6, importSame},
                        {"Pad", 1, importPad},
                        {"Range", 11, importSame},
                        {"DepthToSpace", 1, importSame},
                        {"SpaceToDepth", 1, importSame},
                        {"Trilu", 14, importSame},
                        {"NonZero", 9, importSame},
                        {"Compress", 9, importSame},
                        {"Unique", 11, importSame},
                    });
}

}  // namespace kiln::onnx
