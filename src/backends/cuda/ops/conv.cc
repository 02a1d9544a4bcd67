// Conv (2-D, NCHW) through cuDNN 9's legacy convolution API, with the
// fused inputs Kiln's passes attach (bias, `residual`, kiln_act). x, w, bias,
// residual and y share one type: FP32 (FMA math, or tensor-op math, which
// lets cuDNN use TF32, where the build allowed it: kiln_tf32), or FP16/BF16
// with FP32 accumulation (cuDNN's PSEUDO_HALF / PSEUDO_BFLOAT16 configs,
// tensor-op math). FP32 bias + ReLU (+ residual) go through
// cudnnConvolutionBiasActivationForward in one call; other activations, and
// every epilogue in FP16/BF16, run as one Kiln pass after the convolution
// (channelBiasAct). The algorithm is cuDNN's heuristic first choice that fits
// the workspace (not timed yet); descriptors are made per run on the host.
// The cuDNN graph API with engine configs as tactics is the next step.
// Not yet run on a GPU.
#include <memory>

#include "backends/cuda/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
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

void nchw(TensorDesc& d, cudnnDataType_t type, const int64_t* dims) {
  KILN_CUDA_CHECK(cudnnCreateTensorDescriptor(&d.handle));
  KILN_CUDA_CHECK(cudnnSetTensor4dDescriptor(d.handle, CUDNN_TENSOR_NCHW, type, int(dims[0]), int(dims[1]),
                                             int(dims[2]), int(dims[3])));
}

class ConvKernel final : public backends::DeviceKernel {
 public:
  explicit ConvKernel(const ir::Node& n)
      : attrs_(ir::readWindowAttrs(n, 2)),
        group_(static_cast<int>(n.i("group", 1))),
        hasBias_(n.inputs.size() > 2 && n.inputs[2]),
        hasResidual_(n.inputs.size() > 3 && n.inputs[3]) {
    desc_.op = n.op, desc_.name = n.name, desc_.attrs = n.attrs;
    KILN_CHECK(unaryParams(n.s("kiln_act", ""), n, true, &act_), n.describe(), ": unsupported fused activation");
    KILN_CHECK(uniformFloat(n, &elem_), n.describe(), ": x, w, bias, residual and y must share one of FP32/FP16/BF16");
    tf32_ = tf32Allowed(n);
    fusedRelu_ = elem_ == kernels::Elem::kFloat && hasBias_ && act_.op == kernels::Unary::kRelu;
  }
  std::size_t workspaceBytes() const override { return kWorkspace; }

  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &w = in[1], &y = out[0];
    int pads[2], strides[2], dil[2];
    for (int i = 0; i < 2; ++i) {
      ir::AxisGeometry g = ir::windowAxis(desc_, attrs_, i, x.dims[2 + i], w.dims[2 + i]);
      KILN_CHECK(g.padBegin == g.padEnd, desc_.describe(), ": asymmetric padding (", g.padBegin, ", ", g.padEnd,
                 ") on spatial axis ", i, " is not supported by the cuDNN tactic");
      KILN_CHECK(g.out == y.dims[2 + i], desc_.describe(), ": output size ", y.dims[2 + i], " disagrees with ", g.out);
      pads[i] = int(g.padBegin), strides[i] = int(attrs_.strides[i]), dil[i] = int(attrs_.dilations[i]);
    }
    const Libraries& libs = libraries(launch);
    KILN_CUDA_CHECK(cudnnSetStream(libs.cudnn, streamOf(launch)));
    const cudnnDataType_t type = dataType(elem_);
    TensorDesc xd, yd, bd;
    nchw(xd, type, x.dims);
    nchw(yd, type, y.dims);
    FilterDesc wd;
    KILN_CUDA_CHECK(cudnnCreateFilterDescriptor(&wd.handle));
    KILN_CUDA_CHECK(cudnnSetFilter4dDescriptor(wd.handle, type, CUDNN_TENSOR_NCHW, int(w.dims[0]),
                                               int(w.dims[1]), int(w.dims[2]), int(w.dims[3])));
    ConvDesc cd;
    KILN_CUDA_CHECK(cudnnCreateConvolutionDescriptor(&cd.handle));
    KILN_CUDA_CHECK(cudnnSetConvolution2dDescriptor(cd.handle, pads[0], pads[1], strides[0], strides[1], dil[0], dil[1],
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));  // FP32 accumulation
    KILN_CUDA_CHECK(cudnnSetConvolutionGroupCount(cd.handle, group_));
    // FP32 without TF32: FMA math, as the CPU computes. Tensor-op math otherwise (TF32 for FP32 data).
    const bool tensorOps = elem_ != kernels::Elem::kFloat || tf32_;
    KILN_CUDA_CHECK(cudnnSetConvolutionMathType(cd.handle, tensorOps ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));

    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    KILN_CUDA_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(libs.cudnn, xd.handle, wd.handle, cd.handle, yd.handle,
                                                           CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
    cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
    bool chosen = false;
    for (int i = 0; i < found && !chosen; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kWorkspace) algo = perf[i].algo, chosen = true;
    KILN_CHECK(chosen, desc_.describe(), ": cuDNN has no algorithm within ", kWorkspace, " bytes of workspace");

    const float one = 1.f, zero = 0.f;
    if (fusedRelu_) {
      const int64_t biasDims[4] = {1, y.dims[1], 1, 1};
      nchw(bd, type, biasDims);
      ActDesc ad;
      KILN_CUDA_CHECK(cudnnCreateActivationDescriptor(&ad.handle));
      KILN_CUDA_CHECK(cudnnSetActivationDescriptor(ad.handle, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
      // y = relu(conv(x) + alpha2 * z + bias); z is the residual, or y itself with alpha2 = 0.
      const float alpha2 = hasResidual_ ? 1.f : 0.f;
      const void* z = hasResidual_ ? in[3].data : y.data;
      KILN_CUDA_CHECK(cudnnConvolutionBiasActivationForward(libs.cudnn, &one, xd.handle, x.data, wd.handle, w.data,
                                                            cd.handle, algo, launch.workspace, kWorkspace, &alpha2,
                                                            yd.handle, z, bd.handle, in[2].data, ad.handle, yd.handle,
                                                            y.data));
      return;
    }
    KILN_CUDA_CHECK(cudnnConvolutionForward(libs.cudnn, &one, xd.handle, x.data, wd.handle, w.data, cd.handle, algo,
                                            launch.workspace, kWorkspace, &zero, yd.handle, y.data));
    if (hasBias_ || hasResidual_ || act_.op != kernels::Unary::kIdentity)
      kernels::channelBiasAct(y.data, hasBias_ ? in[2].data : nullptr, hasResidual_ ? in[3].data : nullptr, y.dims[0],
                              y.dims[1], y.dims[2] * y.dims[3], act_, elem_, streamOf(launch));
  }

 private:
  ir::Node desc_;
  ir::WindowAttrs attrs_;
  int group_;
  bool hasBias_, hasResidual_;
  kernels::UnaryParams act_;
  kernels::Elem elem_ = kernels::Elem::kFloat;
  bool tf32_ = false;
  bool fusedRelu_ = false;
};

bool supports(const ir::Node& n) {
  kernels::UnaryParams act;
  kernels::Elem elem;
  if (!uniformFloat(n, &elem) || n.outputs.size() != 1 || n.inputs.size() < 2 || !n.inputs[0] || !n.inputs[1])
    return false;
  if (n.inputs[0]->shape.size() != 4 || n.inputs[1]->shape.size() != 4) return false;
  if (!unaryParams(n.s("kiln_act", ""), n, true, &act)) return false;
  ir::WindowAttrs a = ir::readWindowAttrs(n, 2);
  if (!ir::isStatic(n.inputs[0]->shape) || !ir::isStatic(n.inputs[1]->shape)) return true;  // checked at the extremes
  std::vector<int64_t> x = ir::staticDims(n.inputs[0]->shape), w = ir::staticDims(n.inputs[1]->shape);
  for (std::size_t i = 0; i < 2; ++i) {
    ir::AxisGeometry g = ir::windowAxis(n, a, i, x[2 + i], w[2 + i]);
    if (g.padBegin != g.padEnd) return false;  // cuDNN's legacy API pads symmetrically
  }
  return true;
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) { return std::make_unique<ConvKernel>(n); }

}  // namespace

void registerConvTactics(TacticList& out) { out.push_back({"Conv.cudnn", "Conv", 0, supports, create}); }

}  // namespace kiln::cuda
