// "ConvTranspose.gemm": a transposed convolution as GEMM + col2im. Per
// image and group, cols (Kg*R*S x P_in) = W_g^T (Kg*R*S x Cg) * X_g (Cg x P_in),
// then every column value is added into the output position it lands on
// (o = i * stride - pad + t * dilation). W_g^T is read in place through
// strides (W is [C, Kg, R, S], so no packing is needed); X_g is packed into
// B panels per chunk of input positions, so the workspace stays small.
// col2im runs over output channels, so threads never write the same output.
#include <algorithm>
#include <cstring>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/conv_internal.h"
#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/ukernels/gemm.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kBudgetFloats = 1 << 19;  // packed X chunk + column chunk: 2 MiB

class ConvTransposeGemm final : public Kernel {
 public:
  explicit ConvTransposeGemm(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, node.inputs[0]->shape.size() - 2)),
        act_(fusedActivation(node)),
        uk_(gemm::hostUkernels()),
        group_(node.i("group", 1)),
        numInputs_(node.inputs.size()) {
    const std::vector<int64_t> w = ir::staticDims(node.inputs[1]->shape);
    cg_ = w[0] / group_;
    rows_ = 1;
    for (std::size_t i = 1; i < w.size(); ++i) rows_ *= w[i];
    const int64_t nr = uk_.nr;
    chunk_ = std::max(nr, kBudgetFloats / (cg_ + rows_) / nr * nr);
    const ir::Shape& xs = node.inputs[0]->shape;
    if (ir::isStatic(xs)) {
      int64_t p = 1;
      for (std::size_t i = 2; i < xs.size(); ++i) p *= xs[i].value;
      chunk_ = std::min(chunk_, gemm::roundUp(std::max<int64_t>(p, 1), nr));
    }
  }

  std::size_t workspaceBytes() const override {
    return static_cast<std::size_t>((cg_ + rows_) * chunk_) * sizeof(float);
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& w = in[1];
    const float* bias = numInputs_ > 2 ? in[2].as<const float>() : nullptr;
    const TensorView& y = out[0];
    const Geometry3 g = windowGeometry(desc_, attrs_, x, w.dims + 2, y, /*transposed=*/true);
    const int64_t n = x.dims[0], c = x.dims[1], kg = w.dims[1], k = kg * group_, ks = g.kernelSize();
    KILN_CHECK(c == cg_ * group_ && w.dims[0] == c && y.dims[1] == k && kg * ks == rows_, desc_.describe(),
               ": weight ", ir::toString(w.shape()), " does not match input ", ir::toString(x.shape()));
    const int64_t pin = g.inSize(), pout = g.outSize(), nr = uk_.nr;
    float* packed = static_cast<float*>(ctx.workspace);
    float* cols = packed + cg_ * chunk_;
    const float* xd = x.as<const float>();
    const float* wd = w.as<const float>();
    float* yd = y.as<float>();
    ThreadPool& pool = *ctx.pool;
    for (int64_t img = 0; img < n; ++img)
      for (int64_t grp = 0; grp < group_; ++grp) {
        const float* xg = xd + (img * c + grp * cg_) * pin;
        float* yg = yd + (img * k + grp * kg) * pout;
        pool.parallelFor(kg, [&](int64_t b, int64_t e) {
          std::memset(yg + b * pout, 0, sizeof(float) * (e - b) * pout);
        });
        for (int64_t p0 = 0; p0 < pin; p0 += chunk_) {
          const int64_t pc = std::min(chunk_, pin - p0);
          gemm::packBParallel(pool, xg + p0, pin, 1, cg_, pc, static_cast<int>(nr), 1.f, packed);
          gemm::Problem pr;
          pr.m = rows_;
          pr.n = pc;
          pr.k = cg_;
          pr.a.data = wd + grp * cg_ * rows_;  // A(i, ci) = W[grp * Cg + ci][i]
          pr.a.rs = 1;
          pr.a.cs = rows_;
          pr.b = packed;
          pr.c = cols;
          pr.ldc = pc;
          gemm::run(uk_, pool, pr);
          pool.parallelFor(kg, [&](int64_t b, int64_t e) {
            for (int64_t kk = b; kk < e; ++kk) col2im(g, cols + kk * ks * pc, pc, p0, yg + kk * pout);
          });
        }
        pool.parallelFor(kg, [&](int64_t b, int64_t e) {
          for (int64_t kk = b; kk < e; ++kk) {
            float* yp = yg + kk * pout;
            const float bv = bias ? bias[grp * kg + kk] : 0.f;
            for (int64_t i = 0; i < pout; ++i) yp[i] = applyActivation(act_, bias ? yp[i] + bv : yp[i]);
          }
        });
      }
  }

 private:
  // Adds the columns of one output channel (ks rows of pc input positions
  // starting at p0) into its output plane.
  static void col2im(const Geometry3& g, const float* col, int64_t pc, int64_t p0, float* yp) {
    int64_t t = 0;
    for (int64_t td = 0; td < g.kernel[0]; ++td)
      for (int64_t th = 0; th < g.kernel[1]; ++th)
        for (int64_t tw = 0; tw < g.kernel[2]; ++tw, ++t) {
          const float* row = col + t * pc;
          int64_t q = p0;
          int64_t qw = q % g.in[2], qh = q / g.in[2] % g.in[1], qd = q / (g.in[2] * g.in[1]);
          for (int64_t j = 0; j < pc;) {
            // One input row segment: qw .. end of row (or of the chunk).
            const int64_t len = std::min(g.in[2] - qw, pc - j);
            const int64_t od = qd * g.stride[0] - g.pad[0] + td * g.dil[0];
            const int64_t oh = qh * g.stride[1] - g.pad[1] + th * g.dil[1];
            if (od >= 0 && od < g.out[0] && oh >= 0 && oh < g.out[1]) {
              float* orow = yp + (od * g.out[1] + oh) * g.out[2];
              const int64_t base = -g.pad[2] + tw * g.dil[2];
              for (int64_t u = 0; u < len; ++u) {
                const int64_t ow = (qw + u) * g.stride[2] + base;
                if (ow >= 0 && ow < g.out[2]) orow[ow] += row[j + u];
              }
            }
            j += len;
            qw = 0;
            if (++qh == g.in[1]) {
              qh = 0;
              ++qd;
            }
          }
        }
  }

  ir::Node desc_;
  ir::WindowAttrs attrs_;
  Activation act_;
  const gemm::Ukernels& uk_;
  int64_t group_;
  std::size_t numInputs_;
  int64_t cg_ = 0, rows_ = 0, chunk_ = 0;
};

bool supports(const ir::Node& node) {
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1]) return false;
  const std::size_t rank = node.inputs[0]->shape.size();
  if (rank < 3 || rank > 5 || node.inputs[0]->dtype != DType::kFLOAT) return false;
  const ir::Shape& w = node.inputs[1]->shape;
  const int64_t group = node.i("group", 1);
  return node.inputs[1]->dtype == DType::kFLOAT && w.size() == rank && ir::isStatic(w) && group >= 1 &&
         w[0].value % group == 0;
}

}  // namespace

Tactic convTransposeGemmTactic() {
  return {"ConvTranspose.gemm", "ConvTranspose", 10, supports,
          [](const ir::Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<ConvTransposeGemm>(n); },
          nullptr};
}

}  // namespace kiln::cpu
