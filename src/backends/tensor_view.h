// A tensor as a kernel sees it at run time: data pointer, dtype and shape.
// Shared by every backend (the CPU's data is host memory, CUDA's is device
// memory); kernels read shapes from views, not from the node, so one kernel
// serves every shape of an optimization profile.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kiln::backends {

constexpr int kMaxRank = 8;

struct TensorView {
  void* data = nullptr;  //!< nullptr for an absent optional input
  DType dtype = DType::kFLOAT;
  int32_t rank = 0;
  int64_t dims[kMaxRank] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
  template <typename T>
  T* as() const { return static_cast<T*>(data); }
  std::vector<int64_t> shape() const { return std::vector<int64_t>(dims, dims + rank); }
};

}  // namespace kiln::backends
