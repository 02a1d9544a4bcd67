// KilnAttention's operand views (the contract: ir/ops/kiln.cc). An operand of
// the attention may be a strided view of the tensor X actually passed, so
// the head split / merge around it (Transpose, Gather of a packed QKV) needs
// no copy:
//   logical = Transpose(Select(X, select), perm)
// where Select(X, {axis, index}) fixes X's dim `axis` at `index` (dropping
// it) and perm[i] names the kept dim of X that is logical dim i. y's view
// says where logical y's elements go in the output tensor the same way (no
// select). The attributes are shape-independent; strides come from X's dims
// at run time. The head dim (logical last) must be X's last dim, so every
// row of D elements stays contiguous.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

struct AttentionView {
  std::vector<int64_t> perm;  //!< empty: the identity
  int64_t selectAxis = -1;    //!< -1: no select
  int64_t selectIndex = 0;

  bool identity() const;
};

//! The view of operand `which` ("q", "k", "v" or "y": attributes `<which>_perm`, `<which>_select`).
AttentionView attentionView(const Node& node, const std::string& which);

//! For each logical dim, the dim of X (rank `xRank`) it is; empty, with `why` filled, when the view does not
//! fit X (logical rank other than 3/4, perm not a permutation, select out of range, head dim not X's last).
std::vector<int> attentionViewAxes(const AttentionView& v, int xRank, std::string* why);

//! The logical dims and element strides (plus the select's element offset) of a view of X at run time.
struct StridedView {
  int rank = 0;
  int64_t dims[4] = {};
  int64_t strides[4] = {};
  int64_t offset = 0;
};

//! Throws kiln::Error naming `what` when the view does not fit X's dims or the select index is out of range.
StridedView stridedView(const std::string& what, const AttentionView& v, const std::vector<int64_t>& xDims);

//! The shape of the output tensor holding a logical y of shape `logical` under y's view `v`.
Shape viewedOutputShape(const AttentionView& v, const Shape& logical);

}  // namespace kiln::ir
