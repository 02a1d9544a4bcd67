// Schemas of the object-detection ops: NonMaxSuppression (a data-dependent
// number of selected boxes) and RoiAlign.
#include <algorithm>

#include "ir/ops/families.h"
#include "ir/ops/tensor_util.h"

namespace kiln::ir {
namespace {

void checkFloat(const InferContext& ctx, std::size_t i, const char* what) {
  if (!ctx.hasInput(i)) return;
  DType t = ctx.in(i).dtype;
  ctx.check(t == DType::kFLOAT || t == DType::kHALF, what, " must be float, is ", dataTypeName(t));
}

bool sameOrUnknown(const Dim& a, const Dim& b) { return !a.known() || !b.known() || a.value == b.value; }

// NonMaxSuppression(boxes [B, N, 4], scores [B, C, N], max_output_boxes_per_class,
// iou_threshold, score_threshold) -> int64 [selected, 3] of (batch, class, box).
void inferNonMaxSuppression(InferContext& ctx) {
  const Value& boxes = ctx.in(0);
  const Value& scores = ctx.in(1);
  checkFloat(ctx, 0, "boxes");
  checkFloat(ctx, 1, "scores");
  checkFloat(ctx, 3, "iou_threshold");
  checkFloat(ctx, 4, "score_threshold");
  ctx.check(boxes.shape.size() == 3, "boxes must have shape [batch, boxes, 4], has rank ", boxes.shape.size());
  ctx.check(scores.shape.size() == 3, "scores must have shape [batch, classes, boxes], has rank ",
            scores.shape.size());
  ctx.check(sameOrUnknown(boxes.shape[2], Dim(4)), "boxes' last dim must be 4, is ", boxes.shape[2].value);
  ctx.check(sameOrUnknown(boxes.shape[0], scores.shape[0]), "boxes have batch ", boxes.shape[0].value,
            ", scores have ", scores.shape[0].value);
  ctx.check(sameOrUnknown(boxes.shape[1], scores.shape[2]), "boxes has ", boxes.shape[1].value,
            " boxes, scores has ", scores.shape[2].value);
  int64_t centerPointBox = ctx.node().i("center_point_box", 0);
  ctx.check(centerPointBox == 0 || centerPointBox == 1, "center_point_box must be 0 or 1, is ", centerPointBox);
  if (ctx.hasInput(2)) tensor_ops::checkIndexType(ctx, 2, "max_output_boxes_per_class");
  // At most min(boxes, max per class) per (batch, class).
  int64_t perClass = boxes.shape[1].value;
  if (const Tensor* m = ctx.constInput(2); m && m->numel() == 1 && perClass >= 0)
    perClass = std::clamp<int64_t>(m->toInt64()[0], 0, perClass);
  else if (!ctx.hasInput(2))
    perClass = 0;  // the default: select nothing
  Dim bound = mulDims(mulDims(boxes.shape[0], scores.shape[1]), Dim(perClass));
  ctx.setOutput(0, DType::kINT64, {dataDependentDim(ctx.node(), bound.value), Dim(3)});
}

// RoiAlign(X [N, C, H, W], rois [R, 4], batch_indices [R]) -> [R, C, output_height, output_width].
void inferRoiAlign(InferContext& ctx) {
  const Value& x = ctx.in(0);
  const Value& rois = ctx.in(1);
  const Value& idx = ctx.in(2);
  checkFloat(ctx, 0, "X");
  ctx.check(rois.dtype == x.dtype, "rois are ", dataTypeName(rois.dtype), ", X is ", dataTypeName(x.dtype));
  tensor_ops::checkIndexType(ctx, 2, "batch_indices");
  ctx.check(x.shape.size() == 4, "X must be [N, C, H, W], has rank ", x.shape.size());
  ctx.check(rois.shape.size() == 2 && sameOrUnknown(rois.shape[1], Dim(4)), "rois must be [num_rois, 4], are ",
            toString(rois.shape));
  ctx.check(idx.shape.size() == 1 && sameOrUnknown(idx.shape[0], rois.shape[0]), "batch_indices must be [",
            toString(Shape{rois.shape[0]}), "], are ", toString(idx.shape));
  const Node& n = ctx.node();
  int64_t oh = n.i("output_height", 1), ow = n.i("output_width", 1);
  ctx.check(oh > 0 && ow > 0, "output_height and output_width must be positive, are ", oh, " and ", ow);
  ctx.check(n.i("sampling_ratio", 0) >= 0, "sampling_ratio must not be negative");
  std::string mode = n.s("mode", "avg");
  ctx.check(mode == "avg" || mode == "max", "mode must be 'avg' or 'max', is '", mode, "'");
  std::string ctm = n.s("coordinate_transformation_mode", "half_pixel");
  ctx.check(ctm == "half_pixel" || ctm == "output_half_pixel",
            "coordinate_transformation_mode must be 'half_pixel' or 'output_half_pixel', is '", ctm, "'");
  Dim r = rois.shape[0].known() ? rois.shape[0] : idx.shape[0];
  ctx.setOutput(0, x.dtype, {r, x.shape[1], Dim(oh), Dim(ow)});
}

}  // namespace

void registerDetectionSchemas(SchemaRegistry& r) {
  r.add({"NonMaxSuppression", 2, 5, 1, 1, inferNonMaxSuppression, 0b1});
  r.add({"RoiAlign", 3, 3, 1, 1, inferRoiAlign});
}

}  // namespace kiln::ir
