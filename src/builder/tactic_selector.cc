#include "builder/tactic_selector.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "backends/cpu/kernel.h"
#include "core/error.h"

namespace kiln::builder {

void makeScratch(const ir::Node& node, ScratchNode& s) {
  std::vector<ir::Value*> ins, outs;
  for (const ir::Value* v : node.inputs) {
    if (!v) {
      ins.push_back(nullptr);
      continue;
    }
    ir::Value* c = v->isConstant() ? s.graph.addConstant(v->name, *v->constant) : s.graph.addValue(v->name, v->dtype, v->shape);
    ins.push_back(c);
  }
  for (const ir::Value* v : node.outputs) outs.push_back(s.graph.addValue(v->name, v->dtype, v->shape));
  s.node = s.graph.addNode(node.op, node.name, ins, outs);
  s.node->attrs = node.attrs;
}

bool allowed(const cpu::Tactic& tactic, const BuildOptions& options) {
  return options.onednnTactics || tactic.name.find(".onednn") == std::string::npos;  // also "<Op>.onednn_bf16"
}

double timeTactic(const ir::Node& node, const std::string& tacticName, int iterations, ThreadPool& pool,
                  double cutoffMs) {
  const cpu::Tactic* tactic = cpu::tactics().find(tacticName);
  KILN_CHECK(tactic, "no CPU tactic named '", tacticName, "'");
  ScratchNode s;
  makeScratch(node, s);
  if (tactic->prepack) tactic->prepack(*s.node, s.graph);
  auto kernel = tactic->create(*s.node);

  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<ir::Tensor> storage;
  storage.reserve(s.node->inputs.size() + s.node->outputs.size());
  std::vector<cpu::TensorView> in(s.node->inputs.size()), out(s.node->outputs.size());
  for (std::size_t i = 0; i < s.node->inputs.size(); ++i) {
    const ir::Value* v = s.node->inputs[i];
    if (!v) continue;
    if (v->isConstant()) {
      in[i] = cpu::makeView(const_cast<void*>(v->constant->data()), v->dtype, v->constant->dims());
      continue;
    }
    storage.emplace_back(v->dtype, ir::staticDims(v->shape));
    ir::Tensor& t = storage.back();
    if (v->dtype == DType::kFLOAT)
      for (int64_t k = 0; k < t.numel(); ++k) t.mutableAs<float>()[k] = dist(rng);
    in[i] = cpu::makeView(t.mutableData(), v->dtype, t.dims());
  }
  for (std::size_t i = 0; i < s.node->outputs.size(); ++i) {
    const ir::Value* v = s.node->outputs[i];
    storage.emplace_back(v->dtype, ir::staticDims(v->shape));
    out[i] = cpu::makeView(storage.back().mutableData(), v->dtype, storage.back().dims());
  }
  ir::Tensor workspace(DType::kUINT8, {static_cast<int64_t>(kernel->workspaceBytes())});
  cpu::ExecContext ctx;
  ctx.pool = &pool;
  ctx.workspace = workspace.mutableData();

  auto w0 = std::chrono::steady_clock::now();
  kernel->run(ctx, in.data(), out.data());  // warm-up: caches, page faults
  double first = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count();
  if (first > cutoffMs) return first;
  std::vector<double> times;
  for (int it = 0; it < std::max(iterations, 1); ++it) {
    auto t0 = std::chrono::steady_clock::now();
    kernel->run(ctx, in.data(), out.data());
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (it >= 2 && times[0] * (it + 1) > 200.0) break;  // slow candidates: a few runs suffice
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

TacticChoice chooseTactic(const ir::Node& node, const BuildOptions& options, ThreadPool& pool) {
  std::vector<const cpu::Tactic*> candidates;
  for (const cpu::Tactic* t : cpu::tactics().forOp(node.op))
    if (allowed(*t, options) && t->supports(node)) candidates.push_back(t);
  if (candidates.empty()) {
    std::string dtypes;
    for (const ir::Value* v : node.inputs)
      if (v) dtypes += strCat(dtypes.empty() ? "" : ", ", dataTypeName(v->dtype), ir::toString(v->shape));
    fail(node.describe(), ": no CPU kernel supports it (inputs: ", dtypes, ")");
  }
  keepRequiredCpuPrecision(node, candidates, options.log);  // builder/cpu_precision.h
  if (options.workspaceLimit != SIZE_MAX) {
    std::size_t smallest = SIZE_MAX;
    std::vector<const cpu::Tactic*> fitting;
    for (const cpu::Tactic* t : candidates) {
      ScratchNode s;
      makeScratch(node, s);
      if (t->prepack) t->prepack(*s.node, s.graph);
      std::size_t need = t->create(*s.node)->workspaceBytes();
      smallest = std::min(smallest, need);
      if (need <= options.workspaceLimit) fitting.push_back(t);
    }
    KILN_CHECK(!fitting.empty(), node.describe(), ": every CPU kernel needs at least ", smallest,
               " bytes of workspace; the workspace limit is ", options.workspaceLimit, " bytes");
    candidates = std::move(fitting);
  }
  TacticChoice choice;
  if (candidates.size() == 1 || options.timingIterations <= 0) {  // only one, or no timing wanted
    choice.tactic = candidates[0]->name;
    return choice;
  }
  std::string key = TimingCache::keyOf(node, cpu::hostIsa());
  if (options.timingCache) {
    if (auto hit = options.timingCache->find(key)) {
      for (const cpu::Tactic* t : candidates)
        if (t->name == hit->tactic) {
          choice.tactic = hit->tactic;
          choice.cached = true;
          return choice;
        }
    }
  }
  double best = 0;
  double penalty = -1;  // cpu::plainLayoutPenaltyMs, timed on first need
  for (const cpu::Tactic* t : candidates) {  // highest priority (usually fastest) first: it sets the cutoff
    double cutoff = choice.tactic.empty() ? 1e30 : 3.0 * best;
    double ms = timeTactic(node, t->name, options.timingIterations, pool, cutoff);
    if (!cpu::followsProposedLayouts(*t)) {
      if (penalty < 0) penalty = cpu::plainLayoutPenaltyMs(node, pool.size(), options.timingIterations);
      if (penalty > 0 && options.log)
        options.log(ILogger::Severity::kVERBOSE, strCat("  tactic ", t->name, " for ", node.describe(), ": ", ms,
                                                        " ms + ", penalty, " ms of reorders its plain layout forces"));
      ms += penalty;
    }
    if (options.log)
      options.log(ILogger::Severity::kVERBOSE, strCat("  tactic ", t->name, " for ", node.describe(), ": ", ms, " ms"));
    if (choice.tactic.empty() || ms < best) {
      best = ms;
      choice.tactic = t->name;
    }
  }
  choice.timed = true;
  if (options.timingCache) options.timingCache->put(key, TimingEntry{choice.tactic, best});
  return choice;
}

}  // namespace kiln::builder
