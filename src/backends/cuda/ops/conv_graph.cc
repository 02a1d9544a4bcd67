// Conv (2-D) through cuDNN 9's graph (backend) API: the tactic "Conv.cudnn_graph".
//
// Why a second cuDNN tactic: on an H200 (cuDNN 9.19, FP16), the legacy
// cudnnConvolutionForward's best algorithm runs ResNet-50's 1x1 64->256 layer
// at batch 64 in 0.32 ms and its 3x3 64->64 layer in 0.32 ms (NCHW) or 0.15 ms
// (NHWC), where PyTorch, which goes through the graph API's engines, takes
// 0.042 and 0.043 ms (docs/benchmarks-gpu.md, "cuDNN APIs"). The graph API also
// fuses the epilogue: conv -> + bias -> + residual -> activation runs as one
// operation graph where one of cuDNN's runtime-fusion engines takes it;
// otherwise the graph is the convolution alone and Kiln's channelBiasAct pass
// follows (as in the legacy tactic, conv.cc).
//
// Tensors are described by dims in NCHW order and strides, so the layout is
// only strides: a Conv the device layout pass runs channels-last (kiln_layout
// NHWC: x, y, residual [N, H, W, C], weight [K, R, S, C]) gets NHWC strides
// over the same logical dims, and its unfused epilogue is channelLastBiasAct. Variants are, for the fused graph and for the
// convolution alone, the engine configurations cuDNN's heuristics (mode A)
// rank first whose execution plans finalize and fit the workspace; the plan
// records the form and the rank (kiln_cudnn_graph_fused, kiln_cudnn_graph_cfg),
// which name the same engine again on the same GPU and cuDNN version (the plan
// is bound to both). The workspace scales with the tensors: NCHW engines
// transform x and y through it (at batch 128 a ResNet-50 layer needs more than
// 64 MiB), capped at 2 GiB. Descriptors, the operation graph and the execution
// plan are made once per (cuDNN handle, input shape) and cached in the kernel.
#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "backends/cuda/backend.h"
#include "backends/cuda/check.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/layout_kernels.h"
#include "backends/cuda/ops/tactic_util.h"
#include "ir/ops/spatial.h"

namespace kiln::cuda {
namespace {

constexpr int64_t kMinWorkspace = int64_t{64} << 20, kMaxWorkspace = int64_t{2} << 30;
constexpr std::size_t kVariantsPerForm = 4;
//! The plan's engine configuration: its rank among the configurations that finalize.
constexpr const char* kConfigAttr = "kiln_cudnn_graph_cfg";
//! 1: the epilogue runs inside the cuDNN graph; 0: the convolution alone, then channelBiasAct.
constexpr const char* kFusedAttr = "kiln_cudnn_graph_fused";

//! Bytes of a value with static dims (0 when they are not static).
int64_t staticBytes(const ir::Value* v) {
  if (!v || !ir::isStatic(v->shape)) return 0;
  return ir::numElements(ir::staticDims(v->shape)) * dtypeSize(v->dtype);
}

//! One backend descriptor, destroyed with its owner.
class Desc {
 public:
  explicit Desc(cudnnBackendDescriptorType_t type) { KILN_CUDA_CHECK(cudnnBackendCreateDescriptor(type, &d_)); }
  Desc(Desc&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  Desc& operator=(Desc&&) = delete;
  Desc(const Desc&) = delete;
  ~Desc() {
    if (d_) cudnnBackendDestroyDescriptor(d_);
  }
  cudnnBackendDescriptor_t get() const { return d_; }
  template <typename T>
  Desc& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count, const T* values) {
    KILN_CUDA_CHECK(cudnnBackendSetAttribute(d_, name, type, count, values));
    return *this;
  }
  Desc& set(cudnnBackendAttributeName_t name, const Desc& other) {
    cudnnBackendDescriptor_t h = other.get();
    return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &h);
  }
  Desc& finalize() {
    KILN_CUDA_CHECK(cudnnBackendFinalize(d_));
    return *this;
  }
  //! Finalize that reports failure instead of throwing (an engine that can't take the graph).
  bool tryFinalize() { return cudnnBackendFinalize(d_) == CUDNN_STATUS_SUCCESS; }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

// The handle attributes are deprecated in cuDNN 9.x but still what finalize
// reads the device from; spelled by value so the build stays warning-free.
constexpr auto kOpGraphHandle = static_cast<cudnnBackendAttributeName_t>(800);   // CUDNN_ATTR_OPERATIONGRAPH_HANDLE
constexpr auto kPlanHandle = static_cast<cudnnBackendAttributeName_t>(400);      // CUDNN_ATTR_EXECUTION_PLAN_HANDLE

cudnnDataType_t dataType(kernels::Elem e) {
  if (e == kernels::Elem::kHalf) return CUDNN_DATA_HALF;
  return e == kernels::Elem::kBF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

//! Unique ids of the graph's real tensors (the variant pack names them).
enum TensorId : int64_t { kX = 1, kW, kY, kBias, kResidual, kVirtualBase = 100 };

//! A tensor of logical dims [N, C, H, W], stored NCHW or (nhwc) NHWC.
Desc tensor(int64_t id, cudnnDataType_t type, const int64_t* dims, bool isVirtual, bool nhwc) {
  const int64_t c = dims[1], h = dims[2], w = dims[3];
  const int64_t nchwStrides[4] = {c * h * w, h * w, w, 1}, nhwcStrides[4] = {h * w * c, 1, w * c, c};
  const int64_t* strides = nhwc ? nhwcStrides : nchwStrides;
  const int64_t alignment = 16;
  Desc d(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  d.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type)
      .set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims)
      .set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides)
      .set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &id)
      .set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
  if (isVirtual) {
    const bool yes = true;
    d.set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &yes);
  }
  return std::move(d.finalize());
}

//! cuDNN's pointwise mode for a fused activation; false for those it lacks.
bool pointwiseMode(const kernels::UnaryParams& act, cudnnPointwiseMode_t* mode) {
  switch (act.op) {
    case kernels::Unary::kRelu: *mode = CUDNN_POINTWISE_RELU_FWD; return true;
    case kernels::Unary::kSigmoid: *mode = CUDNN_POINTWISE_SIGMOID_FWD; return true;
    case kernels::Unary::kTanh: *mode = CUDNN_POINTWISE_TANH_FWD; return true;
    case kernels::Unary::kSilu: *mode = CUDNN_POINTWISE_SWISH_FWD; return true;
    case kernels::Unary::kGeluErf: *mode = CUDNN_POINTWISE_GELU_FWD; return true;
    default: return false;
  }
}

//! Logical [N, C, H, W] (weights [K, C, R, S]) dims of a tensor stored as `dims`.
void logicalDims(const int64_t* dims, bool nhwc, int64_t* out) {
  if (!nhwc) {
    std::copy(dims, dims + 4, out);
    return;
  }
  out[0] = dims[0], out[1] = dims[3], out[2] = dims[1], out[3] = dims[2];
}

//! The operation graph and the execution plans that run it, for one shape and handle.
struct Prepared {
  cudnnHandle_t handle = nullptr;
  int64_t x[4] = {}, w[4] = {}, y[4] = {};  //!< as stored (the cache key)
  int64_t lx[4] = {}, lw[4] = {}, ly[4] = {};  //!< logical NCHW / KCRS
  std::deque<Desc> keep;  //!< every descriptor the graph refers to (a deque: references stay valid)
  std::vector<Desc> plans;  //!< finalized execution plans, heuristics' order
  bool fused = false;      //!< bias/residual/activation run inside the graph
  std::size_t chosen = 0;  //!< index into plans
};

class ConvGraphKernel final : public backends::DeviceKernel {
 public:
  explicit ConvGraphKernel(const ir::Node& n)
      : attrs_(ir::readWindowAttrs(n, 2)),
        hasBias_(n.inputs.size() > 2 && n.inputs[2]),
        hasResidual_(n.inputs.size() > 3 && n.inputs[3]),
        variant_(static_cast<int>(n.i(kConfigAttr, 0))),
        wantFused_(n.i(kFusedAttr, 1) != 0),
        nhwc_(ir::channelsLast(n)) {
    desc_.op = n.op, desc_.name = n.name, desc_.attrs = n.attrs;
    KILN_CHECK(unaryParams(n.s("kiln_act", ""), n, true, &act_), n.describe(), ": unsupported fused activation");
    KILN_CHECK(uniformFloat(n, &elem_), n.describe(), ": x, w, bias, residual and y must share one of FP32/FP16/BF16");
    tf32_ = tf32Allowed(n);
    // The node carries its largest shapes here (a profile's max, or the opt shapes when variants are asked).
    const int64_t io = staticBytes(n.inputs[0]) + staticBytes(n.outputs[0]) + staticBytes(n.inputs[1]);
    workspace_ = std::clamp(4 * io, kMinWorkspace, kMaxWorkspace);
  }
  std::size_t workspaceBytes() const override { return static_cast<std::size_t>(workspace_); }
  //! Whether the epilogue can run inside a cuDNN graph (there is one, and cuDNN has its activation).
  bool fusable() const { return hasEpilogue() && epilogueFusable(); }

  //! Builds the graph for these dims and finalizes up to `limit` plans: the
  //! fused graph when asked and possible, else (or when no engine takes it)
  //! the convolution alone.
  void prepare(cudnnHandle_t handle, const int64_t* x, const int64_t* w, const int64_t* y, bool fused,
               std::size_t limit, Prepared& p) const {
    p.handle = handle;
    std::copy(x, x + 4, p.x), std::copy(w, w + 4, p.w), std::copy(y, y + 4, p.y);
    logicalDims(x, nhwc_, p.lx), logicalDims(w, nhwc_, p.lw), logicalDims(y, nhwc_, p.ly);
    if (fused && fusable()) {
      buildGraph(p, true, limit);
      if (!p.plans.empty()) return;
      p.keep.clear();
    }
    buildGraph(p, false, limit);
    KILN_CHECK(!p.plans.empty(), desc_.describe(), ": no cuDNN graph engine runs this convolution within ", workspace_,
               " bytes of workspace");
  }

  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &w = in[1], &y = out[0];
    const Libraries& libs = libraries(launch);
    const Prepared& p = prepared(libs.cudnn, x.dims, w.dims, y.dims);
    KILN_CUDA_CHECK(cudnnSetStream(libs.cudnn, streamOf(launch)));
    std::vector<int64_t> ids = {kX, kW, kY};
    std::vector<void*> ptrs = {x.data, w.data, y.data};
    if (p.fused && hasBias_) ids.push_back(kBias), ptrs.push_back(in[2].data);
    if (p.fused && hasResidual_) ids.push_back(kResidual), ptrs.push_back(in[3].data);
    Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    void* workspace = launch.workspace;
    pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, int64_t(ids.size()), ids.data())
        .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, int64_t(ptrs.size()), ptrs.data())
        .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace)
        .finalize();
    KILN_CUDA_CHECK(cudnnBackendExecute(libs.cudnn, p.plans[p.chosen].get(), pack.get()));
    if (p.fused || !hasEpilogue()) return;
    const void* bias = hasBias_ ? in[2].data : nullptr;
    const void* residual = hasResidual_ ? in[3].data : nullptr;
    if (nhwc_)
      kernels::channelLastBiasAct(y.data, bias, residual, y.dims[0] * y.dims[1] * y.dims[2], y.dims[3], act_, elem_,
                                  streamOf(launch));
    else
      kernels::channelBiasAct(y.data, bias, residual, y.dims[0], y.dims[1], y.dims[2] * y.dims[3], act_, elem_,
                              streamOf(launch));
  }

 private:
  bool hasEpilogue() const { return hasBias_ || hasResidual_ || act_.op != kernels::Unary::kIdentity; }
  bool epilogueFusable() const {
    cudnnPointwiseMode_t mode;
    return act_.op == kernels::Unary::kIdentity || pointwiseMode(act_, &mode);
  }

  //! conv [-> add bias -> add residual -> activation] into p.keep, then the plans.
  void buildGraph(Prepared& p, bool fuse, std::size_t limit) const {
    const cudnnDataType_t io = dataType(elem_);
    const cudnnDataType_t compute = CUDNN_DATA_FLOAT;  // FP32 accumulation in every type
    int64_t pre[2], post[2], strides[2], dil[2];
    for (int i = 0; i < 2; ++i) {
      ir::AxisGeometry g = ir::windowAxis(desc_, attrs_, i, p.lx[2 + i], p.lw[2 + i]);
      KILN_CHECK(g.out == p.ly[2 + i], desc_.describe(), ": output size ", p.ly[2 + i], " disagrees with ", g.out);
      pre[i] = g.padBegin, post[i] = g.padEnd, strides[i] = attrs_.strides[i], dil[i] = attrs_.dilations[i];
    }
    std::vector<cudnnBackendDescriptor_t> ops;
    int64_t nextVirtual = kVirtualBase;
    auto keep = [&](Desc d) -> const Desc& {
      p.keep.push_back(std::move(d));
      return p.keep.back();
    };
    const bool nhwc = nhwc_;
    const Desc& xd = keep(tensor(kX, io, p.lx, false, nhwc));
    const Desc& wd = keep(tensor(kW, io, p.lw, false, nhwc));
    // Without an epilogue in the graph the convolution writes y itself.
    const bool anyFused = fuse && hasEpilogue();
    const Desc* cur =
        &keep(anyFused ? tensor(nextVirtual++, compute, p.ly, true, nhwc) : tensor(kY, io, p.ly, false, nhwc));

    Desc conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
    const int64_t spatial = 2;
    const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    conv.set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute)
        .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)
        .set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial)
        .set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pre)
        .set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, post)
        .set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, strides)
        .set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dil)
        .finalize();
    const Desc& convDesc = keep(std::move(conv));
    const float alpha = 1.f, beta = 0.f;
    Desc convOp(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
    convOp.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, xd)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, wd)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, *cur)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, convDesc)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta)
        .finalize();
    ops.push_back(keep(std::move(convOp)).get());

    if (anyFused) {
      // Each step reads `cur` (FP32, virtual) and writes the next; the last writes y.
      struct Step {
        cudnnPointwiseMode_t mode;
        int64_t operand;  //!< 0: unary
      };
      std::vector<Step> steps;
      if (hasBias_) steps.push_back({CUDNN_POINTWISE_ADD, kBias});
      if (hasResidual_) steps.push_back({CUDNN_POINTWISE_ADD, kResidual});
      cudnnPointwiseMode_t act;
      if (pointwiseMode(act_, &act)) steps.push_back({act, 0});
      const int64_t biasDims[4] = {1, p.ly[1], 1, 1};
      for (std::size_t s = 0; s < steps.size(); ++s) {
        const bool last = s + 1 == steps.size();
        const Desc& next =
            keep(last ? tensor(kY, io, p.ly, false, nhwc) : tensor(nextVirtual++, compute, p.ly, true, nhwc));
        Desc pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
        pw.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &steps[s].mode)
            .set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &compute);
        if (steps[s].mode == CUDNN_POINTWISE_SWISH_FWD) {
          const double one = 1.0;
          pw.set(CUDNN_ATTR_POINTWISE_SWISH_BETA, CUDNN_TYPE_DOUBLE, 1, &one);
        }
        const Desc& pwDesc = keep(std::move(pw.finalize()));
        Desc op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
        op.set(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pwDesc)
            .set(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, *cur)
            .set(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, next);
        if (steps[s].operand == kBias)
          op.set(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, keep(tensor(kBias, io, biasDims, false, nhwc)));
        else if (steps[s].operand == kResidual)
          op.set(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, keep(tensor(kResidual, io, p.ly, false, nhwc)));
        ops.push_back(keep(std::move(op.finalize())).get());
        cur = &next;
      }
    }

    cudnnHandle_t handle = p.handle;
    Desc graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, int64_t(ops.size()), ops.data())
        .set(kOpGraphHandle, CUDNN_TYPE_HANDLE, 1, &handle);
    if (!graph.tryFinalize()) return;  // cuDNN rejects the graph (the fused form, say): no plans
    const Desc& opGraph = keep(std::move(graph));

    Desc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    const cudnnBackendHeurMode_t heurMode = CUDNN_HEUR_MODE_A;
    heur.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, opGraph)
        .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heurMode);
    if (!heur.tryFinalize()) return;
    constexpr int64_t kAsk = 32;
    std::vector<Desc> configs;
    std::vector<cudnnBackendDescriptor_t> raw;
    for (int64_t i = 0; i < kAsk; ++i) {
      configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
      raw.push_back(configs.back().get());
    }
    int64_t found = 0;
    KILN_CUDA_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                             kAsk, &found, raw.data()));
    const bool tensorOps = elem_ != kernels::Elem::kFloat || tf32_;
    for (int64_t i = 0; i < found && p.plans.size() < limit; ++i) {
      if (!tensorOps && usesTensorCores(configs[i])) continue;  // FP32 without TF32: exact FP32 math only
      Desc plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
      cudnnBackendDescriptor_t cfg = configs[i].get();
      plan.set(kPlanHandle, CUDNN_TYPE_HANDLE, 1, &handle)
          .set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
      if (!plan.tryFinalize()) continue;
      int64_t bytes = 0, n = 0;
      KILN_CUDA_CHECK(cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64,
                                               1, &n, &bytes));
      if (bytes > workspace_) continue;
      p.plans.push_back(std::move(plan));
    }
    for (Desc& c : configs) p.keep.push_back(std::move(c));  // plans refer to their configs
    p.fused = anyFused;
  }

  //! Whether an engine configuration's engine does tensor-core math (TF32 on FP32 data).
  static bool usesTensorCores(const Desc& config) {
    Desc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
    cudnnBackendDescriptor_t e = engine.get();
    int64_t n = 0;
    if (cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &e) !=
        CUDNN_STATUS_SUCCESS)
      return true;  // unknown: treat as tensor-core math, i.e. skip it for exact FP32
    cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    int64_t count = 0;
    if (cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                 CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count, notes) != CUDNN_STATUS_SUCCESS)
      return true;
    for (int64_t i = 0; i < count; ++i)
      if (notes[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE) return true;
    return false;
  }

  //! The cached graph for these dims and handle, made on first use (contexts share the kernel: guarded).
  const Prepared& prepared(cudnnHandle_t handle, const int64_t* x, const int64_t* w, const int64_t* y) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& p : cache_)
      if (p->handle == handle && std::equal(x, x + 4, p->x) && std::equal(w, w + 4, p->w) && std::equal(y, y + 4, p->y))
        return *p;
    if (cache_.size() >= 16) cache_.erase(cache_.begin());
    auto p = std::make_unique<Prepared>();
    prepare(handle, x, w, y, wantFused_, static_cast<std::size_t>(std::max(variant_, 0)) + 1, *p);
    p->chosen = std::min<std::size_t>(static_cast<std::size_t>(std::max(variant_, 0)), p->plans.size() - 1);
    cache_.push_back(std::move(p));
    return *cache_.back();
  }

  ir::Node desc_;
  ir::WindowAttrs attrs_;
  bool hasBias_, hasResidual_;
  int variant_;  //!< the plan's configuration rank (kiln_cudnn_graph_cfg)
  bool wantFused_;  //!< kiln_cudnn_graph_fused
  bool nhwc_;       //!< kiln_layout NHWC
  int64_t workspace_ = kMinWorkspace;
  kernels::UnaryParams act_;
  kernels::Elem elem_ = kernels::Elem::kFloat;
  bool tf32_ = false;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Prepared>> cache_;
};

bool supports(const ir::Node& n) {
  kernels::UnaryParams act;
  kernels::Elem elem;
  if (!uniformFloat(n, &elem) || n.outputs.size() != 1 || n.inputs.size() < 2 || !n.inputs[0] || !n.inputs[1])
    return false;
  if (n.inputs[0]->shape.size() != 4 || n.inputs[1]->shape.size() != 4) return false;
  const std::string layout = n.s(ir::kLayoutAttr, "NCHW");
  // Asymmetric padding is fine: the graph API takes pre and post paddings.
  return (layout == "NCHW" || layout == "NHWC") && unaryParams(n.s("kiln_act", ""), n, true, &act);
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) { return std::make_unique<ConvGraphKernel>(n); }

//! The first engine configurations that finalize at the node's shapes, for
//! the fused graph and for the convolution alone, for the builder to time.
std::vector<backends::TacticVariant> variants(const ir::Node& n, void* libraries) {
  if (!ir::isStatic(n.inputs[0]->shape) || !ir::isStatic(n.inputs[1]->shape) || !ir::isStatic(n.outputs[0]->shape))
    return {};
  ConvGraphKernel k(n);
  std::vector<int64_t> x = ir::staticDims(n.inputs[0]->shape), w = ir::staticDims(n.inputs[1]->shape),
                       y = ir::staticDims(n.outputs[0]->shape);
  std::vector<backends::TacticVariant> out;
  for (bool fused : {true, false}) {
    if (fused && !k.fusable()) continue;
    Prepared p;
    try {
      k.prepare(static_cast<Libraries*>(libraries)->cudnn, x.data(), w.data(), y.data(), fused, kVariantsPerForm, p);
    } catch (const Error&) {
      continue;  // this form has no engine here; the other may
    }
    if (fused && !p.fused) continue;  // fell back to the unfused form: offered below
    for (std::size_t i = 0; i < p.plans.size(); ++i) {
      backends::TacticVariant v;
      v[kFusedAttr] = static_cast<int64_t>(fused ? 1 : 0);
      v[kConfigAttr] = static_cast<int64_t>(i);
      out.push_back(std::move(v));
    }
  }
  return out;
}

}  // namespace

void registerConvGraphTactics(TacticList& out) {
  // Above the legacy tactic (priority 0): the default where tactics are not timed.
  out.push_back({"Conv.cudnn_graph", "Conv", 1, supports, create, variants});
}

}  // namespace kiln::cuda
