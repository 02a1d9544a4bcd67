// Window geometry shared by Conv, ConvTranspose and the pools: the schemas use
// it to infer output shapes, the CPU kernels to find the pads for the shapes
// they are run with (auto_pad pads depend on the input size, which may be
// dynamic), so that inference and kernels can never disagree.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

//! The window attributes of a Conv / ConvTranspose / pool node, defaults filled
//! in for `spatial` spatial dims. kernel may be empty when the node has no
//! kernel_shape (Conv takes it from the weight).
struct WindowAttrs {
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;  //!< begins then ends, 2 * spatial
  AutoPad autoPad = AutoPad::kNotSet;
  bool ceilMode = false;
  // ConvTranspose only.
  std::vector<int64_t> outputPadding;  //!< spatial values, zeros by default
  std::vector<int64_t> outputShape;    //!< spatial values, empty when not given
};

//! Reads and checks kernel_shape, strides, dilations, pads, auto_pad,
//! ceil_mode, output_padding and output_shape; errors name the node.
WindowAttrs readWindowAttrs(const Node& node, std::size_t spatial);

//! Output size and pads of one spatial axis.
struct AxisGeometry {
  int64_t out = 0;
  int64_t padBegin = 0;
  int64_t padEnd = 0;
};

//! Conv / pool geometry of axis `i` for input size `in`. Throws (naming the
//! node) when the window does not fit the padded input.
AxisGeometry windowAxis(const Node& node, const WindowAttrs& a, std::size_t i, int64_t in, int64_t kernel);

//! ConvTranspose geometry of axis `i`. Allocates nothing (kernels call it
//! at run time).
AxisGeometry transposedAxis(const Node& node, const WindowAttrs& a, std::size_t i, int64_t in, int64_t kernel);

//! The layout attribute the device layout pass (builder/device_layout.h) sets
//! on Conv and the pools it runs channels-last: "NHWC" (any rank: N, spatial
//! dims, C) for the data (input, output, residual) and KRSC (K, spatial dims,
//! C / group) for Conv's weight. Absent or "NCHW": ONNX's channels-first form.
inline constexpr const char* kLayoutAttr = "kiln_layout";
//! Whether `node` runs channels-last; throws naming the node for a layout other than NCHW/NHWC.
bool channelsLast(const Node& node);
//! [N, C, d1..dk] -> [N, d1..dk, C] and back (rank < 2: unchanged).
Shape toChannelsLast(const Shape& s);
Shape toChannelsFirst(const Shape& s);
//! The Transpose perms of those: [0, 2, .., r-1, 1] and [0, r-1, 1, .., r-2].
std::vector<int64_t> channelsLastPerm(std::size_t rank);
std::vector<int64_t> channelsFirstPerm(std::size_t rank);

}  // namespace kiln::ir
