// "Conv.winograd": 3x3, stride 1, dilation 1, group 1 2-D convolutions as
// Winograd F(4x4, 3x3) (ukernels/winograd.h): 2.25 multiplies per output
// instead of 9. The output tiles of the whole batch (image after image, so
// that small images still fill the GEMM's column panels) are taken in blocks
// whose transformed input V (36 x Cin x tiles) stays in L2; per block
//   1. the input transform writes V straight into the B panels of 36 GEMMs,
//   2. per block of output channels, the 36 GEMMs M_p = U_p (Cout x Cin) * V_p
//      (the packed GEMM of gemm.h; U = G g G^T, transformed and packed into A
//      panels at build time) and then the output transform of those channels,
//      fused with bias, residual and activation (tiles past the image edge
//      are computed but not stored).
// Both phases split over the pool (phase 1 by tile panels x channel chunks,
// phase 2 by output-channel blocks), so 2 threads share every block.
//
// Accuracy: the transforms' coefficients (up to 8 in A, 5 in B) amplify
// rounding; tests/unit/ops_nn/conv_winograd_test.cc holds it to 5e-5 of the
// output's range against Conv.ref (measured: median 1.6e-6, worst 2.5e-5). The builder times this
// against the other tactics; it wins on wide images with many channels.
#include <algorithm>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/conv_internal.h"
#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/ukernels/gemm.h"
#include "backends/cpu/ukernels/winograd.h"

namespace kiln::cpu {
namespace {

namespace wg = winograd;

constexpr const char* kPackedLayout = "conv_winograd_f43_a6";  // 36 point-major A panels of gemm::kMR rows
constexpr int64_t kBlockBudgetFloats = 1 << 17;                // 512 KiB of V per tile block
constexpr int64_t kMaxKTiles = 4;  // output channels per phase-2 task, in micro-tiles: its GEMM rows stay in L2

int64_t tilesOf(int64_t n) { return (n + wg::kTile - 1) / wg::kTile; }

class ConvWinograd final : public Kernel {
 public:
  explicit ConvWinograd(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, 2)),
        act_(fusedActivation(node)),
        uk_(gemm::hostUkernels()),
        wk_(wg::hostKernels()),
        numInputs_(node.inputs.size()) {
    KILN_CHECK(node.s("kiln_packed", "") == kPackedLayout, node.describe(),
               ": Conv.winograd needs weights prepacked as '", kPackedLayout, "'");
    const std::vector<int64_t> wdims = node.ints("kiln_weight_shape");
    KILN_CHECK(wdims.size() == 4 && wdims[2] == 3 && wdims[3] == 3, node.describe(),
               ": Conv.winograd needs a K x C x 3 x 3 weight, kiln_weight_shape is ", ir::toString(wdims));
    k_ = wdims[0];
    c_ = wdims[1];
    const int64_t nr = uk_.nr;
    tileBlock_ = std::max<int64_t>(nr, kBlockBudgetFloats / (wg::kPoints * c_) / nr * nr);
    const ir::Shape& ys = node.outputs[0]->shape;
    if (ir::isStatic(ys) && ys.size() == 4) {
      const int64_t tiles = ys[0].value * tilesOf(ys[2].value) * tilesOf(ys[3].value);
      tileBlock_ = std::min(tileBlock_, gemm::roundUp(std::max<int64_t>(tiles, 1), nr));
    }
  }

  std::size_t workspaceBytes() const override {
    return static_cast<std::size_t>(wg::kPoints * tileBlock_ * (c_ + k_)) * sizeof(float);
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const float* wp = in[1].as<const float>();
    const float* bias = numInputs_ > 2 ? in[2].as<const float>() : nullptr;
    const float* res = numInputs_ > 3 ? in[3].as<const float>() : nullptr;
    const TensorView& y = out[0];
    const int64_t kernel[2] = {3, 3};
    const Geometry3 g = windowGeometry(desc_, attrs_, x, kernel, y);
    KILN_CHECK(x.rank == 4 && x.dims[1] == c_ && y.dims[1] == k_, desc_.describe(), ": input has ", x.dims[1],
               " channels and output ", y.dims[1], ", the weight is ", k_, " x ", c_, " x 3 x 3");
    const int64_t aPoint = gemm::packedASize(k_, c_);
    KILN_CHECK(in[1].numel() == wg::kPoints * aPoint, desc_.describe(), ": packed weight has ", in[1].numel(),
               " values, expected ", wg::kPoints * aPoint);
    const int64_t n = x.dims[0], inSize = g.inSize(), outSize = g.outSize(), oh = g.out[1], ow = g.out[2];
    const int64_t tilesW = tilesOf(ow), tilesPerImage = tilesOf(oh) * tilesW, tiles = n * tilesPerImage;
    const int64_t nr = uk_.nr;
    const int threads = ctx.pool->size();
    // Output-channel blocks of whole micro-tiles, a few per thread.
    const int64_t mTiles = (k_ + gemm::kMR - 1) / gemm::kMR;
    const int64_t perBlock = std::min<int64_t>(
        kMaxKTiles, threads > 1 ? std::max<int64_t>(1, mTiles / (4 * threads)) : mTiles);
    const int64_t kRows = perBlock * gemm::kMR, kBlocks = (k_ + kRows - 1) / kRows;
    float* v = static_cast<float*>(ctx.workspace);
    float* m = v + wg::kPoints * tileBlock_ * c_;
    const float* xd = x.as<const float>();
    float* yd = y.as<float>();
    for (int64_t t0 = 0; t0 < tiles; t0 += tileBlock_) {
      const int64_t tc = std::min(tileBlock_, tiles - t0), panels = (tc + nr - 1) / nr, tcPad = panels * nr;
      const int64_t vPoint = tcPad * c_, mPoint = tcPad * k_;
      // Phase 1: input transform into the B panels (channel chunks so that
      // a single panel still feeds every thread).
      const int64_t chunks = std::min<int64_t>(c_, std::max<int64_t>(1, (4 * threads + panels - 1) / panels));
      const int64_t cPer = (c_ + chunks - 1) / chunks;
      gemm::forEachTask(*ctx.pool, panels * chunks, [&](int64_t t) {
        const int64_t j = t / chunks, c0 = (t % chunks) * cPer;
        wg::InputPanel ip;
        ip.x = xd;
        ip.planeStride = inSize;
        ip.imageStride = c_ * inSize;
        ip.h = g.in[1];
        ip.w = g.in[2];
        ip.padTop = g.pad[1];
        ip.padLeft = g.pad[2];
        ip.tilesW = tilesW;
        ip.tilesPerImage = tilesPerImage;
        ip.tile0 = t0 + j * nr;
        ip.count = std::min(nr, tc - j * nr);
        ip.c0 = std::min(c0, c_);
        ip.c1 = std::min(c0 + cPer, c_);
        ip.nr = static_cast<int>(nr);
        ip.v = v + j * c_ * nr;
        ip.pointStride = vPoint;
        wk_.input(ip);
      });
      // Phase 2: per output-channel block, its rows of the 36 GEMMs, then
      // their output transform while those rows are still in cache.
      gemm::forEachTask(*ctx.pool, kBlocks, [&](int64_t b) {
        const int64_t k0 = b * kRows, k1 = std::min(k_, k0 + kRows);
        for (int p = 0; p < wg::kPoints; ++p) {
          gemm::Problem pr;
          pr.m = k_;
          pr.n = tc;
          pr.k = c_;
          pr.a.data = wp + p * aPoint;
          pr.a.packed = true;
          pr.b = v + p * vPoint;
          pr.c = m + p * mPoint;
          pr.ldc = tcPad;
          gemm::computeBlock(uk_, pr, k0, k1, 0, tc);
        }
        wg::OutputPanel op;
        op.m = m;
        op.pointStride = mPoint;
        op.ldm = tcPad;
        op.k0 = k0;
        op.k1 = k1;
        op.tile0 = t0;
        op.count = tc;
        op.tilesW = tilesW;
        op.tilesPerImage = tilesPerImage;
        op.y = yd;
        op.imageStride = k_ * outSize;
        op.planeStride = outSize;
        op.oh = oh;
        op.ow = ow;
        op.bias = bias;
        op.residual = res;
        op.act = act_;
        wk_.output(op);
      });
    }
  }

 private:
  ir::Node desc_;
  ir::WindowAttrs attrs_;
  Activation act_;
  const gemm::Ukernels& uk_;
  const wg::Kernels& wk_;
  std::size_t numInputs_;
  int64_t k_ = 0, c_ = 0, tileBlock_ = 0;
};

bool allOnes(const std::vector<int64_t>& v) {
  return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 1; });
}

bool supports(const ir::Node& node) {
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1] || node.outputs.empty()) return false;
  if (node.inputs[0]->shape.size() != 4 || node.inputs[0]->dtype != DType::kFLOAT) return false;
  if (node.i("group", 1) != 1) return false;
  const ir::WindowAttrs a = ir::readWindowAttrs(node, 2);
  if (!allOnes(a.strides) || !allOnes(a.dilations)) return false;
  if (node.has("kiln_packed")) return node.s("kiln_packed", "") == kPackedLayout;
  const ir::Value* w = node.inputs[1];
  if (!w->isConstant() || w->constant->dtype() != DType::kFLOAT) return false;
  const std::vector<int64_t>& d = w->constant->dims();
  return d.size() == 4 && d[2] == 3 && d[3] == 3;
}

void prepack(ir::Node& node, ir::Graph& graph) {
  if (node.has("kiln_packed")) return;
  const ir::Value* wv = node.inputs[1];
  KILN_CHECK(wv && wv->isConstant(), node.describe(), ": Conv.winograd needs a constant weight");
  const ir::Tensor& w = *wv->constant;
  const std::vector<int64_t>& dims = w.dims();
  KILN_CHECK(dims.size() == 4 && dims[2] == 3 && dims[3] == 3, node.describe(),
             ": Conv.winograd needs a K x C x 3 x 3 weight, got ", ir::toString(dims));
  const int64_t k = dims[0], c = dims[1], aPoint = gemm::packedASize(k, c);
  std::vector<float> u(static_cast<std::size_t>(wg::kPoints * k * c));
  wg::transformWeights(w.as<float>(), k, c, u.data());
  ir::Tensor packed(DType::kFLOAT, {wg::kPoints * aPoint});
  for (int p = 0; p < wg::kPoints; ++p)
    gemm::packA(u.data() + p * k * c, c, 1, k, c, packed.mutableAs<float>() + p * aPoint);
  node.inputs[1] = graph.addConstant(wv->name + "_winograd", std::move(packed));
  node.attrs["kiln_packed"] = std::string(kPackedLayout);
  node.attrs["kiln_weight_shape"] = dims;
}

}  // namespace

Tactic convWinogradTactic() {
  // Below Conv.im2col_gemm (10): an untimed build keeps the exact tactic.
  return {"Conv.winograd", "Conv", 8, supports,
          [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ConvWinograd>(n); }, prepack};
}

}  // namespace kiln::cpu
