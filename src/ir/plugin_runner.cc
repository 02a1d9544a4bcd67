#include "ir/plugin_runner.h"

namespace kiln::ir {
namespace {

Dims toDims(const Shape& s) {
  Dims d;
  d.nbDims = static_cast<int32_t>(s.size());
  for (std::size_t i = 0; i < s.size() && i < static_cast<std::size_t>(Dims::MAX_DIMS); ++i) d.d[i] = s[i].value;
  return d;
}

//! Kiln's contexts have no GPU allocator nor error recorder to offer a plugin yet.
class NoResources final : public IPluginResourceContext {
 public:
  IGpuAllocator* getGpuAllocator() const noexcept override { return nullptr; }
  IErrorRecorder* getErrorRecorder() const noexcept override { return nullptr; }
};

}  // namespace

std::vector<DynamicPluginTensorDesc> describePluginIO(const Node& node) {
  const int64_t nIn = pluginDataInputs(node);
  std::vector<DynamicPluginTensorDesc> io;
  auto add = [&](const Value* v, const char* what, std::size_t i) {
    KILN_CHECK(v, pluginWhere(node), ": ", what, " ", i, " is absent");
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

void checkPluginFormats(const Node& node, const char* tensors) {
  const std::string where = pluginWhere(node);
  const int64_t nIn = pluginDataInputs(node);
  const int32_t nOut = static_cast<int32_t>(node.outputs.size());
  std::vector<DynamicPluginTensorDesc> io = describePluginIO(node);
  PluginPtr plugin = createPlugin(node, TensorRTPhase::kBUILD);
  IPluginV3OneBuild& build = pluginBuild(where, *plugin);
  for (int32_t pos = 0; pos < static_cast<int32_t>(io.size()); ++pos) {
    bool ok = callPlugin(where, "supportsFormatCombination", [&] {
      return build.supportsFormatCombination(pos, io.data(), static_cast<int32_t>(nIn), nOut);
    });
    KILN_CHECK(ok, where, " does not support ", pos < nIn ? "input " : "output ", pos < nIn ? pos : pos - nIn, " as ",
               dataTypeName(io[pos].desc.type), " in linear format (the only format of ", tensors, ")");
  }
}

PluginRunner::PluginRunner(const Node& node)
    : where_(pluginWhere(node)), nIn_(static_cast<std::size_t>(pluginDataInputs(node))), nOut_(node.outputs.size()) {
  master_ = createPlugin(node, TensorRTPhase::kRUNTIME);
  pluginRuntime(where_, *master_);
  workspace_ = workspaceOf(node);
  free_.push_back(makeInstance());  // the first clone now: attach errors show at load time
}

bool PluginRunner::describe(PluginTensorDesc& d, int32_t rank, const int64_t* dims, DataType type) {
  bool same = d.type == type && d.dims.nbDims == rank;
  for (int32_t i = 0; same && i < rank; ++i) same = d.dims.d[i] == dims[i];
  d.dims.nbDims = rank;
  for (int32_t i = 0; i < rank; ++i) d.dims.d[i] = dims[i];
  d.type = type;
  d.format = TensorFormat::kLINEAR;
  return !same;
}

void PluginRunner::call(std::unique_ptr<Instance> inst, bool changed, void* workspace, cudaStream_t stream) const {
  try {
    if (changed) {
      checkPluginStatus(where_, "onShapeChange", callPlugin(where_, "onShapeChange", [&] {
                          return inst->rt->onShapeChange(inst->in.data(), static_cast<int32_t>(nIn_), inst->out.data(),
                                                         static_cast<int32_t>(nOut_));
                        }));
      inst->shaped = true;
    }
    checkPluginStatus(where_, "enqueue", callPlugin(where_, "enqueue", [&] {
                        return inst->rt->enqueue(inst->in.data(), inst->out.data(), inst->inPtrs.data(),
                                                 inst->outPtrs.data(), workspace, stream);
                      }));
  } catch (...) {
    inst->shaped = false;  // it may be half-configured: configure again next time
    release(std::move(inst));
    throw;
  }
  release(std::move(inst));
}

std::size_t PluginRunner::workspaceOf(const Node& node) const {
  PluginPtr plugin = createPlugin(node, TensorRTPhase::kBUILD);
  IPluginV3OneBuild& build = pluginBuild(where_, *plugin);
  std::vector<DynamicPluginTensorDesc> io = describePluginIO(node);
  const DynamicPluginTensorDesc* in = io.data();
  const DynamicPluginTensorDesc* out = io.data() + nIn_;
  int32_t nIn = static_cast<int32_t>(nIn_), nOut = static_cast<int32_t>(nOut_);
  checkPluginStatus(where_, "configurePlugin",
                    callPlugin(where_, "configurePlugin", [&] { return build.configurePlugin(in, nIn, out, nOut); }));
  return callPlugin(where_, "getWorkspaceSize", [&] { return build.getWorkspaceSize(in, nIn, out, nOut); });
}

std::unique_ptr<PluginRunner::Instance> PluginRunner::makeInstance() const {
  static NoResources resources;
  auto inst = std::make_unique<Instance>();
  IPluginV3OneRuntime& masterRt = pluginRuntime(where_, *master_);
  inst->plugin.reset(callPlugin(where_, "attachToContext", [&] { return masterRt.attachToContext(&resources); }));
  KILN_CHECK(inst->plugin, where_, " attachToContext returned no plugin");
  inst->rt = &pluginRuntime(where_, *inst->plugin);
  inst->in.resize(nIn_);
  inst->out.resize(nOut_);
  inst->inPtrs.resize(nIn_);
  inst->outPtrs.resize(nOut_);
  return inst;
}

//! A clone no other run is using; a new one only when all are busy.
std::unique_ptr<PluginRunner::Instance> PluginRunner::acquire() const {
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

void PluginRunner::release(std::unique_ptr<Instance> inst) const {
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(std::move(inst));
}

}  // namespace kiln::ir
