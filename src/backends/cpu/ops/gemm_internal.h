// Shared between the Gemm / MatMul kernels: MatMul's batch broadcasting, and
// the packed-GEMM tactics (gemm_packed.cc) that gemm.cc registers.
#pragma once
#include <cstdint>
#include <string>

#include "backends/cpu/kernel.h"
#include "backends/cpu/ukernels/gemm.h"

namespace kiln::cpu {

//! A MatMul's shape: out[b] (M x N) = A[aIndex(b)] (M x K) * B[bIndex(b)] (K x N)
//! for each of `batch` output matrices, with numpy broadcasting of the batch
//! dims (1-D operands promoted as ONNX says).
struct MatMulDims {
  int64_t m = 1, n = 1, k = 1;
  int64_t batch = 1;   //!< output matrices
  int64_t batchA = 1;  //!< matrices in A
  int64_t batchB = 1;  //!< matrices in B
  int rank = 0;        //!< output batch rank
  int64_t dims[kMaxRank] = {};
  int64_t strideA[kMaxRank] = {};  //!< in matrices; 0 where A broadcasts
  int64_t strideB[kMaxRank] = {};

  int64_t aIndex(int64_t b) const { return index(b, strideA); }
  int64_t bIndex(int64_t b) const { return index(b, strideB); }

 private:
  int64_t index(int64_t b, const int64_t* stride) const {
    int64_t off = 0;
    for (int i = rank - 1; i >= 0; --i) {
      off += (b % dims[i]) * stride[i];
      b /= dims[i];
    }
    return off;
  }
};

//! Throws (naming the node in `what`) when A, B and Y disagree.
MatMulDims matmulDims(const std::string& what, const int64_t* aDims, int aRank, const int64_t* bDims, int bRank,
                      const TensorView& y);

//! Gemm's epilogue: alpha * A*B + beta * C (C, when given, broadcast to M x
//! N: a scalar, a row, a column or the whole matrix; throws naming `what`
//! otherwise), then `act`.
gemm::Epilogue gemmEpilogue(const std::string& what, const TensorView* c, int64_t M, int64_t N, float alpha,
                            float beta, const Activation& act);

Tactic matmulPackedTactic();
Tactic gemmPackedTactic();
//! MatMul / Gemm in FP16 on AVX512-FP16 CPUs (ops/gemm_fp16.cc).
Tactic matmulFP16Tactic();
Tactic gemmFP16Tactic();

}  // namespace kiln::cpu
