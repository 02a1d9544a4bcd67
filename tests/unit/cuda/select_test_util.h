// Inputs for the Where / Split / compare / logic tests: tensors of small
// integer-valued elements, so that comparisons see ties, in each dtype.
#pragma once
#include <random>

#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {

//! Values in {lo, ..., hi} (integers) stored as `dtype` (FP32, INT32, INT64 or BOOL), reproducible from `seed`.
inline ir::Tensor smallInts(DType dtype, std::vector<int64_t> dims, uint32_t seed, int lo = -2, int hi = 2) {
  ir::Tensor t(dtype, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    int v = dist(rng);
    switch (dtype) {
      case DType::kFLOAT: t.mutableAs<float>()[i] = static_cast<float>(v); break;
      case DType::kINT32: t.mutableAs<int32_t>()[i] = v; break;
      case DType::kINT64: t.mutableAs<int64_t>()[i] = v; break;
      default: t.mutableAs<uint8_t>()[i] = v > 0 ? 1 : 0; break;
    }
  }
  return t;
}

inline ir::Tensor randomBools(std::vector<int64_t> dims, uint32_t seed) {
  return smallInts(DType::kBOOL, std::move(dims), seed, 0, 1);
}

}  // namespace kiln::test
