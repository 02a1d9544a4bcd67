// KilnAttention's operand views (attention_view.h).
#include "ir/ops/attention_view.h"

#include "core/error.h"

namespace kiln::ir {

bool AttentionView::identity() const {
  if (selectAxis >= 0) return false;
  for (std::size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != static_cast<int64_t>(i)) return false;
  return true;
}

AttentionView attentionView(const Node& node, const std::string& which) {
  AttentionView v;
  v.perm = node.ints(which + "_perm");
  const std::vector<int64_t> select = node.ints(which + "_select");
  KILN_CHECK(select.empty() || select.size() == 2, node.describe(), ": attribute '", which,
             "_select' must be [axis, index], has ", select.size(), " entries");
  KILN_CHECK(select.empty() || which != "y", node.describe(), ": the output y cannot have a select");
  if (select.size() == 2) {
    v.selectAxis = select[0];
    v.selectIndex = select[1];
    KILN_CHECK(v.selectAxis >= 0 && v.selectIndex >= 0, node.describe(), ": attribute '", which,
               "_select' has a negative axis or index (", v.selectAxis, ", ", v.selectIndex, ")");
  }
  return v;
}

std::vector<int> attentionViewAxes(const AttentionView& v, int xRank, std::string* why) {
  const int r = xRank - (v.selectAxis >= 0 ? 1 : 0);
  if (v.selectAxis >= xRank) {
    *why = strCat("the select axis ", v.selectAxis, " is beyond the tensor's rank ", xRank);
    return {};
  }
  if (!v.perm.empty() && static_cast<int>(v.perm.size()) != r) {
    *why = strCat("the perm has ", v.perm.size(), " entries for ", r, " dims");
    return {};
  }
  if (r != 3 && r != 4) {
    *why = strCat("the view has rank ", r, "; attention takes rank 3 or 4");
    return {};
  }
  std::vector<int> kept;  // X's dims left after the select
  for (int a = 0; a < xRank; ++a)
    if (a != v.selectAxis) kept.push_back(a);
  std::vector<int> axes(static_cast<std::size_t>(r));
  std::vector<bool> seen(static_cast<std::size_t>(r), false);
  for (int i = 0; i < r; ++i) {
    const int64_t p = v.perm.empty() ? i : v.perm[static_cast<std::size_t>(i)];
    if (p < 0 || p >= r || seen[static_cast<std::size_t>(p)]) {
      *why = strCat("the perm ", toString(v.perm), " is not a permutation of ", r, " dims");
      return {};
    }
    seen[static_cast<std::size_t>(p)] = true;
    axes[static_cast<std::size_t>(i)] = kept[static_cast<std::size_t>(p)];
  }
  if (axes.back() != xRank - 1) {
    *why = "the head dim (logical last) must be the tensor's last dim";
    return {};
  }
  return axes;
}

StridedView stridedView(const std::string& what, const AttentionView& v, const std::vector<int64_t>& xDims) {
  std::string why;
  const std::vector<int> axes = attentionViewAxes(v, static_cast<int>(xDims.size()), &why);
  KILN_CHECK(!axes.empty(), what, ": view of ", toString(xDims), ": ", why);
  std::vector<int64_t> strides(xDims.size(), 1);
  for (int a = static_cast<int>(xDims.size()) - 2; a >= 0; --a)
    strides[static_cast<std::size_t>(a)] = strides[static_cast<std::size_t>(a) + 1] * xDims[static_cast<std::size_t>(a) + 1];
  StridedView s;
  s.rank = static_cast<int>(axes.size());
  for (int i = 0; i < s.rank; ++i) {
    s.dims[i] = xDims[static_cast<std::size_t>(axes[static_cast<std::size_t>(i)])];
    s.strides[i] = strides[static_cast<std::size_t>(axes[static_cast<std::size_t>(i)])];
  }
  if (v.selectAxis >= 0) {
    const int64_t n = xDims[static_cast<std::size_t>(v.selectAxis)];
    KILN_CHECK(v.selectIndex < n, what, ": the select index ", v.selectIndex, " is beyond dim ", v.selectAxis, " of ",
               toString(xDims));
    s.offset = v.selectIndex * strides[static_cast<std::size_t>(v.selectAxis)];
  }
  return s;
}

Shape viewedOutputShape(const AttentionView& v, const Shape& logical) {
  if (v.perm.empty()) return logical;
  Shape out(logical.size());
  for (std::size_t i = 0; i < logical.size() && i < v.perm.size(); ++i)
    out[static_cast<std::size_t>(v.perm[i])] = logical[i];
  return out;
}

}  // namespace kiln::ir
