// KilnAttention.gemm: the unfused attention of attention_gemm_kernels.h for
// FP32 (FP16/BF16: the flash tactic's tensor-core kernels are the better
// choice, so supports() declines them). The two products run on cuBLASLt,
// on TF32 tensor cores where the build allowed TF32 (node attribute kiln_tf32,
// as gemm.cc), else in exact FP32; S and its softmax are FP32 always. The
// builder times this tactic against KilnAttention.flash wherever both support
// a node and keeps the faster; with a lower priority, untimed builds keep flash.
// Variants (attribute kiln_attention_gemm_batch) where one strided product
// cannot address the batch: the pointer-array products, and the strided
// products per outer (or inner) index; without the attribute the kernel takes
// one strided product where it suffices, else pointer arrays where cuBLASLt has
// an algorithm for them, else the per-index products.
// Also here: the host arithmetic of attention_gemm_kernels.h.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cuda/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/ops/attention_gemm_kernels.h"
#include "backends/cuda/ops/attention_tactic.h"
#include "backends/cuda/ops/cublaslt_util.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"
#include "ir/tensor.h"

namespace kiln::cuda {

// ---- host arithmetic (attention_gemm_kernels.h) ----

kernels::AttentionOperand kernels::attentionScoresOperand(const AttentionShape& s) {
  AttentionOperand o;
  o.rowStride = attentionScoresRowStride(s.sk);
  o.innerStride = s.sq * o.rowStride;
  o.outerStride = s.inner * o.innerStride;  // b = outer * inner + i: at b * sq * ldS
  return o;
}

kernels::AttentionGemmWorkspace kernels::attentionGemmWorkspace(int64_t batch, int64_t sq, int64_t sk,
                                                                std::size_t cublasBytes) {
  auto aligned = [](std::size_t bytes) { return (bytes + 255) / 256 * 256; };
  AttentionGemmWorkspace w;
  w.ldS = attentionScoresRowStride(sk);
  w.cublasOffset = 0;
  w.cublasBytes = cublasBytes;
  w.pointersOffset = aligned(w.cublasOffset + w.cublasBytes);
  w.pointersBytes = static_cast<std::size_t>(kGemmOperands * batch) * sizeof(void*);
  w.scoresOffset = aligned(w.pointersOffset + w.pointersBytes);
  w.scoresBytes = static_cast<std::size_t>(batch * sq * w.ldS) * sizeof(float);
  w.total = aligned(w.scoresOffset + w.scoresBytes);
  return w;
}

kernels::AttentionGemmStrided kernels::attentionGemmStrided(const AttentionShape& s) {
  const AttentionOperand scores = attentionScoresOperand(s);
  const AttentionOperand* ops[kGemmOperands] = {&s.q, &s.k, &s.v, &s.y, &scores};
  const int64_t outer = s.inner > 0 ? s.batch / s.inner : 0;
  AttentionGemmStrided p;
  // One stride for every entry: b * stride, with stride the inner one (or the outer one where inner is 1).
  bool single = true;
  for (const AttentionOperand* o : ops) single = single && (outer <= 1 || s.inner <= 1 || o->outerStride == s.inner * o->innerStride);
  if (single) {
    p.calls = 1;
    p.perCall = s.batch;
    for (int i = 0; i < kGemmOperands; ++i) p.batchStride[i] = s.inner <= 1 ? ops[i]->outerStride : ops[i]->innerStride;
    return p;
  }
  // A product per index of the smaller dim, batched over the other.
  const bool perOuter = outer <= s.inner;
  p.calls = perOuter ? outer : s.inner;
  p.perCall = perOuter ? s.inner : outer;
  for (int i = 0; i < kGemmOperands; ++i) {
    p.callStep[i] = perOuter ? ops[i]->outerStride : ops[i]->innerStride;
    p.batchStride[i] = perOuter ? ops[i]->innerStride : ops[i]->outerStride;
  }
  return p;
}

uint32_t kernels::attentionEntryAlignment(const AttentionShape& s, const AttentionOperand& o, uint32_t baseAlignment,
                                          int64_t elemBytes) {
  const int64_t outer = s.inner > 0 ? s.batch / s.inner : 0;
  uint32_t a = std::min(baseAlignment, byteAlignment(static_cast<uint64_t>(o.offset * elemBytes)));
  if (outer > 1) a = std::min(a, byteAlignment(static_cast<uint64_t>(o.outerStride * elemBytes)));
  if (s.inner > 1) a = std::min(a, byteAlignment(static_cast<uint64_t>(o.innerStride * elemBytes)));
  return a;
}

namespace {

//! Variant attribute: how the products address the batch (absent: pointer arrays where cuBLASLt has them).
constexpr const char* kBatchAttr = "kiln_attention_gemm_batch";
enum class BatchMode : int64_t { kAuto = 0, kPointerArrays = 1, kStrided = 2 };

//! S would take more than this: supports() declines (the flash kernels keep no scores).
constexpr std::size_t kMaxScoresBytes = std::size_t{1} << 30;

//! One product's descriptors and algorithm.
struct Product {
  LtOpDesc op;
  LtLayout a, b, d;
  cublasLtMatmulAlgo_t algo{};
};

//! Both products for one problem (the shape, strides and pointer alignments), made once.
struct Prepared {
  kernels::AttentionShape s;
  uint32_t align[kernels::kGemmOperands] = {};
  bool pointerArrays = false;
  kernels::AttentionGemmStrided strided;
  Product scores;  //!< S = scale * Q K^T
  Product output;  //!< y = P V
};

bool sameOperand(const kernels::AttentionOperand& a, const kernels::AttentionOperand& b) {
  return a.outerStride == b.outerStride && a.innerStride == b.innerStride && a.rowStride == b.rowStride;
}

bool sameProblem(const kernels::AttentionShape& a, const kernels::AttentionShape& b) {
  return a.batch == b.batch && a.inner == b.inner && a.sq == b.sq && a.sk == b.sk && a.d == b.d && a.dv == b.dv &&
         sameOperand(a.q, b.q) && sameOperand(a.k, b.k) && sameOperand(a.v, b.v) && sameOperand(a.y, b.y);
}

//! A layout of `batch` matrices read through a pointer array, or, with `pointers` false,
//! `batch` matrices `stride` elements apart.
void batchLayout(LtLayout& l, int64_t rows, int64_t cols, int64_t ld, bool pointers, int64_t batch, int64_t stride) {
  if (!pointers) return ltLayout(l, CUDA_R_32F, rows, cols, ld, batch, stride);
  ltLayout(l, CUDA_R_32F, rows, cols, ld, 1, 0);
  const int32_t count = static_cast<int32_t>(batch);
  const uint32_t mode = CUBLASLT_BATCH_MODE_POINTER_ARRAY;
  KILN_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(l.handle, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
  KILN_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(l.handle, CUBLASLT_MATRIX_LAYOUT_BATCH_MODE, &mode, sizeof mode));
}

//! Descriptors of both products for `p` (pointer arrays or the strided form), and their algorithms;
//! false when cuBLASLt has none for one of them.
bool describe(cublasLtHandle_t handle, bool tf32, Prepared& p) {
  using namespace kernels;
  const AttentionShape& s = p.s;
  const int64_t ldS = attentionScoresRowStride(s.sk);
  const bool ptrs = p.pointerArrays;
  const int64_t batch = ptrs ? s.batch : p.strided.perCall;
  const int64_t* stride = p.strided.batchStride;
  const cublasComputeType_t compute = tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  auto desc = [&](Product& x, cublasOperation_t transA) {
    const cublasOperation_t transB = CUBLAS_OP_N;
    KILN_CUDA_CHECK(cublasLtMatmulDescCreate(&x.op.handle, compute, CUDA_R_32F));  // alpha, beta: FP32
    KILN_CUDA_CHECK(cublasLtMatmulDescSetAttribute(x.op.handle, CUBLASLT_MATMUL_DESC_TRANSA, &transA, sizeof transA));
    KILN_CUDA_CHECK(cublasLtMatmulDescSetAttribute(x.op.handle, CUBLASLT_MATMUL_DESC_TRANSB, &transB, sizeof transB));
  };
  // Column-major, as cuBLASLt sees the row-major operands: S^T [sk x sq] = (K^T)^T Q^T, K^T stored
  // [d x sk] (ld: K's row stride), Q^T [d x sq]; then y^T [dv x sq] = V^T P^T, V^T [dv x sk], P^T [sk x sq].
  desc(p.scores, CUBLAS_OP_T);
  batchLayout(p.scores.a, s.d, s.sk, s.k.rowStride, ptrs, batch, stride[kGemmK]);
  batchLayout(p.scores.b, s.d, s.sq, s.q.rowStride, ptrs, batch, stride[kGemmQ]);
  batchLayout(p.scores.d, s.sk, s.sq, ldS, ptrs, batch, stride[kGemmS]);
  desc(p.output, CUBLAS_OP_N);
  batchLayout(p.output.a, s.dv, s.sk, s.v.rowStride, ptrs, batch, stride[kGemmV]);
  batchLayout(p.output.b, s.sk, s.sq, ldS, ptrs, batch, stride[kGemmS]);
  batchLayout(p.output.d, s.dv, s.sq, s.y.rowStride, ptrs, batch, stride[kGemmY]);
  const uint32_t scoresAlign[4] = {p.align[kGemmK], p.align[kGemmQ], p.align[kGemmS], p.align[kGemmS]};
  const uint32_t outputAlign[4] = {p.align[kGemmV], p.align[kGemmS], p.align[kGemmY], p.align[kGemmY]};
  for (auto [x, align] : {std::pair<Product*, const uint32_t*>{&p.scores, scoresAlign}, {&p.output, outputAlign}}) {
    std::vector<cublasLtMatmulHeuristicResult_t> best =
        ltHeuristic(handle, x->op.handle, x->a.handle, x->b.handle, x->d.handle, align, kCublasLtWorkspace, 1);
    if (best.empty()) return false;
    x->algo = best[0].algo;
  }
  return true;
}

class AttentionGemmKernel final : public backends::DeviceKernel {
 public:
  AttentionGemmKernel(const ir::Node& node, float scale, bool hasMask, bool tf32, BatchMode mode,
                      std::size_t workspace)
      : what_(node.describe()), views_(node), scale_(scale), hasMask_(hasMask), tf32_(tf32), mode_(mode),
        workspace_(workspace) {}

  std::size_t workspaceBytes() const override { return workspace_; }

  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    using namespace kernels;
    const bool hasMask = hasMask_ && in[3].data != nullptr;
    const AttentionShape s = viewedAttentionShape(what_, views_, in, out, hasMask);
    if (s.batch == 0 || s.sq == 0 || s.dv == 0) return;
    cudaStream_t stream = streamOf(launch);
    if (s.sk == 0) {  // softmax over no keys times an empty V: zeros, as the unfused MatMul gives
      KILN_CUDA_CHECK(cudaMemsetAsync(out[0].data, 0, out[0].numel() * dtypeSize(out[0].dtype), stream));
      return;
    }
    const AttentionGemmWorkspace w = attentionGemmWorkspace(s.batch, s.sq, s.sk, kCublasLtWorkspace);
    KILN_CHECK(w.total <= workspace_, what_, ": ", w.total, " bytes of workspace needed at these shapes, ",
               workspace_, " reserved (the node's shapes at create)");
    char* ws = static_cast<char*>(launch.workspace);
    void* cublasScratch = ws + w.cublasOffset;
    void** pointers = reinterpret_cast<void**>(ws + w.pointersOffset);
    float* scores = reinterpret_cast<float*>(ws + w.scoresOffset);
    const float* q = static_cast<const float*>(in[0].data);
    const float* k = static_cast<const float*>(in[1].data);
    const float* v = static_cast<const float*>(in[2].data);
    float* y = static_cast<float*>(out[0].data);
    uint32_t align[kGemmOperands];
    const void* bases[kGemmOperands] = {q, k, v, y, scores};
    const AttentionOperand scoresLayout = attentionScoresOperand(s);
    const AttentionOperand* layouts[kGemmOperands] = {&s.q, &s.k, &s.v, &s.y, &scoresLayout};
    for (int i = 0; i < kGemmOperands; ++i)
      align[i] = attentionEntryAlignment(s, *layouts[i], pointerAlignment(bases[i]), sizeof(float));

    const cublasLtHandle_t handle = libraries(launch).cublasLt;
    // Contexts share this kernel: the cache is guarded; the lock is held only while enqueueing (host-side).
    std::lock_guard<std::mutex> lock(mu_);
    const Prepared& p = prepared(handle, s, align);
    const float alpha = scale_, one = 1.f, zero = 0.f;
    if (p.pointerArrays) {
      attentionGemmPointers(q, k, v, y, scores, s, pointers, stream);
      auto array = [&](int o) { return static_cast<const void*>(pointers + attentionGemmPointerSlot(o, 0, s.batch)); };
      KILN_CUDA_CHECK(cublasLtMatmul(handle, p.scores.op.handle, &alpha, array(kGemmK), p.scores.a.handle,
                                     array(kGemmQ), p.scores.b.handle, &zero, array(kGemmS), p.scores.d.handle,
                                     const_cast<void*>(array(kGemmS)), p.scores.d.handle, &p.scores.algo,
                                     cublasScratch, kCublasLtWorkspace, stream));
      attentionGemmSoftmax(scores, hasMask ? static_cast<const float*>(in[3].data) : nullptr, s, stream);
      KILN_CUDA_CHECK(cublasLtMatmul(handle, p.output.op.handle, &one, array(kGemmV), p.output.a.handle,
                                     array(kGemmS), p.output.b.handle, &zero, array(kGemmY), p.output.d.handle,
                                     const_cast<void*>(array(kGemmY)), p.output.d.handle, &p.output.algo,
                                     cublasScratch, kCublasLtWorkspace, stream));
      return;
    }
    const AttentionGemmStrided& st = p.strided;
    auto at = [&](const float* base, int o, int64_t call) {
      return base + layouts[o]->offset + call * st.callStep[o];
    };
    for (int64_t c = 0; c < st.calls; ++c)
      KILN_CUDA_CHECK(cublasLtMatmul(handle, p.scores.op.handle, &alpha, at(k, kGemmK, c), p.scores.a.handle,
                                     at(q, kGemmQ, c), p.scores.b.handle, &zero, at(scores, kGemmS, c),
                                     p.scores.d.handle, const_cast<float*>(at(scores, kGemmS, c)), p.scores.d.handle,
                                     &p.scores.algo, cublasScratch, kCublasLtWorkspace, stream));
    attentionGemmSoftmax(scores, hasMask ? static_cast<const float*>(in[3].data) : nullptr, s, stream);
    for (int64_t c = 0; c < st.calls; ++c)
      KILN_CUDA_CHECK(cublasLtMatmul(handle, p.output.op.handle, &one, at(v, kGemmV, c), p.output.a.handle,
                                     at(scores, kGemmS, c), p.output.b.handle, &zero, at(y, kGemmY, c),
                                     p.output.d.handle, const_cast<float*>(at(y, kGemmY, c)), p.output.d.handle,
                                     &p.output.algo, cublasScratch, kCublasLtWorkspace, stream));
  }

 private:
  //! The cached products for `s` and `align`, made on first use: pointer arrays unless the variant
  //! says strided or one strided product covers the batch (no pointers to fill); strided where
  //! cuBLASLt has no pointer-array algorithm, unless the variant asked for pointer arrays.
  const Prepared& prepared(cublasLtHandle_t handle, const kernels::AttentionShape& s, const uint32_t* align) const {
    for (auto& p : cache_)
      if (sameProblem(p->s, s) && std::equal(align, align + kernels::kGemmOperands, p->align)) return *p;
    if (cache_.size() >= 16) cache_.erase(cache_.begin());  // shapes keep changing: keep the recent ones
    auto p = std::make_unique<Prepared>();
    p->s = s;
    std::copy(align, align + kernels::kGemmOperands, p->align);
    p->strided = kernels::attentionGemmStrided(s);
    KILN_CHECK(p->strided.perCall <= std::numeric_limits<int32_t>::max() &&
                   s.batch <= std::numeric_limits<int32_t>::max(),
               what_, ": a batch of ", s.batch, " exceeds cuBLASLt's");
    p->pointerArrays = mode_ == BatchMode::kPointerArrays || (mode_ == BatchMode::kAuto && p->strided.calls > 1);
    if (!describe(handle, tf32_, *p)) {
      KILN_CHECK(p->pointerArrays && mode_ == BatchMode::kAuto, what_, ": cuBLASLt has no ",
                 p->pointerArrays ? "pointer-array" : "strided-batch", " algorithm for the attention's products (",
                 s.batch, " x ", s.sq, "x", s.d, " * ", s.d, "x", s.sk, ")");
      auto strided = std::make_unique<Prepared>();  // fresh descriptors
      strided->s = s;
      std::copy(align, align + kernels::kGemmOperands, strided->align);
      strided->strided = p->strided;
      p = std::move(strided);
      const bool found = describe(handle, tf32_, *p);
      KILN_CHECK(found, what_, ": cuBLASLt has no algorithm for the attention's products");
    }
    cache_.push_back(std::move(p));
    return *cache_.back();
  }

  std::string what_;
  AttentionViews views_;
  float scale_;
  bool hasMask_;  //!< the node has a mask input (in[3] exists)
  bool tf32_;
  BatchMode mode_;
  std::size_t workspace_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Prepared>> cache_;
};

//! The node's AttentionShape at its static shapes; false when a shape is dynamic or the views do not fit.
bool staticShape(const ir::Node& n, kernels::AttentionShape* s) {
  const ir::Value* values[4] = {n.inputs[0], n.inputs[1], n.inputs[2], n.outputs[0]};
  std::vector<int64_t> dims[4];
  for (int i = 0; i < 4; ++i) {
    if (!ir::isStatic(values[i]->shape)) return false;
    dims[i] = ir::staticDims(values[i]->shape);
  }
  try {
    *s = viewedAttentionShape(n.describe(), AttentionViews(n), dims, nullptr);  // the mask does not size anything
  } catch (const Error&) {
    return false;
  }
  return true;
}

bool supports(const ir::Node& n) {
  kernels::Elem e;
  kernels::AttentionShape s;
  if (!attentionNodeFits(n, &e) || e != kernels::Elem::kFloat || !staticShape(n, &s)) return false;
  const int64_t int32Max = std::numeric_limits<int32_t>::max();
  if (s.batch > int32Max || s.sq > int32Max || s.sk > int32Max) return false;
  return kernels::attentionGemmWorkspace(s.batch, s.sq, s.sk, kCublasLtWorkspace).scoresBytes <= kMaxScoresBytes;
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  KILN_CHECK(supports(n), n.describe(),
             ": the unfused CUDA attention needs FP32 Q, K, V (and the mask) and y of static shapes, rank 3 or 4, head "
             "sizes of at most ",
             kernels::kRowsMaxD, " (Q, K) and ", kernels::kRowsMaxDv, " (V), and scores of at most ", kMaxScoresBytes,
             " bytes");
  kernels::AttentionShape s;
  staticShape(n, &s);
  const float scale = n.f("scale", 1.f / std::sqrt(static_cast<float>(s.d)));
  const bool hasMask = n.inputs.size() == 4 && n.inputs[3] != nullptr;
  const int64_t mode = n.i(kBatchAttr, 0);
  KILN_CHECK(mode >= 0 && mode <= 2, n.describe(), ": ", kBatchAttr, " is ", mode, " (0, 1 or 2)");
  const std::size_t workspace = kernels::attentionGemmWorkspace(s.batch, s.sq, s.sk, kCublasLtWorkspace).total;
  return std::make_unique<AttentionGemmKernel>(n, scale, hasMask, tf32Allowed(n), static_cast<BatchMode>(mode),
                                               workspace);
}

//! Where one strided product cannot address the batch: the pointer-array products and the strided
//! ones per index, for the builder to time (which is faster depends on the GPU and the batch).
std::vector<backends::TacticVariant> variants(const ir::Node& n, void*) {
  kernels::AttentionShape s;
  if (!supports(n) || !staticShape(n, &s) || kernels::attentionGemmStrided(s).calls <= 1) return {};
  return {{{kBatchAttr, static_cast<int64_t>(BatchMode::kPointerArrays)}},
          {{kBatchAttr, static_cast<int64_t>(BatchMode::kStrided)}}};
}

}  // namespace

void registerAttentionGemmTactics(TacticList& out) {
  // Priority -1: untimed builds keep KilnAttention.flash (no workspace); timed ones take this where it is faster.
  out.push_back({"KilnAttention.gemm", "KilnAttention", -1, supports, create, variants});
}

}  // namespace kiln::cuda
