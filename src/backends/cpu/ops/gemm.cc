// Gemm and MatMul: the reference kernels (plain loops, the oracle for the
// packed tactics and what constant folding runs) and the tactic list.
#include <algorithm>
#include <cstring>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/gemm_internal.h"
#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/ops/onednn_util.h"

namespace kiln::cpu {

MatMulDims matmulDims(const std::string& what, const int64_t* ad, int ar, const int64_t* bd, int br,
                      const TensorView& y) {
  KILN_CHECK(ar >= 1 && br >= 1, what, ": MatMul operands must have rank >= 1");
  MatMulDims d;
  d.k = ad[ar - 1];
  d.m = ar >= 2 ? ad[ar - 2] : 1;
  const int64_t kb = br >= 2 ? bd[br - 2] : bd[0];
  d.n = br >= 2 ? bd[br - 1] : 1;
  KILN_CHECK(kb == d.k, what, ": A has K = ", d.k, ", B has K = ", kb);
  const int abr = std::max(ar - 2, 0), bbr = std::max(br - 2, 0);
  d.rank = std::max(abr, bbr);
  KILN_CHECK(d.rank <= kMaxRank, what, ": batch rank ", d.rank, " is too large");
  int64_t sa = 1, sb = 1;
  for (int i = d.rank - 1; i >= 0; --i) {
    const int ia = i - (d.rank - abr), ib = i - (d.rank - bbr);
    const int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
    KILN_CHECK(da == db || da == 1 || db == 1, what, ": batch dims ", da, " and ", db, " do not broadcast");
    d.dims[i] = da == 1 ? db : da;
    d.strideA[i] = da == 1 ? 0 : sa;
    d.strideB[i] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
  }
  d.batchA = sa;
  d.batchB = sb;
  d.batch = 1;
  for (int i = 0; i < d.rank; ++i) d.batch *= d.dims[i];
  // The output: batch dims, then M unless A is 1-D, then N unless B is 1-D.
  const int yr = d.rank + (ar >= 2) + (br >= 2);
  bool ok = y.rank == yr;
  for (int i = 0; ok && i < d.rank; ++i) ok = y.dims[i] == d.dims[i];
  if (ok && ar >= 2) ok = y.dims[d.rank] == d.m;
  if (ok && br >= 2) ok = y.dims[yr - 1] == d.n;
  KILN_CHECK(ok, what, ": output shape ", ir::toString(y.shape()), " does not match the operands");
  return d;
}

namespace {

class MatMulRef final : public Kernel {
 public:
  explicit MatMulRef(const ir::Node& node)
      : what_(node.describe()), act_(fusedActivation(node)), numInputs_(node.inputs.size()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& a = in[0];
    const TensorView& b = in[1];
    const float* bias = numInputs_ > 2 ? in[2].as<const float>() : nullptr;
    // The device builds' fused residual (fuse_bias_activation): the output's shape, added after the bias.
    const float* residual = numInputs_ > 3 ? in[3].as<const float>() : nullptr;
    const MatMulDims d = matmulDims(what_, a.dims, a.rank, b.dims, b.rank, out[0]);
    const float* ad = a.as<const float>();
    const float* bd = b.as<const float>();
    float* yd = out[0].as<float>();
    const int64_t M = d.m, N = d.n, K = d.k;
    ctx.pool->parallelFor(d.batch * M, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t bi = r / M, i = r % M;
        const float* arow = ad + d.aIndex(bi) * M * K + i * K;
        const float* bm = bd + d.bIndex(bi) * K * N;
        float* yrow = yd + r * N;
        for (int64_t j = 0; j < N; ++j) yrow[j] = 0.f;
        for (int64_t kk = 0; kk < K; ++kk) {
          const float av = arow[kk];
          const float* brow = bm + kk * N;
          for (int64_t j = 0; j < N; ++j) yrow[j] += av * brow[j];
        }
        const float* rrow = residual ? residual + r * N : nullptr;
        for (int64_t j = 0; j < N; ++j)
          yrow[j] = applyActivation(act_, (bias ? yrow[j] + bias[j] : yrow[j]) + (rrow ? rrow[j] : 0.f));
      }
    });
  }

 private:
  std::string what_;
  Activation act_;
  std::size_t numInputs_;
};

class GemmRef final : public Kernel {
 public:
  explicit GemmRef(const ir::Node& node)
      : what_(node.describe()),
        act_(fusedActivation(node)),
        alpha_(node.f("alpha", 1.f)),
        beta_(node.f("beta", 1.f)),
        transA_(node.i("transA", 0) != 0),
        transB_(node.i("transB", 0) != 0),
        numInputs_(node.inputs.size()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& a = in[0];
    const TensorView& b = in[1];
    const TensorView* c = numInputs_ > 2 && in[2].data ? &in[2] : nullptr;
    KILN_CHECK(a.rank == 2 && b.rank == 2, what_, ": A and B must be 2-D");
    const int64_t M = transA_ ? a.dims[1] : a.dims[0], K = transA_ ? a.dims[0] : a.dims[1];
    const int64_t N = transB_ ? b.dims[0] : b.dims[1], kb = transB_ ? b.dims[1] : b.dims[0];
    KILN_CHECK(K == kb && out[0].rank == 2 && out[0].dims[0] == M && out[0].dims[1] == N, what_,
               ": shapes of A, B and Y disagree");
    // C broadcasts to M x N: element (i, j) is cd[i * ci + j * cj].
    int64_t ci = 0, cj = 0;
    if (c) {
      const int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
      KILN_CHECK((cm == 1 || cm == M) && (cn == 1 || cn == N), what_, ": C ", ir::toString(c->shape()),
                 " does not broadcast to ", M, " x ", N);
      ci = cm == 1 ? 0 : cn;
      cj = cn == 1 ? 0 : 1;
    }
    const float* ad = a.as<const float>();
    const float* bd = b.as<const float>();
    const float* cd = c ? c->as<const float>() : nullptr;
    float* yd = out[0].as<float>();
    ctx.pool->parallelFor(M, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = 0; j < N; ++j) {
          float acc = 0.f;
          for (int64_t kk = 0; kk < K; ++kk) {
            const float av = transA_ ? ad[kk * M + i] : ad[i * K + kk];
            const float bv = transB_ ? bd[j * K + kk] : bd[kk * N + j];
            acc += av * bv;
          }
          float v = alpha_ * acc;
          if (cd) v += beta_ * cd[i * ci + j * cj];
          yd[i * N + j] = applyActivation(act_, v);
        }
    });
  }

 private:
  std::string what_;
  Activation act_;
  float alpha_, beta_;
  bool transA_, transB_;
  std::size_t numInputs_;
};

bool supportsRef(const ir::Node& node) {
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1] || node.has("kiln_packed")) return false;
  return node.inputs[0]->dtype == DType::kFLOAT && node.inputs[1]->dtype == DType::kFLOAT;
}

}  // namespace

void registerGemmKernels(TacticRegistry& r) {
  r.add({"MatMul.ref", "MatMul", 0, supportsRef,
         [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<MatMulRef>(n); }, nullptr});
  r.add({"Gemm.ref", "Gemm", 0, supportsRef,
         [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<GemmRef>(n); }, nullptr});
  r.add(matmulPackedTactic());
  r.add(gemmPackedTactic());
  r.add(matmulFP16Tactic());
  r.add(gemmFP16Tactic());
  addOnednnGemmTactics(r);
}

}  // namespace kiln::cpu
