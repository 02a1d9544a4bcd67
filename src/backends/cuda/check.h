// Error checks for CUDA runtime, cuBLASLt and cuDNN calls: a failing status
// becomes a kiln::Error naming the call and the library's own message.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "core/error.h"

namespace kiln::cuda {

inline void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess) fail("CUDA error in ", call, ": ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
}
inline void check(cublasStatus_t status, const char* call) {
  // cublasGetStatusName lives in libcublas, which Kiln does not link: the number (cublas_api.h's cublasStatus_t).
  if (status != CUBLAS_STATUS_SUCCESS) fail("cuBLASLt error in ", call, ": cublasStatus_t ", static_cast<int>(status));
}
inline void check(cudnnStatus_t status, const char* call) {
  if (status != CUDNN_STATUS_SUCCESS) fail("cuDNN error in ", call, ": ", cudnnGetErrorString(status));
}

}  // namespace kiln::cuda

#define KILN_CUDA_CHECK(call) ::kiln::cuda::check((call), #call)
