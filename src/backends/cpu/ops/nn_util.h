// Helpers shared by the nn kernels (conv, pool): window geometry mapped onto
// three spatial axes (D, H, W; a 1-D or 2-D op has leading axes of size 1),
// computed from the shapes a kernel is run with.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"
#include "core/error.h"
#include "ir/ops/spatial.h"

namespace kiln::cpu {

//! On a MaxPool, Concat, Split or channel-scaling Mul node (int 1): its data
//! input and output are NHWC in memory (dims still NCHW's), set where a oneDNN
//! convolution chain passes through it (chainOnednnConvLayouts); on a global
//! pool, its input is (its [N, C, 1, 1] output is the same in any layout).
constexpr const char* kNhwcAttr = "kiln_nhwc";

//! A copy of a node's identity and attributes, for kernels that must compute
//! geometry (and name the node in errors) at run time, after the graph that
//! held the node may be gone.
inline ir::Node nodeDescription(const ir::Node& node) {
  ir::Node d;
  d.op = node.op;
  d.name = node.name;
  d.attrs = node.attrs;
  return d;
}

struct Geometry3 {
  int64_t spatial = 0;  //!< 1..3 spatial axes of the op
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, padEnd[3] = {0, 0, 0};
  int64_t inSize() const { return in[0] * in[1] * in[2]; }
  int64_t outSize() const { return out[0] * out[1] * out[2]; }
  int64_t kernelSize() const { return kernel[0] * kernel[1] * kernel[2]; }
};

//! Geometry of a Conv / pool from the input view `x` (N x C x spatial), the
//! kernel sizes, and the node's window attributes; transposed for
//! ConvTranspose. Checks the output view against it.
inline Geometry3 windowGeometry(const ir::Node& desc, const ir::WindowAttrs& a, const TensorView& x,
                                const int64_t* kernel, const TensorView& y, bool transposed = false) {
  Geometry3 g;
  g.spatial = x.rank - 2;
  KILN_CHECK(g.spatial >= 1 && g.spatial <= 3 && y.rank == x.rank, desc.describe(), ": unexpected ranks ", x.rank,
             " / ", y.rank);
  const int64_t off = 3 - g.spatial;
  for (int64_t i = 0; i < g.spatial; ++i) {
    const int64_t in = x.dims[2 + i];
    ir::AxisGeometry ag = transposed ? ir::transposedAxis(desc, a, i, in, kernel[i])
                                     : ir::windowAxis(desc, a, i, in, kernel[i]);
    KILN_CHECK(ag.out == y.dims[2 + i], desc.describe(), ": output size ", y.dims[2 + i], " on spatial axis ", i,
               " disagrees with the computed ", ag.out);
    g.in[off + i] = in;
    g.out[off + i] = ag.out;
    g.kernel[off + i] = kernel[i];
    g.stride[off + i] = a.strides[i];
    g.dil[off + i] = a.dilations[i];
    g.pad[off + i] = ag.padBegin;
    g.padEnd[off + i] = ag.padEnd;
  }
  return g;
}

}  // namespace kiln::cpu
