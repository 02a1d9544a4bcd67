#include "builder/tactic_selector.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <random>

#include "backends/cpu/kernel.h"
#include "backends/cpu/precision.h"
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

namespace {

// Tactic timing (timeCandidates). Load from other work on the machine only
// ever adds time, in bursts of a few ms, and on 2 threads a run waits for
// both: the fastest run is the one that says what the kernel costs, and
// interleaving the candidates in rounds lets a quiet moment serve them all.
// With the median of 7 back-to-back runs, CRNN's and EfficientNet-B0's
// builds on a busy 2-core machine took MaxPool.ref over MaxPool.rows and
// im2col over the depthwise kernel, 10-20x slower layers.
constexpr int kTimingRounds = 3;
// A candidate whose warm-up run takes this many times the fastest warm-up,
// and at least kWarmUpCutoffMs, is not timed further (the reference kernels
// on large layers: seconds a run). The floor keeps one burst of load on a
// fast candidate's warm-up from dropping it.
constexpr double kWarmUpCutoff = 5.0;
constexpr double kWarmUpCutoffMs = 20.0;
// After two rounds (a burst rarely spans both): dropped when this many times
// slower than the best.
constexpr double kRoundCutoff = 3.0;
// A candidate whose runs would take longer than this in all gets one run per round.
constexpr double kSlowBudgetMs = 200.0;

// One candidate made ready to run on the node's shapes: its own scratch copy
// of the node (prepacked), kernel, inputs (uniform in [-1, 1]), outputs and
// workspace. Not movable: the views point into its members.
class TimedKernel {
 public:
  TimedKernel(const ir::Node& node, const cpu::Tactic& tactic, ThreadPool& pool) {
    makeScratch(node, s_);
    cpu::assumeProposedPrecision(*s_.node, tactic);  // a BF16 tactic: timed with the bf16 edges proposed
    if (tactic.prepack) tactic.prepack(*s_.node, s_.graph);
    kernel_ = tactic.create(*s_.node);
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    storage_.reserve(s_.node->inputs.size() + s_.node->outputs.size());
    in_.resize(s_.node->inputs.size());
    out_.resize(s_.node->outputs.size());
    for (std::size_t i = 0; i < s_.node->inputs.size(); ++i) {
      const ir::Value* v = s_.node->inputs[i];
      if (!v) continue;
      if (v->isConstant()) {
        in_[i] = cpu::makeView(const_cast<void*>(v->constant->data()), v->dtype, v->constant->dims());
        continue;
      }
      storage_.emplace_back(v->dtype, ir::staticDims(v->shape));
      ir::Tensor& t = storage_.back();
      if (v->dtype == DType::kFLOAT)
        for (int64_t k = 0; k < t.numel(); ++k) t.mutableAs<float>()[k] = dist(rng);
      in_[i] = cpu::makeView(t.mutableData(), v->dtype, t.dims());
    }
    for (std::size_t i = 0; i < s_.node->outputs.size(); ++i) {
      const ir::Value* v = s_.node->outputs[i];
      storage_.emplace_back(v->dtype, ir::staticDims(v->shape));
      out_[i] = cpu::makeView(storage_.back().mutableData(), v->dtype, storage_.back().dims());
    }
    workspace_ = ir::Tensor(DType::kUINT8, {static_cast<int64_t>(kernel_->workspaceBytes())});
    ctx_.pool = &pool;
    ctx_.workspace = workspace_.mutableData();
  }
  TimedKernel(const TimedKernel&) = delete;
  TimedKernel& operator=(const TimedKernel&) = delete;

  double runMs() {
    auto t0 = std::chrono::steady_clock::now();
    kernel_->run(ctx_, in_.data(), out_.data());
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }

 private:
  ScratchNode s_;
  std::unique_ptr<cpu::Kernel> kernel_;
  std::vector<ir::Tensor> storage_;
  std::vector<cpu::TensorView> in_, out_;
  ir::Tensor workspace_;
  cpu::ExecContext ctx_;
};

}  // namespace

std::vector<double> timeCandidates(int count, const std::function<double(int)>& runMs, int iterations) {
  std::vector<double> score(static_cast<std::size_t>(count), 0.0);
  if (count <= 0) return score;
  std::vector<double> warm(score.size());
  for (int c = 0; c < count; ++c) warm[c] = runMs(c);  // caches, page faults; also says who is far too slow
  const double fastestWarm = *std::min_element(warm.begin(), warm.end());
  std::vector<bool> racing(score.size());
  for (int c = 0; c < count; ++c) {
    racing[c] = warm[c] <= kWarmUpCutoff * fastestWarm || warm[c] < kWarmUpCutoffMs;
    score[c] = racing[c] ? 1e300 : warm[c];  // a dropped one keeps its warm-up time (it has lost already)
  }
  const int perRound = std::max(1, (std::max(iterations, 1) + kTimingRounds - 1) / kTimingRounds);
  for (int round = 0; round < kTimingRounds; ++round) {
    for (int c = 0; c < count; ++c) {
      if (!racing[c]) continue;
      // Slow candidates: one run per round is enough to rank them.
      const int runs = warm[c] * perRound * kTimingRounds > kSlowBudgetMs ? 1 : perRound;
      for (int r = 0; r < runs; ++r) score[c] = std::min(score[c], runMs(c));
    }
    if (round == 1) {  // far behind after two rounds run under the same conditions: stop timing it
      double best = 1e300;
      for (int c = 0; c < count; ++c)
        if (racing[c]) best = std::min(best, score[c]);
      for (int c = 0; c < count; ++c) racing[c] = racing[c] && score[c] <= kRoundCutoff * best;
    }
  }
  return score;
}

double timeTactic(const ir::Node& node, const std::string& tacticName, int iterations, ThreadPool& pool) {
  const cpu::Tactic* tactic = cpu::tactics().find(tacticName);
  KILN_CHECK(tactic, "no CPU tactic named '", tacticName, "'");
  TimedKernel k(node, *tactic, pool);
  return timeCandidates(1, [&](int) { return k.runMs(); }, iterations)[0];
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
  // All candidates are timed together, round after round (timeCandidates): on a
  // machine shared with other work, load that comes and goes then hits them
  // alike instead of deciding the race.
  std::vector<std::unique_ptr<TimedKernel>> timed;
  for (const cpu::Tactic* t : candidates) timed.push_back(std::make_unique<TimedKernel>(node, *t, pool));
  std::vector<double> ms = timeCandidates(static_cast<int>(timed.size()),
                                          [&](int c) { return timed[static_cast<std::size_t>(c)]->runMs(); },
                                          options.timingIterations);
  timed.clear();
  double best = 0;
  double penalty = -1, fp32Penalty = -1;  // cpu::plainLayoutPenaltyMs, cpu::fp32EdgePenaltyMs, timed on first need
  for (std::size_t c = 0; c < candidates.size(); ++c) {  // highest priority first: it wins ties
    const cpu::Tactic* t = candidates[c];
    if (!cpu::followsProposedLayouts(*t)) {
      if (penalty < 0) penalty = cpu::plainLayoutPenaltyMs(node, pool.size(), options.timingIterations);
      if (penalty > 0 && options.log)
        options.log(ILogger::Severity::kVERBOSE, strCat("  tactic ", t->name, " for ", node.describe(), ": ", ms[c],
                                                        " ms + ", penalty, " ms of reorders its plain layout forces"));
      ms[c] += penalty;
    } else if (!cpu::isBF16Tactic(*t)) {
      if (fp32Penalty < 0) fp32Penalty = cpu::fp32EdgePenaltyMs(node, pool.size(), options.timingIterations);
      if (fp32Penalty > 0 && options.log)
        options.log(ILogger::Severity::kVERBOSE, strCat("  tactic ", t->name, " for ", node.describe(), ": ", ms[c],
                                                        " ms + ", fp32Penalty, " ms: its BF16 consumers convert its output"));
      ms[c] += fp32Penalty;
    }
    if (options.log)
      options.log(ILogger::Severity::kVERBOSE, strCat("  tactic ", t->name, " for ", node.describe(), ": ", ms[c], " ms"));
    if (choice.tactic.empty() || ms[c] < best) {
      best = ms[c];
      choice.tactic = t->name;
    }
  }
  choice.timed = true;
  if (options.timingCache) options.timingCache->put(key, TimingEntry{choice.tactic, best});
  return choice;
}

}  // namespace kiln::builder
