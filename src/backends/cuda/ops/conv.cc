// Conv (2-D, NCHW or NHWC) through cuDNN 9's legacy convolution API, with the
// fused inputs Kiln's passes attach (bias, `residual`, kiln_act). x, w, bias,
// residual and y share one type: FP32 (FMA math, or tensor-op math, which
// lets cuDNN use TF32, where the build allowed it: kiln_tf32), or FP16/BF16
// with FP32 accumulation (cuDNN's PSEUDO_HALF / PSEUDO_BFLOAT16 configs,
// tensor-op math). FP32 bias + ReLU (+ residual) go through
// cudnnConvolutionBiasActivationForward in one call; other activations, and
// every epilogue in FP16/BF16, run as one Kiln pass after the convolution
// (channelBiasAct). Descriptors and the algorithm are made once per input
// shape and cached in the kernel; the builder times cuDNN's ranked algorithms
// (variants) and the plan keeps the winner (kiln_cudnn_algo).
// Channels-last (kiln_layout NHWC, set by builder/device_layout.cc): x, y and
// the residual are NHWC and the weight KRSC, described to cuDNN as
// CUDNN_TENSOR_NHWC (what its FP16/BF16 tensor-core kernels read); the
// unfused epilogue is then channelLastBiasAct (layout.cu, channel = last axis).
// In FP16/BF16 the variants also offer cudnnConvolutionBiasActivationForward
// for bias + residual + ReLU (or identity) in the convolution's own pass
// (kiln_cudnn_fused = 1); the timing keeps it only where cuDNN runs it and it wins.
// The cuDNN graph API with engine configs as tactics is the next step.
#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

#include "backends/cuda/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/layout_kernels.h"
#include "backends/cuda/ops/tactic_util.h"
#include "ir/ops/spatial.h"

namespace kiln::cuda {
namespace {

constexpr std::size_t kWorkspace = 64u << 20;

template <typename T, cudnnStatus_t (*Destroy)(T)>
struct Owned {
  T handle = nullptr;
  ~Owned() {
    if (handle) Destroy(handle);
  }
};
using TensorDesc = Owned<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDesc = Owned<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvDesc = Owned<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;
using ActDesc = Owned<cudnnActivationDescriptor_t, cudnnDestroyActivationDescriptor>;

cudnnDataType_t dataType(kernels::Elem e) {
  if (e == kernels::Elem::kHalf) return CUDNN_DATA_HALF;
  return e == kernels::Elem::kBF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

//! A 4-D tensor of logical (N, C, H, W) `dims` stored as `format` (NCHW or NHWC).
void tensor4d(TensorDesc& d, cudnnTensorFormat_t format, cudnnDataType_t type, const int64_t* dims) {
  KILN_CUDA_CHECK(cudnnCreateTensorDescriptor(&d.handle));
  KILN_CUDA_CHECK(cudnnSetTensor4dDescriptor(d.handle, format, type, int(dims[0]), int(dims[1]), int(dims[2]),
                                             int(dims[3])));
}

//! NHWC view dims -> the logical (N, C, H, W) ones cuDNN's descriptors take.
void channelsFirst(const int64_t* in, int64_t* out) {
  out[0] = in[0], out[1] = in[3], out[2] = in[1], out[3] = in[2];
}

//! Descriptors and the algorithm for one input shape, made once (per-run
//! creation and a heuristic query cost host time on every convolution).
struct Prepared {
  int64_t x[4] = {}, w[4] = {}, y[4] = {};
  TensorDesc xd, yd, bd;
  FilterDesc wd;
  ConvDesc cd;
  ActDesc ad;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
};

//! The algorithm a plan variant names (node attribute: a cudnnConvolutionFwdAlgo_t).
constexpr const char* kAlgoAttr = "kiln_cudnn_algo";
//! A plan variant's epilogue: 1 = bias (+ residual) + ReLU/identity inside
//! cudnnConvolutionBiasActivationForward (FP16/BF16; FP32 + bias + ReLU always fuses).
constexpr const char* kFusedAttr = "kiln_cudnn_fused";

class ConvKernel final : public backends::DeviceKernel {
 public:
  explicit ConvKernel(const ir::Node& n)
      : attrs_(ir::readWindowAttrs(n, 2)),
        group_(static_cast<int>(n.i("group", 1))),
        hasBias_(n.inputs.size() > 2 && n.inputs[2]),
        hasResidual_(n.inputs.size() > 3 && n.inputs[3]),
        variant_(static_cast<int>(n.i(kAlgoAttr, -1))),
        last_(ir::channelsLast(n)) {
    desc_.op = n.op, desc_.name = n.name, desc_.attrs = n.attrs;
    KILN_CHECK(unaryParams(n.s("kiln_act", ""), n, true, &act_), n.describe(), ": unsupported fused activation");
    KILN_CHECK(uniformFloat(n, &elem_), n.describe(), ": x, w, bias, residual and y must share one of FP32/FP16/BF16");
    tf32_ = tf32Allowed(n);
    const bool relu = act_.op == kernels::Unary::kRelu, identity = act_.op == kernels::Unary::kIdentity;
    fused_ = hasBias_ && ((elem_ == kernels::Elem::kFloat && relu) || (n.i(kFusedAttr, 0) == 1 && (relu || identity)));
    fusedIdentity_ = fused_ && identity;
  }
  //! Whether this node could take a fused-epilogue variant (FP16/BF16, bias, ReLU or no activation).
  bool fusable() const {
    return hasBias_ && elem_ != kernels::Elem::kFloat &&
           (act_.op == kernels::Unary::kRelu || act_.op == kernels::Unary::kIdentity);
  }
  bool identityAct() const { return act_.op == kernels::Unary::kIdentity; }
  std::size_t workspaceBytes() const override { return kWorkspace; }

  //! Descriptors for x, w, y of these (view) dims (no algorithm yet).
  void describe(const int64_t* xv, const int64_t* wv, const int64_t* yv, Prepared& p) const {
    std::copy(xv, xv + 4, p.x), std::copy(wv, wv + 4, p.w), std::copy(yv, yv + 4, p.y);
    int64_t xl[4], wl[4], yl[4];  // logical (N, C, H, W) / (K, C, R, S)
    const int64_t *x = xv, *w = wv, *y = yv;
    if (last_) {
      channelsFirst(xv, xl), channelsFirst(wv, wl), channelsFirst(yv, yl);
      x = xl, w = wl, y = yl;
    }
    const cudnnTensorFormat_t format = last_ ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    int pads[2], strides[2], dil[2];
    for (int i = 0; i < 2; ++i) {
      ir::AxisGeometry g = ir::windowAxis(desc_, attrs_, i, x[2 + i], w[2 + i]);
      KILN_CHECK(g.padBegin == g.padEnd, desc_.describe(), ": asymmetric padding (", g.padBegin, ", ", g.padEnd,
                 ") on spatial axis ", i, " is not supported by the cuDNN tactic");
      KILN_CHECK(g.out == y[2 + i], desc_.describe(), ": output size ", y[2 + i], " disagrees with ", g.out);
      pads[i] = int(g.padBegin), strides[i] = int(attrs_.strides[i]), dil[i] = int(attrs_.dilations[i]);
    }
    const cudnnDataType_t type = dataType(elem_);
    tensor4d(p.xd, format, type, x);
    tensor4d(p.yd, format, type, y);
    KILN_CUDA_CHECK(cudnnCreateFilterDescriptor(&p.wd.handle));
    KILN_CUDA_CHECK(cudnnSetFilter4dDescriptor(p.wd.handle, type, format, int(w[0]), int(w[1]), int(w[2]), int(w[3])));
    KILN_CUDA_CHECK(cudnnCreateConvolutionDescriptor(&p.cd.handle));
    KILN_CUDA_CHECK(cudnnSetConvolution2dDescriptor(p.cd.handle, pads[0], pads[1], strides[0], strides[1], dil[0],
                                                    dil[1], CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));  // FP32 accumulation
    KILN_CUDA_CHECK(cudnnSetConvolutionGroupCount(p.cd.handle, group_));
    // FP32 without TF32: FMA math, as the CPU computes. Tensor-op math otherwise (TF32 for FP32 data).
    const bool tensorOps = elem_ != kernels::Elem::kFloat || tf32_;
    KILN_CUDA_CHECK(cudnnSetConvolutionMathType(p.cd.handle, tensorOps ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
    if (fused_) {
      const int64_t biasDims[4] = {1, y[1], 1, 1};
      tensor4d(p.bd, CUDNN_TENSOR_NCHW, type, biasDims);  // K contiguous values either way
      KILN_CUDA_CHECK(cudnnCreateActivationDescriptor(&p.ad.handle));
      const cudnnActivationMode_t mode = fusedIdentity_ ? CUDNN_ACTIVATION_IDENTITY : CUDNN_ACTIVATION_RELU;
      KILN_CUDA_CHECK(cudnnSetActivationDescriptor(p.ad.handle, mode, CUDNN_NOT_PROPAGATE_NAN, 0.0));
    }
  }

  //! cuDNN's ranked algorithms for `p` that fit the workspace.
  std::vector<cudnnConvolutionFwdAlgo_t> ranked(cudnnHandle_t handle, const Prepared& p) const {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    KILN_CUDA_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, p.xd.handle, p.wd.handle, p.cd.handle, p.yd.handle,
                                                           CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
    std::vector<cudnnConvolutionFwdAlgo_t> out;
    for (int i = 0; i < found; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kWorkspace) out.push_back(perf[i].algo);
    return out;
  }

  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &w = in[1], &y = out[0];
    const Libraries& libs = libraries(launch);
    const Prepared& p = prepared(libs.cudnn, x.dims, w.dims, y.dims);
    KILN_CUDA_CHECK(cudnnSetStream(libs.cudnn, streamOf(launch)));
    const float one = 1.f, zero = 0.f;
    if (fused_) {
      // y = act(conv(x) + alpha2 * z + bias); z is the residual, or y itself with alpha2 = 0.
      const float alpha2 = hasResidual_ ? 1.f : 0.f;
      const void* z = hasResidual_ ? in[3].data : y.data;
      KILN_CUDA_CHECK(cudnnConvolutionBiasActivationForward(libs.cudnn, &one, p.xd.handle, x.data, p.wd.handle, w.data,
                                                            p.cd.handle, p.algo, launch.workspace, kWorkspace, &alpha2,
                                                            p.yd.handle, z, p.bd.handle, in[2].data, p.ad.handle,
                                                            p.yd.handle, y.data));
      return;
    }
    KILN_CUDA_CHECK(cudnnConvolutionForward(libs.cudnn, &one, p.xd.handle, x.data, p.wd.handle, w.data, p.cd.handle,
                                            p.algo, launch.workspace, kWorkspace, &zero, p.yd.handle, y.data));
    if (!hasBias_ && !hasResidual_ && act_.op == kernels::Unary::kIdentity) return;
    const void* bias = hasBias_ ? in[2].data : nullptr;
    const void* residual = hasResidual_ ? in[3].data : nullptr;
    if (last_)
      kernels::channelLastBiasAct(y.data, bias, residual, y.dims[0] * y.dims[1] * y.dims[2], y.dims[3], act_, elem_,
                                  streamOf(launch));
    else
      kernels::channelBiasAct(y.data, bias, residual, y.dims[0], y.dims[1], y.dims[2] * y.dims[3], act_, elem_,
                              streamOf(launch));
  }

 private:
  //! The cached descriptors for these dims, made on first use (contexts share
  //! the kernel: guarded); the plan's timed algorithm where it fits, else cuDNN's first.
  const Prepared& prepared(cudnnHandle_t handle, const int64_t* x, const int64_t* w, const int64_t* y) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& p : cache_)
      if (std::equal(x, x + 4, p->x) && std::equal(w, w + 4, p->w) && std::equal(y, y + 4, p->y)) return *p;
    if (cache_.size() >= 16) cache_.erase(cache_.begin());
    auto p = std::make_unique<Prepared>();
    describe(x, w, y, *p);
    std::vector<cudnnConvolutionFwdAlgo_t> algos = ranked(handle, *p);
    KILN_CHECK(!algos.empty(), desc_.describe(), ": cuDNN has no algorithm within ", kWorkspace,
               " bytes of workspace");
    p->algo = algos[0];
    for (cudnnConvolutionFwdAlgo_t a : algos)
      if (static_cast<int>(a) == variant_) p->algo = a;
    // cuDNN's fused call takes an identity activation with this algorithm only.
    if (fusedIdentity_) p->algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
    cache_.push_back(std::move(p));
    return *cache_.back();
  }

  ir::Node desc_;
  ir::WindowAttrs attrs_;
  int group_;
  bool hasBias_, hasResidual_;
  int variant_;  //!< the plan's algorithm (kiln_cudnn_algo), or -1
  kernels::UnaryParams act_;
  kernels::Elem elem_ = kernels::Elem::kFloat;
  bool tf32_ = false;
  bool last_ = false;           //!< kiln_layout NHWC: x, y, residual NHWC, w KRSC
  bool fused_ = false;          //!< the epilogue inside cudnnConvolutionBiasActivationForward
  bool fusedIdentity_ = false;  //!< ... with an identity activation
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Prepared>> cache_;
};

bool supports(const ir::Node& n) {
  kernels::UnaryParams act;
  kernels::Elem elem;
  if (!uniformFloat(n, &elem) || n.outputs.size() != 1 || n.inputs.size() < 2 || !n.inputs[0] || !n.inputs[1])
    return false;
  if (n.inputs[0]->shape.size() != 4 || n.inputs[1]->shape.size() != 4) return false;
  if (!unaryParams(n.s("kiln_act", ""), n, true, &act)) return false;
  const std::string layout = n.s(ir::kLayoutAttr, "NCHW");
  if (layout != "NCHW" && layout != "NHWC") return false;
  ir::WindowAttrs a = ir::readWindowAttrs(n, 2);
  if (!ir::isStatic(n.inputs[0]->shape) || !ir::isStatic(n.inputs[1]->shape)) return true;  // checked at the extremes
  std::vector<int64_t> x = ir::staticDims(n.inputs[0]->shape), w = ir::staticDims(n.inputs[1]->shape);
  if (layout == "NHWC") {  // the geometry below reads (N, C, H, W) / (K, C, R, S)
    x = {x[0], x[3], x[1], x[2]};
    w = {w[0], w[3], w[1], w[2]};
  }
  for (std::size_t i = 0; i < 2; ++i) {
    ir::AxisGeometry g = ir::windowAxis(n, a, i, x[2 + i], w[2 + i]);
    if (g.padBegin != g.padEnd) return false;  // cuDNN's legacy API pads symmetrically
  }
  return true;
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) { return std::make_unique<ConvKernel>(n); }

//! cuDNN's ranked algorithms (up to 6) at the node's shapes, for the builder to time.
std::vector<backends::TacticVariant> variants(const ir::Node& n, void* libraries) {
  if (!ir::isStatic(n.inputs[0]->shape) || !ir::isStatic(n.inputs[1]->shape) || !ir::isStatic(n.outputs[0]->shape))
    return {};
  ConvKernel k(n);
  std::vector<int64_t> x = ir::staticDims(n.inputs[0]->shape), w = ir::staticDims(n.inputs[1]->shape),
                       y = ir::staticDims(n.outputs[0]->shape);
  Prepared p;
  k.describe(x.data(), w.data(), y.data(), p);
  std::vector<backends::TacticVariant> out;
  bool precompRanked = false;
  // cuDNN's first 6 algorithms; with a fusable epilogue also the first 3 fused (at most 9 timing runs).
  int ranks = 0;
  for (cudnnConvolutionFwdAlgo_t a : k.ranked(static_cast<Libraries*>(libraries)->cudnn, p)) {
    if (ranks++ == 6) break;
    precompRanked = precompRanked || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
    backends::TacticVariant v;
    v[kAlgoAttr] = static_cast<int64_t>(a);
    out.push_back(v);
    if (ranks <= 3 && k.fusable() && !k.identityAct()) {  // bias + residual + ReLU inside cuDNN's call
      v[kFusedAttr] = int64_t{1};
      out.push_back(std::move(v));
    }
  }
  if (k.fusable() && k.identityAct() && precompRanked) {  // identity: IMPLICIT_PRECOMP_GEMM only
    backends::TacticVariant v;
    v[kAlgoAttr] = static_cast<int64_t>(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
    v[kFusedAttr] = int64_t{1};
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

void registerConvTactics(TacticList& out) { out.push_back({"Conv.cudnn", "Conv", 0, supports, create, variants}); }

}  // namespace kiln::cuda
