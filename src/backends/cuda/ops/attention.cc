// KilnAttention (src/ir/ops/kiln.cc: the contract) on the device: the tactic
// KilnAttention.flash, the host arithmetic of attention_kernels.h (shapes,
// mask strides, the path and grid), unit-tested without a GPU
// (tests/unit/cuda/attention_shapes_test.cc), and what attention_tactic.h says
// both tactics share (the unfused KilnAttention.gemm is attention_gemm.cc).
#include <cmath>
#include <cstdint>
#include <limits>

#include "backends/cuda/check.h"
#include "backends/cuda/ops/attention_kernels.h"
#include "backends/cuda/ops/attention_tactic.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"
#include "ir/ops/attention_view.h"
#include "ir/tensor.h"

namespace kiln::cuda {

kernels::AttentionShape kernels::attentionShape(const std::vector<int64_t>& q, const std::vector<int64_t>& k,
                                                const std::vector<int64_t>& v, const std::vector<int64_t>* mask) {
  const std::size_t rank = q.size();
  KILN_CHECK(rank == 3 || rank == 4, "KilnAttention: Q has rank ", rank, "; attention takes rank 3 or 4");
  KILN_CHECK(k.size() == rank && v.size() == rank, "KilnAttention: Q, K and V ranks differ (", rank, ", ", k.size(),
             ", ", v.size(), ")");
  AttentionShape s;
  s.batch = 1;
  for (std::size_t i = 0; i + 2 < rank; ++i) {
    KILN_CHECK(k[i] == q[i] && v[i] == q[i], "KilnAttention: leading dims of Q ", ir::toString(q), ", K ",
               ir::toString(k), " and V ", ir::toString(v), " differ");
    s.batch *= q[i];
  }
  s.inner = q[rank - 3];
  s.sq = q[rank - 2];
  s.d = q[rank - 1];
  s.sk = k[rank - 2];
  s.dv = v[rank - 1];
  KILN_CHECK(k[rank - 1] == s.d, "KilnAttention: head sizes of Q ", ir::toString(q), " and K ", ir::toString(k),
             " (last dims) differ");
  KILN_CHECK(v[rank - 2] == s.sk, "KilnAttention: key lengths of K ", ir::toString(k), " and V ", ir::toString(v),
             " (dim -2) differ");
  // Contiguous layouts; a view's (the tactic's enqueue) replace them.
  auto contiguous = [&](int64_t rows, int64_t cols) {
    AttentionOperand o;
    o.rowStride = cols;
    o.innerStride = rows * cols;
    o.outerStride = rank == 4 ? s.inner * rows * cols : 0;
    return o;
  };
  s.q = contiguous(s.sq, s.d);
  s.k = contiguous(s.sk, s.d);
  s.v = contiguous(s.sk, s.dv);
  s.y = contiguous(s.sq, s.dv);
  if (mask) {
    KILN_CHECK(mask->size() <= rank, "KilnAttention: the mask ", ir::toString(*mask), " has a higher rank than the scores");
    std::vector<int64_t> scores(q.begin(), q.end());
    scores[rank - 1] = s.sk;
    // broadcastShape(mask, scores, scores) checks the mask against the scores and gives its strides over them.
    std::vector<int64_t> padded(rank - mask->size(), 1);
    padded.insert(padded.end(), mask->begin(), mask->end());
    for (std::size_t i = 0; i < rank; ++i)
      KILN_CHECK(padded[i] == 1 || padded[i] == scores[i], "KilnAttention: the mask ", ir::toString(*mask),
                 " does not broadcast to the scores ", ir::toString(scores));
    BroadcastShape b = broadcastShape(*mask, scores, scores);
    s.hasMask = true;
    s.maskOuterStride = rank == 4 ? b.aStrides[0] : 0;
    s.maskInnerStride = b.aStrides[rank - 3];
    s.maskRowStride = b.aStrides[rank - 2];
    s.maskColStride = b.aStrides[rank - 1];
  }
  return s;
}

kernels::AttentionOperand kernels::attentionOperand(int rank, const int64_t* strides, int64_t offset) {
  KILN_CHECK(rank == 3 || rank == 4, "KilnAttention: a view of rank ", rank, "; attention takes rank 3 or 4");
  AttentionOperand o;
  o.offset = offset;
  o.outerStride = rank == 4 ? strides[0] : 0;
  o.innerStride = strides[rank - 3];
  o.rowStride = strides[rank - 2];
  return o;
}

bool kernels::attentionStridesMultipleOf(const AttentionShape& s, int64_t elems) {
  for (const AttentionOperand* o : {&s.q, &s.k, &s.v, &s.y})
    if (o->offset % elems != 0 || o->outerStride % elems != 0 || o->innerStride % elems != 0 ||
        o->rowStride % elems != 0)
      return false;
  return true;
}

bool kernels::attentionTensorCoreHeadSize(int64_t d) {
  for (int size : kTensorCoreHeadSizes)
    if (d == size) return true;
  return false;
}

bool kernels::attentionSupportsHeadSizes(int64_t d, int64_t dv) {
  return d >= 1 && dv >= 1 && d <= kRowsMaxD && dv <= kRowsMaxDv;
}

kernels::AttentionLaunch kernels::attentionLaunch(const AttentionShape& s, Elem elem, bool aligned16, bool prefetch,
                                                  bool pipelined, bool wide, bool resident) {
  KILN_CHECK(attentionSupportsHeadSizes(s.d, s.dv), "KilnAttention: head sizes ", s.d, " (Q, K) and ", s.dv,
             " (V) are beyond the CUDA kernels' (at most ", kRowsMaxD, " and ", kRowsMaxDv, ")");
  AttentionLaunch l;
  l.threads = 128;
  if (elem != Elem::kFloat && s.d == s.dv && attentionTensorCoreHeadSize(s.d) && aligned16) {
    l.path = AttentionPath::kTensorCore;
    l.rowTiles = (s.sq + kAttentionTileRows - 1) / kAttentionTileRows;
    l.sharedBytes = 0;  // static shared memory (the K and transposed V tiles)
    l.resident = resident && attentionResidentHeadSize(s.d) && attentionResidentSharedBytes(s) <= kResidentMaxShared;
    // Too long a K/V for the resident kernel: the pipelined one.
    l.wide = wide && !l.resident && attentionWideHeadSize(s.d);
    l.pipelined = (pipelined || (resident && !l.resident)) && !l.wide && !l.resident && attentionPipelinedHeadSize(s.d);
    l.prefetch = prefetch && !l.pipelined && !l.wide && !l.resident;
    if (l.resident) {
      // Balanced blocks of at most 4 slices per warp: Sq = 197 (13 slices) is one block, 13 warp-slices on 4 warps.
      const int64_t slices = (s.sq + 15) / 16, most = 4 * kAttentionResidentWarps;
      const int64_t perEntry = (slices + most - 1) / most;
      l.residentSlices = static_cast<int32_t>((slices + perEntry - 1) / perEntry);
      l.rowTiles = perEntry;
      l.threads = 32 * kAttentionResidentWarps;
      l.sharedBytes = static_cast<int32_t>(attentionResidentSharedBytes(s));
    } else if (l.wide) {  // 8 warps of 16 rows
      l.threads = 32 * (kAttentionWideTileRows / 16);
      l.rowTiles = (s.sq + kAttentionWideTileRows - 1) / kAttentionWideTileRows;
    }
  } else {
    l.path = AttentionPath::kRows;
    l.threads = 32 * kRowsPerBlock;
    l.rowTiles = (s.sq + kRowsPerBlock - 1) / kRowsPerBlock;
    // FP32: each warp's query row [d], the K tile [keys][d + 1] and the V tile [keys][dv].
    auto bytes = [&](int64_t keys) { return (kRowsPerBlock * s.d + keys * (s.d + 1) + keys * s.dv) * 4; };
    l.keysPerStep = 32;
    while (l.keysPerStep > 8 && bytes(l.keysPerStep) > kRowsMaxShared) l.keysPerStep /= 2;
    l.sharedBytes = static_cast<int32_t>(bytes(l.keysPerStep));
    KILN_CHECK(l.sharedBytes <= kRowsMaxShared, "KilnAttention: head sizes ", s.d, " and ", s.dv, " need ",
               l.sharedBytes, " bytes of shared memory");  // kRowsMaxD/Dv keep this false
  }
  l.blocks = s.batch * l.rowTiles;
  KILN_CHECK(l.blocks <= std::numeric_limits<int32_t>::max(), "KilnAttention: ", s.batch, " x ", l.rowTiles,
             " blocks exceed CUDA's grid limit");
  return l;
}

AttentionViews::AttentionViews(const ir::Node& node) {
  const char* names[] = {"q", "k", "v", "y"};
  for (int i = 0; i < 4; ++i) of[i] = ir::attentionView(node, names[i]);
}

kernels::AttentionShape viewedAttentionShape(const std::string& what, const AttentionViews& views,
                                             const std::vector<int64_t> (&dims)[4], const std::vector<int64_t>* mask) {
  // The operands' views (ir/ops/attention_view.h): their logical dims and strides.
  ir::StridedView view[4];
  std::vector<int64_t> logical[4];
  for (int i = 0; i < 4; ++i) {
    view[i] = ir::stridedView(strCat(what, ": ", "QKVY"[i]), views.of[i], dims[i]);
    logical[i].assign(view[i].dims, view[i].dims + view[i].rank);
  }
  kernels::AttentionShape s = kernels::attentionShape(logical[0], logical[1], logical[2], mask);
  std::vector<int64_t> expectY = logical[0];
  expectY.back() = s.dv;
  KILN_CHECK(logical[3] == expectY, what, ": Y's view is ", ir::toString(logical[3]), ", expected ",
             ir::toString(expectY));
  kernels::AttentionOperand* layouts[4] = {&s.q, &s.k, &s.v, &s.y};
  for (int i = 0; i < 4; ++i) *layouts[i] = kernels::attentionOperand(view[i].rank, view[i].strides, view[i].offset);
  return s;
}

kernels::AttentionShape viewedAttentionShape(const std::string& what, const AttentionViews& views,
                                             const TensorView* in, const TensorView* out, bool hasMask) {
  const std::vector<int64_t> dims[4] = {in[0].shape(), in[1].shape(), in[2].shape(), out[0].shape()};
  const std::vector<int64_t> maskDims = hasMask ? in[3].shape() : std::vector<int64_t>{};
  return viewedAttentionShape(what, views, dims, hasMask ? &maskDims : nullptr);
}

int64_t attentionLastDim(const ir::Value* v) {
  if (!v || v->shape.empty() || !v->shape.back().known()) return -1;
  return v->shape.back().value;
}

bool attentionNodeFits(const ir::Node& n, kernels::Elem* elem) {
  if (n.inputs.size() < 3 || n.inputs.size() > 4 || n.outputs.size() != 1) return false;
  for (std::size_t i = 0; i < 3; ++i)
    if (!n.inputs[i]) return false;
  if (!uniformFloat(n, elem)) return false;  // Q, K, V, the mask and y share one of FP32/FP16/BF16
  // The views' ranks (3 or 4; each view's head dim is its tensor's last dim, so the last dims are the head sizes).
  for (std::size_t i = 0; i < 4; ++i) {
    const ir::Value* x = i < 3 ? n.inputs[i] : n.outputs[0];
    std::string why;
    if (attentionViewAxes(ir::attentionView(n, std::string(1, "qkvy"[i])), static_cast<int>(x->shape.size()), &why)
            .empty())
      return false;
  }
  // The head sizes pick the kernel and bound its registers: they must be static.
  return kernels::attentionSupportsHeadSizes(attentionLastDim(n.inputs[0]), attentionLastDim(n.inputs[2]));
}

namespace {

constexpr const char* kPrefetchAttr = "kiln_attention_prefetch";    //!< the variants' node attributes
constexpr const char* kPipelinedAttr = "kiln_attention_pipelined";
constexpr const char* kWideAttr = "kiln_attention_wide";
constexpr const char* kResidentAttr = "kiln_attention_resident";

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

class AttentionKernel final : public backends::DeviceKernel {
 public:
  AttentionKernel(const ir::Node& node, float scale, bool hasMask, bool prefetch, bool pipelined, bool wide,
                  bool resident, kernels::Elem elem)
      : what_(node.describe()), views_(node), scale_(scale), hasMask_(hasMask), prefetch_(prefetch),
        pipelined_(pipelined), wide_(wide), resident_(resident), elem_(elem) {}

  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const bool hasMask = hasMask_ && in[3].data != nullptr;
    const kernels::AttentionShape s = viewedAttentionShape(what_, views_, in, out, hasMask);
    if (s.batch == 0 || s.sq == 0 || s.dv == 0) return;
    if (s.sk == 0) {  // softmax over no keys times an empty V: zeros, as the unfused MatMul gives
      KILN_CUDA_CHECK(cudaMemsetAsync(out[0].data, 0, out[0].numel() * dtypeSize(out[0].dtype), streamOf(launch)));
      return;
    }
    // 16-byte aligned rows: the base pointers, and every offset and stride in 16 bytes.
    const bool aligned = aligned16(in[0].data) && aligned16(in[1].data) && aligned16(in[2].data) &&
                         aligned16(out[0].data) &&
                         kernels::attentionStridesMultipleOf(s, 16 / static_cast<int64_t>(dtypeSize(out[0].dtype)));
    kernels::attention(in[0].data, in[1].data, in[2].data, hasMask ? in[3].data : nullptr, out[0].data, s, scale_,
                       elem_, aligned, prefetch_, pipelined_, wide_, resident_, streamOf(launch));
  }

 private:
  std::string what_;
  AttentionViews views_;
  float scale_;
  bool hasMask_;  //!< the node has a mask input (in[3] exists)
  bool prefetch_;
  bool pipelined_;
  bool wide_;
  bool resident_;
  kernels::Elem elem_;
};

bool supports(const ir::Node& n) {
  kernels::Elem e;
  return attentionNodeFits(n, &e);
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  kernels::Elem e = kernels::Elem::kFloat;
  KILN_CHECK(supports(n), n.describe(),
             ": the CUDA attention needs Q, K, V (and the mask) and y of one float type, rank 3 or 4, and static head "
             "sizes of at most ",
             kernels::kRowsMaxD, " (Q, K) and ", kernels::kRowsMaxDv, " (V)");
  uniformFloat(n, &e);
  const float scale = n.f("scale", 1.f / std::sqrt(static_cast<float>(attentionLastDim(n.inputs[0]))));
  const bool hasMask = n.inputs.size() == 4 && n.inputs[3] != nullptr;
  return std::make_unique<AttentionKernel>(n, scale, hasMask, n.i(kPrefetchAttr, 0) != 0, n.i(kPipelinedAttr, 0) != 0,
                                           n.i(kWideAttr, 0) != 0, n.i(kResidentAttr, 0) != 0, e);
}

//! The staged tensor-core kernel with and without the K/V prefetch, and the
//! pipelined and wide ones where the head size has them (attentionLaunch): which is faster
//! depends on the shape (the prefetch costs blocks per SM), so the builder times
//! them. Other nodes (FP32, other head sizes) have one kernel.
std::vector<backends::TacticVariant> variants(const ir::Node& n, void*) {
  kernels::Elem e = kernels::Elem::kFloat;
  const int64_t d = attentionLastDim(n.inputs[0]);
  if (!uniformFloat(n, &e) || e == kernels::Elem::kFloat || d != attentionLastDim(n.inputs[2]) ||
      !kernels::attentionTensorCoreHeadSize(d))
    return {};
  std::vector<backends::TacticVariant> out = {{{kPrefetchAttr, int64_t{0}}}, {{kPrefetchAttr, int64_t{1}}}};
  if (kernels::attentionPipelinedHeadSize(d)) out.push_back({{kPrefetchAttr, int64_t{0}}, {kPipelinedAttr, int64_t{1}}});
  if (kernels::attentionWideHeadSize(d)) out.push_back({{kPrefetchAttr, int64_t{0}}, {kWideAttr, int64_t{1}}});
  if (kernels::attentionResidentHeadSize(d))
    out.push_back({{kPrefetchAttr, int64_t{0}}, {kResidentAttr, int64_t{1}}});
  return out;
}

}  // namespace

void registerAttentionTactics(TacticList& out) {
  out.push_back({"KilnAttention.flash", "KilnAttention", 0, supports, create, variants});
}

}  // namespace kiln::cuda
