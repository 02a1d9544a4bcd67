// Where's kernel (where_kernels.h): a grid-stride loop over the output,
// templated on the element's bit type.
#include "backends/cuda/ops/where_kernels.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void whereKernel(const uint8_t* cond, const T* x, const T* y, T* out, int64_t n, WhereShape s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t ic, ix, iy;
    whereOffsets(s, i, &ic, &ix, &iy);
    out[i] = cond[ic] ? x[ix] : y[iy];
  }
}

template <typename T>
void launch(const bool* cond, const void* x, const void* y, void* out, int64_t n, const WhereShape& s,
            cudaStream_t stream) {
  whereKernel<T><<<gridFor(n), kThreads, 0, stream>>>(reinterpret_cast<const uint8_t*>(cond),
                                                      static_cast<const T*>(x), static_cast<const T*>(y),
                                                      static_cast<T*>(out), n, s);
}

}  // namespace

void where(const bool* cond, const void* x, const void* y, void* out, int32_t elementBytes, const WhereShape& s,
           cudaStream_t stream) {
  int64_t n = 1;
  for (int d = 0; d < s.rank; ++d) n *= s.dims[d];
  if (n <= 0) return;
  switch (elementBytes) {
    case 1: launch<uint8_t>(cond, x, y, out, n, s, stream); break;
    case 2: launch<uint16_t>(cond, x, y, out, n, s, stream); break;
    case 4: launch<uint32_t>(cond, x, y, out, n, s, stream); break;
    default: launch<uint64_t>(cond, x, y, out, n, s, stream); break;
  }
}

}  // namespace kiln::cuda::kernels
