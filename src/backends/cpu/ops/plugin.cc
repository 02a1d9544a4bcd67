// KilnPlugin.plugin: runs a KilnPlugin node through its plugin's runtime
// capability (see ir/plugin.h for how the plugin object is found).
//
// supports() asks the plugin's supportsFormatCombination for every input and
// output at the node's types (Kiln's CPU tensors are always kLINEAR) and
// throws a clear error when the plugin declines, since no other tactic exists.
// create() makes the plugin for the runtime phase (so a plan whose plugin is
// not registered fails to load) and a build-phase one to learn its workspace.
// Kernels are shared by execution contexts but a plugin object need not be
// thread-safe, so each concurrent run borrows its own clone
// (attachToContext) from a small pool; onShapeChange is called whenever a
// clone sees other shapes than on its previous run.
#include <mutex>
#include <vector>

#include "backends/cpu/ops/families.h"
#include "ir/plugin.h"

namespace kiln::cpu {
namespace {

Dims toDims(const ir::Shape& s) {
  Dims d;
  d.nbDims = static_cast<int32_t>(s.size());
  for (std::size_t i = 0; i < s.size() && i < static_cast<std::size_t>(Dims::MAX_DIMS); ++i) d.d[i] = s[i].value;
  return d;
}

//! The node's data inputs then outputs, as build-time descriptions.
std::vector<DynamicPluginTensorDesc> describeIO(const ir::Node& node, int64_t nIn) {
  std::vector<DynamicPluginTensorDesc> io;
  auto add = [&](const ir::Value* v, const char* what, std::size_t i) {
    KILN_CHECK(v, ir::pluginWhere(node), ": ", what, " ", i, " is absent");
    KILN_CHECK(v->shape.size() <= static_cast<std::size_t>(Dims::MAX_DIMS), node.describe(), ": ", what, " ", i,
               " has rank ", v->shape.size());
    DynamicPluginTensorDesc d;
    d.desc.dims = toDims(v->shape);
    d.desc.type = v->dtype;
    d.desc.format = TensorFormat::kLINEAR;
    d.min = d.max = d.opt = d.desc.dims;
    io.push_back(d);
  };
  for (int64_t i = 0; i < nIn; ++i) add(node.inputs[i], "input", i);
  for (std::size_t i = 0; i < node.outputs.size(); ++i) add(node.outputs[i], "output", i);
  return io;
}

bool supportsPlugin(const ir::Node& node) {
  const std::string where = ir::pluginWhere(node);
  const int64_t nIn = ir::pluginDataInputs(node);
  const int32_t nOut = static_cast<int32_t>(node.outputs.size());
  std::vector<DynamicPluginTensorDesc> io = describeIO(node, nIn);
  ir::PluginPtr plugin = ir::createPlugin(node, TensorRTPhase::kBUILD);
  IPluginV3OneBuild& build = ir::pluginBuild(where, *plugin);
  for (int32_t pos = 0; pos < static_cast<int32_t>(io.size()); ++pos) {
    bool ok = ir::callPlugin(where, "supportsFormatCombination", [&] {
      return build.supportsFormatCombination(pos, io.data(), static_cast<int32_t>(nIn), nOut);
    });
    KILN_CHECK(ok, where, " does not support ", pos < nIn ? "input " : "output ", pos < nIn ? pos : pos - nIn, " as ",
               dataTypeName(io[pos].desc.type), " in linear format (the only format of Kiln's CPU tensors)");
  }
  return true;
}

//! Kiln's CPU contexts have no GPU allocator nor error recorder to offer.
class NoResources final : public IPluginResourceContext {
 public:
  IGpuAllocator* getGpuAllocator() const noexcept override { return nullptr; }
  IErrorRecorder* getErrorRecorder() const noexcept override { return nullptr; }
};

class PluginKernel final : public Kernel {
 public:
  explicit PluginKernel(const ir::Node& node)
      : where_(ir::pluginWhere(node)), nIn_(ir::pluginDataInputs(node)), nOut_(node.outputs.size()) {
    master_ = ir::createPlugin(node, TensorRTPhase::kRUNTIME);
    ir::pluginRuntime(where_, *master_);
    workspace_ = workspaceOf(node);
    free_.push_back(makeInstance());  // the first clone now: attach errors show at load time
  }

  std::size_t workspaceBytes() const override { return workspace_; }

  void run(const ExecContext& ctx, const TensorView* inputs, const TensorView* outputs) const override {
    std::unique_ptr<Instance> inst = acquire();
    bool changed = !inst->shaped;
    auto fill = [&](PluginTensorDesc& d, const TensorView& v) {
      Dims dims;
      dims.nbDims = v.rank;
      for (int i = 0; i < v.rank; ++i) dims.d[i] = v.dims[i];
      bool same = d.type == v.dtype && d.dims.nbDims == dims.nbDims;
      for (int i = 0; same && i < v.rank; ++i) same = d.dims.d[i] == dims.d[i];
      changed |= !same;
      d.dims = dims;
      d.type = v.dtype;
      d.format = TensorFormat::kLINEAR;
    };
    for (std::size_t i = 0; i < nIn_; ++i) {
      fill(inst->in[i], inputs[i]);
      inst->inPtrs[i] = inputs[i].data;
    }
    for (std::size_t i = 0; i < nOut_; ++i) {
      fill(inst->out[i], outputs[i]);
      inst->outPtrs[i] = outputs[i].data;
    }
    try {
      if (changed) {
        ir::checkPluginStatus(where_, "onShapeChange", ir::callPlugin(where_, "onShapeChange", [&] {
                                return inst->rt->onShapeChange(inst->in.data(), static_cast<int32_t>(nIn_),
                                                               inst->out.data(), static_cast<int32_t>(nOut_));
                              }));
        inst->shaped = true;
      }
      ir::checkPluginStatus(where_, "enqueue", ir::callPlugin(where_, "enqueue", [&] {
                              return inst->rt->enqueue(inst->in.data(), inst->out.data(), inst->inPtrs.data(),
                                                       inst->outPtrs.data(), ctx.workspace, nullptr);
                            }));
    } catch (...) {
      inst->shaped = false;  // it may be half-configured: configure again next time
      release(std::move(inst));
      throw;
    }
    release(std::move(inst));
  }

 private:
  struct Instance {
    ir::PluginPtr plugin;
    IPluginV3OneRuntime* rt = nullptr;
    std::vector<PluginTensorDesc> in, out;
    std::vector<const void*> inPtrs;
    std::vector<void*> outPtrs;
    bool shaped = false;
  };

  std::size_t workspaceOf(const ir::Node& node) const {
    ir::PluginPtr plugin = ir::createPlugin(node, TensorRTPhase::kBUILD);
    IPluginV3OneBuild& build = ir::pluginBuild(where_, *plugin);
    std::vector<DynamicPluginTensorDesc> io = describeIO(node, static_cast<int64_t>(nIn_));
    const DynamicPluginTensorDesc* in = io.data();
    const DynamicPluginTensorDesc* out = io.data() + nIn_;
    int32_t nIn = static_cast<int32_t>(nIn_), nOut = static_cast<int32_t>(nOut_);
    ir::checkPluginStatus(where_, "configurePlugin", ir::callPlugin(where_, "configurePlugin", [&] {
                            return build.configurePlugin(in, nIn, out, nOut);
                          }));
    return ir::callPlugin(where_, "getWorkspaceSize", [&] { return build.getWorkspaceSize(in, nIn, out, nOut); });
  }

  std::unique_ptr<Instance> makeInstance() const {
    static NoResources resources;
    auto inst = std::make_unique<Instance>();
    IPluginV3OneRuntime& masterRt = ir::pluginRuntime(where_, *master_);
    inst->plugin.reset(ir::callPlugin(where_, "attachToContext", [&] { return masterRt.attachToContext(&resources); }));
    KILN_CHECK(inst->plugin, where_, " attachToContext returned no plugin");
    inst->rt = &ir::pluginRuntime(where_, *inst->plugin);
    inst->in.resize(nIn_);
    inst->out.resize(nOut_);
    inst->inPtrs.resize(nIn_);
    inst->outPtrs.resize(nOut_);
    return inst;
  }

  //! A clone no other run is using; a new one only when all are busy.
  std::unique_ptr<Instance> acquire() const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        std::unique_ptr<Instance> inst = std::move(free_.back());
        free_.pop_back();
        return inst;
      }
    }
    return makeInstance();
  }

  void release(std::unique_ptr<Instance> inst) const {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(inst));
  }

  std::string where_;
  std::size_t nIn_, nOut_;
  ir::PluginPtr master_;
  std::size_t workspace_ = 0;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Instance>> free_;
};

}  // namespace

void registerPluginKernels(TacticRegistry& r) {
  Tactic t;
  t.name = "KilnPlugin.plugin";
  t.op = ir::kPluginOp;
  t.supports = supportsPlugin;
  t.create = [](const ir::Node& node) -> std::unique_ptr<Kernel> { return std::make_unique<PluginKernel>(node); };
  r.add(std::move(t));
}

}  // namespace kiln::cpu
