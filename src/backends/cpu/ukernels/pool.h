// One output row of a 2-D float MaxPool / AveragePool (the row-wise kernel
// `<Op>.rows`, ops/pool.cc). The same source (pool_impl.inc) is compiled once
// per ISA so that the compiler vectorizes the row sweeps for each; the row
// kernel for this CPU is picked once.
#pragma once
#include <cstdint>

namespace kiln::cpu::pool {

//! One 2-D plane's geometry (windowGeometry's, for the last two axes).
struct Rows {
  int64_t h = 0, w = 0;            //!< input plane
  int64_t ow = 0;                  //!< output row length
  int64_t kh = 1, kw = 1;          //!< window
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t ph = 0, pw = 0;          //!< begin pads
  int64_t padEndH = 0, padEndW = 0;
  bool max = true;                 //!< else average
  bool includePad = false;         //!< AveragePool count_include_pad
};

//! Writes output row `oh` of the plane `x` into `y` (ow values). Taps are
//! combined in (kh, kw) order, as the reference does: results agree exactly.
using RowFn = void (*)(const Rows& g, const float* x, int64_t oh, float* y);
//! MaxPool only, channels innermost (NHWC: the layout a oneDNN convolution
//! chain passes through the pool, ops/conv_onednn.cc): output row `oh` of one
//! image `x` (h x w x channels) into `y` (ow x channels), taps in (kh, kw) order.
using NhwcRowFn = void (*)(const Rows& g, int64_t channels, const float* x, int64_t oh, float* y);

struct Kernels {
  RowFn row;
  NhwcRowFn nhwcMaxRow;
};

//! The row kernels for this CPU (chosen once through hostIsa()).
const Kernels& hostKernels();

const Kernels& genericKernels();
const Kernels& avx2Kernels();
const Kernels& avx512Kernels();

}  // namespace kiln::cpu::pool
