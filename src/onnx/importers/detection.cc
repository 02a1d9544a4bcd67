// Importers for the object-detection ops: NonMaxSuppression and RoiAlign.
#include "onnx/importers/importers.h"

namespace kiln::onnx {

namespace {

//! RoiAlign before opset 16 had no coordinate_transformation_mode and did not
//! shift coordinates by half a pixel ("output_half_pixel"); 16's default shifts.
void importRoiAlign(NodeContext& ctx) {
  Attrs attrs = ctx.attrs();
  if (ctx.opset() < 16) attrs["coordinate_transformation_mode"] = std::string("output_half_pixel");
  ctx.emit("RoiAlign", ctx.inputs(), std::move(attrs));
}

}  // namespace

void addDetectionImporters(ImporterTable& t) {
  t.insert(t.end(), {
                        {"NonMaxSuppression", 10, importSame},
                        {"RoiAlign", 10, importRoiAlign},
                    });
}

}  // namespace kiln::onnx
