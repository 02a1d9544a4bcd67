// The channels-last (NHWC) kernels of the device layout pass's layers
// (layout.cu), as plain launchers: a tiled batched transpose for the
// NCHW <-> NHWC boundaries, the Conv epilogue over NHWC (channel = last
// axis, vectorized), and the pools over NHWC. FP32 math inside, storage
// FP32/FP16/BF16 (`Elem`, element_type.cuh).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {

//! y[b][j][i] = x[b][i][j] for x viewed as [batch, rows, cols] of `elementBytes` (1, 2, 4 or 8):
//! 32 x 32 tiles through shared memory, so both reads and writes are coalesced.
void batchedTranspose(const void* x, void* y, int64_t batch, int64_t rows, int64_t cols, int32_t elementBytes,
                      cudaStream_t stream);

//! y = act(y + bias[c] + residual) over y viewed as [rows, c] (NHWC: rows = N*H*W);
//! bias and residual (of y's type) may be null. 16-byte vectors where c and the pointers allow.
void channelLastBiasAct(void* y, const void* bias, const void* residual, int64_t rows, int64_t c, UnaryParams act,
                        Elem elem, cudaStream_t stream);

//! 2-D max/average pooling over NHWC (p's n, c, h, w as for NCHW; the data is [n, h, w, c]).
void pool2dNhwc(const void* x, void* y, const Pool2d& p, Elem elem, cudaStream_t stream);

//! y[b][c] = mean over k < hw of x[b][k][c] (GlobalAveragePool over NHWC).
void meanOverMiddle(const void* x, void* y, int64_t batch, int64_t hw, int64_t c, Elem elem, cudaStream_t stream);

}  // namespace kiln::cuda::kernels
