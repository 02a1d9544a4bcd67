#include <algorithm>

#include "backends/cpu/kernel.h"
#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/onednn_util.h"
#include "backends/cpu/precision.h"
#include "core/error.h"

namespace kiln::cpu {

TensorView makeView(void* data, DType dtype, const std::vector<int64_t>& dims) {
  KILN_CHECK(dims.size() <= kMaxRank, "tensor rank ", dims.size(), " exceeds the CPU backend's limit of ",
             kMaxRank);
  TensorView v;
  v.data = data;
  v.dtype = dtype;
  v.rank = static_cast<int32_t>(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i) v.dims[i] = dims[i];
  return v;
}

void TacticRegistry::add(Tactic tactic) {
  KILN_CHECK(!byName_.count(tactic.name), "tactic '", tactic.name, "' registered twice");
  KILN_CHECK(tactic.supports && tactic.create, "tactic '", tactic.name, "' lacks supports() or create()");
  all_.push_back(std::make_unique<Tactic>(std::move(tactic)));
  const Tactic* t = all_.back().get();
  byName_[t->name] = t;
  auto& list = byOp_[t->op];
  list.push_back(t);
  std::stable_sort(list.begin(), list.end(), [](const Tactic* a, const Tactic* b) { return a->priority > b->priority; });
}

std::vector<const Tactic*> TacticRegistry::forOp(const std::string& op) const {
  auto it = byOp_.find(op);
  return it == byOp_.end() ? std::vector<const Tactic*>{} : it->second;
}

const Tactic* TacticRegistry::find(const std::string& name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : it->second;
}

std::vector<std::string> TacticRegistry::ops() const {
  std::vector<std::string> out;
  for (auto& [op, list] : byOp_) out.push_back(op);
  std::sort(out.begin(), out.end());
  return out;
}

const TacticRegistry& tactics() {
  static const TacticRegistry registry = [] {
    TacticRegistry r;
    registerConvKernels(r);
    registerGemmKernels(r);
    registerNormKernels(r);
    registerPoolKernels(r);
    registerResizeKernels(r);
    registerElementwiseKernels(r);
    registerReduceKernels(r);
    registerTensorKernels(r);
    registerMathKernels(r);
    registerSignalKernels(r);
    registerPluginKernels(r);
    registerControlFlowKernels(r);
    registerRnnKernels(r);
    registerDetectionKernels(r);
    registerLossKernels(r);
    registerGridSampleKernels(r);
    registerNormExtraKernels(r);
    registerQuantKernels(r);
    registerConvExtraKernels(r);
    registerTextKernels(r);
    registerAttentionKernels(r);
    return r;
  }();
  return registry;
}

void proposeLayouts(ir::Graph& graph) { proposeOnednnConvLayouts(graph); }
void chooseLayouts(ir::Graph& graph, const ir::Graph* shapes) { chainOnednnConvLayouts(graph, shapes); }
bool followsProposedLayouts(const Tactic& tactic) {
  // (the pools and the Mul: kNhwcAttr)
  return tactic.name.rfind("Conv.onednn", 0) == 0 || tactic.name == "KilnScaledConv.onednn" ||
         tactic.name == "MaxPool.rows" || tactic.name == "Mul.ref" || tactic.name == "GlobalAveragePool.lanes" ||
         tactic.name == "GlobalMaxPool.lanes";
}
double plainLayoutPenaltyMs(const ir::Node& node, int threads, int iterations) {
  return onednnPlainLayoutPenaltyMs(node, threads, iterations);
}
void assumeProposedPrecision(ir::Node& scratch, const Tactic& tactic) {
  if (!isBF16Tactic(tactic)) return;
  const std::pair<const char*, const char*> edges[] = {
      {kSrcBF16ProposedAttr, kSrcBF16Attr}, {kDstBF16ProposedAttr, kDstBF16Attr}, {kResBF16ProposedAttr, kResBF16Attr}};
  for (const auto& [proposed, real] : edges)
    if (scratch.i(proposed, 0) != 0) scratch.attrs[real] = int64_t{1};
}
double fp32EdgePenaltyMs(const ir::Node& node, int threads, int iterations) {
  return onednnFP32EdgePenaltyMs(node, threads, iterations);
}

const char* hostIsa() {
  static const char* isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
    return "generic";
  }();
  return isa;
}

std::vector<ir::Tensor> evaluateNode(const ir::Node& node, const std::vector<const ir::Tensor*>& inputs,
                                     ThreadPool* pool, const std::string& tacticName) {
  const Tactic* tactic = nullptr;
  if (!tacticName.empty()) {
    tactic = tactics().find(tacticName);
    KILN_CHECK(tactic, "no CPU tactic named '", tacticName, "'");
  } else {
    for (const Tactic* t : tactics().forOp(node.op))
      if (!t->prepack && t->supports(node)) {
        tactic = t;
        break;
      }
    KILN_CHECK(tactic, node.describe(), ": no CPU kernel supports it");
  }
  KILN_CHECK(!tactic->prepack, "evaluateNode: tactic '", tactic->name, "' needs prepacked weights");
  auto kernel = tactic->create(node);
  std::vector<TensorView> in(node.inputs.size()), out(node.outputs.size());
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    const ir::Tensor* t = i < inputs.size() ? inputs[i] : nullptr;
    if (t) in[i] = makeView(const_cast<void*>(t->data()), t->dtype(), t->dims());
  }
  std::vector<ir::Tensor> results;
  results.reserve(node.outputs.size());
  for (std::size_t i = 0; i < node.outputs.size(); ++i) {
    const ir::Value* v = node.outputs[i];
    results.emplace_back(v->dtype, ir::staticDims(v->shape));
    out[i] = makeView(results.back().mutableData(), v->dtype, results.back().dims());
  }
  std::unique_ptr<ThreadPool> own;
  if (!pool) {
    own = std::make_unique<ThreadPool>(1);
    pool = own.get();
  }
  std::vector<uint8_t> scratch(kernel->workspaceBytes() + 64);
  ExecContext ctx;
  ctx.pool = pool;
  ctx.workspace = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  std::vector<TensorView> actual = out;
  ctx.actualOutputs = actual.data();
  kernel->run(ctx, in.data(), out.data());
  for (std::size_t i = 0; i < results.size(); ++i) {
    std::vector<int64_t> dims = actual[i].shape();
    if (dims == results[i].dims()) continue;
    // A data-dependent output: the kernel wrote its first elements contiguously.
    KILN_CHECK(ir::numElements(dims) <= results[i].numel(), node.describe(), ": output ", i, " reported ",
               ir::toString(dims), ", larger than its bound ", ir::toString(results[i].dims()));
    results[i] = ir::Tensor(results[i].dtype(), dims, results[i].data());
  }
  return results;
}

}  // namespace kiln::cpu
