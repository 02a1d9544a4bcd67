#include "builder/build_plan.h"

#include <algorithm>
#include <chrono>

#include "backends/cpu/kernel.h"
#include "builder/memory_planner.h"
#include "builder/tactic_selector.h"
#include "core/error.h"
#include "ir/op_schema.h"
#include "passes/pass.h"
#include "plan/plan.h"

namespace kiln::builder {

namespace {

void log(const BuildOptions& o, ILogger::Severity s, const std::string& msg) {
  if (o.log) o.log(s, msg);
}

//! Gives every dynamic input the shape its profile asks for. Kiln's engines
//! are specialized to one shape for now, so a profile must have min == max.
void resolveInputShapes(ir::Graph& g, const BuildOptions& o) {
  for (ir::Value* in : g.inputs) {
    const ProfileShape* p = nullptr;
    for (const ProfileShape& ps : o.profile)
      if (ps.input == in->name) p = &ps;
    if (!p) {
      KILN_CHECK(ir::isStatic(in->shape), "input \"", in->name, "\" has dynamic shape ", ir::toString(in->shape),
                 ": add an optimization profile for it (kilnexec: --shapes=", in->name, ":<dims>)");
      continue;
    }
    KILN_CHECK(p->min.size() == in->shape.size() && p->opt.size() == in->shape.size() &&
                   p->max.size() == in->shape.size(),
               "profile for input \"", in->name, "\" has rank ", p->opt.size(), ", the input has rank ",
               in->shape.size());
    KILN_CHECK(p->min == p->max && p->opt == p->max, "profile for input \"", in->name, "\" spans shapes ",
               ir::toString(p->min), " to ", ir::toString(p->max),
               "; this Kiln builds engines for one shape per input (set min = opt = max)");
    for (std::size_t i = 0; i < p->opt.size(); ++i) {
      KILN_CHECK(p->opt[i] >= 0, "profile for input \"", in->name, "\" has negative dimension ", p->opt[i]);
      KILN_CHECK(!in->shape[i].known() || in->shape[i].value == p->opt[i], "profile for input \"", in->name,
                 "\" sets dimension ", i, " to ", p->opt[i], " but the network fixes it at ", in->shape[i].value);
    }
    in->shape = ir::shapeOf(p->opt);
  }
  for (const ProfileShape& ps : o.profile)
    KILN_CHECK(std::any_of(g.inputs.begin(), g.inputs.end(), [&](ir::Value* v) { return v->name == ps.input; }),
               "optimization profile names \"", ps.input, "\", which is not a network input");
}

void checkStatic(const ir::Graph& g) {
  for (auto& n : g.nodes())
    for (const ir::Value* v : n->outputs)
      KILN_CHECK(ir::isStatic(v->shape), n->describe(), ": output \"", v->name, "\" has shape ",
                 ir::toString(v->shape), " that is not known at build time");
}

}  // namespace

std::vector<uint8_t> buildPlan(const ir::Graph& network, const BuildOptions& options, BuildStats* stats) {
  auto t0 = std::chrono::steady_clock::now();
  KILN_CHECK(!network.outputs.empty(), "network has no outputs (mark at least one with markOutput)");
  auto graph = network.clone();
  resolveInputShapes(*graph, options);

  passes::PassContext pctx;
  pctx.evaluate = [](const ir::Node& n, const std::vector<const ir::Tensor*>& ins) {
    return cpu::evaluateNode(n, ins);
  };
  passes::runPipeline(*graph, pctx);
  for (const std::string& line : pctx.log) log(options, ILogger::Severity::kVERBOSE, line);
  checkStatic(*graph);

  ThreadPool pool(options.threads);
  BuildStats local;
  int64_t workspace = 0;
  for (ir::Node* node : graph->nodeList()) {
    TacticChoice choice = chooseTactic(*node, options, pool);
    node->tactic = choice.tactic;
    local.timedLayers += choice.timed;
    local.cachedLayers += choice.cached;
    const cpu::Tactic* tactic = cpu::tactics().find(choice.tactic);
    if (tactic->prepack) tactic->prepack(*node, *graph);
    workspace = std::max<int64_t>(workspace, static_cast<int64_t>(tactic->create(*node)->workspaceBytes()));
    log(options, ILogger::Severity::kVERBOSE, strCat("layer ", node->describe(), " -> ", choice.tactic));
  }
  graph->removeUnusedValues();

  MemoryPlan memory = planMemory(*graph);
  plan::PlanContents contents;
  contents.meta.kilnVersion = "0.1.0";
  contents.meta.device = "cpu";
  contents.meta.isa = cpu::hostIsa();
  contents.meta.networkName = network.name;
  contents.arenaOffsets = memory.offsets;
  contents.arenaBytes = memory.arenaBytes;
  contents.workspaceBytes = workspace;
  local.layers = static_cast<int>(graph->nodes().size());
  local.arenaBytes = memory.arenaBytes;
  local.naiveActivationBytes = memory.naiveBytes;
  contents.graph = std::move(graph);
  std::vector<uint8_t> bytes = plan::writePlan(contents);
  local.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log(options, ILogger::Severity::kINFO,
      strCat("built ", local.layers, " layers (", local.timedLayers, " timed, ", local.cachedLayers,
             " from the timing cache), activation arena ", memory.arenaBytes, " bytes (", memory.naiveBytes,
             " without reuse), workspace ", workspace, " bytes, in ", local.seconds, " s"));
  if (stats) *stats = local;
  return bytes;
}

}  // namespace kiln::builder
