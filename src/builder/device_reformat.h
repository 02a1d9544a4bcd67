// The device reformat fusion (CUDA builds, after the device layout pass,
// before tactic choice): a Cast between float types next to a Transpose — the
// precision pass's boundary cast of a network input and the layout pass's
// NCHW -> NHWC Transpose after it, or a layout Transpose before an output's
// cast — becomes one KilnReformat (ir/ops/kiln.cc), which reads the tensor
// once and writes it once in its new type and layout, as TensorRT's
// reformatting copy nodes do. YOLO-style FP16 at batch 16: the input's Cast
// and Transpose took 0.041 + 0.094 ms of 1.53 ms on an H200.
//
// Fused only where the value between the two is read by the second alone and
// is not a network output; both orders (Cast then Transpose, Transpose then
// Cast) give the same node.
#pragma once
#include "ir/graph.h"

namespace kiln::builder {

//! Fuses every such pair in `graph` (topologically sorted, shapes inferred);
//! returns how many KilnReformat nodes it made.
int fuseDeviceReformats(ir::Graph& graph);

}  // namespace kiln::builder
