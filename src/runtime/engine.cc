#include "runtime/engine.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "core/host_buffer.h"
#include "ir/op_schema.h"
#include "ir/shape_resolver.h"
#include "runtime/engine_internal.h"

namespace kiln::runtime {

namespace {

int isaRank(const std::string& isa) {
  if (isa == "avx512") return 2;
  if (isa == "avx2") return 1;
  if (isa == "generic") return 0;
  return -1;
}

std::shared_ptr<void> alignedCopy(const void* data, std::size_t size) {
  std::shared_ptr<void> p = allocHostBuffer(size, "a plan");
  if (size) std::memcpy(p.get(), data, size);
  return p;
}

std::vector<int64_t> dimsOf(const ir::Shape& s) {
  std::vector<int64_t> d;
  for (const ir::Dim& x : s) d.push_back(x.known() ? x.value : -1);
  return d;
}

//! Marks the outputs whose shape depends on input values, and which of their
//! dims do: inference on a copy of the graph marks data-dependent dims with a
//! symbol (the plan keeps only the sizes of known dims), and ops that pass dims
//! through keep it; an output that loses the marks (a Reshape) varies in all dims.
void markDataDependentOutputs(const ir::Graph& g, std::vector<IOTensor>& io) {
  bool any = false;
  for (std::size_t i = 0; i < g.outputs.size(); ++i) any |= ir::dependsOnDataDependentShape(*g.outputs[i]);
  if (!any) return;
  std::unique_ptr<ir::Graph> marked = g.clone();
  ir::inferGraph(*marked);
  for (std::size_t i = 0; i < g.outputs.size(); ++i) {
    IOTensor& t = io[g.inputs.size() + i];
    t.dataDependent = ir::dependsOnDataDependentShape(*g.outputs[i]);
    if (!t.dataDependent) continue;
    const ir::Shape& s = marked->outputs[i]->shape;
    bool anyMarked = std::any_of(s.begin(), s.end(), [](const ir::Dim& d) { return ir::isDataDependentDim(d); });
    for (std::size_t k = 0; k < t.dims.size(); ++k) {
      bool dd = !anyMarked || ir::isDataDependentDim(s[k]);
      t.dataDependentDims.push_back(dd);
      if (dd) t.dims[k] = -1;
    }
  }
}

}  // namespace

bool IOTensor::isStatic() const {
  return std::all_of(dims.begin(), dims.end(), [](int64_t d) { return d >= 0; });
}

std::shared_ptr<const Engine> Engine::load(const void* data, std::size_t size) {
  KILN_CHECK(data != nullptr || size == 0, "plan pointer is null");
  return adopt(alignedCopy(data, size), size);
}

std::shared_ptr<const Engine> Engine::adopt(std::shared_ptr<void> aligned, std::size_t size) {
  std::shared_ptr<Engine> e(new Engine());
  e->buffer_ = std::move(aligned);
  e->size_ = size;
  e->plan_ = plan::readPlan(static_cast<const uint8_t*>(e->buffer_.get()), size, e->buffer_);
  const plan::PlanMetadata& meta = e->plan_.meta;
  if (meta.device == "cuda") {
    // Bound to the GPU and libraries it was built with: checked before anything else is made.
    backends::DeviceTarget target{meta.device, meta.isa, meta.deviceName, meta.cudaRuntimeVersion,
                                  meta.cudnnVersion, meta.cublasLtVersion};
    e->warnings_ = backends::checkBinding(target, backends::cudaHost());
    e->device_ = backends::cudaBackend();
    e->devicePlan_ = e->device_->allocate(size);
    e->device_->copyAsync(e->devicePlan_.get(), e->buffer_.get(), size, backends::CopyKind::kHostToDevice, nullptr);
    e->device_->synchronize(nullptr);
  } else {
    KILN_CHECK(meta.device == "cpu", "plan was built for device '", meta.device,
               "'; this Kiln runtime runs plans for 'cpu' and 'cuda'");
    KILN_CHECK(isaRank(meta.isa) >= 0, "plan targets unknown CPU ISA '", meta.isa, "'");
    KILN_CHECK(isaRank(meta.isa) <= isaRank(cpu::hostIsa()), "plan was built for ISA ", meta.isa,
               " but this CPU supports only ", cpu::hostIsa(), "; rebuild the engine on this machine");
  }
  const ir::Graph& g = *e->plan_.graph;
  std::unordered_map<const ir::Value*, int> valueIndex;
  for (std::size_t i = 0; i < g.values().size(); ++i) valueIndex[g.values()[i].get()] = static_cast<int>(i);
  for (const plan::Profile& p : e->plan_.profiles)
    for (const plan::ProfileInput& in : p) {
      const ir::Value* v = g.findValue(in.name);
      KILN_CHECK(v && g.isGraphInput(v) && v->shape.size() == in.min.size(), "plan profile names \"", in.name,
                 "\", which is not an input of that rank");
    }

  std::unordered_map<const ir::Value*, int> slotOf;
  auto addIO = [&](const ir::Value* v, bool isInput) {
    IOTensor t;
    t.name = v->name;
    t.isInput = isInput;
    t.dtype = v->dtype;
    t.dims = dimsOf(v->shape);
    for (const ir::Dim& d : v->shape) t.symbols.push_back(d.symbol);
    e->io_.push_back(std::move(t));
    Slot s;
    s.kind = SlotKind::kIO;
    s.io = static_cast<int>(e->io_.size()) - 1;
    s.value = valueIndex.at(v);
    s.dtype = v->dtype;
    e->slots_.push_back(std::move(s));
    e->ioSlots_.push_back(static_cast<int>(e->slots_.size()) - 1);
    return static_cast<int>(e->slots_.size()) - 1;
  };
  for (const ir::Value* v : g.inputs) slotOf[v] = addIO(v, true);
  for (IOTensor& t : e->io_)
    for (const plan::Profile& p : e->plan_.profiles)
      for (const plan::ProfileInput& in : p) t.isShapeTensor |= in.name == t.name && in.isShapeTensor();
  std::vector<int> outputSlots;
  for (const ir::Value* v : g.outputs) outputSlots.push_back(addIO(v, false));
  markDataDependentOutputs(g, e->io_);
  for (std::size_t i = 0; i < g.outputs.size(); ++i)
    if (g.outputs[i]->producer) slotOf[g.outputs[i]] = outputSlots[i];

  auto slotFor = [&](const ir::Value* v) -> int {
    auto it = slotOf.find(v);
    if (it != slotOf.end()) return it->second;
    Slot s;
    s.dtype = v->dtype;
    s.value = valueIndex.at(v);
    if (v->isConstant()) {
      s.kind = SlotKind::kConstant;
      s.constant = v->constant->data();
      if (e->device_) {  // the same bytes in the device copy of the plan
        auto at = static_cast<const uint8_t*>(s.constant) - static_cast<const uint8_t*>(e->buffer_.get());
        KILN_CHECK(at >= 0 && static_cast<std::size_t>(at) + v->constant->bytes() <= size, "constant \"", v->name,
                   "\" does not lie in the plan's weights");
        s.constant = static_cast<const uint8_t*>(e->devicePlan_.get()) + at;
      }
    } else {
      auto off = e->plan_.arenaOffsets.find(v->name);
      KILN_CHECK(off != e->plan_.arenaOffsets.end(), "plan has no arena offset for value \"", v->name, "\"");
      auto cap = e->plan_.arenaCapacity.find(v->name);
      KILN_CHECK(cap != e->plan_.arenaCapacity.end() || ir::isStatic(v->shape), "plan has no arena capacity for \"",
                 v->name, "\"");
      s.capacity = cap != e->plan_.arenaCapacity.end() ? cap->second : bytesOf(ir::staticDims(v->shape), v->dtype);
      KILN_CHECK(off->second >= 0 && off->second + s.capacity <= e->plan_.arenaBytes, "value \"", v->name,
                 "\" lies outside the plan's arena");
      s.kind = SlotKind::kArena;
      s.offset = off->second;
    }
    e->slots_.push_back(std::move(s));
    slotOf[v] = static_cast<int>(e->slots_.size()) - 1;
    return slotOf[v];
  };

  // Kernels are made from the graph resolved at each profile's largest shapes.
  std::vector<std::unique_ptr<ir::Graph>> maxGraphs;
  if (e->plan_.profiles.empty()) {
    maxGraphs.push_back(g.clone());
    ir::resolveShapes(*maxGraphs.back(), {}, evaluateOnCpu);
  }
  for (const plan::Profile& p : e->plan_.profiles) {
    std::map<std::string, std::vector<int64_t>> shapes, values;
    for (const plan::ProfileInput& in : p) {
      shapes[in.name] = in.max;
      if (in.isShapeTensor()) values[in.name] = in.maxValues;
    }
    maxGraphs.push_back(g.clone());
    ir::resolveShapes(*maxGraphs.back(), shapes, evaluateOnCpu, 4096, nullptr, &values);
  }
  std::vector<std::vector<ir::Node*>> maxNodes;
  for (auto& mg : maxGraphs) maxNodes.push_back(mg->nodeList());

  std::size_t index = 0;
  for (const auto& n : g.nodes()) {
    Layer layer;
    layer.node = n.get();
    layer.name = n->name;
    layer.op = n->op;
    layer.tactic = n->tactic;
    if (e->device_) {
      const backends::DeviceTactic* tactic = e->device_->findTactic(n->tactic);
      KILN_CHECK(tactic, "plan layer \"", n->name, "\" uses ", e->device_->device(), " tactic '", n->tactic,
                 "', which this Kiln does not have");
      KILN_CHECK(tactic->op == n->op, "plan layer \"", n->name, "\" pairs op ", n->op, " with tactic ", n->tactic);
      for (auto& nodes : maxNodes) {
        layer.deviceKernels.push_back(tactic->create(*nodes[index]));
        KILN_CHECK(static_cast<int64_t>(layer.deviceKernels.back()->workspaceBytes()) <= e->plan_.workspaceBytes,
                   "plan layer \"", n->name, "\" needs more workspace than the plan reserves");
      }
    } else {
      const cpu::Tactic* tactic = cpu::tactics().find(n->tactic);
      KILN_CHECK(tactic, "plan layer \"", n->name, "\" uses tactic '", n->tactic, "', which this Kiln does not have");
      KILN_CHECK(tactic->op == n->op, "plan layer \"", n->name, "\" pairs op ", n->op, " with tactic ", n->tactic);
      for (auto& nodes : maxNodes) {
        layer.kernels.push_back(tactic->create(*nodes[index]));
        KILN_CHECK(static_cast<int64_t>(layer.kernels.back()->workspaceBytes()) <= e->plan_.workspaceBytes,
                   "plan layer \"", n->name, "\" needs more workspace than the plan reserves");
      }
    }
    for (const ir::Value* v : n->inputs) layer.inputs.push_back(v ? slotFor(v) : -1);
    for (const ir::Value* v : n->outputs) layer.outputs.push_back(slotFor(v));
    for (std::size_t i = 0; i < n->outputs.size(); ++i)
      if (ir::isDataDependentOutput(*n, i)) layer.dataDependentOutputs.push_back(static_cast<int>(i));
    e->layers_.push_back(std::move(layer));
    ++index;
  }
  for (std::size_t i = 0; i < g.outputs.size(); ++i) {
    const ir::Value* v = g.outputs[i];
    if (v->producer) continue;
    int src = v->isConstant() ? slotFor(v) : slotOf[v];
    if (src != outputSlots[i]) e->outputCopies_.push_back({src, e->slots_[outputSlots[i]].io});
  }
  return e;
}

int Engine::findIO(const std::string& name) const {
  for (std::size_t i = 0; i < io_.size(); ++i)
    if (io_[i].name == name) return static_cast<int>(i);
  return -1;
}

const plan::ProfileInput* Engine::profileInput(int profile, const std::string& name) const {
  if (profile < 0 || profile >= static_cast<int>(plan_.profiles.size())) return nullptr;
  for (const plan::ProfileInput& in : plan_.profiles[profile])
    if (in.name == name) return &in;
  return nullptr;
}

int64_t Engine::contextMemoryBytes() const {
  // Device kernels get a 256-byte aligned workspace (what cuBLASLt and cuDNN want).
  int64_t align = contextMemoryAlignment();
  return (arenaBytes() + align - 1) / align * align + workspaceBytes();
}

}  // namespace kiln::runtime
