// "Conv.onednn": oneDNN's convolution primitive as a tactic. Kiln's
// activations are NCHW; oneDNN chooses the activation layout it runs fastest
// in (on AVX-512 the blocked nChw16c, NCHW for a 3-channel stem input) and
// the kernel reorders input, residual and output at the edges of the layer,
// through the workspace. (Pinning the activations to NCHW instead, which
// needs no reorders, measured 1.3-8x slower than this on every ResNet-50 and
// depthwise shape: oneDNN's NCHW path is its im2col GEMM.)
// The builder times it against Kiln's own. Weights are reordered at build
// time into the format the primitive wants; bias, the residual (post-op sum)
// and the fused activation (post-op eltwise) run inside the primitive.
// Groups, depthwise, dilation, asymmetric pads and 1-3 spatial dims are what
// oneDNN's convolution takes; supports() asks oneDNN for a primitive, so an
// unimplemented case simply is not offered.
//
// "Conv.onednn_bf16" is the same kernel in BF16 (BuilderFlag::kBF16, on a
// CPU with AVX512_BF16): weights converted to bf16 at build time (the plan
// stores them so), the FP32 input converted to bf16 by the input reorder the
// layer does anyway, f32 accumulation, bias, residual and output (so the
// layers around it stay FP32). Between two BF16 convolutions of a blocked
// chain the value is stored in bf16 instead (chainOnednnConvLayouts): the
// producer writes bf16, the consumer reads it without a reorder — half the
// bytes each way, and the conversion the consumer would do anyway moves
// into the producer's output.
//
// "KilnScaledConv.onednn" runs a KilnScaledConv (passes/fuse_channel_scale.cc:
// a squeeze-excitation gate s times x, then a pointwise Conv) on the same
// primitive: x is scaled by s into the workspace, in the layout the primitive
// reads (after its input reorder, if any), then convolved. It is the same
// work as the Mul before a Conv.onednn, but a oneDNN chain can pass through
// it (conv_onednn_chains.cc), where KilnScaledConv.im2col_gemm reads plain
// NCHW and so breaks the chain at every MBConv block's depthwise output; the
// builder times the two, charging the GEMM the reorders it forces.
#include "backends/cpu/ops/onednn_util.h"
#include "backends/cpu/precision.h"

#if KILN_HAVE_ONEDNN
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "backends/cpu/ops/elementwise.h"
#include "backends/cpu/ops/nn_util.h"

namespace kiln::cpu {
namespace {

using namespace onednn;
using tag = memory::format_tag;
using dt = memory::data_type;

struct ConvShape {
  memory::dims src, wei, bias, dst, strides, dil, padL, padR;
};

// The oneDNN dims of a Conv with input `x`, weight (ONNX layout) `w` and
// output `y` (output checked against the node's window attributes).
ConvShape convShape(const ir::Node& desc, const ir::WindowAttrs& attrs, int64_t group, const int64_t* x,
                    const int64_t* w, const int64_t* y, int rank) {
  ConvShape s;
  const int spatial = rank - 2;
  s.src.assign(x, x + rank);
  s.dst.assign(y, y + rank);
  if (group > 1) {
    s.wei = {group, w[0] / group};
    s.wei.insert(s.wei.end(), w + 1, w + rank);
  } else {
    s.wei.assign(w, w + rank);
  }
  s.bias = {w[0]};
  for (int i = 0; i < spatial; ++i) {
    const ir::AxisGeometry ag = ir::windowAxis(desc, attrs, i, x[2 + i], w[2 + i]);
    KILN_CHECK(ag.out == y[2 + i], desc.describe(), ": output size ", y[2 + i], " on spatial axis ", i,
               " disagrees with the computed ", ag.out);
    s.strides.push_back(attrs.strides[i]);
    s.dil.push_back(attrs.dilations[i] - 1);
    s.padL.push_back(ag.padBegin);
    s.padR.push_back(ag.padEnd);
  }
  return s;
}

tag plainTag(int rank) { return rank == 3 ? tag::ncw : rank == 4 ? tag::nchw : tag::ncdhw; }
tag weightTag(int rank, bool grouped) {
  if (grouped) return rank == 3 ? tag::goiw : rank == 4 ? tag::goihw : tag::goidhw;
  return rank == 3 ? tag::oiw : rank == 4 ? tag::oihw : tag::oidhw;
}

struct ConvOptions {
  dt type = dt::f32;  // of the source and weights: f32, or bf16 (Conv.onednn_bf16)
  bool bias = false;
  bool residual = false;
  Activation act;
  // The layouts the graph hands this layer its input and residual in and
  // takes its output in: plain NCHW unless chainOnednnConvLayouts found that
  // producer and consumers agree on oneDNN's blocked layout.
  tag srcTag = tag::undef, dstTag = tag::undef, resTag = tag::undef;
  // The element types of those: f32, or bf16 where a chain of BF16 layers
  // passes the value in bf16 (the output then is the primitive's too).
  dt srcUser = dt::f32, dstUser = dt::f32, resUser = dt::f32;
  bool scaled = false;  // KilnScaledConv: input 4 scales the source's channels
};

// One primitive and its edge reorders, for one thread count and shape.
struct ConvPrims {
  dnnl::convolution_forward conv;
  memory::desc user, userDst, userRes, src, dst, wei, bias, scratch;
  dnnl::reorder srcIn, resIn, dstOut;
  bool reorderSrc = false, reorderDst = false;
  bool libraryScratchpad = false;  // oneDNN allocates its own (a context with more threads than the kernel sized for)
  // The plan's weights reordered into `wei` for this thread count (see
  // makeConvPrims): the kernel keeps one copy per format, shared by every
  // shape that wants it; `weights` points at it once looked up.
  bool ownWeights = false;
  memory::desc planWei;
  mutable std::atomic<const uint8_t*> weights{nullptr};
  std::size_t scratchBytes = 0, srcBytes = 0, dstBytes = 0;
  int64_t srcBlock = 0;  // KilnScaledConv: `src`'s channel block for scaleChannelBlocks
  std::size_t workspace() const { return alignedTotal({scratchBytes, srcBytes, dstBytes}); }
};

// Builds the primitive descriptor; `wdesc` null lets oneDNN choose the
// weight format (prepack), else the plan's format is used. Throws dnnl::error
// when oneDNN has no implementation.
dnnl::convolution_forward::primitive_desc convPd(const ConvShape& s, const ConvOptions& o, const memory::desc* wdesc,
                                                  bool userScratchpad = true) {
  memory::desc src(s.src, o.type, tag::any), dst(s.dst, o.dstUser, tag::any);
  memory::desc wei = wdesc ? *wdesc : memory::desc(s.wei, o.type, tag::any);
  memory::desc bias = o.bias ? memory::desc(s.bias, dt::f32, tag::x) : memory::desc();
  dnnl::post_ops po;
  if (o.residual) po.append_sum(1.f);
  if (!appendActivation(po, o.act)) throw dnnl::error(dnnl_unimplemented, "activation");
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  attr.set_scratchpad_mode(userScratchpad ? dnnl::scratchpad_mode::user : dnnl::scratchpad_mode::library);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, wei,
                                    bias, dst, s.strides, s.dil, s.padL, s.padR);
  return dnnl::convolution_forward::primitive_desc(d, attr, engine());
}

// `workspaceLimit`: bytes the kernel's workspace has; a primitive needing more
// scratchpad than fits gets oneDNN's own (slower: it allocates per run).
std::unique_ptr<ConvPrims> makeConvPrims(const ConvShape& s, const ConvOptions& o, const memory::desc& wdesc,
                                         int threads, std::size_t workspaceLimit) {
  setThreads(threads);  // the primitive's kernels are blocked for this many threads
  auto p = std::make_unique<ConvPrims>();
  const int rank = static_cast<int>(s.src.size());
  auto pd = convPd(s, o, &wdesc);
  auto orPlain = [&](tag t) { return t == tag::undef ? plainTag(rank) : t; };
  p->user = memory::desc(s.src, o.srcUser, orPlain(o.srcTag));
  p->userDst = memory::desc(s.dst, o.dstUser, orPlain(o.dstTag));
  p->userRes = memory::desc(s.dst, o.resUser, orPlain(o.resTag));
  auto isRef = [](const dnnl::convolution_forward::primitive_desc& d) {
    return std::string(d.impl_info_str()).rfind("ref", 0) == 0;
  };
  auto edgesOf = [&](const dnnl::convolution_forward::primitive_desc& d) {
    return (o.scaled || d.src_desc() != p->user ? align64(d.src_desc().get_size()) : 0) +
           (d.dst_desc() != p->userDst ? align64(d.dst_desc().get_size()) : 0);
  };
  // oneDNN picks its implementation per thread count, and the plan's weight
  // format was chosen at the build's count: at another count that format can
  // leave only the reference implementation, 10-1000x slower (the CRNN's 1-D
  // conv built at 2 threads: ref:any 55 ms at 1 thread, brgconv 0.04 ms at 2).
  // Then this count takes the weight format it wants, and the plan's weights
  // are reordered into it once, at first use.
  if (isRef(pd)) {
    try {
      auto alt = convPd(s, o, nullptr);
      if (!isRef(alt) && edgesOf(alt) <= workspaceLimit) {
        pd = alt;
        p->ownWeights = true;
        p->planWei = wdesc;
      }
    } catch (const dnnl::error&) {  // no other implementation: keep the reference one
    }
  }
  const std::size_t edges = edgesOf(pd);
  KILN_CHECK(edges <= workspaceLimit, "oneDNN convolution: these shapes need more workspace than the kernel has");
  if (align64(pd.scratchpad_desc().get_size()) + edges > workspaceLimit) {
    pd = convPd(s, o, p->ownWeights ? nullptr : &wdesc, false);
    p->libraryScratchpad = true;
  }
  p->conv = dnnl::convolution_forward(pd);
  p->src = pd.src_desc();
  p->dst = pd.dst_desc();
  p->wei = pd.weights_desc();
  p->bias = pd.bias_desc();
  p->scratch = pd.scratchpad_desc();
  p->scratchBytes = p->libraryScratchpad ? 0 : p->scratch.get_size();
  p->reorderSrc = p->src != p->user;
  p->reorderDst = p->dst != p->userDst;
  if (p->reorderSrc) p->srcIn = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), p->user, engine(), p->src));
  if (p->reorderSrc || o.scaled) p->srcBytes = p->src.get_size();
  if (o.scaled) {  // the layouts scaleChannelBlocks walks
    const int64_t c = s.src[1];
    for (auto [t, block] : {std::pair{tag::nchw, int64_t{1}}, {tag::nhwc, c}, {tag::nChw16c, int64_t{16}},
                            {tag::nChw8c, int64_t{8}}})
      if (rank == 4 && p->src == memory::desc(s.src, dt::f32, t)) p->srcBlock = block;
    if (p->srcBlock == 0) throw dnnl::error(dnnl_unimplemented, "a source layout the channel scale cannot walk");
  }
  if (p->reorderDst) {
    p->dstBytes = p->dst.get_size();
    p->dstOut = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), p->dst, engine(), p->userDst));
  }
  if (o.residual && p->dst != p->userRes)
    p->resIn = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), p->userRes, engine(), p->dst));
  counters().primitives.fetch_add(1, std::memory_order_relaxed);
  return p;
}

std::string layoutName(dt type) { return packedLayout() + (type == dt::bf16 ? "/conv_bf16" : "/conv"); }
const char* tacticName(dt type) { return type == dt::bf16 ? "Conv.onednn_bf16" : "Conv.onednn"; }
const char* tacticName(const std::string& op, dt type) {
  return op == "KilnScaledConv" ? "KilnScaledConv.onednn" : tacticName(type);
}

class ConvOnednn final : public Kernel {
 public:
  ConvOnednn(const ir::Node& node, dt type)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, node.inputs[0]->shape.size() - 2)),
        group_(node.i("group", 1)) {
    KILN_CHECK(node.s("kiln_packed", "") == layoutName(type), node.describe(), ": ", tacticName(node.op, type),
               " needs weights prepacked as '", layoutName(type), "', the plan has '", node.s("kiln_packed", ""), "'");
    opts_.type = type;
    opts_.scaled = node.op == "KilnScaledConv";
    opts_.bias = node.inputs.size() > 2 && node.inputs[2];
    opts_.residual = node.inputs.size() > 3 && node.inputs[3];
    opts_.act = fusedActivation(node);
    opts_.srcTag = static_cast<tag>(node.i(kSrcTagAttr, static_cast<int64_t>(tag::undef)));
    opts_.dstTag = static_cast<tag>(node.i(kDstTagAttr, static_cast<int64_t>(tag::undef)));
    opts_.resTag = static_cast<tag>(node.i(kResTagAttr, static_cast<int64_t>(tag::undef)));
    auto bf16Edge = [&](const char* attr, tag t) {
      if (node.i(attr, 0) == 0) return dt::f32;
      // Only a BF16 layer in a blocked chain takes or gives bf16 (markChains); anything else is a corrupt plan.
      KILN_CHECK(type == dt::bf16 || std::string(attr) == kResBF16Attr, node.describe(), ": ", attr,
                 " is set on a ", tacticName(node.op, type), " layer");
      KILN_CHECK(t != tag::undef, node.describe(), ": ", attr, " is set without its blocked layout");
      return dt::bf16;
    };
    opts_.srcUser = bf16Edge(kSrcBF16Attr, opts_.srcTag);
    opts_.dstUser = bf16Edge(kDstBF16Attr, opts_.dstTag);
    opts_.resUser = bf16Edge(kResBF16Attr, opts_.resTag);
    wdims_ = node.ints("kiln_weight_shape");
    wdesc_ = decodeDesc(node.ints("kiln_onednn_wdesc"), node.describe());
    // The primitive for this machine's thread count at the node's shapes, made now (load time).
    const std::vector<int64_t> x = ir::staticDims(node.inputs[0]->shape), y = ir::staticDims(node.outputs[0]->shape);
    const auto key = keyOf(ThreadPool::hardwareThreads(), x.data(), y.data(), static_cast<int>(x.size()));
    workspace_ =
        cache_.get(key, [&] { return make(key.threads, x.data(), y.data(), static_cast<int>(x.size()), SIZE_MAX); })
            ->workspace();
  }

  std::size_t workspaceBytes() const override { return workspace_; }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& y = out[0];
    KILN_CHECK(x.rank == static_cast<int>(wdims_.size()) && y.rank == x.rank, desc_.describe(), ": ranks ", x.rank,
               " / ", y.rank, " do not match the weight's ", wdims_.size());
    const int threads = ctx.pool->size();
    const auto key = keyOf(threads, x.dims, y.dims, x.rank);
    const std::shared_ptr<const ConvPrims> held =
        cache_.get(key, [&] { return make(threads, x.dims, y.dims, x.rank, workspace_); });
    const ConvPrims& p = *held;
    KILN_CHECK(p.workspace() <= workspace_, desc_.describe(), ": oneDNN needs ", p.workspace(),
               " bytes of workspace at these shapes and ", threads, " threads, the kernel has ", workspace_);
    setThreads(threads);
    dnnl::stream& stream = threadStream();
    uint8_t* ws = static_cast<uint8_t*>(ctx.workspace);
    uint8_t* srcBuf = ws + align64(p.scratchBytes);
    uint8_t* dstBuf = srcBuf + align64(p.srcBytes);
    memory userSrc = wrap(p.user, x.data), userDst = wrap(p.userDst, y.data);
    memory dst = p.reorderDst ? wrap(p.dst, dstBuf) : userDst;
    memory src = p.reorderSrc || opts_.scaled ? wrap(p.src, srcBuf) : userSrc;
    if (p.reorderSrc) p.srcIn.execute(stream, userSrc, src);
    if (opts_.scaled) {
      const TensorView& g = in[4];
      const int64_t n = x.dims[0], c = x.dims[1];
      KILN_CHECK(g.numel() == c || g.numel() == n * c, desc_.describe(), ": the scale has ", g.numel(),
                 " values, expected ", c, " or ", n * c);
      const float* from = static_cast<const float*>(p.reorderSrc ? srcBuf : x.data);
      scaleChannelBlocks(ctx.pool, from, g.as<const float>(), reinterpret_cast<float*>(srcBuf), n, c,
                         x.dims[2] * x.dims[3], p.srcBlock, g.numel() == c ? 0 : c);
    }
    if (opts_.residual) {  // the sum post-op adds what dst holds
      const TensorView& r = in[3];
      KILN_CHECK(r.numel() == y.numel(), desc_.describe(), ": residual has ", r.numel(), " values, output ",
                 y.numel());
      if (p.dst != p.userRes) {
        KILN_CHECK(r.data != dst.get_data_handle(), desc_.describe(), ": the residual may not share the output's memory");
        memory res = wrap(p.userRes, r.data);
        p.resIn.execute(stream, res, dst);
      } else if (r.data != dst.get_data_handle()) {
        std::memcpy(dst.get_data_handle(), r.data, p.dst.get_size());
      }
    }
    const void* weights = p.ownWeights ? ownWeights(p, in[1].data, stream, threads) : in[1].data;
    memory wei = wrap(p.wei, weights), scratch = wrap(p.scratch, ws);
    memory bias = opts_.bias ? wrap(p.bias, in[2].data) : memory();
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src.get()}, {DNNL_ARG_WEIGHTS, wei.get()}, {DNNL_ARG_DST, dst.get()},
                               {DNNL_ARG_SCRATCHPAD, scratch.get()}, {DNNL_ARG_BIAS, opts_.bias ? bias.get() : nullptr}};
    if (p.libraryScratchpad) args[3] = args[4];
    execute(p.conv, stream, (opts_.bias ? 5 : 4) - (p.libraryScratchpad ? 1 : 0), args);
    if (p.reorderDst) p.dstOut.execute(stream, dst, userDst);
  }

 private:
  using Cache = PrimitiveCache<ConvPrims>;
  struct Free {
    void operator()(uint8_t* q) const { std::free(q); }
  };

  // The plan's weights (`planWeights`) in the format `p` wants: reordered
  // once per format for the kernel, whichever shape asks first.
  const uint8_t* ownWeights(const ConvPrims& p, const void* planWeights, dnnl::stream& stream, int threads) const {
    if (const uint8_t* w = p.weights.load(std::memory_order_acquire)) return w;
    std::lock_guard<std::mutex> lock(weightsMu_);
    for (const auto& [md, buf] : ownWeights_)
      if (md == p.wei) {
        p.weights.store(buf.get(), std::memory_order_release);
        return buf.get();
      }
    std::unique_ptr<uint8_t, Free> buf(static_cast<uint8_t*>(std::aligned_alloc(64, align64(p.wei.get_size()))));
    KILN_CHECK(buf, desc_.describe(), ": out of memory reordering weights for ", threads, " threads");
    memory from = wrap(p.planWei, planWeights), to = wrap(p.wei, buf.get());
    dnnl::reorder(from, to).execute(stream, from, to);
    stream.wait();
    counters().weightReorders.fetch_add(1, std::memory_order_relaxed);
    ownWeights_.emplace_back(p.wei, std::move(buf));
    p.weights.store(ownWeights_.back().second.get(), std::memory_order_release);
    return ownWeights_.back().second.get();
  }

  static Cache::Key keyOf(int threads, const int64_t* x, const int64_t* y, int rank) {
    Cache::Key k;
    k.threads = threads;
    for (int i = 0; i < rank; ++i) {
      k.dims[i] = x[i];
      k.dims[kMaxRank + i] = y[i];
    }
    return k;
  }

  std::unique_ptr<ConvPrims> make(int threads, const int64_t* x, const int64_t* y, int rank,
                                  std::size_t workspaceLimit) const {
    const ConvShape s = convShape(desc_, attrs_, group_, x, wdims_.data(), y, rank);
    try {
      return makeConvPrims(s, opts_, wdesc_, threads, workspaceLimit);
    } catch (const dnnl::error& e) {
      fail(desc_.describe(), ": oneDNN convolution for input ", ir::toString(std::vector<int64_t>(x, x + rank)),
           ": ", e.what());
    }
  }

  ir::Node desc_;
  ir::WindowAttrs attrs_;
  int64_t group_;
  ConvOptions opts_;
  std::vector<int64_t> wdims_;
  memory::desc wdesc_;
  std::size_t workspace_ = 0;
  Cache cache_;
  mutable std::mutex weightsMu_;
  mutable std::vector<std::pair<memory::desc, std::unique_ptr<uint8_t, Free>>> ownWeights_;
};

// The node's oneDNN shape and options; false when it is not a float Conv
// with a constant weight and (unless `standIn`) static shapes. With
// `standIn`, unknown input dims are replaced by plausible sizes (batch 1,
// 32 per spatial axis): enough to ask oneDNN which weight format it wants
// when prepacking a graph whose inputs vary.
bool describe(const ir::Node& node, dt type, ConvShape* s, ConvOptions* o, bool standIn = false) {
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1] || !node.outputs[0]) return false;
  const ir::Value* x = node.inputs[0];
  const ir::Value* w = node.inputs[1];
  const ir::Value* y = node.outputs[0];
  const std::size_t rank = x->shape.size();
  if (rank < 3 || rank > 5 || x->dtype != DType::kFLOAT || w->dtype != DType::kFLOAT || !w->isConstant()) return false;
  if (w->constant->dims().size() != rank) return false;
  if (!standIn && (!ir::isStatic(x->shape) || !ir::isStatic(y->shape))) return false;
  o->scaled = node.op == "KilnScaledConv";  // FP32 only: fuse_channel_scale runs for FP32 builds
  if (o->scaled && (type != dt::f32 || rank != 4 || node.inputs.size() != 5 || !node.inputs[4])) return false;
  for (std::size_t i = 2; i < node.inputs.size(); ++i)
    if (node.inputs[i] && node.inputs[i]->dtype != DType::kFLOAT) return false;
  if (node.inputs.size() > 2 && node.inputs[2] && node.inputs[2]->shape.size() != 1) return false;
  o->type = type;
  o->bias = node.inputs.size() > 2 && node.inputs[2];
  o->residual = node.inputs.size() > 3 && node.inputs[3];
  ActKind kind;
  if (!parseActKind(node.s("kiln_act", ""), &kind)) return false;
  o->act = fusedActivation(node);
  const ir::WindowAttrs attrs = ir::readWindowAttrs(node, rank - 2);
  const std::vector<int64_t>& wd = w->constant->dims();
  const int64_t group = node.i("group", 1);
  if (group < 1 || wd[0] % group != 0) return false;
  std::vector<int64_t> xd(rank), yd(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const int64_t reach = i >= 2 ? (wd[i] - 1) * attrs.dilations[i - 2] + 1 : 0;
    xd[i] = x->shape[i].known() ? x->shape[i].value : i == 0 ? 1 : i == 1 ? wd[1] * group : std::max<int64_t>(32, reach);
  }
  yd[0] = xd[0];
  yd[1] = wd[0];
  for (std::size_t i = 2; i < rank; ++i) yd[i] = ir::windowAxis(node, attrs, i - 2, xd[i], wd[i]).out;
  *s = convShape(node, attrs, group, xd.data(), wd.data(), yd.data(), static_cast<int>(rank));
  return true;
}

bool supportsConvAs(const ir::Node& node, dt type) {
  if (type == dt::bf16 && (node.i(kBF16Attr, 0) < 1 || !hostSupportsBF16Tactics())) return false;
  if (node.has("kiln_packed")) return node.s("kiln_packed", "") == layoutName(type);
  ConvShape s;
  ConvOptions o;
  try {
    if (!describe(node, type, &s, &o)) return false;
    convPd(s, o, nullptr);
    return true;
  } catch (const dnnl::error&) {
    return false;
  } catch (const Error&) {
    return false;
  }
}

bool supportsConv(const ir::Node& node) { return supportsConvAs(node, dt::f32); }
bool supportsConvBF16(const ir::Node& node) { return supportsConvAs(node, dt::bf16); }

// The weights, converted to `type` and reordered into the format oneDNN
// picks, replace the node's weight input.
void prepackConvAs(ir::Node& node, ir::Graph& graph, dt type) {
  if (node.has("kiln_packed")) return;
  ConvShape s;
  ConvOptions o;
  KILN_CHECK(describe(node, type, &s, &o, /*standIn=*/true), node.describe(),
             ": the oneDNN convolution needs a constant weight");
  const ir::Value* wv = node.inputs[1];
  const ir::Tensor& w = *wv->constant;
  const int rank = static_cast<int>(s.src.size());
  setThreads(ThreadPool::hardwareThreads());
  dnnl::convolution_forward::primitive_desc pd = convPd(s, o, nullptr);
  const memory::desc want = pd.weights_desc();
  const DType stored = type == dt::bf16 ? DType::kBF16 : DType::kFLOAT;
  const std::size_t elem = dtypeSize(stored);
  ir::Tensor packed(stored, {static_cast<int64_t>((want.get_size() + elem - 1) / elem)});
  std::memset(packed.mutableData(), 0, packed.bytes());
  const memory::desc have(s.wei, dt::f32, weightTag(rank, s.wei.size() > s.src.size()));
  memory from = wrap(have, w.data()), to = wrap(want, packed.mutableData());
  dnnl::stream& stream = threadStream();
  dnnl::reorder(from, to).execute(stream, from, to);
  stream.wait();
  node.inputs[1] = graph.addConstant(wv->name + "_onednn", std::move(packed));
  node.attrs["kiln_packed"] = layoutName(type);
  node.attrs["kiln_weight_shape"] = w.dims();
  node.attrs["kiln_onednn_wdesc"] = encodeDesc(want);
}

void prepackConv(ir::Node& node, ir::Graph& graph) { prepackConvAs(node, graph, dt::f32); }
void prepackConvBF16(ir::Node& node, ir::Graph& graph) { prepackConvAs(node, graph, dt::bf16); }
std::unique_ptr<Kernel> createConv(const ir::Node& n) { return std::make_unique<ConvOnednn>(n, dt::f32); }
std::unique_ptr<Kernel> createConvBF16(const ir::Node& n) { return std::make_unique<ConvOnednn>(n, dt::bf16); }

// The primitive descriptor a 2-D Conv node runs with in Conv.onednn at its
// (static) shapes: `chosen` asks for a node that has Conv.onednn and its
// prepacked weights (or Conv.onednn_bf16 and its), else any node Conv.onednn
// supports (the FP32 one: before the choice, BF16 is not assumed). False when
// none. A KilnScaledConv the same, with KilnScaledConv.onednn (its source is x,
// the gate scales it inside the kernel).
bool convPdOf(const ir::Node& n, bool chosen, dnnl::convolution_forward::primitive_desc* pd) {
  if ((n.op != "Conv" && n.op != "KilnScaledConv") || !n.inputs[0] || !n.outputs[0] || n.inputs[0]->shape.size() != 4 ||
      !ir::isStatic(n.inputs[0]->shape) || !ir::isStatic(n.outputs[0]->shape))
    return false;
  const dt type = n.tactic == tacticName(dt::bf16) ? dt::bf16 : dt::f32;
  if (chosen != (n.tactic == tacticName(n.op, type) && n.s("kiln_packed", "") == layoutName(type))) return false;
  if (!chosen && (n.has("kiln_packed") || !supportsConv(n))) return false;
  ConvShape s;
  ConvOptions o;
  if (!chosen) {
    describe(n, dt::f32, &s, &o);
    *pd = convPd(s, o, nullptr);
    return true;
  }
  const std::vector<int64_t> x = ir::staticDims(n.inputs[0]->shape), y = ir::staticDims(n.outputs[0]->shape);
  const std::vector<int64_t> w = n.ints("kiln_weight_shape");
  o.type = type;
  o.scaled = n.op == "KilnScaledConv";
  o.bias = n.inputs.size() > 2 && n.inputs[2];
  o.residual = n.inputs.size() > 3 && n.inputs[3];
  o.act = fusedActivation(n);
  const memory::desc wdesc = decodeDesc(n.ints("kiln_onednn_wdesc"), n.describe());
  s = convShape(n, ir::readWindowAttrs(n, 2), n.i("group", 1), x.data(), w.data(), y.data(), 4);
  *pd = convPd(s, o, &wdesc);
  return true;
}

}  // namespace

namespace onednn {
bool convPrimitiveOf(const ir::Node& n, bool chosen, dnnl::convolution_forward::primitive_desc* pd) {
  return convPdOf(n, chosen, pd);
}
const char* convTacticName(memory::data_type type) { return tacticName(type); }
}  // namespace onednn

void addOnednnConvTactics(TacticRegistry& r) {
  r.add({"Conv.onednn", "Conv", 5, supportsConv, createConv, prepackConv});
  r.add({"Conv.onednn_bf16", "Conv", 15, supportsConvBF16, createConvBF16, prepackConvBF16});
  r.add({"KilnScaledConv.onednn", "KilnScaledConv", 5, supportsConv, createConv, prepackConv});
}

}  // namespace kiln::cpu

#else
namespace kiln::cpu {
void addOnednnConvTactics(TacticRegistry&) {}
}  // namespace kiln::cpu
#endif
