#include "builder/build_plan.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include "backends/cpu/kernel.h"
#include "builder/memory_planner.h"
#include "builder/tactic_selector.h"
#include "core/error.h"
#include "ir/op_schema.h"
#include "ir/shape_resolver.h"
#include "passes/pass.h"
#include "plan/plan.h"

namespace kiln::builder {

namespace {

using InputShapes = std::map<std::string, std::vector<int64_t>>;

void log(const BuildOptions& o, ILogger::Severity s, const std::string& msg) {
  if (o.log) o.log(s, msg);
}

std::vector<ir::Tensor> evaluateOnCpu(const ir::Node& n, const std::vector<const ir::Tensor*>& ins) {
  return cpu::evaluateNode(n, ins);
}

//! Checks the profiles against the network's inputs and fixes every input
//! dimension that no profile lets vary (so more of the graph folds).
std::vector<plan::Profile> checkProfiles(ir::Graph& g, const BuildOptions& o) {
  std::vector<plan::Profile> profiles;
  for (std::size_t pi = 0; pi < o.profiles.size(); ++pi) {
    plan::Profile profile;
    for (const ProfileShape& ps : o.profiles[pi]) {
      ir::Value* in = nullptr;
      for (ir::Value* v : g.inputs)
        if (v->name == ps.input) in = v;
      KILN_CHECK(in, "optimization profile ", pi, " names \"", ps.input, "\", which is not a network input");
      std::size_t rank = in->shape.size();
      KILN_CHECK(ps.min.size() == rank && ps.opt.size() == rank && ps.max.size() == rank, "profile ", pi,
                 " for input \"", ps.input, "\" has rank ", ps.opt.size(), ", the input has rank ", rank);
      for (std::size_t d = 0; d < rank; ++d) {
        KILN_CHECK(ps.min[d] >= 0, "profile ", pi, " for input \"", ps.input, "\" has negative dimension ", ps.min[d]);
        KILN_CHECK(ps.min[d] <= ps.opt[d] && ps.opt[d] <= ps.max[d], "profile ", pi, " for input \"", ps.input,
                   "\" must have min <= opt <= max (got ", ir::toString(ps.min), ", ", ir::toString(ps.opt), ", ",
                   ir::toString(ps.max), ")");
        if (in->shape[d].known())
          KILN_CHECK(ps.min[d] == in->shape[d].value && ps.max[d] == in->shape[d].value, "profile ", pi,
                     " for input \"", ps.input, "\" sets dimension ", d, " to ", ps.min[d], "..", ps.max[d],
                     " but the network fixes it at ", in->shape[d].value);
      }
      profile.push_back(plan::ProfileInput{ps.input, ps.min, ps.opt, ps.max});
    }
    profiles.push_back(std::move(profile));
  }
  for (ir::Value* in : g.inputs) {
    if (ir::isStatic(in->shape)) continue;
    KILN_CHECK(!profiles.empty(), "input \"", in->name, "\" has dynamic shape ", ir::toString(in->shape),
               ": add an optimization profile for it (kilnexec: --shapes, or --minShapes/--optShapes/--maxShapes)");
    for (std::size_t d = 0; d < in->shape.size(); ++d) {
      if (in->shape[d].known()) continue;
      std::optional<int64_t> fixed;
      bool varies = false;
      for (std::size_t pi = 0; pi < profiles.size(); ++pi) {
        auto it = std::find_if(profiles[pi].begin(), profiles[pi].end(), [&](auto& p) { return p.name == in->name; });
        KILN_CHECK(it != profiles[pi].end(), "input \"", in->name, "\" has dynamic shape ", ir::toString(in->shape),
                   " but optimization profile ", pi, " gives no shapes for it");
        if (it->min[d] != it->max[d] || (fixed && *fixed != it->min[d])) varies = true;
        fixed = it->min[d];
      }
      if (!varies) in->shape[d] = ir::Dim(*fixed);
    }
  }
  return profiles;
}

//! The input shapes of profile `p` at selector 0 (min), 1 (opt) or 2 (max).
InputShapes shapesOf(const plan::Profile& p, int sel) {
  InputShapes out;
  for (const plan::ProfileInput& in : p) out[in.name] = sel == 0 ? in.min : sel == 1 ? in.opt : in.max;
  return out;
}

//! A copy of `g` with every shape resolved for `shapes`.
std::unique_ptr<ir::Graph> resolved(const ir::Graph& g, const InputShapes& shapes) {
  auto copy = g.clone();
  ir::resolveShapes(*copy, shapes, evaluateOnCpu);
  return copy;
}

}  // namespace

std::vector<uint8_t> buildPlan(const ir::Graph& network, const BuildOptions& options, BuildStats* stats) {
  auto t0 = std::chrono::steady_clock::now();
  KILN_CHECK(!network.outputs.empty(), "network has no outputs (mark at least one with markOutput)");
  auto graph = network.clone();
  std::vector<plan::Profile> profiles = checkProfiles(*graph, options);

  passes::PassContext pctx;
  pctx.evaluate = evaluateOnCpu;
  passes::runPipeline(*graph, pctx);
  for (const std::string& line : pctx.log) log(options, ILogger::Severity::kVERBOSE, line);
  if (options.onednnTactics) cpu::proposeLayouts(*graph);

  // The graph stays symbolic where inputs vary; tactics are chosen on the first
  // profile's opt shapes and must support every profile's min and max.
  std::vector<InputShapes> extremes;
  for (const plan::Profile& p : profiles) {
    extremes.push_back(shapesOf(p, 0));
    extremes.push_back(shapesOf(p, 2));
  }
  if (extremes.empty()) extremes.push_back({});
  auto optGraph = resolved(*graph, profiles.empty() ? InputShapes{} : shapesOf(profiles[0], 1));
  std::vector<std::unique_ptr<ir::Graph>> extremeGraphs;
  for (const InputShapes& s : extremes) extremeGraphs.push_back(resolved(*graph, s));

  ThreadPool pool(options.threads);
  BuildStats local;
  std::vector<ir::Node*> nodes = graph->nodeList(), optNodes = optGraph->nodeList();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    TacticChoice choice = chooseTactic(*optNodes[i], options, pool);
    const cpu::Tactic* tactic = cpu::tactics().find(choice.tactic);
    for (auto& eg : extremeGraphs) {
      if (tactic->supports(*eg->nodeList()[i])) continue;
      // The fastest at opt can't run somewhere in the range: take the best tactic that runs everywhere.
      tactic = nullptr;
      for (const cpu::Tactic* t : cpu::tactics().forOp(nodes[i]->op)) {
        bool everywhere = allowed(*t, options) && t->supports(*optNodes[i]);
        for (auto& g2 : extremeGraphs) everywhere = everywhere && t->supports(*g2->nodeList()[i]);
        if (everywhere) {
          tactic = t;
          break;
        }
      }
      KILN_CHECK(tactic, nodes[i]->describe(), ": no CPU kernel supports it over the whole profile range");
      choice.tactic = tactic->name;
      break;
    }
    nodes[i]->tactic = choice.tactic;
    local.timedLayers += choice.timed;
    local.cachedLayers += choice.cached;
    if (tactic->prepack) tactic->prepack(*nodes[i], *graph);
    log(options, ILogger::Severity::kVERBOSE, strCat("layer ", nodes[i]->describe(), " -> ", choice.tactic));
  }
  cpu::chooseLayouts(*graph);
  graph->removeUnusedValues();

  // Workspace and activation sizes at the largest shapes (after prepacking).
  int64_t workspace = 0;
  std::map<std::string, int64_t> capacity;
  for (std::size_t e = 0; e < extremes.size(); ++e) {
    auto g = resolved(*graph, extremes[e]);
    for (ir::Node* n : g->nodeList()) {
      const cpu::Tactic* t = cpu::tactics().find(n->tactic);
      workspace = std::max<int64_t>(workspace, static_cast<int64_t>(t->create(*n)->workspaceBytes()));
    }
    for (auto& v : g->values()) {
      if (v->isConstant() && !v->producer) continue;
      int64_t bytes = ir::numElements(ir::staticDims(v->shape)) * dtypeSize(v->dtype);
      capacity[v->name] = std::max(capacity[v->name], bytes);
    }
  }
  MemoryPlan memory = planMemory(*graph, [&](const ir::Value& v) { return capacity.at(v.name); });

  plan::PlanContents contents;
  contents.meta.kilnVersion = "0.1.0";
  contents.meta.device = "cpu";
  contents.meta.isa = cpu::hostIsa();
  contents.meta.networkName = network.name;
  contents.arenaOffsets = memory.offsets;
  for (auto& [name, offset] : memory.offsets) contents.arenaCapacity[name] = capacity.at(name);
  contents.arenaBytes = memory.arenaBytes;
  contents.workspaceBytes = workspace;
  contents.profiles = profiles;
  local.layers = static_cast<int>(graph->nodes().size());
  local.arenaBytes = memory.arenaBytes;
  local.naiveActivationBytes = memory.naiveBytes;
  contents.graph = std::move(graph);
  std::vector<uint8_t> bytes = plan::writePlan(contents);
  local.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log(options, ILogger::Severity::kINFO,
      strCat("built ", local.layers, " layers (", local.timedLayers, " timed, ", local.cachedLayers,
             " from the timing cache), activation arena ", memory.arenaBytes, " bytes (", memory.naiveBytes,
             " without reuse), workspace ", workspace, " bytes, ", profiles.size(), " optimization profile(s), in ",
             local.seconds, " s"));
  if (stats) *stats = local;
  return bytes;
}

}  // namespace kiln::builder
