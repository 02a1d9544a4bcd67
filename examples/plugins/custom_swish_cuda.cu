// CustomSwish's CUDA implementation: y = x * sigmoid(beta * x), one thread per
// element (grid-stride). Built into libkiln_example_plugins.so when Kiln is
// built with CUDA; custom_swish.cc calls it when enqueue gets a stream.
#include <cuda_runtime.h>

#include <cstdint>

namespace {

__global__ void customSwish(const float* x, float* y, int64_t n, float beta) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = x[i] / (1.f + expf(-beta * x[i]));
}

}  // namespace

//! Enqueues the kernel on `stream`; returns the launch's cudaError_t (0: ok).
int customSwishCuda(const float* x, float* y, int64_t n, float beta, cudaStream_t stream) {
  if (n == 0) return 0;
  const int64_t blocks = (n + 255) / 256;
  customSwish<<<static_cast<unsigned>(blocks < 4096 ? blocks : 4096), 256, 0, stream>>>(x, y, n, beta);
  return static_cast<int>(cudaGetLastError());
}
