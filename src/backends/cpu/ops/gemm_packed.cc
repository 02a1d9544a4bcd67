// "MatMul.packed_gemm" and "Gemm.packed_gemm": the packed, blocked SGEMM of
// ukernels/gemm.h. A constant B (the weights) is packed at build time
// (`kiln_packed` = "gemm_b_nr<nr>", original shape in `kiln_weight_shape`);
// a B computed at run time (attention's Q*K^T, P*V) is packed into the
// workspace first, which costs one pass over B. A is read in place.
// Bias (MatMul's fused input 2, Gemm's C) and activation run in the epilogue.
#include <algorithm>
#include <string>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/gemm_internal.h"
#include "backends/cpu/ukernels/gemm.h"

namespace kiln::cpu {
namespace {

constexpr const char* kLayoutPrefix = "gemm_b_nr";
// Runtime-packed B beyond this many floats is packed one batch at a time.
constexpr int64_t kMaxWorkspaceFloats = int64_t{16} << 20;

// Panel width of a prepacked B, 0 when B is not prepacked.
int packedNr(const ir::Node& node) {
  if (!node.has("kiln_packed")) return 0;
  const std::string layout = node.s("kiln_packed", "");
  const std::string digits = layout.rfind(kLayoutPrefix, 0) == 0 ? layout.substr(std::string(kLayoutPrefix).size()) : "";
  KILN_CHECK(digits == "16" || digits == "32", node.describe(), ": unknown packed layout '", layout, "'");
  return digits == "16" ? 16 : 32;
}

// Used only when a run's shapes need more workspace than the kernel was
// created with: a plain loop (C = A * B), then the same epilogue.
void fallbackGemm(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* a, int64_t rsa, int64_t csa,
                  const float* b, int64_t rsb, int64_t csb, float* c, int64_t ldc, const gemm::Epilogue& ep) {
  pool.parallelFor(M, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        float acc = 0.f;
        for (int64_t k = 0; k < K; ++k) acc += a[i * rsa + k * csa] * b[k * rsb + j * csb];
        c[i * ldc + j] = acc;
      }
      gemm::genericUkernels16().epilogue(ep, c + i * ldc, ldc, i, 0, 1, N);
    }
  });
}

class MatMulPacked final : public Kernel {
 public:
  explicit MatMulPacked(const ir::Node& node)
      : what_(node.describe()),
        act_(fusedActivation(node)),
        nr_(packedNr(node)),
        uk_(nr_ ? gemm::ukernelsForNr(nr_) : gemm::hostUkernels()),
        numInputs_(node.inputs.size()) {
    if (nr_) {
      bdims_ = node.ints("kiln_weight_shape");
      KILN_CHECK(bdims_.size() >= 2 && bdims_.size() <= kMaxRank, what_, ": bad kiln_weight_shape");
      return;
    }
    // Workspace for B packed at run time, from the shapes the node was built with.
    const ir::Shape& bs = node.inputs[1]->shape;
    if (!ir::isStatic(bs) || bs.empty()) return;
    std::vector<int64_t> b = ir::staticDims(bs);
    const int64_t k = b.size() >= 2 ? b[b.size() - 2] : b[0], n = b.size() >= 2 ? b.back() : 1;
    int64_t batches = 1;
    for (std::size_t i = 0; i + 2 < b.size(); ++i) batches *= b[i];
    const int64_t per = gemm::packedBSize(k, n, uk_.nr);
    wsFloats_ = per * std::max<int64_t>(1, std::min(batches, kMaxWorkspaceFloats / std::max<int64_t>(per, 1)));
  }

  std::size_t workspaceBytes() const override { return static_cast<std::size_t>(wsFloats_) * sizeof(float); }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& a = in[0];
    const TensorView& b = in[1];
    const int brank = nr_ ? static_cast<int>(bdims_.size()) : b.rank;
    const int64_t* bdims = nr_ ? bdims_.data() : b.dims;
    const MatMulDims d = matmulDims(what_, a.dims, a.rank, bdims, brank, out[0]);
    const int64_t M = d.m, N = d.n, K = d.k, nr = uk_.nr, per = gemm::packedBSize(K, N, uk_.nr);
    const float* ad = a.as<const float>();
    const float* bd = b.as<const float>();
    float* yd = out[0].as<float>();
    gemm::Epilogue ep;
    ep.colBias = numInputs_ > 2 ? in[2].as<const float>() : nullptr;
    ep.act = act_;
    ThreadPool& pool = *ctx.pool;
    const float* packed = bd;  // B panels of matrix i at packed + i * per
    if (nr_) {
      KILN_CHECK(b.numel() == d.batchB * per, what_, ": packed B has ", b.numel(), " values, expected ",
                 d.batchB * per);
    } else {
      float* ws = static_cast<float*>(ctx.workspace);
      if (per > wsFloats_) {
        for (int64_t bi = 0; bi < d.batch; ++bi)
          fallbackGemm(pool, M, N, K, ad + d.aIndex(bi) * M * K, K, 1, bd + d.bIndex(bi) * K * N, N, 1,
                       yd + bi * M * N, N, ep);
        return;
      }
      if (d.batchB * per > wsFloats_) {  // too many B matrices to pack at once: one output at a time
        for (int64_t bi = 0; bi < d.batch; ++bi) {
          gemm::packBParallel(pool, bd + d.bIndex(bi) * K * N, N, 1, K, N, static_cast<int>(nr), 1.f, ws);
          gemm::run(uk_, pool, problem(d, ad + d.aIndex(bi) * M * K, M, ws, yd + bi * M * N, ep));
        }
        return;
      }
      const int64_t panels = (N + nr - 1) / nr;
      pool.parallelFor(d.batchB * panels, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t bi = t / panels, j = t % panels;
          gemm::packB(bd + bi * K * N, N, 1, K, j * nr, std::min(N, j * nr + nr), static_cast<int>(nr), 1.f,
                      ws + bi * per);
        }
      });
      packed = ws;
    }
    if (d.batchB == 1) {
      // One B for every output matrix: A's batches are rows of one big GEMM.
      gemm::run(uk_, pool, problem(d, ad, d.batch * M, packed, yd, ep));
      return;
    }
    const gemm::Blocking bl = gemm::chooseBlocking(uk_, M, N, K, pool.size(), d.batch);
    const int64_t perProblem = bl.tasks();
    gemm::forEachTask(pool, d.batch * perProblem, [&](int64_t t) {
      const int64_t bi = t / perProblem;
      gemm::runTask(uk_, problem(d, ad + d.aIndex(bi) * M * K, M, packed + d.bIndex(bi) * per, yd + bi * M * N, ep), bl,
                    t % perProblem);
    });
  }

 private:
  static gemm::Problem problem(const MatMulDims& d, const float* a, int64_t m, const float* b, float* c,
                               const gemm::Epilogue& ep) {
    gemm::Problem p;
    p.m = m;
    p.n = d.n;
    p.k = d.k;
    p.a.data = a;
    p.a.rs = d.k;
    p.a.cs = 1;
    p.b = b;
    p.c = c;
    p.ldc = d.n;
    p.ep = ep;
    return p;
  }

  std::string what_;
  Activation act_;
  int nr_;
  const gemm::Ukernels& uk_;
  std::size_t numInputs_;
  std::vector<int64_t> bdims_;
  int64_t wsFloats_ = 0;
};

class GemmPacked final : public Kernel {
 public:
  explicit GemmPacked(const ir::Node& node)
      : what_(node.describe()),
        act_(fusedActivation(node)),
        alpha_(node.f("alpha", 1.f)),
        beta_(node.f("beta", 1.f)),
        transA_(node.i("transA", 0) != 0),
        transB_(node.i("transB", 0) != 0),
        nr_(packedNr(node)),
        uk_(nr_ ? gemm::ukernelsForNr(nr_) : gemm::hostUkernels()),
        numInputs_(node.inputs.size()) {
    if (nr_) {
      bdims_ = node.ints("kiln_weight_shape");
      KILN_CHECK(bdims_.size() == 2, what_, ": bad kiln_weight_shape");
    } else if (ir::isStatic(node.inputs[1]->shape) && node.inputs[1]->shape.size() == 2) {
      std::vector<int64_t> b = ir::staticDims(node.inputs[1]->shape);
      wsFloats_ = gemm::packedBSize(transB_ ? b[1] : b[0], transB_ ? b[0] : b[1], uk_.nr);
    }
  }

  std::size_t workspaceBytes() const override { return static_cast<std::size_t>(wsFloats_) * sizeof(float); }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& a = in[0];
    const TensorView& b = in[1];
    const int64_t* bdims = nr_ ? bdims_.data() : b.dims;
    KILN_CHECK(a.rank == 2 && (nr_ || b.rank == 2), what_, ": A and B must be 2-D");
    const int64_t M = transA_ ? a.dims[1] : a.dims[0], K = transA_ ? a.dims[0] : a.dims[1];
    const int64_t N = transB_ ? bdims[0] : bdims[1], kb = transB_ ? bdims[1] : bdims[0];
    KILN_CHECK(K == kb && out[0].rank == 2 && out[0].dims[0] == M && out[0].dims[1] == N, what_,
               ": shapes of A, B and Y disagree");
    gemm::Problem p;
    p.m = M;
    p.n = N;
    p.k = K;
    p.a.data = a.as<const float>();
    p.a.rs = transA_ ? 1 : K;
    p.a.cs = transA_ ? M : 1;
    p.c = out[0].as<float>();
    p.ldc = N;
    p.ep = gemmEpilogue(what_, numInputs_ > 2 && in[2].data ? &in[2] : nullptr, M, N, alpha_, beta_, act_);
    const int64_t rsb = transB_ ? 1 : N, csb = transB_ ? K : 1;
    if (nr_) {
      KILN_CHECK(b.numel() == gemm::packedBSize(K, N, uk_.nr), what_, ": packed B has ", b.numel(),
                 " values, expected ", gemm::packedBSize(K, N, uk_.nr));
      p.b = b.as<const float>();
    } else if (gemm::packedBSize(K, N, uk_.nr) <= wsFloats_) {
      float* ws = static_cast<float*>(ctx.workspace);
      gemm::packBParallel(*ctx.pool, b.as<const float>(), rsb, csb, K, N, uk_.nr, 1.f, ws);
      p.b = ws;
    } else {
      fallbackGemm(*ctx.pool, M, N, K, p.a.data, p.a.rs, p.a.cs, b.as<const float>(), rsb, csb, p.c, N, p.ep);
      return;
    }
    gemm::run(uk_, *ctx.pool, p);
  }

 private:
  std::string what_;
  Activation act_;
  float alpha_, beta_;
  bool transA_, transB_;
  int nr_;
  const gemm::Ukernels& uk_;
  std::size_t numInputs_;
  std::vector<int64_t> bdims_;
  int64_t wsFloats_ = 0;
};

bool supports(const ir::Node& node) {
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1]) return false;
  if (node.inputs.size() > 3 && node.inputs[3]) return false;  // a fused residual: only MatMul.ref adds it
  if (node.inputs[0]->dtype != DType::kFLOAT) return false;
  if (node.has("kiln_packed")) return node.s("kiln_packed", "").rfind(kLayoutPrefix, 0) == 0;
  if (node.inputs[1]->dtype != DType::kFLOAT) return false;
  return node.op != "Gemm" || node.inputs[1]->shape.size() == 2;
}

// Packs a constant B (every batch matrix of it) with this CPU's panel width.
void prepack(ir::Node& node, ir::Graph& graph) {
  if (node.has("kiln_packed")) return;
  const ir::Value* bv = node.inputs[1];
  if (!bv || !bv->isConstant() || bv->constant->dims().size() < 2) return;  // packed at run time
  const ir::Tensor& b = *bv->constant;
  const std::vector<int64_t>& dims = b.dims();
  const bool trans = node.op == "Gemm" && node.i("transB", 0) != 0;
  const int64_t rows = dims[dims.size() - 2], cols = dims.back();
  const int64_t K = trans ? cols : rows, N = trans ? rows : cols;
  int64_t batches = 1;
  for (std::size_t i = 0; i + 2 < dims.size(); ++i) batches *= dims[i];
  const int nr = gemm::hostUkernels().nr;
  const int64_t per = gemm::packedBSize(K, N, nr);
  ir::Tensor packed(DType::kFLOAT, {batches * per});
  for (int64_t i = 0; i < batches; ++i)
    gemm::packB(b.as<float>() + i * K * N, trans ? 1 : N, trans ? K : 1, K, 0, N, nr, 1.f,
                packed.mutableAs<float>() + i * per);
  node.inputs[1] = graph.addConstant(bv->name + "_packed", std::move(packed));
  node.attrs["kiln_packed"] = std::string(kLayoutPrefix) + std::to_string(nr);
  node.attrs["kiln_weight_shape"] = dims;
}

}  // namespace

gemm::Epilogue gemmEpilogue(const std::string& what, const TensorView* c, int64_t M, int64_t N, float alpha,
                            float beta, const Activation& act) {
  gemm::Epilogue ep;
  ep.scale = alpha;
  ep.biasScale = beta;
  ep.act = act;
  if (!c) return ep;
  const float* cd = c->as<const float>();
  const int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
  KILN_CHECK((cm == 1 || cm == M) && (cn == 1 || cn == N), what, ": C ", ir::toString(c->shape()),
             " does not broadcast to ", M, " x ", N);
  if (cm == 1 && cn == 1) {
    ep.scalarBias = cd[0];
  } else if (cm == 1) {
    ep.colBias = cd;
  } else if (cn == 1) {
    ep.rowBias = cd;
  } else {
    ep.matrix = cd;
    ep.ldm = N;
  }
  return ep;
}

Tactic matmulPackedTactic() {
  return {"MatMul.packed_gemm", "MatMul", 10, supports,
          [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<MatMulPacked>(n); }, prepack};
}

Tactic gemmPackedTactic() {
  return {"Gemm.packed_gemm", "Gemm", 10, supports,
          [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<GemmPacked>(n); }, prepack};
}

}  // namespace kiln::cpu
