// "Conv.im2col_gemm": a convolution as one GEMM per image and group,
//   Y_g (Kg x P) = W_g (Kg x Cg*R*S) * im2col(X_g) (Cg*R*S x P),
// with the weights packed at build time into the GEMM's A panels and the
// im2col matrix written straight into B panels in the workspace (for 1x1
// stride-1 unpadded convs the input already is that matrix: it is only
// copied into panels). Bias, residual and activation are applied in the GEMM
// epilogue. The columns (output positions) are taken in chunks so the
// workspace stays a few MiB whatever the image size.
//
// "KilnScaledConv.im2col_gemm" is the same kernel for a pointwise KilnScaledConv
// (passes/fuse_channel_scale.cc): y = Conv(x * scale) with one factor per image
// and input channel. The input is copied into B panels anyway, so the scale is
// applied there (gemm::packBScaledRows): the Mul before the 1x1 convolution, a
// full pass over the activation, is gone.
#include <algorithm>
#include <cstring>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/conv_internal.h"
#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/ukernels/gemm.h"
#include "backends/cpu/ukernels/im2col.h"

namespace kiln::cpu {
namespace {

constexpr const char* kPackedLayout = "conv_gemm_a6";  // A panels of gemm::kMR rows
constexpr int64_t kChunkBudgetFloats = 1 << 18;        // 1 MiB of B panels per chunk (half an L2)

class ConvGemm final : public Kernel {
 public:
  explicit ConvGemm(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, node.inputs[0]->shape.size() - 2)),
        act_(fusedActivation(node)),
        uk_(gemm::hostUkernels()),
        im2col_(im2col::hostPanelKernel()),
        group_(node.i("group", 1)),
        numInputs_(node.inputs.size()),
        scaled_(node.op == "KilnScaledConv") {
    KILN_CHECK(node.s("kiln_packed", "") == kPackedLayout, node.describe(),
               ": Conv.im2col_gemm needs weights prepacked as '", kPackedLayout, "'");
    wdims_ = node.ints("kiln_weight_shape");
    KILN_CHECK(wdims_.size() >= 3 && wdims_.size() <= 5 && group_ >= 1 && wdims_[0] % group_ == 0, node.describe(),
               ": bad kiln_weight_shape ", ir::toString(wdims_), " for group ", group_);
    kg_ = wdims_[0] / group_;
    cg_ = wdims_[1];
    crs_ = cg_;
    for (std::size_t i = 2; i < wdims_.size(); ++i) crs_ *= wdims_[i];
    const int64_t nr = uk_.nr;
    int64_t budget = std::max(nr, kChunkBudgetFloats / std::max<int64_t>(1, group_ * crs_) / nr * nr);
    chunk_ = budget;
    const ir::Shape& ys = node.outputs[0]->shape;
    if (ir::isStatic(ys)) {
      int64_t p = 1;
      for (std::size_t i = 2; i < ys.size(); ++i) p *= ys[i].value;
      chunk_ = std::min(chunk_, gemm::roundUp(std::max<int64_t>(p, 1), nr));
    }
  }

  std::size_t workspaceBytes() const override {
    return static_cast<std::size_t>(group_ * crs_ * chunk_) * sizeof(float);
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const float* wp = in[1].as<const float>();
    const float* bias = numInputs_ > 2 ? in[2].as<const float>() : nullptr;
    const float* res = numInputs_ > 3 ? in[3].as<const float>() : nullptr;
    const TensorView& y = out[0];
    const Geometry3 g = windowGeometry(desc_, attrs_, x, wdims_.data() + 2, y);
    const float* scale = scaled_ ? in[4].as<const float>() : nullptr;
    KILN_CHECK(!scaled_ || (isPointwise(g) && group_ == 1 && in[4].numel() % x.dims[1] == 0 &&
                            (in[4].numel() == x.dims[1] || in[4].numel() == x.dims[0] * x.dims[1])),
               desc_.describe(), ": the scaled GEMM takes a pointwise group-1 convolution and a [N or 1, C] scale");
    const int64_t n = x.dims[0], c = x.dims[1], k = wdims_[0];
    KILN_CHECK(c == cg_ * group_ && y.dims[1] == k, desc_.describe(), ": input has ", c, " channels, weight expects ",
               cg_ * group_);
    const int64_t P = g.outSize(), inSize = g.inSize(), nr = uk_.nr;
    const bool pointwise = isPointwise(g);
    const int64_t aGroup = gemm::packedASize(kg_, crs_);
    KILN_CHECK(in[1].numel() == group_ * aGroup, desc_.describe(), ": packed weight has ", in[1].numel(),
               " values, expected ", group_ * aGroup);
    const im2col::Geometry ig = im2colGeometry(g);
    float* ws = static_cast<float*>(ctx.workspace);
    const float* xd = x.as<const float>();
    float* yd = y.as<float>();
    for (int64_t img = 0; img < n; ++img) {
      for (int64_t p0 = 0; p0 < P; p0 += chunk_) {
        const int64_t pc = std::min(chunk_, P - p0), panels = (pc + nr - 1) / nr;
        const int64_t bGroup = crs_ * panels * nr;
        // Phase 1: B panels of every group for this chunk of output positions.
        gemm::forEachTask(*ctx.pool, group_ * panels, [&](int64_t t) {
          const int64_t grp = t / panels, j = t % panels;
          const float* xg = xd + (img * c + grp * cg_) * inSize;
          float* dst = ws + grp * bGroup;
          const int64_t w = std::min(nr, pc - j * nr);
          if (scale) {  // pointwise, group 1: B's rows are the input channels
            const float* rowScale = scale + (in[4].numel() == c ? 0 : img * c);
            gemm::packBScaledRows(xg + p0, P, crs_, j * nr, j * nr + w, static_cast<int>(nr), rowScale, dst);
          } else if (pointwise)
            gemm::packB(xg + p0, P, 1, crs_, j * nr, j * nr + w, static_cast<int>(nr), 1.f, dst);
          else
            im2col_(xg, ig, cg_, p0 + j * nr, w, nr, dst + j * crs_ * nr);
        });
        // Phase 2: the GEMMs of all groups share one parallel loop.
        const gemm::Blocking bl = gemm::chooseBlocking(uk_, kg_, pc, crs_, ctx.pool->size(), group_);
        const int64_t perGroup = bl.tasks();
        gemm::forEachTask(*ctx.pool, group_ * perGroup, [&](int64_t t) {
          const int64_t grp = t / perGroup;
          gemm::Problem pr;
          pr.m = kg_;
          pr.n = pc;
          pr.k = crs_;
          pr.a.data = wp + grp * aGroup;
          pr.a.packed = true;
          pr.b = ws + grp * bGroup;
          pr.c = yd + (img * k + grp * kg_) * P + p0;
          pr.ldc = P;
          pr.ep.rowBias = bias ? bias + grp * kg_ : nullptr;
          if (res) {
            pr.ep.matrix = res + (img * k + grp * kg_) * P + p0;
            pr.ep.ldm = P;
          }
          pr.ep.act = act_;
          gemm::runTask(uk_, pr, bl, t % perGroup);
        });
      }
    }
  }

 private:
  ir::Node desc_;
  ir::WindowAttrs attrs_;
  Activation act_;
  const gemm::Ukernels& uk_;
  im2col::PanelFn im2col_;
  int64_t group_;
  std::size_t numInputs_;
  bool scaled_;  //!< KilnScaledConv: input 4 scales the input channels
  std::vector<int64_t> wdims_;
  int64_t kg_ = 0, cg_ = 0, crs_ = 0, chunk_ = 0;
};

bool supports(const ir::Node& node) {
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1]) return false;
  const std::size_t rank = node.inputs[0]->shape.size();
  if (rank < 3 || rank > 5 || node.inputs[0]->dtype != DType::kFLOAT) return false;
  if (node.has("kiln_packed")) return node.s("kiln_packed", "") == kPackedLayout;
  const ir::Value* w = node.inputs[1];
  return w->isConstant() && w->constant->dtype() == DType::kFLOAT && w->constant->dims().size() == rank;
}

//! A pointwise (1x1, stride 1, no padding, dilation 1) group-1 KilnScaledConv with a float scale.
bool supportsScaled(const ir::Node& node) {
  if (node.inputs.size() != 5 || !node.input(4) || node.input(4)->dtype != DType::kFLOAT || !supports(node))
    return false;
  if (node.i("group", 1) != 1) return false;
  const std::vector<int64_t> dims =
      node.has("kiln_weight_shape") ? node.ints("kiln_weight_shape") : node.inputs[1]->constant->dims();
  for (std::size_t i = 2; i < dims.size(); ++i)
    if (dims[i] != 1) return false;
  for (int64_t v : node.ints("strides"))
    if (v != 1) return false;
  for (int64_t v : node.ints("dilations"))
    if (v != 1) return false;
  for (int64_t v : node.ints("pads"))
    if (v != 0) return false;
  const std::string autoPad = node.s("auto_pad", "NOTSET");
  return autoPad == "NOTSET" || autoPad == "VALID";
}

void prepack(ir::Node& node, ir::Graph& graph) {
  if (node.has("kiln_packed")) return;
  const ir::Value* wv = node.inputs[1];
  KILN_CHECK(wv && wv->isConstant(), node.describe(), ": Conv.im2col_gemm needs a constant weight");
  const ir::Tensor& w = *wv->constant;
  const std::vector<int64_t>& dims = w.dims();
  const int64_t group = node.i("group", 1);
  KILN_CHECK(group >= 1 && dims[0] % group == 0, node.describe(), ": bad group ", group);
  const int64_t kg = dims[0] / group;
  int64_t crs = 1;
  for (std::size_t i = 1; i < dims.size(); ++i) crs *= dims[i];
  const int64_t perGroup = gemm::packedASize(kg, crs);
  ir::Tensor packed(DType::kFLOAT, {group * perGroup});
  for (int64_t g = 0; g < group; ++g)
    gemm::packA(w.as<float>() + g * kg * crs, crs, 1, kg, crs, packed.mutableAs<float>() + g * perGroup);
  node.inputs[1] = graph.addConstant(wv->name + "_packed", std::move(packed));
  node.attrs["kiln_packed"] = std::string(kPackedLayout);
  node.attrs["kiln_weight_shape"] = dims;
}

}  // namespace

Tactic convIm2colGemmTactic() {
  return {"Conv.im2col_gemm", "Conv", 10, supports,
          [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ConvGemm>(n); }, prepack};
}

Tactic scaledConvIm2colGemmTactic() {
  return {"KilnScaledConv.im2col_gemm", "KilnScaledConv", 10, supportsScaled,
          [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ConvGemm>(n); }, prepack};
}

}  // namespace kiln::cpu
