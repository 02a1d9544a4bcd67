// Where (ONNX): out = cond ? x : y with numpy broadcasting of all three
// operands (where.cu). Elements are moved as bits, so one kernel per element
// size (1, 2, 4, 8 bytes) serves every dtype, FP16/BF16 included.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {

//! Output dims and each operand's element strides over them (0 on broadcast dims).
struct WhereShape {
  int32_t rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t condStrides[kMaxRank] = {}, xStrides[kMaxRank] = {}, yStrides[kMaxRank] = {};
};

//! Host arithmetic: each operand must broadcast to `out` (throws naming it otherwise, or above kMaxRank).
WhereShape whereShape(const std::vector<int64_t>& cond, const std::vector<int64_t>& x, const std::vector<int64_t>& y,
                      const std::vector<int64_t>& out);

//! The offsets of output element i in cond, x and y (the kernel's walk; also replayed on the host in tests).
KILN_HOST_DEVICE inline void whereOffsets(const WhereShape& s, int64_t i, int64_t* ic, int64_t* ix, int64_t* iy) {
  int64_t rest = i, c = 0, a = 0, b = 0;
  for (int d = s.rank - 1; d >= 0; --d) {
    int64_t coord = rest % s.dims[d];
    rest /= s.dims[d];
    c += coord * s.condStrides[d];
    a += coord * s.xStrides[d];
    b += coord * s.yStrides[d];
  }
  *ic = c;
  *ix = a;
  *iy = b;
}

//! out[i] = cond[ic] ? x[ix] : y[iy], elements of `elementBytes` (1, 2, 4 or 8).
void where(const bool* cond, const void* x, const void* y, void* out, int32_t elementBytes, const WhereShape& shape,
           cudaStream_t stream);

}  // namespace kiln::cuda::kernels
