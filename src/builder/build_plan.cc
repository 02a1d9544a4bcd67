#include "builder/build_plan.h"

#include "builder/device_tactic_selector.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include "backends/backend.h"
#include "backends/cpu/kernel.h"
#include "builder/device_layout.h"
#include "builder/device_precision.h"
#include "builder/device_reformat.h"
#include "builder/device_tactic_selector.h"
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
      ProfileShape dims = ps;
      if (dims.opt.empty() && !ps.optValues.empty() && ir::isStatic(in->shape))  // a shape tensor: its shape is fixed
        dims.min = dims.opt = dims.max = ir::staticDims(in->shape);
      std::size_t rank = in->shape.size();
      KILN_CHECK(dims.min.size() == rank && dims.opt.size() == rank && dims.max.size() == rank, "profile ", pi,
                 " for input \"", ps.input, "\" has rank ", dims.opt.size(), ", the input has rank ", rank);
      for (std::size_t d = 0; d < rank; ++d) {
        KILN_CHECK(dims.min[d] >= 0, "profile ", pi, " for input \"", ps.input, "\" has negative dimension ", dims.min[d]);
        KILN_CHECK(dims.min[d] <= dims.opt[d] && dims.opt[d] <= dims.max[d], "profile ", pi, " for input \"", ps.input,
                   "\" must have min <= opt <= max (got ", ir::toString(dims.min), ", ", ir::toString(dims.opt), ", ",
                   ir::toString(dims.max), ")");
        if (in->shape[d].known())
          KILN_CHECK(dims.min[d] == in->shape[d].value && dims.max[d] == in->shape[d].value, "profile ", pi,
                     " for input \"", ps.input, "\" sets dimension ", d, " to ", dims.min[d], "..", dims.max[d],
                     " but the network fixes it at ", in->shape[d].value);
      }
      if (!ps.optValues.empty() || !ps.minValues.empty() || !ps.maxValues.empty()) {
        KILN_CHECK(in->dtype == DType::kINT32 || in->dtype == DType::kINT64, "profile ", pi, " gives shape values for \"",
                   ps.input, "\", which is ", dataTypeName(in->dtype), "; shape tensors are int32 or int64");
        KILN_CHECK(ir::isStatic(in->shape), "profile ", pi, ": shape-tensor input \"", ps.input,
                   "\" must have a static shape, has ", ir::toString(in->shape));
        std::size_t n = static_cast<std::size_t>(ir::numElements(ir::staticDims(in->shape)));
        KILN_CHECK(ps.minValues.size() == n && ps.optValues.size() == n && ps.maxValues.size() == n, "profile ", pi,
                   " for shape-tensor input \"", ps.input, "\" gives ", ps.optValues.size(), " values, the input has ", n);
        for (std::size_t k = 0; k < n; ++k)
          KILN_CHECK(ps.minValues[k] <= ps.optValues[k] && ps.optValues[k] <= ps.maxValues[k], "profile ", pi,
                     " for shape-tensor input \"", ps.input, "\" must have min <= opt <= max values (got ",
                     ir::toString(ps.minValues), ", ", ir::toString(ps.optValues), ", ", ir::toString(ps.maxValues), ")");
      }
      profile.push_back(
          plan::ProfileInput{ps.input, dims.min, dims.opt, dims.max, ps.minValues, ps.optValues, ps.maxValues});
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

//! One point of a profile: its input shapes, and its shape-tensor inputs' values.
struct ProfilePoint {
  InputShapes shapes, values;
};

//! Profile `p` at selector 0 (min), 1 (opt) or 2 (max).
ProfilePoint pointOf(const plan::Profile& p, int sel) {
  ProfilePoint out;
  for (const plan::ProfileInput& in : p) {
    out.shapes[in.name] = sel == 0 ? in.min : sel == 1 ? in.opt : in.max;
    if (in.isShapeTensor()) out.values[in.name] = sel == 0 ? in.minValues : sel == 1 ? in.optValues : in.maxValues;
  }
  return out;
}

//! A copy of `g` with every shape resolved at `point`.
std::unique_ptr<ir::Graph> resolved(const ir::Graph& g, const ProfilePoint& point) {
  auto copy = g.clone();
  ir::resolveShapes(*copy, point.shapes, evaluateOnCpu, 4096, nullptr, &point.values);
  return copy;
}

//! Prepacks `node` of `graph` with `tactic`. Where the node's shapes vary it is
//! packed as `atOpt` (the same node in `optGraph`, resolved at the first
//! profile's opt shapes) packs: packing that depends on shapes (oneDNN's
//! weight formats) is chosen for opt, as in a static engine built at opt,
//! not for stand-in sizes. The constants and attributes that prepacking
//! adds to `atOpt` are carried over to `node`.
void prepackAtOpt(const cpu::Tactic& tactic, ir::Node& node, ir::Graph& graph, ir::Node& atOpt, ir::Graph& optGraph) {
  bool varies = false;
  for (const ir::Value* v : node.inputs) varies = varies || (v && !ir::isStatic(v->shape));
  for (const ir::Value* v : node.outputs) varies = varies || !ir::isStatic(v->shape);
  if (!varies) return tactic.prepack(node, graph);
  KILN_CHECK(atOpt.name == node.name && atOpt.inputs.size() == node.inputs.size(), node.describe(),
             ": its copy at the opt shapes is another node (", atOpt.describe(), ")");
  const std::vector<ir::Value*> before = atOpt.inputs;
  std::vector<std::string> had;
  for (const auto& [key, a] : atOpt.attrs) had.push_back(key);
  tactic.prepack(atOpt, optGraph);
  for (std::size_t k = 0; k < before.size(); ++k) {
    if (atOpt.inputs[k] == before[k]) continue;
    const ir::Value* packed = atOpt.inputs[k];
    KILN_CHECK(packed && packed->isConstant(), node.describe(), ": ", tactic.name,
               " replaced input ", k, " by something other than a constant");
    node.inputs[k] = graph.addConstant(packed->name, *packed->constant);
  }
  for (const auto& [key, a] : atOpt.attrs)
    if (std::find(had.begin(), had.end(), key) == had.end()) node.attrs[key] = a;
}

//! The device half of buildPlan, after the passes: per node a device tactic
//! that supports it at every profile extreme, timed on the GPU at the first
//! profile's opt shapes where there is a choice (device_tactic_selector.h),
//! workspace, memory plan, and the plan bound to this machine's GPU and libraries.
std::vector<uint8_t> buildDevicePlan(const backends::DeviceBackend& device, const ir::Graph& network,
                                     std::unique_ptr<ir::Graph> graph, std::vector<plan::Profile> profiles,
                                     const std::vector<std::unique_ptr<ir::Graph>>& extremeGraphs,
                                     const ir::Graph& optGraph, const BuildOptions& options, BuildStats* stats,
                                     std::chrono::steady_clock::time_point t0) {
  std::vector<ir::Node*> nodes = graph->nodeList(), optNodes = optGraph.nodeList();
  std::shared_ptr<void> libraries = device.createLibraries();  // for the tactics' variants and the timing runs
  int64_t workspace = 0;
  int timed = 0, cached = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::vector<const ir::Node*> extremes;
    for (auto& eg : extremeGraphs) extremes.push_back(eg->nodeList()[i]);
    DeviceChoice choice = chooseDeviceTactic(device, *nodes[i], extremes, *optNodes[i], options, libraries.get());
    nodes[i]->tactic = choice.tactic->name;
    for (const auto& [name, value] : choice.variant) nodes[i]->attrs[name] = value;
    if (choice.tactic->prepare) choice.tactic->prepare(*nodes[i], device.host().target);
    timed += choice.timed;
    cached += choice.cached;
    for (auto& eg : extremeGraphs) {
      ir::Node* e = eg->nodeList()[i];
      for (const auto& [name, value] : choice.variant) e->attrs[name] = value;
      if (choice.tactic->prepare) choice.tactic->prepare(*e, device.host().target);  // the same source: cached
      workspace = std::max<int64_t>(workspace, static_cast<int64_t>(choice.tactic->create(*e)->workspaceBytes()));
    }
    log(options, ILogger::Severity::kVERBOSE, strCat("layer ", nodes[i]->describe(), " -> ", choice.tactic->name,
                                                     choice.variant.empty() ? "" : " (a timed variant)"));
  }
  graph->removeUnusedValues();
  std::vector<ProfilePoint> extremes;
  for (const plan::Profile& p : profiles) {
    extremes.push_back(pointOf(p, 0));
    extremes.push_back(pointOf(p, 2));
  }
  if (extremes.empty()) extremes.push_back({});
  std::map<std::string, int64_t> capacity;
  for (const ProfilePoint& e : extremes) {
    auto g = resolved(*graph, e);
    for (auto& v : g->values()) {
      if (v->isConstant() && !v->producer) continue;
      int64_t bytes = ir::numElements(ir::staticDims(v->shape)) * dtypeSize(v->dtype);
      capacity[v->name] = std::max(capacity[v->name], bytes);
    }
  }
  MemoryPlan memory = planMemory(*graph, [&](const ir::Value& v) { return capacity.at(v.name); });
  const backends::DeviceTarget& target = device.host().target;
  plan::PlanContents contents;
  contents.meta.kilnVersion = "0.1.0";
  contents.meta.device = device.device();
  contents.meta.isa = target.arch;
  contents.meta.networkName = network.name;
  contents.meta.deviceName = target.name;
  contents.meta.cudaRuntimeVersion = target.cudaRuntime;
  contents.meta.cudnnVersion = target.cudnn;
  contents.meta.cublasLtVersion = target.cublasLt;
  contents.arenaOffsets = memory.offsets;
  for (auto& [name, offset] : memory.offsets) contents.arenaCapacity[name] = capacity.at(name);
  contents.arenaBytes = memory.arenaBytes;
  contents.workspaceBytes = workspace;
  contents.profiles = profiles;
  BuildStats local;
  local.layers = static_cast<int>(graph->nodes().size());
  local.timedLayers = timed;
  local.cachedLayers = cached;
  local.arenaBytes = memory.arenaBytes;
  local.naiveActivationBytes = memory.naiveBytes;
  contents.graph = std::move(graph);
  std::vector<uint8_t> bytes = plan::writePlan(contents);
  local.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log(options, ILogger::Severity::kINFO,
      strCat("built ", local.layers, " layers (", timed, " timed, ", cached, " from the timing cache) for CUDA ",
             backends::describe(target), ", device arena ",
             memory.arenaBytes, " bytes, workspace ", workspace, " bytes, in ", local.seconds, " s"));
  if (stats) *stats = local;
  return bytes;
}

}  // namespace

std::vector<ir::Tensor> evaluateOnHost(const ir::Node& node, const std::vector<const ir::Tensor*>& inputs) {
  return cpu::evaluateNode(node, inputs);
}

std::vector<uint8_t> buildPlan(const ir::Graph& network, const BuildOptions& options, BuildStats* stats) {
  auto t0 = std::chrono::steady_clock::now();
  KILN_CHECK(options.device == "cpu" || options.device == "cuda", "unknown build device '", options.device,
             "' (cpu or cuda)");
  const backends::DeviceBackend* device = nullptr;
  if (options.device == "cuda") {
    backends::HostDevice host = options.deviceBackend ? options.deviceBackend->host() : backends::cudaHost();
    KILN_CHECK(host.available, "building a CUDA engine needs a GPU (tactics are chosen on it): ", host.unavailable);
    device = options.deviceBackend ? options.deviceBackend : backends::cudaBackend();
  }
  KILN_CHECK(!network.outputs.empty(), "network has no outputs (mark at least one with markOutput)");
  auto graph = network.clone();
  std::vector<plan::Profile> profiles = checkProfiles(*graph, options);

  passes::PassContext pctx;
  pctx.evaluate = evaluateOnCpu;
  pctx.cpuFusions = device == nullptr;
  // The CPU always has KilnAttention; a device only once its backend offers a tactic for it.
  pctx.attentionFusion = device == nullptr || !device->tacticsFor("KilnAttention").empty();
  // Likewise the elementwise chains (CUDA: KilnFusedElementwise.nvrtc).
  pctx.elementwiseChains = device == nullptr || !device->tacticsFor("KilnFusedElementwise").empty();
  // The scaled 1x1 GEMM is FP32: under BF16 / FP16 the Conv keeps its reduced-precision tactics.
  pctx.channelScale = !options.cpuPrecision.bf16 && !options.cpuPrecision.fp16;
  passes::runPipeline(*graph, pctx);
  for (const std::string& line : pctx.log) log(options, ILogger::Severity::kVERBOSE, line);
  if (!device) {
    CpuPrecisionResult precision = markCpuPrecision(*graph, options.cpuPrecision);
    for (const std::string& w : precision.warnings) log(options, ILogger::Severity::kWARNING, w);
    if (precision.bf16Layers)
      log(options, ILogger::Severity::kVERBOSE, strCat(precision.bf16Layers, " layer(s) may run in BF16"));
    if (precision.fp16Layers)
      log(options, ILogger::Severity::kVERBOSE, strCat(precision.fp16Layers, " layer(s) may run in FP16"));
  }

  // The graph stays symbolic where inputs vary; tactics are chosen on the first
  // profile's opt shapes and must support every profile's min and max.
  std::vector<ProfilePoint> extremes;
  for (const plan::Profile& p : profiles) {
    extremes.push_back(pointOf(p, 0));
    extremes.push_back(pointOf(p, 2));
  }
  if (extremes.empty()) extremes.push_back({});
  const ProfilePoint optPoint = profiles.empty() ? ProfilePoint{} : pointOf(profiles[0], 1);
  auto optGraph = resolved(*graph, optPoint);
  // Layouts are proposed on the opt shapes, where tactics are timed: a graph
  // whose inputs vary is then timed (and chained) as a static one at opt.
  if (!device && options.onednnTactics) cpu::proposeLayouts(*optGraph);
  std::vector<std::unique_ptr<ir::Graph>> extremeGraphs;
  // The graph resolved at every profile extreme, again after each pass that rewrites it.
  auto resolveExtremes = [&] {
    extremeGraphs.clear();
    for (const ProfilePoint& s : extremes) extremeGraphs.push_back(resolved(*graph, s));
  };
  resolveExtremes();

  if (device) {
    // Which type each layer runs in, asked of the device tactics at every profile extreme.
    std::vector<std::vector<ir::Node*>> extremeNodes;
    for (auto& eg : extremeGraphs) extremeNodes.push_back(eg->nodeList());
    const std::vector<ir::Node*> before = graph->nodeList();
    PrecisionSupport supported = [&](std::size_t i, DType type) {
      for (const backends::DeviceTactic* t : device->tacticsFor(before[i]->op)) {
        bool everywhere = true;
        for (std::size_t e = 0; e < extremeNodes.size() && everywhere; ++e) {
          auto changed = retypeForTrial(*extremeNodes[e][i], type);
          everywhere = t->supports(*extremeNodes[e][i]);
          restoreTypes(changed);
        }
        if (everywhere) return true;
      }
      return false;
    };
    PrecisionOptions po;
    po.tf32 = options.tf32, po.fp16 = options.fp16, po.bf16 = options.bf16;
    po.obeyConstraints = options.obeyPrecisionConstraints, po.preferConstraints = options.preferPrecisionConstraints;
    PrecisionResult pr = assignDevicePrecision(*graph, po, supported);
    for (const std::string& line : pr.log) log(options, ILogger::Severity::kVERBOSE, line);
    for (const std::string& w : pr.warnings) log(options, ILogger::Severity::kWARNING, w);
    if (options.fp16 || options.bf16)
      log(options, ILogger::Severity::kINFO,
          strCat("precision: ", pr.reducedLayers, " layers in FP16/BF16, ", pr.castsInserted, " casts inserted"));
    resolveExtremes();
    if (options.channelsLast) {
      // Which convs and pools run NHWC, asked of the device tactics at every profile extreme.
      LayoutOptions lo;
      lo.fp32 = options.channelsLastFp32;
      std::vector<std::vector<ir::Node*>> layoutNodes;
      for (auto& eg : extremeGraphs) layoutNodes.push_back(eg->nodeList());
      // Where the tactic has library variants (cuDNN's algorithms), at static shapes it must
      // also name one for the NHWC form: supports() alone cannot ask the library.
      std::shared_ptr<void> libraries;
      bool librariesMade = false;
      auto libraryRuns = [&](const backends::DeviceTactic& t, const ir::Node& trial) {
        if (!t.variants) return true;
        for (const ir::Value* v : trial.inputs)
          if (v && !ir::isStatic(v->shape)) return true;
        if (!librariesMade) libraries = device->createLibraries(), librariesMade = true;
        if (!libraries) return true;  // no GPU libraries (a stand-in backend): supports() decides
        try {
          return !t.variants(trial, libraries.get()).empty();
        } catch (const Error&) {
          return false;
        }
      };
      LayoutSupport nhwc = [&](std::size_t i) {
        for (const backends::DeviceTactic* t : device->tacticsFor(layoutNodes[0][i]->op)) {
          bool everywhere = true;
          for (std::size_t e = 0; e < layoutNodes.size() && everywhere; ++e) {
            LayoutTrial trial = channelsLastTrial(*layoutNodes[e][i]);
            everywhere = t->supports(trial.node) && libraryRuns(*t, trial.node);
          }
          if (everywhere) return true;
        }
        return false;
      };
      LayoutResult lr = assignDeviceLayouts(*graph, lo, nhwc);
      for (const std::string& line : lr.log) log(options, ILogger::Severity::kVERBOSE, line);
      if (lr.channelsLastLayers) {
        log(options, ILogger::Severity::kINFO, strCat("layout: ", lr.channelsLastLayers, " layers NHWC, ",
                                                     lr.transposesRemaining, " layout transposes"));
        resolveExtremes();
      }
    }
    if (!device->tacticsFor("KilnReformat").empty()) {
      if (int fused = fuseDeviceReformats(*graph)) {
        log(options, ILogger::Severity::kVERBOSE, strCat("reformat: ", fused, " Cast + Transpose pairs fused"));
        resolveExtremes();
      }
    }
    optGraph = resolved(*graph, optPoint);  // casts (and layout transposes) inserted
  }

  ThreadPool pool(options.threads);
  BuildStats local;
  std::vector<ir::Node*> nodes = graph->nodeList(), optNodes = optGraph->nodeList();
  if (device) return buildDevicePlan(*device, network, std::move(graph), std::move(profiles), extremeGraphs, *optGraph, options,
                                       stats, t0);
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
    if (tactic->prepack) prepackAtOpt(*tactic, *nodes[i], *graph, *optNodes[i], *optGraph);
    log(options, ILogger::Severity::kVERBOSE, strCat("layer ", nodes[i]->describe(), " -> ", choice.tactic));
  }
  cpu::chooseLayouts(*graph, resolved(*graph, optPoint).get());
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
  contents.pluginLibraries = options.pluginLibraries;
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
