// The CUDA backend: implements backends::DeviceBackend (backends/backend.h).
// Tactics: cuBLASLt (MatMul/Gemm), cuDNN (Conv) and Kiln's own kernels
// (ops/*.cu), registered per op family (ops/families.h).
//
// The machine it is written on has no GPU: host-side logic (launch shapes,
// attribute checks) is unit-tested there, and the GPU tests (kiln_cuda_tests)
// run on a lent H200 (docs/benchmarks-gpu.md).
#pragma once
#include <cublasLt.h>
#include <cudnn.h>

#include "backends/backend.h"

namespace kiln::cuda {

//! The process-wide CUDA backend.
const backends::DeviceBackend& backend();

//! Library handles one execution context owns (DeviceLaunch::libraries).
struct Libraries {
  cublasLtHandle_t cublasLt = nullptr;
  cudnnHandle_t cudnn = nullptr;
  ~Libraries();
};

inline const Libraries& libraries(const backends::DeviceLaunch& launch) {
  return *static_cast<const Libraries*>(launch.libraries);
}

//! Queries device `cudaGetDevice()` and the library versions (no caching).
backends::HostDevice queryHost();

}  // namespace kiln::cuda
