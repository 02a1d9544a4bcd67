// Host arithmetic of the layout tactics (layout.cc), unit-tested without a GPU
// (tests/unit/cuda/layout_shapes_test.cc).
#pragma once
#include <cstdint>
#include <vector>

namespace kiln::cuda {

//! A Transpose that is a batched 2-D transpose: perm = [0 .. b-1, m .. r-1, b .. m-1]
//! (an identity prefix of b axes, then the axes [m, r) moved before [b, m)), so
//! x viewed as [batch, rows, cols] = [prod dims[0, b), prod dims[b, m), prod dims[m, r)]
//! becomes y = [batch, cols, rows]. NCHW -> NHWC is b = 1, m = 2; NHWC -> NCHW b = 1, m = r - 1.
struct BatchedSplit {
  int b = 0, m = 0;
};
inline bool batchedSplit(const std::vector<int64_t>& perm, BatchedSplit* out) {
  const int r = static_cast<int>(perm.size());
  int b = 0;
  while (b < r && perm[b] == b) ++b;
  if (b >= r - 1) return false;  // the identity: nothing to transpose
  const int m = static_cast<int>(perm[b]);
  if (m <= b) return false;
  for (int i = b; i < r; ++i) {
    const int64_t want = i - b < r - m ? m + (i - b) : b + (i - b - (r - m));
    if (perm[i] != want) return false;
  }
  *out = {b, m};
  return true;
}

struct Batched2d {
  int64_t batch = 1, rows = 1, cols = 1;
};
inline Batched2d batched2d(const BatchedSplit& s, const int64_t* dims, int rank) {
  Batched2d t;
  for (int i = 0; i < rank; ++i) (i < s.b ? t.batch : i < s.m ? t.rows : t.cols) *= dims[i];
  return t;
}

}  // namespace kiln::cuda
