// Importers for the scatter/gather-by-coordinates ops, the tensor generators
// and the axis-wise math ops: Scatter, ScatterElements, ScatterND, GatherND,
// ReverseSequence, OneHot, EyeLike, the window functions, CumSum, TopK,
// Hardmax, Einsum, Det, CenterCropPad; the signal ops DFT, STFT,
// MelWeightMatrix; and TfIdfVectorizer.
#include "onnx/importers/importers.h"

namespace kiln::onnx {

namespace {

//! Scatter (opsets 9-10) is ScatterElements without `reduction`.
void importScatter(NodeContext& ctx) { ctx.emit("ScatterElements", ctx.inputs(), ctx.attrs()); }

//! TopK before opset 10 had K as the attribute `k` (and neither largest nor sorted).
void importTopK(NodeContext& ctx) {
  if (ctx.opset() >= 10) return importSame(ctx);
  KILN_NODE_CHECK(ctx, ctx.hasAttr("k"), ErrorCode::kINVALID_NODE, "attribute 'k' is required");
  ctx.emit("TopK", {ctx.requireInput(0), ctx.constInts("k", {ctx.attrInt("k", 0)})}, ctx.attrs({"k"}));
}

//! Hardmax before opset 13 works on the input flattened to 2-D at `axis`
//! (default 1): Flatten -> Hardmax over the last axis -> Reshape back.
void importHardmax(NodeContext& ctx) {
  if (ctx.opset() >= 13) return importSame(ctx);
  ir::Value* x = ctx.requireInput(0);
  Attrs flat;
  flat["axis"] = ir::Attribute(ctx.attrInt("axis", 1));
  ir::Value* f = ctx.emitInner("Flatten", "flatten", {x}, flat);
  Attrs last;
  last["axis"] = ir::Attribute(int64_t{-1});
  ir::Value* h = ctx.emitInner("Hardmax", "hardmax", {f}, last);
  ctx.emit("Reshape", {h, ctx.emitInner("Shape", "shape", {x})});
}

//! CenterCropPad(x, shape): on each of `axes`, crop the centre (the extra
//! element of an odd difference dropped at the end) or pad zeros around it
//! (the extra one at the end). Becomes Slice + Pad; needs x's dims on those
//! axes and a constant shape.
void importCenterCropPad(NodeContext& ctx) {
  ir::Value* x = ctx.requireInput(0);
  const ir::Tensor* shapeT = ctx.constInput(1);
  KILN_NODE_CHECK(ctx, shapeT, ErrorCode::kUNSUPPORTED_NODE, "input 'shape' must be a constant");
  std::vector<int64_t> target = shapeT->toInt64();
  const auto rank = static_cast<int64_t>(x->shape.size());
  std::vector<int64_t> axes = ctx.attrInts("axes");
  if (axes.empty())
    for (int64_t k = 0; k < rank; ++k) axes.push_back(k);
  KILN_NODE_CHECK(ctx, axes.size() == target.size(), ErrorCode::kINVALID_NODE, "shape has ", target.size(),
                  " values for ", axes.size(), " axes");
  std::vector<int64_t> starts, ends, sliceAxes, pads(static_cast<std::size_t>(2 * rank), 0);
  bool pad = false;
  for (std::size_t j = 0; j < axes.size(); ++j) {
    int64_t a = axes[j] < 0 ? axes[j] + rank : axes[j];
    KILN_NODE_CHECK(ctx, a >= 0 && a < rank, ErrorCode::kINVALID_NODE, "axis ", axes[j], " is out of range for rank ",
                    rank);
    const ir::Dim& d = x->shape[a];
    KILN_NODE_CHECK(ctx, d.known(), ErrorCode::kUNSUPPORTED_NODE, "needs the size of axis ", a, " (it is dynamic)");
    int64_t have = d.value, want = target[j];
    KILN_NODE_CHECK(ctx, want >= 0, ErrorCode::kINVALID_NODE, "shape ", want, " is negative");
    if (have > want) {
      int64_t s = (have - want) / 2;
      starts.push_back(s);
      ends.push_back(s + want);
      sliceAxes.push_back(a);
    } else if (have < want) {
      pads[a] = (want - have) / 2;
      pads[a + rank] = want - have - pads[a];
      pad = true;
    }
  }
  ir::Value* y = x;
  if (!starts.empty())
    y = ctx.emitInner("Slice", "crop", {y, ctx.constInts("starts", starts), ctx.constInts("ends", ends),
                                        ctx.constInts("axes", sliceAxes)});
  if (pad) {
    ctx.emit("Pad", {y, ctx.constInts("pads", pads)});
  } else {
    ctx.emit("Identity", {y});
  }
}

//! DFT before opset 20 had `axis` as an attribute (default 1); the IR takes input 2.
void importDft(NodeContext& ctx) {
  if (ctx.opset() >= 20) return importSame(ctx);
  ir::Value* axis = ctx.constant("axis", ir::Tensor::fromInt64({ctx.attrInt("axis", 1)}, {}));
  ctx.emit("DFT", {ctx.requireInput(0), ctx.input(1), axis}, ctx.attrs({"axis"}));
}

//! TfIdfVectorizer maps 1:1, for integer token ids only: string tokens
//! (pool_strings) would need string tensors, which Kiln does not have.
void importTfIdfVectorizer(NodeContext& ctx) {
  KILN_NODE_CHECK(ctx, !ctx.hasAttr("pool_strings"), ErrorCode::kUNSUPPORTED_NODE_ATTR,
                  "attribute 'pool_strings' (string tokens) is not supported: Kiln has no string tensors; "
                  "only pool_int64s with int32/int64 token ids");
  importSame(ctx);
}

}  // namespace

void addTensorIndexImporters(ImporterTable& t) {
  t.insert(t.end(), {
                        {"Scatter", 9, importScatter},
                        {"ScatterElements", 11, importSame},
                        {"ScatterND", 11, importSame},
                        {"GatherND", 11, importSame},
                        {"ReverseSequence", 10, importSame},
                        {"OneHot", 9, importSame},
                        {"EyeLike", 9, importSame},
                        {"BlackmanWindow", 17, importSame},
                        {"HannWindow", 17, importSame},
                        {"HammingWindow", 17, importSame},
                        {"CumSum", 11, importSame},
                        {"TopK", 1, importTopK},
                        {"Hardmax", 1, importHardmax},
                        {"Einsum", 12, importSame},
                        {"Det", 11, importSame},
                        {"CenterCropPad", 18, importCenterCropPad},
                        {"DFT", 17, importDft},
                        {"STFT", 17, importSame},
                        {"MelWeightMatrix", 17, importSame},
                        {"TfIdfVectorizer", 9, importTfIdfVectorizer},
                    });
}

}  // namespace kiln::onnx
