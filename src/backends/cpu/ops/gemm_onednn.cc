// "MatMul.onednn" and "Gemm.onednn": oneDNN's matmul primitive as a tactic.
// MatMul: numpy batch broadcasting (both operands' batch dims may be 1),
// 1-D operands promoted as ONNX says, the fused bias (input 2) and
// activation as bias + eltwise post-op. Gemm: transA/transB become strides
// (a constant B is reordered at build time, so its transpose costs nothing),
// C is the primitive's bias (broadcast over rows and/or columns); Gemm with
// alpha or beta other than 1 is left to the other tactics. A constant B is
// reordered at build time into the format oneDNN picks; a B computed at run
// time (attention) is read in place. supports() asks oneDNN for a primitive.
//
// "MatMul.onednn_bf16" / "Gemm.onednn_bf16": the same in BF16
// (BuilderFlag::kBF16, on a CPU with AVX512_BF16), for a constant B only:
// B converted to bf16 at build time (stored so in the plan), A converted by a
// reorder into the workspace at each run, f32 accumulation, bias and output.
#include "backends/cpu/ops/onednn_util.h"
#include "backends/cpu/precision.h"

#if KILN_HAVE_ONEDNN
#include <cstring>

#include "backends/cpu/ops/gemm_internal.h"
#include "backends/cpu/ops/nn_util.h"

namespace kiln::cpu {
namespace {

using namespace onednn;
using dt = memory::data_type;

// One matmul's memory descriptors, in oneDNN's terms (every operand has the
// output's rank; broadcast dims are 1).
struct MatMulShape {
  memory::desc src, wei, bias, dst;
  memory::dims weiDims, weiStrides;  // B as stored in the graph (before any prepack)
};

struct MatMulOptions {
  dt type = dt::f32;  // of A and B as the primitive reads them: f32, or bf16 (the _bf16 tactics)
  bool gemm = false;
  bool transA = false, transB = false;
  bool bias = false;
  Activation act;
};

// MatMul: A (a, ar) x B (b, br) -> Y. Gemm: 2-D, transposes as strides, C (c, cr) as bias.
// `foldRows`: a 2-D B takes A's batch dims as rows (below); false keeps them a
// broadcast batch, as plans packed before that fold (a 3-D weight descriptor) need.
MatMulShape matmulShape(const std::string& what, const MatMulOptions& o, const int64_t* a, int ar, const int64_t* b,
                        int br, const int64_t* c, int cr, const TensorView& y, bool foldRows = true) {
  MatMulShape s;
  if (o.gemm) {
    KILN_CHECK(ar == 2 && br == 2, what, ": Gemm's A and B must be 2-D");
    const int64_t M = o.transA ? a[1] : a[0], K = o.transA ? a[0] : a[1];
    const int64_t N = o.transB ? b[0] : b[1], kb = o.transB ? b[1] : b[0];
    KILN_CHECK(K == kb && y.rank == 2 && y.dims[0] == M && y.dims[1] == N, what, ": shapes of A, B and Y disagree");
    s.src = memory::desc({M, K}, dt::f32, o.transA ? memory::dims{1, M} : memory::dims{K, 1});
    s.weiDims = {K, N};
    s.weiStrides = o.transB ? memory::dims{1, K} : memory::dims{N, 1};
    s.dst = memory::desc({M, N}, dt::f32, memory::dims{N, 1});
    if (o.bias) {
      const int64_t cm = cr == 2 ? c[0] : 1, cn = cr >= 1 ? c[cr - 1] : 1;
      KILN_CHECK((cm == 1 || cm == M) && (cn == 1 || cn == N), what, ": C does not broadcast to ", M, " x ", N);
      s.bias = memory::desc({cm, cn}, dt::f32, memory::dims{cn, 1});
    }
  } else {
    const MatMulDims d = matmulDims(what, a, ar, b, br, y);
    memory::dims sd, wd, dd;
    const int abr = std::max(ar - 2, 0), bbr = std::max(br - 2, 0);
    if (foldRows && br == 2 && ar > 2) {
      // One B for every batch (a linear layer): one GEMM of all of A's rows.
      // As a broadcast batch, torch MHA's [S, 1, E] in-projection (ViT) was S
      // GEMVs of M = 1, and lost to the FP32 packed GEMM even in BF16 with AMX.
      const int64_t rows = d.m * d.batchA;
      s.src = memory::desc({rows, d.k}, dt::f32, memory::dims{d.k, 1});
      s.weiDims = {d.k, d.n};
      s.weiStrides = {d.n, 1};
      s.dst = memory::desc({rows, d.n}, dt::f32, memory::dims{d.n, 1});
      if (o.bias) {
        KILN_CHECK(cr == 1 && c[0] == d.n, what, ": the fused bias must be 1-D of N = ", d.n);
        s.bias = memory::desc({1, d.n}, dt::f32, memory::dims{d.n, 1});
      }
      return s;
    }
    for (int i = 0; i < d.rank; ++i) {
      const int ia = i - (d.rank - abr), ib = i - (d.rank - bbr);
      sd.push_back(ia >= 0 ? a[ia] : 1);
      wd.push_back(ib >= 0 ? b[ib] : 1);
      dd.push_back(d.dims[i]);
    }
    sd.insert(sd.end(), {d.m, d.k});
    wd.insert(wd.end(), {d.k, d.n});
    dd.insert(dd.end(), {d.m, d.n});
    s.src = memory::desc(sd, dt::f32, denseStrides(sd));
    s.weiDims = wd;
    s.weiStrides = denseStrides(wd);
    s.dst = memory::desc(dd, dt::f32, denseStrides(dd));
    if (o.bias) {
      KILN_CHECK(cr == 1 && c[0] == d.n, what, ": the fused bias must be 1-D of N = ", d.n);
      memory::dims bd(dd.size(), 1);
      bd.back() = d.n;
      s.bias = memory::desc(bd, dt::f32, denseStrides(bd));
    }
  }
  return s;
}

struct MatMulPrims {
  dnnl::matmul prim;
  memory::desc src, wei, bias, dst, scratch;
  memory::desc user;     // A as the graph holds it (f32), when the primitive reads another type
  dnnl::reorder srcIn;   // user -> src, into the workspace after the scratchpad
  bool reorderSrc = false;
  std::size_t scratchBytes = 0, srcBytes = 0;
  std::size_t workspace() const { return alignedTotal({scratchBytes, srcBytes}); }
  bool libraryScratchpad = false;  // oneDNN allocates its own (a context with more threads than the kernel sized for)
};

// `wdesc` null: B as stored (plain strides) unless `chooseWeights`, when
// oneDNN picks B's format (prepack of a constant B).
dnnl::matmul::primitive_desc matmulPd(const MatMulShape& s, const MatMulOptions& o, const memory::desc* wdesc,
                                      bool chooseWeights, bool userScratchpad = true) {
  memory::desc wei = wdesc            ? *wdesc
                     : chooseWeights ? memory::desc(s.weiDims, o.type, memory::format_tag::any)
                                     : memory::desc(s.weiDims, o.type, s.weiStrides);
  // A in another type is converted into a dense buffer of that type first.
  const memory::desc src = o.type == dt::f32 ? s.src : memory::desc(s.src.dims(), o.type, denseStrides(s.src.dims()));
  dnnl::post_ops po;
  if (!appendActivation(po, o.act)) throw dnnl::error(dnnl_unimplemented, "activation");
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  attr.set_scratchpad_mode(userScratchpad ? dnnl::scratchpad_mode::user : dnnl::scratchpad_mode::library);
  dnnl::matmul::desc d = o.bias ? dnnl::matmul::desc(src, wei, s.bias, s.dst) : dnnl::matmul::desc(src, wei, s.dst);
  return dnnl::matmul::primitive_desc(d, attr, engine());
}

std::string layoutName(dt type) { return packedLayout() + (type == dt::bf16 ? "/matmul_bf16" : "/matmul"); }

class MatMulOnednn final : public Kernel {
 public:
  MatMulOnednn(const ir::Node& node, dt type) : what_(node.describe()) {
    opts_.type = type;
    opts_.gemm = node.op == "Gemm";
    opts_.transA = opts_.gemm && node.i("transA", 0) != 0;
    opts_.transB = opts_.gemm && node.i("transB", 0) != 0;
    opts_.bias = node.inputs.size() > 2 && node.inputs[2];
    opts_.act = fusedActivation(node);
    packed_ = node.has("kiln_packed");
    KILN_CHECK(packed_ || type == dt::f32, what_, ": the BF16 oneDNN matmul needs B prepacked");
    if (packed_) {
      KILN_CHECK(node.s("kiln_packed", "") == layoutName(type), what_, ": the oneDNN matmul needs weights prepacked as '",
                 layoutName(type), "', the plan has '", node.s("kiln_packed", ""), "'");
      bdims_ = node.ints("kiln_weight_shape");
      wdesc_ = decodeDesc(node.ints("kiln_onednn_wdesc"), what_);
    }
    // The primitive for this machine's thread count at the node's shapes, made now (load time).
    std::vector<TensorView> in(node.inputs.size());
    for (std::size_t i = 0; i < node.inputs.size(); ++i)
      if (node.inputs[i]) in[i] = makeView(nullptr, DType::kFLOAT, ir::staticDims(node.inputs[i]->shape));
    const TensorView y = makeView(nullptr, DType::kFLOAT, ir::staticDims(node.outputs[0]->shape));
    workspace_ = SIZE_MAX;  // the first primitive sets it
    workspace_ = lookup(ThreadPool::hardwareThreads(), in.data(), y)->workspace();
  }

  std::size_t workspaceBytes() const override { return workspace_; }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const int threads = ctx.pool->size();
    const std::shared_ptr<const MatMulPrims> held = lookup(threads, in, out[0]);
    const MatMulPrims& p = *held;
    KILN_CHECK(p.workspace() <= workspace_, what_, ": oneDNN needs ", p.workspace(),
               " bytes of workspace at these shapes and ", threads, " threads, the kernel has ", workspace_);
    setThreads(threads);
    dnnl::stream& stream = threadStream();
    memory src = wrap(p.src, in[0].data), wei = wrap(p.wei, in[1].data), dst = wrap(p.dst, out[0].data);
    if (p.reorderSrc) {
      memory user = wrap(p.user, in[0].data);
      src = wrap(p.src, static_cast<uint8_t*>(ctx.workspace) + align64(p.scratchBytes));
      p.srcIn.execute(stream, user, src);
    }
    memory scratch = wrap(p.scratch, ctx.workspace);
    memory bias = opts_.bias ? wrap(p.bias, in[2].data) : memory();
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src.get()}, {DNNL_ARG_WEIGHTS, wei.get()}, {DNNL_ARG_DST, dst.get()},
                               {DNNL_ARG_SCRATCHPAD, scratch.get()}, {DNNL_ARG_BIAS, opts_.bias ? bias.get() : nullptr}};
    if (p.libraryScratchpad) args[3] = args[4];
    execute(p.prim, stream, (opts_.bias ? 5 : 4) - (p.libraryScratchpad ? 1 : 0), args);
  }

 private:
  using Cache = PrimitiveCache<MatMulPrims>;

  std::shared_ptr<const MatMulPrims> lookup(int threads, const TensorView* in, const TensorView& y) const {
    const int br = packed_ ? static_cast<int>(bdims_.size()) : in[1].rank;
    const int64_t* bd = packed_ ? bdims_.data() : in[1].dims;
    Cache::Key key;
    key.threads = threads;
    for (int i = 0; i < in[0].rank; ++i) key.dims[i] = in[0].dims[i];
    for (int i = 0; i < br; ++i) key.dims[kMaxRank + i] = bd[i];
    for (int i = 0; i < y.rank; ++i) key.dims[2 * kMaxRank + i] = y.dims[i];
    key.dims[3 * kMaxRank] = in[0].rank;
    key.dims[3 * kMaxRank + 1] = br;
    return cache_.get(
        key,
        [&] {
          const TensorView* c = opts_.bias ? &in[2] : nullptr;
          const bool foldRows = !packed_ || wdesc_.data.ndims == 2;
          const MatMulShape s = matmulShape(what_, opts_, in[0].dims, in[0].rank, bd, br, c ? c->dims : nullptr,
                                            c ? c->rank : 0, y, foldRows);
          setThreads(threads);
          try {
            auto p = std::make_unique<MatMulPrims>();
            auto pd = matmulPd(s, opts_, packed_ ? &wdesc_ : nullptr, false);
            const std::size_t srcBytes = opts_.type == dt::f32 ? 0 : pd.src_desc().get_size();
            if (alignedTotal({pd.scratchpad_desc().get_size(), srcBytes}) > workspace_) {
              pd = matmulPd(s, opts_, packed_ ? &wdesc_ : nullptr, false, false);
              p->libraryScratchpad = true;
            }
            p->prim = dnnl::matmul(pd);
            p->src = pd.src_desc();
            p->wei = pd.weights_desc();
            p->bias = pd.bias_desc();
            p->dst = pd.dst_desc();
            p->scratch = pd.scratchpad_desc();
            p->scratchBytes = p->libraryScratchpad ? 0 : p->scratch.get_size();
            p->reorderSrc = srcBytes > 0;
            if (p->reorderSrc) {
              p->user = s.src;
              p->srcBytes = srcBytes;
              p->srcIn = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), p->user, engine(), p->src));
            }
            counters().primitives.fetch_add(1, std::memory_order_relaxed);
            return p;
          } catch (const dnnl::error& e) {
            fail(what_, ": oneDNN matmul for these shapes: ", e.what());
          }
        });
  }

  std::string what_;
  MatMulOptions opts_;
  bool packed_ = false;
  std::vector<int64_t> bdims_;
  memory::desc wdesc_;
  std::size_t workspace_ = 0;
  Cache cache_;
};

// The node's oneDNN shapes and options; false when it is not a float
// MatMul / Gemm with (unless `standIn`) static shapes. With `standIn`,
// unknown dims of A are replaced by plausible sizes (1 per batch dim, 64
// rows): enough to ask oneDNN which format it wants for a constant B when
// prepacking a graph whose inputs vary.
bool describe(const ir::Node& node, MatMulShape* s, MatMulOptions* o, bool standIn = false) {
  if (node.inputs.size() < 2 || !node.inputs[0] || !node.inputs[1] || !node.outputs[0]) return false;
  if (node.inputs.size() > 3 && node.inputs[3]) return false;  // a fused residual: only MatMul.ref adds it
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    const ir::Value* v = node.inputs[i];
    if (v && (v->dtype != DType::kFLOAT || (!(standIn && i == 0) && !ir::isStatic(v->shape)))) return false;
  }
  if (!standIn && !ir::isStatic(node.outputs[0]->shape)) return false;
  o->gemm = node.op == "Gemm";
  if (o->gemm && (node.f("alpha", 1.f) != 1.f || (node.inputs.size() > 2 && node.inputs[2] && node.f("beta", 1.f) != 1.f)))
    return false;
  o->transA = o->gemm && node.i("transA", 0) != 0;
  o->transB = o->gemm && node.i("transB", 0) != 0;
  o->bias = node.inputs.size() > 2 && node.inputs[2];
  ActKind kind;
  if (!parseActKind(node.s("kiln_act", ""), &kind)) return false;
  o->act = fusedActivation(node);
  const ir::Shape& as = node.inputs[0]->shape;
  const int ar = static_cast<int>(as.size());
  std::vector<int64_t> a(ar);
  for (int i = 0; i < ar; ++i) a[i] = as[i].known() ? as[i].value : i >= ar - 2 ? 64 : 1;
  const std::vector<int64_t> b = ir::staticDims(node.inputs[1]->shape);
  const std::vector<int64_t> c = o->bias ? ir::staticDims(node.inputs[2]->shape) : std::vector<int64_t>{};
  const int br = static_cast<int>(b.size());
  if (ar < 1 || br < 1 || (o->gemm && (ar != 2 || br != 2))) return false;
  std::vector<int64_t> yd;
  if (o->gemm) {
    yd = {o->transA ? a[1] : a[0], o->transB ? b[0] : b[1]};
  } else {  // batch dims broadcast, then M unless A is 1-D, then N unless B is 1-D
    const int abr = std::max(ar - 2, 0), bbr = std::max(br - 2, 0), rank = std::max(abr, bbr);
    for (int i = 0; i < rank; ++i) {
      const int ia = i - (rank - abr), ib = i - (rank - bbr);
      yd.push_back(std::max(ia >= 0 ? a[ia] : 1, ib >= 0 ? b[ib] : 1));
    }
    if (ar >= 2) yd.push_back(a[ar - 2]);
    if (br >= 2) yd.push_back(b[br - 1]);
  }
  const TensorView y = makeView(nullptr, DType::kFLOAT, yd);
  *s = matmulShape(node.describe(), *o, a.data(), ar, b.data(), br, c.data(), static_cast<int>(c.size()), y);
  return true;
}

bool constantB(const ir::Node& node) { return node.inputs[1]->isConstant(); }

bool supportsMatMulAs(const ir::Node& node, dt type) {
  if (type == dt::bf16 && (node.i(kBF16Attr, 0) < 1 || !hostSupportsBF16Tactics())) return false;
  if (node.has("kiln_packed")) return node.s("kiln_packed", "") == layoutName(type);
  if (type != dt::f32 && (node.inputs.size() < 2 || !node.inputs[1] || !constantB(node))) return false;
  MatMulShape s;
  MatMulOptions o;
  o.type = type;
  try {
    if (!describe(node, &s, &o)) return false;
    matmulPd(s, o, nullptr, constantB(node));
    return true;
  } catch (const dnnl::error&) {
    return false;
  } catch (const Error&) {
    return false;
  }
}

bool supportsMatMul(const ir::Node& node) { return supportsMatMulAs(node, dt::f32); }
bool supportsMatMulBF16(const ir::Node& node) { return supportsMatMulAs(node, dt::bf16); }

// Reorders a constant B into oneDNN's format (converted to `type`); a run-time B stays as it is.
void prepackMatMulAs(ir::Node& node, ir::Graph& graph, dt type) {
  if (node.has("kiln_packed") || !constantB(node)) return;
  MatMulShape s;
  MatMulOptions o;
  o.type = type;
  KILN_CHECK(describe(node, &s, &o, /*standIn=*/true), node.describe(), ": the oneDNN matmul needs float operands");
  const ir::Value* bv = node.inputs[1];
  const ir::Tensor& b = *bv->constant;
  setThreads(ThreadPool::hardwareThreads());
  const memory::desc want = matmulPd(s, o, nullptr, true).weights_desc();
  const DType stored = type == dt::bf16 ? DType::kBF16 : DType::kFLOAT;
  const std::size_t elem = dtypeSize(stored);
  ir::Tensor packed(stored, {static_cast<int64_t>((want.get_size() + elem - 1) / elem)});
  std::memset(packed.mutableData(), 0, packed.bytes());
  const memory::desc have(s.weiDims, dt::f32, s.weiStrides);
  memory from = wrap(have, b.data()), to = wrap(want, packed.mutableData());
  dnnl::stream& stream = threadStream();
  dnnl::reorder(from, to).execute(stream, from, to);
  stream.wait();
  node.inputs[1] = graph.addConstant(bv->name + "_onednn", std::move(packed));
  node.attrs["kiln_packed"] = layoutName(type);
  node.attrs["kiln_weight_shape"] = b.dims();
  node.attrs["kiln_onednn_wdesc"] = encodeDesc(want);
}

void prepackMatMul(ir::Node& node, ir::Graph& graph) { prepackMatMulAs(node, graph, dt::f32); }
void prepackMatMulBF16(ir::Node& node, ir::Graph& graph) { prepackMatMulAs(node, graph, dt::bf16); }
std::unique_ptr<Kernel> createMatMul(const ir::Node& n) { return std::make_unique<MatMulOnednn>(n, dt::f32); }
std::unique_ptr<Kernel> createMatMulBF16(const ir::Node& n) { return std::make_unique<MatMulOnednn>(n, dt::bf16); }

}  // namespace

void addOnednnGemmTactics(TacticRegistry& r) {
  r.add({"MatMul.onednn", "MatMul", 5, supportsMatMul, createMatMul, prepackMatMul});
  r.add({"Gemm.onednn", "Gemm", 5, supportsMatMul, createMatMul, prepackMatMul});
  r.add({"MatMul.onednn_bf16", "MatMul", 15, supportsMatMulBF16, createMatMulBF16, prepackMatMulBF16});
  r.add({"Gemm.onednn_bf16", "Gemm", 15, supportsMatMulBF16, createMatMulBF16, prepackMatMulBF16});
}

}  // namespace kiln::cpu

#else
namespace kiln::cpu {
void addOnednnGemmTactics(TacticRegistry&) {}
}  // namespace kiln::cpu
#endif
