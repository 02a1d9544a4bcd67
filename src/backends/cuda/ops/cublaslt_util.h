// cuBLASLt helpers the tactics that call it share (gemm.cc's MatMul/Gemm,
// attention_gemm.cc's unfused attention): owned descriptors, the data type of
// an element type, pointer alignment, and the heuristic query told the
// pointers' real alignments.
#pragma once
#include <cublasLt.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/cuda/check.h"
#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda {

//! cuBLASLt's scratch per product: what NVIDIA suggests for cuBLASLt on Hopper.
constexpr std::size_t kCublasLtWorkspace = 32u << 20;

template <typename T, cublasStatus_t (*Destroy)(T)>
struct LtOwned {
  T handle = nullptr;
  LtOwned() = default;
  LtOwned(const LtOwned&) = delete;
  LtOwned& operator=(const LtOwned&) = delete;
  ~LtOwned() {
    if (handle) Destroy(handle);
  }
};
using LtLayout = LtOwned<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;
using LtOpDesc = LtOwned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using LtPreference = LtOwned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>;

inline cudaDataType_t ltDataType(kernels::Elem e) {
  return e == kernels::Elem::kHalf ? CUDA_R_16F : e == kernels::Elem::kBF16 ? CUDA_R_16BF : CUDA_R_32F;
}

//! `l` as a column-major rows x cols matrix of `type` with leading dimension `ld`, and, for
//! `batch` > 1, that many matrices `stride` elements apart (cuBLASLt's strided batch).
inline void ltLayout(LtLayout& l, cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld, int64_t batch,
                     int64_t stride) {
  KILN_CUDA_CHECK(cublasLtMatrixLayoutCreate(&l.handle, type, static_cast<uint64_t>(rows),
                                             static_cast<uint64_t>(cols), ld));
  if (batch > 1) {
    const int32_t count = static_cast<int32_t>(batch);
    KILN_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(l.handle, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
    KILN_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(l.handle, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                     sizeof stride));
  }
}

//! The largest power of two (at most 256) dividing `bytes` (0: 256).
inline uint32_t byteAlignment(uint64_t bytes) {
  uint32_t align = 256;
  while (align > 1 && (bytes % align) != 0) align /= 2;
  return align;
}

//! The largest power of two (at most 256) dividing `p`'s address.
inline uint32_t pointerAlignment(const void* p) { return byteAlignment(reinterpret_cast<uintptr_t>(p)); }

//! The heuristic's best `wanted` algorithms for op(A) op(B) -> D (C laid out as D), with at most
//! `workspace` bytes of scratch and pointers aligned to `align` bytes (A, B, C, D): the heuristic
//! assumes 256-byte-aligned pointers unless told (arena and constant slots may be less aligned;
//! FP16/BF16 tensor-core kernels need 16 bytes). Empty when cuBLASLt has none (CUBLAS_STATUS_NOT_SUPPORTED).
inline std::vector<cublasLtMatmulHeuristicResult_t> ltHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t op,
                                                                 cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                                                 cublasLtMatrixLayout_t d, const uint32_t align[4],
                                                                 std::size_t workspace, int wanted) {
  LtPreference pref;
  KILN_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&pref.handle));
  KILN_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.handle, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                       &workspace, sizeof workspace));
  const cublasLtMatmulPreferenceAttributes_t attrs[4] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (int i = 0; i < 4; ++i)
    KILN_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.handle, attrs[i], &align[i], sizeof align[i]));
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<std::size_t>(wanted));
  int found = 0;
  const cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(handle, op, a, b, d, d, pref.handle, wanted, results.data(), &found);
  if (status == CUBLAS_STATUS_NOT_SUPPORTED) return {};
  check(status, "cublasLtMatmulAlgoGetHeuristic");
  results.resize(static_cast<std::size_t>(found));
  return results;
}

}  // namespace kiln::cuda
