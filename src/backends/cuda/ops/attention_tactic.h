// What the two KilnAttention tactics (attention.cc's KilnAttention.flash,
// attention_gemm.cc's KilnAttention.gemm) share on the host: the node's checks
// and the operands' views (ir/ops/attention_view.h) turned into one run's
// kernels::AttentionShape. Defined in attention.cc.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/ops/attention_kernels.h"
#include "ir/graph.h"
#include "ir/ops/attention_view.h"

namespace kiln::cuda {

//! The views of a KilnAttention node's Q, K, V and y, read once from its attributes.
struct AttentionViews {
  ir::AttentionView of[4];  //!< Q, K, V, y
  explicit AttentionViews(const ir::Node& node);
};

//! The AttentionShape of one run from the tensors' dims (`dims`: Q, K, V and y as passed; `mask`: null
//! when absent): the logical dims through the views, then each operand's offset and strides. Throws
//! naming `what` where the views do not fit the tensors or the logical shapes disagree.
kernels::AttentionShape viewedAttentionShape(const std::string& what, const AttentionViews& views,
                                             const std::vector<int64_t> (&dims)[4], const std::vector<int64_t>* mask);

//! The same from one run's tensors (in: Q, K, V and, where `hasMask` and present, the mask; out: y).
kernels::AttentionShape viewedAttentionShape(const std::string& what, const AttentionViews& views,
                                             const backends::TensorView* in, const backends::TensorView* out,
                                             bool hasMask);

//! The node checks both tactics make: Q, K, V (and the mask) and y present, of one float type (returned in
//! `elem`), each view fitting its tensor's rank, static head sizes within attentionSupportsHeadSizes.
bool attentionNodeFits(const ir::Node& n, kernels::Elem* elem);

//! The static last dim of value `v`, or -1.
int64_t attentionLastDim(const ir::Value* v);

}  // namespace kiln::cuda
