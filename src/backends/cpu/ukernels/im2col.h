// im2col straight into GEMM B panels (see gemm.h): the columns of one
// group's im2col matrix, i.e. output positions, nr at a time, each row a
// (channel, kd, kh, kw) tap in weight order. Spatial axes are D x H x W (a
// 1-D or 2-D conv has leading axes of size 1). One build per ISA (the code
// is im2col_impl.inc); the panel writer for this CPU is picked once.
#pragma once
#include <cstdint>

namespace kiln::cpu::im2col {

struct Geometry {
  int64_t in[3], out[3], kernel[3], stride[3], dil[3], pad[3];
};

//! Writes columns [p0, p0 + w) of the im2col matrix of `x` (cg channels) as
//! one panel of nr columns at `dst` (columns past w are zero). nr <= 64.
using PanelFn = void (*)(const float* x, const Geometry& g, int64_t cg, int64_t p0, int64_t w, int64_t nr,
                         float* dst);

PanelFn hostPanelKernel();
PanelFn panelKernelForIsa(const char* isa);

PanelFn genericPanelKernel();
PanelFn avx2PanelKernel();
PanelFn avx512PanelKernel();

}  // namespace kiln::cpu::im2col
