// Split on the device: the input is viewed as [outer, axis * inner] rows of
// bytes, and output i takes the columns of its part of the axis (one launch
// of row_pieces.h's copy for all outputs). Host arithmetic, unit-tested
// without a GPU.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln::cuda {

//! One output's copy: `rows` rows of `widthBytes`, from the input at
//! `srcOffsetBytes` with row pitch `srcPitchBytes`, to a dense output.
struct SplitCopy {
  std::size_t srcOffsetBytes = 0, srcPitchBytes = 0, widthBytes = 0, rows = 0;
};

//! The copies of Split over `axis` (negative counts from the end) of `in` into
//! outputs whose sizes on that axis are `parts`; throws when the axis is out
//! of range or the parts do not sum to the input's size on it.
std::vector<SplitCopy> splitCopies(const std::vector<int64_t>& in, int64_t axis, const std::vector<int64_t>& parts,
                                   std::size_t elementBytes);

}  // namespace kiln::cuda
