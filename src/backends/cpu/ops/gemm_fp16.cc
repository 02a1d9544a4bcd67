// "MatMul.packed_gemm_fp16" and "Gemm.packed_gemm_fp16": MatMul / Gemm with a
// constant B in FP16 on CPUs with AVX512-FP16 (ukernels/gemm_fp16.h), for
// layers the builder marks with kFP16Attr (BuilderFlag::kFP16, a kHALF layer
// constraint). B is converted to fp16 panels at build time (`kiln_packed` =
// "gemm16_b_nr64", DType::kHALF in the plan); A (f32) is converted into the
// workspace on every run; bias (MatMul's fused input 2, Gemm's C),
// alpha / beta and the activation run in the f32 epilogue, and the output is
// f32, so the layers around stay FP32.
#include <algorithm>
#include <string>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/gemm_internal.h"
#include "backends/cpu/precision.h"
#include "backends/cpu/ukernels/gemm_fp16.h"

namespace kiln::cpu {

bool hostSupportsFP16Tactics() { return gemm16::hostSupportsFP16(); }

namespace {

constexpr const char* kLayout = "gemm16_b_nr64";

// A's rows x K of the node's (static) shapes: what the workspace holds.
int64_t aElements(const ir::Node& node) { return ir::numElements(ir::staticDims(node.inputs[0]->shape)); }

class GemmFP16 final : public Kernel {
 public:
  explicit GemmFP16(const ir::Node& node)
      : what_(node.describe()),
        gemm_(node.op == "Gemm"),
        act_(fusedActivation(node)),
        alpha_(gemm_ ? node.f("alpha", 1.f) : 1.f),
        beta_(gemm_ ? node.f("beta", 1.f) : 1.f),
        transA_(gemm_ && node.i("transA", 0) != 0),
        transB_(gemm_ && node.i("transB", 0) != 0),
        hasC_(node.inputs.size() > 2 && node.inputs[2]),
        bdims_(node.ints("kiln_weight_shape")),
        aElems_(aElements(node)) {
    KILN_CHECK(node.s("kiln_packed", "") == kLayout, what_, ": needs B packed as '", kLayout, "', the plan has '",
               node.s("kiln_packed", ""), "'");
    KILN_CHECK(bdims_.size() == 2, what_, ": bad kiln_weight_shape");
    KILN_CHECK(gemm16::hostSupportsFP16(), what_, ": this plan runs ", node.tactic,
               ", which needs AVX512-FP16; this CPU has none (rebuild the plan here)");
  }

  std::size_t workspaceBytes() const override { return static_cast<std::size_t>(aElems_) * sizeof(uint32_t); }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& a = in[0];
    const TensorView& y = out[0];
    const int64_t K = transB_ ? bdims_[1] : bdims_[0], N = transB_ ? bdims_[0] : bdims_[1];
    int64_t M = 0, rsa = 0, csa = 0;
    if (gemm_) {
      KILN_CHECK(a.rank == 2, what_, ": A must be 2-D");
      M = transA_ ? a.dims[1] : a.dims[0];
      KILN_CHECK((transA_ ? a.dims[0] : a.dims[1]) == K, what_, ": A ", ir::toString(a.shape()), " and B disagree on K");
      rsa = transA_ ? 1 : K;
      csa = transA_ ? M : 1;
      KILN_CHECK(y.rank == 2 && y.dims[0] == M && y.dims[1] == N, what_, ": Y must be ", M, " x ", N);
    } else {
      // One B for every matrix of A: A's batches are rows of one GEMM.
      const MatMulDims d = matmulDims(what_, a.dims, a.rank, bdims_.data(), 2, y);
      M = d.batch * d.m;
      rsa = K;
      csa = 1;
    }
    KILN_CHECK(M * K <= aElems_, what_, ": A has ", M * K, " values, the kernel was built for ", aElems_);
    KILN_CHECK(in[1].numel() == gemm16::packedBSize(K, N), what_, ": packed B has ", in[1].numel(),
               " values, expected ", gemm16::packedBSize(K, N));
    const gemm::Epilogue ep =
        gemm_ ? gemmEpilogue(what_, hasC_ && in[2].data ? &in[2] : nullptr, M, N, alpha_, beta_, act_) : [&] {
          gemm::Epilogue e;
          e.colBias = hasC_ ? in[2].as<const float>() : nullptr;
          e.act = act_;
          return e;
        }();
    uint32_t* ah = static_cast<uint32_t*>(ctx.workspace);
    gemm16::convertA(*ctx.pool, a.as<const float>(), rsa, csa, M, K, ah);
    gemm16::run(*ctx.pool, M, N, K, ah, static_cast<const uint16_t*>(in[1].data), y.as<float>(), N, ep);
  }

 private:
  std::string what_;
  bool gemm_;
  Activation act_;
  float alpha_, beta_;
  bool transA_, transB_, hasC_;
  std::vector<int64_t> bdims_;
  int64_t aElems_;
};

// A marked float MatMul / Gemm with a constant 2-D B, static A and no fused residual.
bool supports(const ir::Node& node) {
  if (node.i(kFP16Attr, 0) < 1 || !gemm16::hostSupportsFP16()) return false;
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1] || !node.outputs[0]) return false;
  if (node.inputs.size() > 3 && node.inputs[3]) return false;
  if (node.inputs[0]->dtype != DType::kFLOAT || !ir::isStatic(node.inputs[0]->shape)) return false;
  if (node.inputs.size() > 2 && node.inputs[2] && node.inputs[2]->dtype != DType::kFLOAT) return false;
  if (node.has("kiln_packed")) return node.s("kiln_packed", "") == kLayout;
  const ir::Value* b = node.inputs[1];
  if (b->dtype != DType::kFLOAT || !b->isConstant() || b->constant->dims().size() != 2) return false;
  if (node.op == "Gemm") return node.inputs[0]->shape.size() == 2;
  // MatMul's bias (a fused input 2) is one value per column.
  return node.inputs.size() < 3 || !node.inputs[2] || node.inputs[2]->shape.size() == 1;
}

void prepack(ir::Node& node, ir::Graph& graph) {
  if (node.has("kiln_packed")) return;
  const ir::Value* bv = node.inputs[1];
  const ir::Tensor& b = *bv->constant;
  const std::vector<int64_t>& dims = b.dims();
  const bool trans = node.op == "Gemm" && node.i("transB", 0) != 0;
  const int64_t K = trans ? dims[1] : dims[0], N = trans ? dims[0] : dims[1];
  ir::Tensor packed(DType::kHALF, {gemm16::packedBSize(K, N)});
  gemm16::packB(b.as<float>(), trans ? 1 : N, trans ? K : 1, K, N, static_cast<uint16_t*>(packed.mutableData()));
  node.inputs[1] = graph.addConstant(bv->name + "_fp16", std::move(packed));
  node.attrs["kiln_packed"] = std::string(kLayout);
  node.attrs["kiln_weight_shape"] = dims;
}

std::unique_ptr<Kernel> create(const ir::Node& n) { return std::make_unique<GemmFP16>(n); }

}  // namespace

// Priority 15 like the BF16 tactics: above the FP32 ones for untimed builds of marked layers.
Tactic matmulFP16Tactic() { return {"MatMul.packed_gemm_fp16", "MatMul", 15, supports, create, prepack}; }
Tactic gemmFP16Tactic() { return {"Gemm.packed_gemm_fp16", "Gemm", 15, supports, create, prepack}; }

}  // namespace kiln::cpu
