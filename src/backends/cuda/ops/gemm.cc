// MatMul and Gemm through cuBLASLt. A, B, C, D and the bias share one type:
// FP32 (compute CUBLAS_COMPUTE_32F, or CUBLAS_COMPUTE_32F_FAST_TF32 where the
// build allowed TF32: node attribute kiln_tf32), or FP16/BF16 with FP32
// accumulation (CUBLAS_COMPUTE_32F; alpha/beta FP32). Epilogues: bias (Gemm's C of N
// elements with beta 1, MatMul's fused `bias`; MatMul's fused residual, its 4th
// input, is cuBLASLt's C with beta 1, added before the bias and the
// activation, the fusion's order), ReLU, and GELU (cuBLASLt's is
// the tanh form, so kiln_act "GeluTanh" maps to it; other activations
// run as one Kiln pass after the product). An exact (erf) "Gelu" in FP16/BF16
// also gets variants with the tanh epilogue (kiln_gelu_tanh_epilogue): the two
// forms differ by at most 4.7e-4, under FP16's rounding of values past 0.5
// and far under BF16's, and the epilogue saves a pass over the product (ViT's
// and BERT's MLP); the builder times both. FP32 keeps the erf. A full C [M,N]
// goes in as cuBLASLt's C with beta. Descriptors and the algorithm are made
// once per problem (shape and pointer alignments) and cached in the kernel.
// The builder times the heuristic's best few algorithms (variants) and the
// plan keeps the winner's 64 bytes; the runtime uses it for that shape.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/ops/cublaslt_util.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/tactic_util.h"

namespace kiln::cuda {
namespace {

constexpr std::size_t kWorkspace = kCublasLtWorkspace;

using Layout = LtLayout;
using OpDesc = LtOpDesc;

//! The epilogue for a fused activation name and whether a bias vector is added; false when none fits.
bool epilogueFor(const std::string& act, bool bias, cublasLtEpilogue_t* out) {
  if (act.empty()) *out = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  else if (act == "Relu") *out = bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
  else if (act == "GeluTanh") *out = bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  else return false;
  return true;
}

struct GemmConfig {
  bool isGemm = false;
  bool transA = false, transB = false;
  float alpha = 1.f, beta = 1.f;
  int biasInput = -1;  //!< input index of a bias vector of N (epilogue), or -1
  int cInput = -1;     //!< input index of a full C [M,N] (beta * C), or -1
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  kernels::UnaryParams after;  //!< an activation no epilogue has (Gelu with erf, Sigmoid, ...): one Kiln pass after
  kernels::Elem elem = kernels::Elem::kFloat;  //!< A, B, C, D and bias
  bool tf32 = false;                           //!< FP32 only: CUBLAS_COMPUTE_32F_FAST_TF32
};

//! Variant attribute: an erf "Gelu" in FP16/BF16 runs as cuBLASLt's tanh GELU epilogue.
constexpr const char* kGeluTanhAttr = "kiln_gelu_tanh_epilogue";

//! Runs an erf "Gelu" of `c` as cuBLASLt's tanh GELU epilogue (no pass after the product); false, and
//! `c` unchanged, unless `act` is "Gelu" in FP16/BF16, whose rounding exceeds the forms' difference.
bool takeGeluTanhEpilogue(const std::string& act, GemmConfig* c) {
  if (act != "Gelu" || c->elem == kernels::Elem::kFloat) return false;
  epilogueFor("GeluTanh", c->biasInput >= 0, &c->epilogue);
  c->after = kernels::UnaryParams{};
  return true;
}

//! cuBLASLt's compute type for the config: FP32 accumulation always; TF32 inputs where allowed.
cublasComputeType_t computeType(const GemmConfig& c) {
  return c.elem == kernels::Elem::kFloat && c.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

//! How `n` maps onto cuBLASLt; false when it does not (yet).
bool configFor(const ir::Node& n, GemmConfig* c) {
  if (!uniformFloat(n, &c->elem) || n.outputs.size() != 1 || n.inputs.size() < 2 || !n.inputs[0] || !n.inputs[1])
    return false;
  c->tf32 = tf32Allowed(n);
  const ir::Shape& ys = n.outputs[0]->shape;
  c->isGemm = n.op == "Gemm";
  if (c->isGemm) {
    c->transA = n.i("transA", 0) != 0, c->transB = n.i("transB", 0) != 0;
    c->alpha = n.f("alpha", 1.f), c->beta = n.f("beta", 1.f);
    if (n.inputs.size() > 2 && n.inputs[2] && c->beta != 0.f) {
      const ir::Shape& cs = n.inputs[2]->shape;
      bool vectorN = !ys.empty() && ((cs.size() == 1 && cs[0] == ys.back()) ||
                                     (cs.size() == 2 && cs[0].known() && cs[0].value == 1 && cs[1] == ys.back()));
      if (vectorN && c->beta == 1.f) c->biasInput = 2;
      else if (cs == ys) c->cInput = 2;
      else return false;  // C broadcast along N, or a scalar: not mapped yet
    }
  } else {
    if (n.inputs.size() > 2 && n.inputs[2]) {
      // The fused MatMul bias: the epilogue reads N values, so it must be [N] (or [1, ..., 1, N]).
      const ir::Shape& bs = n.inputs[2]->shape;
      if (bs.empty() || ys.empty() || !(bs.back() == ys.back())) return false;
      for (std::size_t i = 0; i + 1 < bs.size(); ++i)
        if (!(bs[i].known() && bs[i].value == 1)) return false;
      c->biasInput = 2;
    }
    if (n.inputs.size() > 3 && n.inputs[3]) {
      // The fused residual (the output's shape, the schema checked): cuBLASLt's C with beta 1.
      if (n.inputs[3]->shape.size() != ys.size()) return false;
      c->cInput = 3;
      c->beta = 1.f;
    }
  }
  const std::string act = n.s("kiln_act", "");
  if (n.i(kGeluTanhAttr, 0) != 0 && takeGeluTanhEpilogue(act, c)) return true;
  if (epilogueFor(act, c->biasInput >= 0, &c->epilogue)) return true;
  epilogueFor("", c->biasInput >= 0, &c->epilogue);
  return unaryParams(act, n, true, &c->after);
}

//! The shape of a MatMul/Gemm node with static input shapes; false when cuBLASLt can't take it.
bool problemOf(const GemmConfig& c, const std::vector<int64_t>& a, const std::vector<int64_t>& b, GemmShape* g) {
  if (c.isGemm) {
    *g = gemmShape(a, b, c.transA, c.transB);
    return true;
  }
  return matmulShape(a, b, g);
}

//! Everything cuBLASLt needs for one problem (shape and pointer alignments),
//! made once: descriptors, layouts and the algorithm. Per-run creation and a
//! heuristic query cost tens of microseconds of host time per GEMM.
struct Prepared {
  GemmShape g;
  uint32_t align[4] = {};  //!< A, B, C, D as cuBLASLt sees them
  OpDesc op;
  Layout first, second, y;
  cublasLtMatmulAlgo_t algo{};
  const void* bias = nullptr;  //!< the bias pointer set on `op`
};

bool sameProblem(const GemmShape& a, const GemmShape& b) {
  return a.m == b.m && a.n == b.n && a.k == b.k && a.transA == b.transA && a.transB == b.transB &&
         a.batch == b.batch && a.strideA == b.strideA && a.strideB == b.strideB && a.strideY == b.strideY;
}

//! Descriptors for problem `g` (no algorithm yet).
void describe(const GemmConfig& c, const GemmShape& g, Prepared& p) {
  p.g = g;
  LtProblem lt = columnMajorProblem(g);
  KILN_CUDA_CHECK(cublasLtMatmulDescCreate(&p.op.handle, computeType(c), CUDA_R_32F));  // alpha, beta: FP32
  cublasOperation_t ta = lt.first.transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t tb = lt.second.transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
  KILN_CUDA_CHECK(cublasLtMatmulDescSetAttribute(p.op.handle, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  KILN_CUDA_CHECK(cublasLtMatmulDescSetAttribute(p.op.handle, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  KILN_CUDA_CHECK(cublasLtMatmulDescSetAttribute(p.op.handle, CUBLASLT_MATMUL_DESC_EPILOGUE, &c.epilogue,
                                                 sizeof c.epilogue));
  const cudaDataType_t type = ltDataType(c.elem);
  ltLayout(p.first, type, lt.first.rows, lt.first.cols, lt.first.ld, g.batch, g.strideB);
  ltLayout(p.second, type, lt.second.rows, lt.second.cols, lt.second.ld, g.batch, g.strideA);
  ltLayout(p.y, type, lt.rowsY, lt.colsY, lt.ldY, g.batch, g.strideY);
}

//! The heuristic's best `wanted` algorithms for `p`, given its pointers' alignments.
std::vector<cublasLtMatmulHeuristicResult_t> heuristic(cublasLtHandle_t handle, const Prepared& p, int wanted) {
  return ltHeuristic(handle, p.op.handle, p.first.handle, p.second.handle, p.y.handle, p.align, kWorkspace, wanted);
}

//! The algorithm a plan variant names (node attribute, the algorithm's 64 opaque bytes).
constexpr const char* kAlgoAttr = "kiln_cublaslt_algo";
//! The pointer alignment the variants were chosen for: what the arena and the
//! plan's weights guarantee (64 bytes); a less aligned pointer takes the heuristic.
constexpr uint32_t kVariantAlignment = 64;

class GemmKernel final : public backends::DeviceKernel {
 public:
  GemmKernel(const GemmConfig& c, const ir::Node& n) : c_(c) {
    std::vector<int64_t> words = n.ints(kAlgoAttr);
    if (words.size() == sizeof(cublasLtMatmulAlgo_t) / sizeof(int64_t)) {
      std::memcpy(&variant_, words.data(), sizeof variant_);
      hasVariant_ = true;
      if (ir::isStatic(n.inputs[0]->shape) && ir::isStatic(n.inputs[1]->shape))
        variantFor_ = problemOf(c, ir::staticDims(n.inputs[0]->shape), ir::staticDims(n.inputs[1]->shape), &variantShape_);
    }
  }
  std::size_t workspaceBytes() const override { return kWorkspace; }

  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    GemmShape g;
    KILN_CHECK(problemOf(c_, in[0].shape(), in[1].shape(), &g), "MatMul: shapes ", ir::toString(in[0].shape()), " x ",
               ir::toString(in[1].shape()), " are not mapped onto cuBLASLt");
    if (g.m == 0 || g.n == 0) return;
    const void* cPtr = c_.cInput >= 0 ? in[c_.cInput].data : out[0].data;
    // cuBLASLt's A is Kiln's B (column-major), its B Kiln's A.
    const uint32_t align[4] = {pointerAlignment(in[1].data), pointerAlignment(in[0].data), pointerAlignment(cPtr),
                               pointerAlignment(out[0].data)};
    const Libraries& libs = libraries(launch);
    // Contexts share this kernel: the cache and the descriptor's bias pointer are
    // guarded; the lock is held only while the product is enqueued (host-side).
    std::lock_guard<std::mutex> lock(mu_);
    Prepared& p = prepared(libs.cublasLt, g, align);
    if (c_.biasInput >= 0 && in[c_.biasInput].data != p.bias) {
      p.bias = in[c_.biasInput].data;
      KILN_CUDA_CHECK(cublasLtMatmulDescSetAttribute(p.op.handle, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p.bias,
                                                     sizeof p.bias));
    }
    const float beta = c_.cInput >= 0 ? c_.beta : 0.f;
    KILN_CUDA_CHECK(cublasLtMatmul(libs.cublasLt, p.op.handle, &c_.alpha, in[1].data, p.first.handle, in[0].data,
                                   p.second.handle, &beta, cPtr, p.y.handle, out[0].data, p.y.handle, &p.algo,
                                   launch.workspace, kWorkspace, streamOf(launch)));
    if (c_.after.op != kernels::Unary::kIdentity)
      kernels::unary(out[0].data, out[0].data, out[0].numel(), c_.after, c_.elem, streamOf(launch));
  }

 private:
  //! The cached problem for `g` and `align`, made on first use: the plan's
  //! timed algorithm where it was chosen for this shape and the pointers are
  //! as aligned as it assumed (and cuBLASLt accepts it), else the heuristic's first.
  Prepared& prepared(cublasLtHandle_t handle, const GemmShape& g, const uint32_t* align) const {
    for (auto& p : cache_)
      if (sameProblem(p->g, g) && std::equal(align, align + 4, p->align)) return *p;
    if (cache_.size() >= 16) cache_.erase(cache_.begin());  // shapes keep changing: keep the recent ones
    auto p = std::make_unique<Prepared>();
    std::copy(align, align + 4, p->align);
    describe(c_, g, *p);
    bool useVariant = hasVariant_ && variantFor_ && sameProblem(variantShape_, g) &&
                      std::all_of(align, align + 4, [](uint32_t a) { return a >= kVariantAlignment; });
    if (useVariant) {
      cublasLtMatmulHeuristicResult_t check{};
      useVariant = cublasLtMatmulAlgoCheck(handle, p->op.handle, p->first.handle, p->second.handle, p->y.handle,
                                           p->y.handle, &variant_, &check) == CUBLAS_STATUS_SUCCESS &&
                   check.workspaceSize <= kWorkspace;
    }
    if (useVariant) {
      p->algo = variant_;
    } else {
      std::vector<cublasLtMatmulHeuristicResult_t> best = heuristic(handle, *p, 1);
      KILN_CHECK(!best.empty(), "cuBLASLt has no algorithm for ", g.m, "x", g.k, " * ", g.k, "x", g.n, " (batch ",
                 g.batch, ")");
      p->algo = best[0].algo;
    }
    cache_.push_back(std::move(p));
    return *cache_.back();
  }

  GemmConfig c_;
  bool hasVariant_ = false, variantFor_ = false;
  cublasLtMatmulAlgo_t variant_{};
  GemmShape variantShape_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Prepared>> cache_;
};

//! Appends the heuristic's best `wanted` algorithms for config `c` at `g` to `out`,
//! each variant also carrying `extra` (an attribute name and value) where it has a name.
void addVariants(cublasLtHandle_t handle, const GemmConfig& c, const GemmShape& g, int wanted,
                 const std::pair<std::string, ir::Attribute>& extra, std::vector<backends::TacticVariant>& out) {
  Prepared p;
  std::fill(p.align, p.align + 4, kVariantAlignment);
  describe(c, g, p);
  for (const cublasLtMatmulHeuristicResult_t& r : heuristic(handle, p, wanted)) {
    std::vector<int64_t> words(sizeof r.algo / sizeof(int64_t));
    std::memcpy(words.data(), &r.algo, sizeof r.algo);
    backends::TacticVariant v;
    v[kAlgoAttr] = words;
    if (!extra.first.empty()) v[extra.first] = extra.second;
    out.push_back(std::move(v));
  }
}

//! The heuristic's best algorithms at the node's shapes, for the builder to time.
std::vector<backends::TacticVariant> variants(const ir::Node& n, void* libraries) {
  GemmConfig c;
  GemmShape g;
  if (!configFor(n, &c) || !ir::isStatic(n.inputs[0]->shape) || !ir::isStatic(n.inputs[1]->shape) ||
      !problemOf(c, ir::staticDims(n.inputs[0]->shape), ir::staticDims(n.inputs[1]->shape), &g) || g.m == 0 ||
      g.n == 0)
    return {};
  std::vector<backends::TacticVariant> out;
  cublasLtHandle_t handle = static_cast<Libraries*>(libraries)->cublasLt;
  addVariants(handle, c, g, 6, {}, out);
  GemmConfig tanhForm = c;
  if (takeGeluTanhEpilogue(n.s("kiln_act", ""), &tanhForm))
    addVariants(handle, tanhForm, g, 3, {kGeluTanhAttr, int64_t{1}}, out);
  return out;
}

bool supports(const ir::Node& n) {
  GemmConfig c;
  if (!configFor(n, &c)) return false;
  if (n.op == "Gemm") return n.inputs[0]->shape.size() == 2 && n.inputs[1]->shape.size() == 2;
  // MatMul: checked on static shapes where the builder has them (profile extremes).
  std::vector<int64_t> a, b;
  if (!ir::isStatic(n.inputs[0]->shape) || !ir::isStatic(n.inputs[1]->shape))
    return n.inputs[0]->shape.size() >= 2 && n.inputs[1]->shape.size() >= 2;
  GemmShape g;
  return matmulShape(ir::staticDims(n.inputs[0]->shape), ir::staticDims(n.inputs[1]->shape), &g);
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  GemmConfig c;
  KILN_CHECK(configFor(n, &c), n.describe(), ": not supported by the cuBLASLt tactic");
  return std::make_unique<GemmKernel>(c, n);
}

}  // namespace

void registerGemmTactics(TacticList& out) {
  out.push_back({"MatMul.cublaslt", "MatMul", 0, supports, create, variants});
  out.push_back({"Gemm.cublaslt", "Gemm", 0, supports, create, variants});
}

}  // namespace kiln::cuda
