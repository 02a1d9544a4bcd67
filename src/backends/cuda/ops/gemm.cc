// MatMul and Gemm through cuBLASLt. A, B, C, D and the bias share one type:
// FP32 (compute CUBLAS_COMPUTE_32F, or CUBLAS_COMPUTE_32F_FAST_TF32 where the
// build allowed TF32: node attribute kiln_tf32), or FP16/BF16 with FP32
// accumulation (CUBLAS_COMPUTE_32F; alpha/beta FP32). Epilogues: bias (Gemm's C of N
// elements with beta 1, MatMul's fused `bias`), ReLU, and GELU (cuBLASLt's is
// the tanh form, so only kiln_act "GeluTanh" maps to it; other activations
// run as one Kiln pass after the product). A full C [M,N]
// goes in as cuBLASLt's C with beta. Descriptors and the heuristic's
// algorithm are made per run on the host (shapes may change within a
// profile); caching them per shape is the next step. Not yet run on a GPU.
#include <cstdint>
#include <memory>
#include <utility>

#include "backends/cuda/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/tactic_util.h"

namespace kiln::cuda {
namespace {

constexpr std::size_t kWorkspace = 32u << 20;  // what NVIDIA suggests for cuBLASLt on Hopper

template <typename T, cublasStatus_t (*Destroy)(T)>
struct Owned {
  T handle = nullptr;
  ~Owned() {
    if (handle) Destroy(handle);
  }
};
using Layout = Owned<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;
using OpDesc = Owned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using Preference = Owned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>;

cudaDataType_t dataType(kernels::Elem e) {
  return e == kernels::Elem::kHalf ? CUDA_R_16F : e == kernels::Elem::kBF16 ? CUDA_R_16BF : CUDA_R_32F;
}

void makeLayout(Layout& l, cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld, int64_t batch,
                int64_t stride) {
  KILN_CUDA_CHECK(cublasLtMatrixLayoutCreate(&l.handle, type, static_cast<uint64_t>(rows),
                                             static_cast<uint64_t>(cols), ld));
  if (batch > 1) {
    int32_t count = static_cast<int32_t>(batch);
    KILN_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(l.handle, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
    KILN_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(l.handle, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                     sizeof stride));
  }
}

//! The largest power of two (at most 256) dividing `p`'s address.
uint32_t pointerAlignment(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && (a % align) != 0) align /= 2;
  return align;
}

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
  } else if (n.inputs.size() > 2 && n.inputs[2]) {
    // The fused MatMul bias: the epilogue reads N values, so it must be [N] (or [1, ..., 1, N]).
    const ir::Shape& bs = n.inputs[2]->shape;
    if (bs.empty() || ys.empty() || !(bs.back() == ys.back())) return false;
    for (std::size_t i = 0; i + 1 < bs.size(); ++i)
      if (!(bs[i].known() && bs[i].value == 1)) return false;
    c->biasInput = 2;
  }
  const std::string act = n.s("kiln_act", "");
  if (epilogueFor(act, c->biasInput >= 0, &c->epilogue)) return true;
  epilogueFor("", c->biasInput >= 0, &c->epilogue);
  return unaryParams(act, n, true, &c->after);
}

class GemmKernel final : public backends::DeviceKernel {
 public:
  explicit GemmKernel(const GemmConfig& c) : c_(c) {}
  std::size_t workspaceBytes() const override { return kWorkspace; }

  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    GemmShape g;
    if (c_.isGemm) {
      g = gemmShape(in[0].shape(), in[1].shape(), c_.transA, c_.transB);
    } else {
      KILN_CHECK(matmulShape(in[0].shape(), in[1].shape(), &g), "MatMul: shapes ", ir::toString(in[0].shape()),
                 " x ", ir::toString(in[1].shape()), " are not mapped onto cuBLASLt");
    }
    if (g.m == 0 || g.n == 0) return;
    LtProblem p = columnMajorProblem(g);
    OpDesc op;
    KILN_CUDA_CHECK(cublasLtMatmulDescCreate(&op.handle, computeType(c_), CUDA_R_32F));  // alpha, beta: FP32
    cublasOperation_t ta = p.first.transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t tb = p.second.transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
    KILN_CUDA_CHECK(cublasLtMatmulDescSetAttribute(op.handle, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    KILN_CUDA_CHECK(cublasLtMatmulDescSetAttribute(op.handle, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    KILN_CUDA_CHECK(cublasLtMatmulDescSetAttribute(op.handle, CUBLASLT_MATMUL_DESC_EPILOGUE, &c_.epilogue,
                                                   sizeof c_.epilogue));
    if (c_.biasInput >= 0) {
      const void* bias = in[c_.biasInput].data;
      KILN_CUDA_CHECK(cublasLtMatmulDescSetAttribute(op.handle, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    Layout first, second, y;
    const cudaDataType_t type = dataType(c_.elem);
    makeLayout(first, type, p.first.rows, p.first.cols, p.first.ld, g.batch, g.strideB);
    makeLayout(second, type, p.second.rows, p.second.cols, p.second.ld, g.batch, g.strideA);
    makeLayout(y, type, p.rowsY, p.colsY, p.ldY, g.batch, g.strideY);

    const Libraries& libs = libraries(launch);
    Preference pref;
    KILN_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&pref.handle));
    std::size_t ws = kWorkspace;
    KILN_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.handle, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                         sizeof ws));
    // The heuristic assumes 256-byte-aligned pointers unless told: tell it what these are (arena
    // and constant slots may be less aligned; FP16/BF16 tensor-core kernels need 16 bytes).
    const void* cPtr = c_.cInput >= 0 ? in[c_.cInput].data : out[0].data;
    const std::pair<cublasLtMatmulPreferenceAttributes_t, const void*> aligns[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, in[1].data},  // cuBLASLt's A is Kiln's B (column-major)
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, in[0].data},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, cPtr},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, out[0].data}};
    for (const auto& [attr, ptr] : aligns) {
      uint32_t align = pointerAlignment(ptr);
      KILN_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.handle, attr, &align, sizeof align));
    }
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    KILN_CUDA_CHECK(cublasLtMatmulAlgoGetHeuristic(libs.cublasLt, op.handle, first.handle, second.handle, y.handle,
                                                   y.handle, pref.handle, 1, &result, &found));
    KILN_CHECK(found > 0, "cuBLASLt has no algorithm for ", g.m, "x", g.k, " * ", g.k, "x", g.n, " (batch ", g.batch,
               ")");
    const float beta = c_.cInput >= 0 ? c_.beta : 0.f;
    const void* cData = c_.cInput >= 0 ? in[c_.cInput].data : out[0].data;
    KILN_CUDA_CHECK(cublasLtMatmul(libs.cublasLt, op.handle, &c_.alpha, in[1].data, first.handle, in[0].data,
                                   second.handle, &beta, cData, y.handle, out[0].data, y.handle, &result.algo,
                                   launch.workspace, kWorkspace, streamOf(launch)));
    if (c_.after.op != kernels::Unary::kIdentity)
      kernels::unary(out[0].data, out[0].data, out[0].numel(), c_.after, c_.elem, streamOf(launch));
  }

 private:
  GemmConfig c_;
};

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
  return std::make_unique<GemmKernel>(c);
}

}  // namespace

void registerGemmTactics(TacticList& out) {
  out.push_back({"MatMul.cublaslt", "MatMul", 0, supports, create});
  out.push_back({"Gemm.cublaslt", "Gemm", 0, supports, create});
}

}  // namespace kiln::cuda
