// "Conv.im2col_gemm_fp16": Conv.im2col_gemm (conv_gemm.cc) in FP16 on CPUs
// with AVX512-FP16, for layers the builder marks with kFP16Attr:
//   Y_g (Kg x P) = W_g (Kg x Cg*R*S) * im2col(X_g) (Cg*R*S x P)
// on the FP16 GEMM (ukernels/gemm_fp16.h). The weights are the GEMM's A,
// converted at build time into its fp16 pairs (`kiln_packed` =
// "conv_gemm16_pairs", DType::kHALF, two halves per weight); the im2col
// matrix (for 1x1 stride-1 unpadded convs, the input itself) becomes fp16 B
// panels of 64 columns in the workspace, a chunk of output positions at a
// time. Bias, residual and activation run in the f32 epilogue; input and
// output stay FP32 NCHW.
#include <algorithm>
#include <cstring>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/conv_internal.h"
#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/precision.h"
#include "backends/cpu/ukernels/gemm_fp16.h"
#include "backends/cpu/ukernels/im2col.h"

namespace kiln::cpu {
namespace {

constexpr const char* kPackedLayout = "conv_gemm16_pairs";
constexpr int64_t kChunkBudget = 1 << 18;  // values of B per chunk: 1 MiB of f32 im2col + 0.5 MiB of fp16 panels
constexpr int64_t kNR = gemm16::kNR;

class ConvGemmFP16 final : public Kernel {
 public:
  explicit ConvGemmFP16(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, node.inputs[0]->shape.size() - 2)),
        act_(fusedActivation(node)),
        im2col_(im2col::hostPanelKernel()),
        group_(node.i("group", 1)),
        numInputs_(node.inputs.size()) {
    KILN_CHECK(node.s("kiln_packed", "") == kPackedLayout, node.describe(),
               ": Conv.im2col_gemm_fp16 needs weights prepacked as '", kPackedLayout, "'");
    KILN_CHECK(gemm16::hostSupportsFP16(), node.describe(), ": this plan runs Conv.im2col_gemm_fp16, which needs ",
               "AVX512-FP16; this CPU has none (rebuild the plan here)");
    wdims_ = node.ints("kiln_weight_shape");
    KILN_CHECK(wdims_.size() >= 3 && wdims_.size() <= 5 && group_ >= 1 && wdims_[0] % group_ == 0, node.describe(),
               ": bad kiln_weight_shape ", ir::toString(wdims_), " for group ", group_);
    kg_ = wdims_[0] / group_;
    crs_ = 1;
    for (std::size_t i = 1; i < wdims_.size(); ++i) crs_ *= wdims_[i];
    chunk_ = std::max(kNR, kChunkBudget / std::max<int64_t>(1, group_ * crs_) / kNR * kNR);
    const ir::Shape& ys = node.outputs[0]->shape;
    if (ir::isStatic(ys)) {
      int64_t p = 1;
      for (std::size_t i = 2; i < ys.size(); ++i) p *= ys[i].value;
      chunk_ = std::min(chunk_, gemm::roundUp(std::max<int64_t>(p, 1), kNR));
    }
  }

  // f32 im2col panels, then the fp16 panels made from them.
  std::size_t workspaceBytes() const override {
    const std::size_t values = static_cast<std::size_t>(group_ * crs_ * chunk_);
    return gemm::roundUp(static_cast<int64_t>(values * sizeof(float)), 64) + values * sizeof(uint16_t);
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const uint32_t* wp = static_cast<const uint32_t*>(in[1].data);  // fp16 pairs
    const float* bias = numInputs_ > 2 ? in[2].as<const float>() : nullptr;
    const float* res = numInputs_ > 3 ? in[3].as<const float>() : nullptr;
    const TensorView& y = out[0];
    const Geometry3 g = windowGeometry(desc_, attrs_, x, wdims_.data() + 2, y);
    const int64_t n = x.dims[0], c = x.dims[1], k = wdims_[0], cg = wdims_[1];
    KILN_CHECK(c == cg * group_ && y.dims[1] == k, desc_.describe(), ": input has ", c, " channels, weight expects ",
               cg * group_);
    KILN_CHECK(in[1].numel() == 2 * k * crs_, desc_.describe(), ": packed weight has ", in[1].numel(),
               " halves, expected ", 2 * k * crs_);
    const int64_t P = g.outSize(), inSize = g.inSize();
    const bool pointwise = isPointwise(g);
    const im2col::Geometry ig = im2colGeometry(g);
    float* cols = static_cast<float*>(ctx.workspace);
    uint16_t* panels16 = reinterpret_cast<uint16_t*>(
        static_cast<uint8_t*>(ctx.workspace) +
        gemm::roundUp(static_cast<int64_t>(group_ * crs_ * chunk_ * sizeof(float)), 64));
    const float* xd = x.as<const float>();
    float* yd = y.as<float>();
    for (int64_t img = 0; img < n; ++img) {
      for (int64_t p0 = 0; p0 < P; p0 += chunk_) {
        const int64_t pc = std::min(chunk_, P - p0), panels = (pc + kNR - 1) / kNR;
        const int64_t bGroup = crs_ * panels * kNR;
        // B panels (fp16) of every group for this chunk of output positions.
        gemm::forEachTask(*ctx.pool, group_ * panels, [&](int64_t t) {
          const int64_t grp = t / panels, j = t % panels;
          const float* xg = xd + (img * c + grp * cg) * inSize;
          uint16_t* dst = panels16 + grp * bGroup + j * crs_ * kNR;
          const int64_t w = std::min(kNR, pc - j * kNR);
          if (pointwise) {
            gemm16::packB(xg + p0 + j * kNR, P, 1, crs_, w, dst);
          } else {
            float* f32 = cols + grp * bGroup + j * crs_ * kNR;
            im2col_(xg, ig, cg, p0 + j * kNR, w, kNR, f32);
            gemm16::toHalf(f32, crs_ * kNR, dst);
          }
        });
        for (int64_t grp = 0; grp < group_; ++grp) {
          gemm::Epilogue ep;
          ep.rowBias = bias ? bias + grp * kg_ : nullptr;
          if (res) {
            ep.matrix = res + (img * k + grp * kg_) * P + p0;
            ep.ldm = P;
          }
          ep.act = act_;
          gemm16::run(*ctx.pool, kg_, pc, crs_, wp + grp * kg_ * crs_, panels16 + grp * bGroup,
                      yd + (img * k + grp * kg_) * P + p0, P, ep);
        }
      }
    }
  }

 private:
  ir::Node desc_;
  ir::WindowAttrs attrs_;
  Activation act_;
  im2col::PanelFn im2col_;
  int64_t group_;
  std::size_t numInputs_;
  std::vector<int64_t> wdims_;
  int64_t kg_ = 0, crs_ = 0, chunk_ = 0;
};

// A marked float Conv (1-3 spatial dims) with a constant weight. Depthwise
// convs (one input channel per group) are left to Conv.depthwise: a GEMM of K = R*S.
bool supports(const ir::Node& node) {
  if (node.i(kFP16Attr, 0) < 1 || !gemm16::hostSupportsFP16()) return false;
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1]) return false;
  const std::size_t rank = node.inputs[0]->shape.size();
  if (rank < 3 || rank > 5 || node.inputs[0]->dtype != DType::kFLOAT) return false;
  for (std::size_t i = 2; i < node.inputs.size(); ++i)
    if (node.inputs[i] && node.inputs[i]->dtype != DType::kFLOAT) return false;
  if (node.has("kiln_packed")) return node.s("kiln_packed", "") == kPackedLayout;
  const ir::Value* w = node.inputs[1];
  if (!w->isConstant() || w->constant->dtype() != DType::kFLOAT || w->constant->dims().size() != rank) return false;
  return w->constant->dims()[1] > 1;
}

void prepack(ir::Node& node, ir::Graph& graph) {
  if (node.has("kiln_packed")) return;
  const ir::Value* wv = node.inputs[1];
  KILN_CHECK(wv && wv->isConstant(), node.describe(), ": Conv.im2col_gemm_fp16 needs a constant weight");
  const ir::Tensor& w = *wv->constant;
  const std::vector<int64_t>& dims = w.dims();
  int64_t crs = 1;
  for (std::size_t i = 1; i < dims.size(); ++i) crs *= dims[i];
  // W (K x CRS, row-major) is every group's A one after another.
  ir::Tensor packed(DType::kHALF, {2 * dims[0] * crs});
  ThreadPool pool(1);
  gemm16::convertA(pool, w.as<float>(), crs, 1, dims[0], crs, static_cast<uint32_t*>(packed.mutableData()));
  node.inputs[1] = graph.addConstant(wv->name + "_fp16", std::move(packed));
  node.attrs["kiln_packed"] = std::string(kPackedLayout);
  node.attrs["kiln_weight_shape"] = dims;
}

}  // namespace

Tactic convIm2colGemmFP16Tactic() {
  return {"Conv.im2col_gemm_fp16", "Conv", 15, supports,
          [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ConvGemmFP16>(n); }, prepack};
}

}  // namespace kiln::cpu
