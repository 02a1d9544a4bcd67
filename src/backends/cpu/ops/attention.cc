// KilnAttention (ir/ops/kiln.cc): y = softmax(scale * Q K^T + mask) V.
//
// "KilnAttention.ref": plain loops per query row, the oracle. Two passes over
// the keys (the row's max, then exp-weights summed into the output row), so
// it needs no scratch and serves any shape.
//
// "KilnAttention.fused": per (batch x head) K^T and V are packed once into
// the workspace (K^T times the scale) as the packed-GEMM B panels
// (ukernels/gemm.h); then each task takes one (batch x head, block of query
// rows): S = Q K^T through the GEMM micro-kernels into a per-thread block of
// rows x Sk floats (L2-sized), mask + softmax on those rows with the vector
// row kernels (ukernels/vmath.h), and Y = S V straight into the output. The
// scores and probabilities never reach memory beyond that block. Threads
// claim tasks from one counter (gemm::forEachTask's scheme); each thread's
// scratch block is the slot of the parallelFor chunk it runs in, so no two
// running tasks share one. Shapes beyond the workspace the kernel was made
// with (made while shapes were unknown) run the reference loops.
//
// "KilnAttention.fused_bf16" (BuilderFlag::kBF16, layers marked by
// builder/cpu_precision.h, AVX512_BF16 CPUs): the same blocks, the two GEMMs
// in BF16 (ukernels/gemm_bf16.h: K^T * scale and V packed as bf16 pairs, Q
// rows and the softmax's probabilities converted per block, f32 accumulation);
// the scores, mask and softmax stay f32.
//
// Both read Q, K, V and write y through their views (ir/ops/attention_view.h):
// per operand an element offset, a stride per leading dim and a row stride;
// the head dim is contiguous, which is all the GEMM micro-kernels and the
// packing need.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "backends/cpu/ops/families.h"
#include "backends/cpu/precision.h"
#include "backends/cpu/ukernels/gemm.h"
#include "backends/cpu/ukernels/gemm_bf16.h"
#include "backends/cpu/ukernels/vmath.h"
#include "ir/ops/attention_view.h"

namespace kiln::cpu {
namespace {

//! Where one operand's (batch x head) planes and rows are, in elements.
struct OperandStrides {
  int64_t offset = 0;
  int64_t lead[2] = {0, 0};
  int64_t row = 0;
};

//! The views of Q, K, V and y (in that order) of a node.
struct Views {
  ir::AttentionView v[4];
  explicit Views(const ir::Node& node) {
    const char* names[] = {"q", "k", "v", "y"};
    for (int i = 0; i < 4; ++i) v[i] = ir::attentionView(node, names[i]);
  }
};

//! The run-time shape of one KilnAttention call, checked against its views.
struct AttentionDims {
  int64_t bh = 1, sq = 0, sk = 0, d = 0, dv = 0;
  int lead = 0;                    //!< leading (batch, head) dims: rank - 2
  int64_t leadDims[2] = {1, 1};
  // The mask's strides for each leading dim and for a score's row / column
  // (0 where the mask broadcasts); hasMask false when there is none.
  bool hasMask = false;
  int64_t maskLead[2] = {0, 0};
  int64_t maskRow = 0, maskCol = 0;
  OperandStrides q, k, v, y;

  //! Offset of (batch x head) index `b`'s plane of operand `o`.
  int64_t at(const OperandStrides& o, int64_t b) const {
    int64_t off = o.offset;
    for (int i = lead - 1; i >= 0; --i) {
      off += (b % leadDims[i]) * o.lead[i];
      b /= leadDims[i];
    }
    return off;
  }

  //! Offset of (batch x head) index `b`'s mask plane.
  int64_t maskOffset(int64_t b) const {
    int64_t off = 0;
    for (int i = lead - 1; i >= 0; --i) {
      off += (b % leadDims[i]) * maskLead[i];
      b /= leadDims[i];
    }
    return off;
  }
};

AttentionDims attentionDims(const std::string& what, const Views& views, const TensorView* in, int numInputs,
                            const TensorView& yt) {
  const ir::StridedView q = ir::stridedView(what + ": Q", views.v[0], in[0].shape());
  const ir::StridedView k = ir::stridedView(what + ": K", views.v[1], in[1].shape());
  const ir::StridedView v = ir::stridedView(what + ": V", views.v[2], in[2].shape());
  const ir::StridedView y = ir::stridedView(what + ": Y", views.v[3], yt.shape());
  const int r = q.rank;
  KILN_CHECK((r == 3 || r == 4) && k.rank == r && v.rank == r && y.rank == r, what,
             ": Q, K, V and Y must share rank 3 or 4 (", q.rank, ", ", k.rank, ", ", v.rank, ", ", y.rank, ")");
  AttentionDims d;
  d.lead = r - 2;
  for (int i = 0; i < d.lead; ++i) {
    KILN_CHECK(k.dims[i] == q.dims[i] && v.dims[i] == q.dims[i] && y.dims[i] == q.dims[i], what,
               ": leading dim ", i, " of Q, K, V and Y disagree (", q.dims[i], ", ", k.dims[i], ", ", v.dims[i],
               ", ", y.dims[i], ")");
    d.leadDims[i] = q.dims[i];
    d.bh *= q.dims[i];
  }
  d.sq = q.dims[r - 2];
  d.d = q.dims[r - 1];
  d.sk = k.dims[r - 2];
  d.dv = v.dims[r - 1];
  KILN_CHECK(k.dims[r - 1] == d.d, what, ": K's head size ", k.dims[r - 1], " is not Q's ", d.d);
  KILN_CHECK(v.dims[r - 2] == d.sk, what, ": V has ", v.dims[r - 2], " keys, K has ", d.sk);
  KILN_CHECK(y.dims[r - 2] == d.sq && y.dims[r - 1] == d.dv, what, ": Y is ", ir::toString(yt.shape()), ", expected ",
             d.sq, " x ", d.dv, " per head");
  auto strides = [&](const ir::StridedView& s) {
    OperandStrides o;
    o.offset = s.offset;
    for (int i = 0; i < d.lead; ++i) o.lead[i] = s.strides[i];
    o.row = s.strides[r - 2];
    return o;
  };
  d.q = strides(q);
  d.k = strides(k);
  d.v = strides(v);
  d.y = strides(y);
  if (numInputs > 3 && in[3].data) {
    const TensorView& m = in[3];
    KILN_CHECK(m.dtype == DType::kFLOAT, what, ": the mask must be float32");
    KILN_CHECK(m.rank <= r, what, ": the mask has rank ", m.rank, ", more than the scores' ", r);
    d.hasMask = true;
    int64_t sd[4] = {};  // the scores' dims, rank r
    for (int i = 0; i < d.lead; ++i) sd[i] = d.leadDims[i];
    sd[r - 2] = d.sq;
    sd[r - 1] = d.sk;
    int64_t stride = 1, strides[4] = {0, 0, 0, 0};
    for (int a = r - 1; a >= 0; --a) {
      const int mi = a - (r - m.rank);
      if (mi < 0) continue;
      const int64_t md = m.dims[mi];
      KILN_CHECK(md == sd[a] || md == 1, what, ": mask ", ir::toString(m.shape()), " does not broadcast to the scores");
      strides[a] = md == 1 ? 0 : stride;
      stride *= md;
    }
    for (int i = 0; i < d.lead; ++i) d.maskLead[i] = strides[i];
    d.maskRow = strides[r - 2];
    d.maskCol = strides[r - 1];
  }
  return d;
}

//! Rows [r0, r1) of (batch x head) `b` with the reference loops; y rows hold
//! the exp-weighted sum until they are divided by the weights' total.
void referenceRows(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                   const float* mask, float* y, int64_t b, int64_t r0, int64_t r1) {
  const float* kb = k + d.at(d.k, b);
  const float* vb = v + d.at(d.v, b);
  const float* mb = d.hasMask ? mask + d.maskOffset(b) : nullptr;
  auto score = [&](const float* qr, int64_t i, int64_t j) {
    double dot = 0;
    for (int64_t c = 0; c < d.d; ++c) dot += static_cast<double>(qr[c]) * kb[j * d.k.row + c];
    float s = scale * static_cast<float>(dot);
    if (mb) s += mb[i * d.maskRow + j * d.maskCol];
    return s;
  };
  for (int64_t i = r0; i < r1; ++i) {
    const float* qr = q + d.at(d.q, b) + i * d.q.row;
    float* yr = y + d.at(d.y, b) + i * d.y.row;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < d.sk; ++j) mx = std::max(mx, score(qr, i, j));
    std::fill(yr, yr + d.dv, 0.f);
    double total = 0;
    for (int64_t j = 0; j < d.sk; ++j) {
      const float w = std::exp(score(qr, i, j) - mx);
      total += w;
      for (int64_t c = 0; c < d.dv; ++c) yr[c] += w * vb[j * d.v.row + c];
    }
    // An empty key set sums to nothing (Sk = 0: softmax over nothing, Y = 0).
    if (d.sk > 0)
      for (int64_t c = 0; c < d.dv; ++c) yr[c] = static_cast<float>(yr[c] / total);
  }
}

void runReference(ThreadPool& pool, const AttentionDims& d, float scale, const TensorView* in, int numInputs,
                  const TensorView& y) {
  const float* mask = numInputs > 3 && in[3].data ? in[3].as<const float>() : nullptr;
  pool.parallelFor(d.bh * d.sq, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      referenceRows(d, scale, in[0].as<const float>(), in[1].as<const float>(), in[2].as<const float>(), mask,
                    y.as<float>(), t / d.sq, t % d.sq, t % d.sq + 1);
  });
}

float scaleOf(const ir::Node& node) {
  const ir::Value* q = node.input(0);
  const int64_t dflt = q && !q->shape.empty() && q->shape.back().known() ? q->shape.back().value : 0;
  return node.f("scale", dflt > 0 ? 1.f / std::sqrt(static_cast<float>(dflt)) : 1.f);
}

class AttentionRef final : public Kernel {
 public:
  explicit AttentionRef(const ir::Node& node)
      : what_(node.describe()), views_(node), scale_(scaleOf(node)), numInputs_(static_cast<int>(node.inputs.size())) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const AttentionDims d = attentionDims(what_, views_, in, numInputs_, out[0]);
    runReference(*ctx.pool, d, scale_, in, numInputs_, out[0]);
  }

 private:
  std::string what_;
  Views views_;
  float scale_;
  int numInputs_;
};

constexpr int64_t kMaxRowBlock = 48;
static_assert(kMaxRowBlock % gemm::kMR == 0);

//! Query rows per task: blocks of at most kMaxRowBlock rows (a multiple of
//! the micro-tile's), as even as the row count allows.
int64_t rowBlock(int64_t sq) {
  const int64_t blocks = std::max<int64_t>(1, (sq + kMaxRowBlock - 1) / kMaxRowBlock);
  return gemm::roundUp((sq + blocks - 1) / blocks, gemm::kMR);
}

//! Scratch slots: one per thread that may run tasks at once.
int64_t maxSlots() {
  static const int64_t n = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 64);
  return n;
}

//! Adds the mask (rows of it from `mp`; none when null) to `rows` rows of Sk
//! scores at `s` and turns each row into exp(score - the row's max); inv[i]
//! is 1 / the row's sum. The division waits for the row's Dv outputs
//! (scaleRows): fewer values than the row's Sk probabilities.
void maskedExpRows(const AttentionDims& d, const float* mp, int64_t rows, float* s, const vmath::Kernels& vk,
                   float* inv) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = s + i * d.sk;
    if (mp) {
      const float* mr = mp + i * d.maskRow;
      if (d.maskCol == 1)
        for (int64_t j = 0; j < d.sk; ++j) row[j] += mr[j];
      else
        for (int64_t j = 0; j < d.sk; ++j) row[j] += mr[j * d.maskCol];
    }
    inv[i] = 1.f / vk.expShiftedRow(row, row, d.sk);
  }
}

//! y rows [0, rows) (row stride ld, Dv values each) times inv[row].
void scaleRows(float* y, int64_t ld, int64_t rows, int64_t dv, const float* inv) {
  for (int64_t i = 0; i < rows; ++i) {
    float* yr = y + i * ld;
    for (int64_t c = 0; c < dv; ++c) yr[c] *= inv[i];
  }
}

//! The workspace shape of the fused kernels, for the node's static shapes
//! (zero where they are unknown: such nodes run the reference loops).
struct StaticDims {
  int64_t bh = 0, sq = 0, sk = 0, d = 0, dv = 0, tasks = 0;
};
StaticDims staticDimsOf(const ir::Node& node, const std::string& what, const Views& views) {
  StaticDims r;
  const ir::Shape &qs = node.inputs[0]->shape, &ks = node.inputs[1]->shape, &vs = node.inputs[2]->shape;
  if (!ir::isStatic(qs) || !ir::isStatic(ks) || !ir::isStatic(vs)) return r;
  auto logical = [&](int i, const ir::Shape& x) {  // the view's dims
    const ir::StridedView s = ir::stridedView(what, views.v[i], ir::staticDims(x));
    return std::vector<int64_t>(s.dims, s.dims + s.rank);
  };
  const std::vector<int64_t> q = logical(0, qs), k = logical(1, ks), v = logical(2, vs);
  r.bh = 1;
  for (std::size_t i = 0; i + 2 < q.size(); ++i) r.bh *= q[i];
  r.sq = q[q.size() - 2], r.d = q.back(), r.sk = k[k.size() - 2], r.dv = v.back();
  r.tasks = r.bh * ((r.sq + rowBlock(r.sq) - 1) / rowBlock(r.sq));
  return r;
}

class AttentionFused final : public Kernel {
 public:
  explicit AttentionFused(const ir::Node& node)
      : what_(node.describe()),
        views_(node),
        scale_(scaleOf(node)),
        numInputs_(static_cast<int>(node.inputs.size())),
        uk_(gemm::hostUkernels()) {
    // The workspace for the shapes the node was built with (a profile's max).
    const StaticDims s = staticDimsOf(node, what_, views_);
    if (!s.bh) return;
    wsFloats_ = s.bh * (gemm::packedBSize(s.d, s.sk, uk_.nr) + gemm::packedBSize(s.sk, s.dv, uk_.nr)) +
                std::min(s.tasks, maxSlots()) * rowBlock(s.sq) * s.sk;
  }

  std::size_t workspaceBytes() const override { return static_cast<std::size_t>(wsFloats_) * sizeof(float); }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const AttentionDims d = attentionDims(what_, views_, in, numInputs_, out[0]);
    ThreadPool& pool = *ctx.pool;
    float* y = out[0].as<float>();
    if (d.bh == 0 || d.sq == 0 || d.dv == 0) return;
    if (d.sk == 0) {  // softmax over no keys: an empty sum (every element of y: a view covers all of it)
      std::memset(y, 0, sizeof(float) * static_cast<std::size_t>(out[0].numel()));
      return;
    }
    const int nr = uk_.nr;
    const int64_t mb = rowBlock(d.sq), rowBlocks = (d.sq + mb - 1) / mb, tasks = d.bh * rowBlocks;
    const int64_t pk = gemm::packedBSize(d.d, d.sk, nr), pv = gemm::packedBSize(d.sk, d.dv, nr);
    const int64_t slots = std::min({tasks, maxSlots(), static_cast<int64_t>(pool.size())});
    if (d.bh * (pk + pv) + slots * mb * d.sk > wsFloats_) {
      runReference(pool, d, scale_, in, numInputs_, out[0]);
      return;
    }
    const float* q = in[0].as<const float>();
    const float* k = in[1].as<const float>();
    const float* v = in[2].as<const float>();
    const float* mask = d.hasMask ? in[3].as<const float>() : nullptr;
    float* packedK = static_cast<float*>(ctx.workspace);  // K^T * scale, per (batch x head)
    float* packedV = packedK + d.bh * pk;
    float* scratch = packedV + d.bh * pv;  // slots x mb x Sk

    // 1. Pack every head's K^T (B(c, j) = K[j, c] * scale) and V (B(j, c) = V[j, c]).
    pool.parallelFor(2 * d.bh, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t >> 1;
        if ((t & 1) == 0)
          gemm::packB(k + d.at(d.k, b), 1, d.k.row, d.d, 0, d.sk, nr, scale_, packedK + b * pk);
        else
          gemm::packB(v + d.at(d.v, b), d.v.row, 1, d.sk, 0, d.dv, nr, 1.f, packedV + b * pv);
      }
    });

    // 2. Per (batch x head, row block): scores, mask + softmax, times V.
    const vmath::Kernels& vk = vmath::hostKernels();
    std::atomic<int64_t> next{0};
    auto work = [&](float* s) {
      for (int64_t t = next.fetch_add(1, std::memory_order_relaxed); t < tasks;
           t = next.fetch_add(1, std::memory_order_relaxed)) {
        const int64_t b = t / rowBlocks, r0 = (t % rowBlocks) * mb, rows = std::min(mb, d.sq - r0);
        gemm::Problem qk;
        qk.m = rows;
        qk.n = d.sk;
        qk.k = d.d;
        qk.a.data = q + d.at(d.q, b) + r0 * d.q.row;
        qk.a.rs = d.q.row;
        qk.a.cs = 1;
        qk.b = packedK + b * pk;
        qk.c = s;
        qk.ldc = d.sk;
        gemm::computeBlock(uk_, qk, 0, rows, 0, d.sk);
        const float* mp = mask ? mask + d.maskOffset(b) + r0 * d.maskRow : nullptr;
        float inv[kMaxRowBlock];
        maskedExpRows(d, mp, rows, s, vk, inv);
        gemm::Problem sv;
        sv.m = rows;
        sv.n = d.dv;
        sv.k = d.sk;
        sv.a.data = s;
        sv.a.rs = d.sk;
        sv.a.cs = 1;
        sv.b = packedV + b * pv;
        sv.c = y + d.at(d.y, b) + r0 * d.y.row;
        sv.ldc = d.y.row;
        gemm::computeBlock(uk_, sv, 0, rows, 0, d.dv);
        scaleRows(sv.c, sv.ldc, rows, d.dv, inv);
      }
    };
    if (slots <= 1) {
      work(scratch);
      return;
    }
    // Chunk ranges of parallelFor are disjoint: the chunk's first index names its slot.
    pool.parallelFor(slots, [&](int64_t slot, int64_t) { work(scratch + slot * mb * d.sk); });
  }

 private:
  std::string what_;
  Views views_;
  float scale_;
  int numInputs_;
  const gemm::Ukernels& uk_;
  int64_t wsFloats_ = 0;
};

class AttentionFusedBf16 final : public Kernel {
 public:
  explicit AttentionFusedBf16(const ir::Node& node)
      : what_(node.describe()), views_(node), scale_(scaleOf(node)), numInputs_(static_cast<int>(node.inputs.size())) {
    // A plan built where AVX512_BF16 exists, loaded where it does not: an error, not SIGILL.
    KILN_CHECK(gemmbf16::hostSupportsBF16(), what_,
               ": this plan runs KilnAttention.fused_bf16, which needs AVX512_BF16; this CPU has none (rebuild the "
               "plan here)");
    const StaticDims s = staticDimsOf(node, what_, views_);
    if (s.bh) wsWords_ = words(s.bh, s.sk, s.d, s.dv, std::min(s.tasks, maxSlots()), rowBlock(s.sq));
  }

  std::size_t workspaceBytes() const override { return static_cast<std::size_t>(wsWords_) * sizeof(uint32_t); }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    namespace bf = gemmbf16;
    const AttentionDims d = attentionDims(what_, views_, in, numInputs_, out[0]);
    ThreadPool& pool = *ctx.pool;
    float* y = out[0].as<float>();
    if (d.bh == 0 || d.sq == 0 || d.dv == 0) return;
    if (d.sk == 0) {  // softmax over no keys: an empty sum
      std::memset(y, 0, sizeof(float) * static_cast<std::size_t>(out[0].numel()));
      return;
    }
    const int64_t mb = rowBlock(d.sq), rowBlocks = (d.sq + mb - 1) / mb, tasks = d.bh * rowBlocks;
    const int64_t slots = std::min({tasks, maxSlots(), static_cast<int64_t>(pool.size())});
    if (words(d.bh, d.sk, d.d, d.dv, slots, mb) > wsWords_) {
      runReference(pool, d, scale_, in, numInputs_, out[0]);
      return;
    }
    const int64_t pk = bf::packedBWords(d.d, d.sk), pv = bf::packedBWords(d.sk, d.dv);
    const int64_t slotWords = mb * d.sk + mb * bf::pairs(std::max(d.d, d.sk));
    const float* q = in[0].as<const float>();
    const float* k = in[1].as<const float>();
    const float* v = in[2].as<const float>();
    const float* mask = d.hasMask ? in[3].as<const float>() : nullptr;
    uint32_t* packedK = static_cast<uint32_t*>(ctx.workspace);  // K^T * scale, per (batch x head)
    uint32_t* packedV = packedK + d.bh * pk;
    uint32_t* scratch = packedV + d.bh * pv;  // per slot: mb x Sk f32 scores, then mb rows of A pairs

    pool.parallelFor(2 * d.bh, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t >> 1;
        if ((t & 1) == 0)
          bf::packB(k + d.at(d.k, b), 1, d.k.row, d.d, d.sk, scale_, packedK + b * pk);
        else
          bf::packB(v + d.at(d.v, b), d.v.row, 1, d.sk, d.dv, 1.f, packedV + b * pv);
      }
    });

    const vmath::Kernels& vk = vmath::hostKernels();
    std::atomic<int64_t> next{0};
    auto work = [&](uint32_t* slot) {
      float* s = reinterpret_cast<float*>(slot);
      uint32_t* a = slot + mb * d.sk;
      for (int64_t t = next.fetch_add(1, std::memory_order_relaxed); t < tasks;
           t = next.fetch_add(1, std::memory_order_relaxed)) {
        const int64_t b = t / rowBlocks, r0 = (t % rowBlocks) * mb, rows = std::min(mb, d.sq - r0);
        bf::convertRows(q + d.at(d.q, b) + r0 * d.q.row, d.q.row, rows, d.d, a, bf::pairs(d.d));
        bf::compute(rows, d.sk, d.d, a, bf::pairs(d.d), packedK + b * pk, s, d.sk);
        float inv[kMaxRowBlock];
        maskedExpRows(d, mask ? mask + d.maskOffset(b) + r0 * d.maskRow : nullptr, rows, s, vk, inv);
        bf::convertRows(s, d.sk, rows, d.sk, a, bf::pairs(d.sk));
        float* yb = y + d.at(d.y, b) + r0 * d.y.row;
        bf::compute(rows, d.dv, d.sk, a, bf::pairs(d.sk), packedV + b * pv, yb, d.y.row);
        scaleRows(yb, d.y.row, rows, d.dv, inv);
      }
    };
    if (slots <= 1) {
      work(scratch);
      return;
    }
    // Chunk ranges of parallelFor are disjoint: the chunk's first index names its slot.
    pool.parallelFor(slots, [&](int64_t slot, int64_t) { work(scratch + slot * slotWords); });
  }

 private:
  //! Workspace words: packed K^T and V per (batch x head), then per slot an
  //! mb x Sk block of f32 scores and mb rows of bf16 pairs (Q's, then P's).
  static int64_t words(int64_t bh, int64_t sk, int64_t d, int64_t dv, int64_t slots, int64_t mb) {
    return bh * (gemmbf16::packedBWords(d, sk) + gemmbf16::packedBWords(sk, dv)) +
           slots * (mb * sk + mb * gemmbf16::pairs(std::max(d, sk)));
  }

  std::string what_;
  Views views_;
  float scale_;
  int numInputs_;
  int64_t wsWords_ = 0;
};

bool supportsFloat32(const ir::Node& node) {
  if (node.inputs.size() < 3) return false;
  for (const ir::Value* v : node.inputs)
    if (v && v->dtype != DType::kFLOAT) return false;
  return node.outputs.size() == 1 && node.outputs[0]->dtype == DType::kFLOAT;
}

bool supportsBf16(const ir::Node& node) {
  return node.i(kBF16Attr, 0) >= 1 && gemmbf16::hostSupportsBF16() && supportsFloat32(node);
}

template <typename K>
std::unique_ptr<Kernel> make(const ir::Node& node) {
  return std::make_unique<K>(node);
}

}  // namespace

void registerAttentionKernels(TacticRegistry& r) {
  r.add({"KilnAttention.ref", "KilnAttention", 0, supportsFloat32, make<AttentionRef>, nullptr});
  r.add({"KilnAttention.fused", "KilnAttention", 10, supportsFloat32, make<AttentionFused>, nullptr});
  r.add({"KilnAttention.fused_bf16", "KilnAttention", 10, supportsBf16, make<AttentionFusedBf16>, nullptr});
}

}  // namespace kiln::cpu
