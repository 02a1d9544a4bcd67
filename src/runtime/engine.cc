#include "runtime/engine.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "ir/op_schema.h"
#include "ir/shape_resolver.h"

namespace kiln::runtime {

namespace {

int isaRank(const std::string& isa) {
  if (isa == "avx512") return 2;
  if (isa == "avx2") return 1;
  if (isa == "generic") return 0;
  return -1;
}

std::shared_ptr<void> alignedCopy(const void* data, std::size_t size) {
  std::size_t rounded = (size + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  KILN_CHECK(p, "out of memory loading a plan of ", size, " bytes");
  if (size) std::memcpy(p, data, size);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

std::vector<ir::Tensor> evaluateOnCpu(const ir::Node& n, const std::vector<const ir::Tensor*>& ins) {
  return cpu::evaluateNode(n, ins);
}

std::vector<int64_t> dimsOf(const ir::Shape& s) {
  std::vector<int64_t> d;
  for (const ir::Dim& x : s) d.push_back(x.known() ? x.value : -1);
  return d;
}

int64_t bytesOf(const std::vector<int64_t>& dims, DType t) { return ir::numElements(dims) * dtypeSize(t); }

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

int64_t ExecutionContext::memoryBytes() const { return engine_->contextMemoryBytes(); }

ExecutionContext::ExecutionContext(std::shared_ptr<const Engine> engine, int threads, bool ownArena)
    : engine_(std::move(engine)), pool_(std::make_unique<ThreadPool>(engine_->device() ? 1 : threads)) {
  addresses_.assign(engine_->io().size(), nullptr);
  inputShapes_.assign(engine_->io().size(), {});
  shapeValues_.assign(engine_->io().size(), {});
  for (std::size_t i = 0; i < engine_->io().size(); ++i)
    if (engine_->io()[i].isShapeTensor) shapeTensors_.push_back(static_cast<int>(i));
  if (const backends::DeviceBackend* device = engine_->device()) {
    libraries_ = device->createLibraries();
    if (ownArena) {
      arena_ = device->allocate(static_cast<std::size_t>(memoryBytes()));
      setUserArena(arena_.get());
    }
  } else if (ownArena) {
    int64_t bytes = memoryBytes();
    void* p = std::aligned_alloc(64, static_cast<std::size_t>((bytes + 63) / 64 * 64 + 64));
    KILN_CHECK(p, "out of memory allocating an activation arena of ", bytes, " bytes");
    arena_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    setUserArena(p);
  }
  setProfile(0);
}

void ExecutionContext::setUserArena(void* memory) {
  arenaBase_ = static_cast<uint8_t*>(memory);
  workspace_ = arenaBase_ + (memoryBytes() - engine_->workspaceBytes());
}

void ExecutionContext::setAddress(int io, void* data) {
  const IOTensor& t = engine_->io()[io];
  if (const backends::DeviceBackend* device = engine_->device(); device && data && !t.isShapeTensor)
    KILN_CHECK(device->pointerKind(data) != backends::PointerKind::kHost, "\"", t.name, "\" was given host memory (",
               data, "), but the IO tensors of a ", device->device(),
               " engine are device memory (getTensorLocation is kDEVICE): allocate it with cudaMalloc");
  addresses_[io] = data;
}

void ExecutionContext::setThreads(int threads) { pool_ = std::make_unique<ThreadPool>(threads); }

void ExecutionContext::setProfile(int profile) {
  KILN_CHECK(profile >= 0 && profile < engine_->numProfiles(), "optimization profile ", profile,
             " does not exist (the engine has ", engine_->numProfiles(), ")");
  profile_ = profile;
  for (auto& v : shapeValues_) v.clear();  // shape-tensor values are checked against the new profile
  const auto& io = engine_->io();
  for (std::size_t i = 0; i < io.size(); ++i) {
    inputShapes_[i].clear();
    if (!io[i].isInput) continue;
    const plan::ProfileInput* p = engine_->profileInput(profile, io[i].name);
    if (io[i].isStatic()) {
      inputShapes_[i] = io[i].dims;
    } else if (p && p->min == p->max) {
      inputShapes_[i] = p->min;  // nothing to choose
    }
  }
  resolved_ = false;
  if (missingInputShapes().empty()) resolve();
}

std::vector<std::string> ExecutionContext::missingInputShapes() const {
  std::vector<std::string> out;
  const auto& io = engine_->io();
  for (std::size_t i = 0; i < io.size(); ++i)
    if (io[i].isInput && ((inputShapes_[i].empty() && !(io[i].dims.empty())) ||
                          (io[i].isShapeTensor && shapeValues_[i].empty())))
      out.push_back(io[i].name);
  return out;
}

void ExecutionContext::refreshShapeValues() {
  if (shapeTensors_.empty()) return;
  bool changed = false;
  for (int io : shapeTensors_) {
    const IOTensor& t = engine_->io()[io];
    if (!addresses_[io]) continue;
    const int64_t n = ir::numElements(t.dims);
    std::vector<int64_t>& known = shapeValues_[io];
    auto value = [&](int64_t k) {
      return t.dtype == DType::kINT32 ? int64_t{static_cast<const int32_t*>(addresses_[io])[k]}
                                      : static_cast<const int64_t*>(addresses_[io])[k];
    };
    bool same = static_cast<int64_t>(known.size()) == n;
    for (int64_t k = 0; same && k < n; ++k) same = known[k] == value(k);
    if (same) continue;
    known.clear();  // until the new values prove valid, the context cannot run
    resolved_ = false;
    std::vector<int64_t> values(static_cast<std::size_t>(n));
    for (int64_t k = 0; k < n; ++k) values[k] = value(k);
    const plan::ProfileInput* p = engine_->profileInput(profile_, t.name);
    KILN_CHECK(p && p->isShapeTensor(), "shape-tensor input \"", t.name, "\" has no values in optimization profile ",
               profile_);
    for (int64_t k = 0; k < n; ++k)
      KILN_CHECK(values[k] >= p->minValues[k] && values[k] <= p->maxValues[k], "shape-tensor input \"", t.name,
                 "\": values ", ir::toString(values), " are outside optimization profile ", profile_, " (min ",
                 ir::toString(p->minValues), ", max ", ir::toString(p->maxValues), ")");
    known = std::move(values);
    changed = true;
  }
  if ((changed || !resolved_) && missingInputShapes().empty()) resolve();
}

void ExecutionContext::setInputShape(int ioIndex, const std::vector<int64_t>& dims) {
  const IOTensor& t = engine_->io()[ioIndex];
  KILN_CHECK(t.isInput, "\"", t.name, "\" is an output tensor");
  KILN_CHECK(dims.size() == t.dims.size(), "rank ", dims.size(), " given, the engine's input has rank ", t.dims.size());
  for (std::size_t d = 0; d < dims.size(); ++d) KILN_CHECK(dims[d] >= 0, "dimension ", d, " is negative (", dims[d], ")");
  const plan::ProfileInput* p = engine_->profileInput(profile_, t.name);
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (t.dims[d] >= 0) {
      KILN_CHECK(dims[d] == t.dims[d], "shape ", ir::toString(dims), " differs from the engine's ", ir::toString(t.dims),
                 " in dimension ", d, ", which is fixed");
    } else {
      KILN_CHECK(p, "no optimization profile ", profile_, " entry for dynamic input \"", t.name, "\"");
      KILN_CHECK(dims[d] >= p->min[d] && dims[d] <= p->max[d], "shape ", ir::toString(dims),
                 " is outside optimization profile ", profile_, " (min ", ir::toString(p->min), ", max ",
                 ir::toString(p->max), ")");
    }
  }
  std::vector<int64_t> previous = inputShapes_[ioIndex];
  if (previous == dims && resolved_) return;  // no re-planning for an unchanged shape
  inputShapes_[ioIndex] = dims;
  resolved_ = false;
  if (!missingInputShapes().empty()) return;
  try {
    resolve();
  } catch (...) {
    inputShapes_[ioIndex] = previous;
    if (missingInputShapes().empty()) resolve();
    throw;
  }
}

std::vector<int64_t> ExecutionContext::shapeOf(int io) const {
  const IOTensor& info = engine_->io()[io];
  if (resolved_ && info.dataDependent && !shapesFromRun_) {
    std::vector<int64_t> dims = slotDims_[engine_->ioSlot(io)];
    for (std::size_t k = 0; k < dims.size(); ++k)
      if (info.dataDependentDims[k]) dims[k] = -1;
    return dims;
  }
  if (resolved_) return slotDims_[engine_->ioSlot(io)];
  const IOTensor& t = engine_->io()[io];
  return t.isInput && !inputShapes_[io].empty() ? inputShapes_[io] : t.dims;
}

std::vector<int64_t> ExecutionContext::boundShapeOf(int io) const {
  if (!resolved_) return shapeOf(io);
  return (hasDataDependent_ ? boundDims_ : slotDims_)[engine_->ioSlot(io)];
}

void ExecutionContext::resolve() {
  const Engine& e = *engine_;
  const auto& io = e.io();
  const bool memo = std::none_of(e.layers().begin(), e.layers().end(),
                                 [](const Layer& l) { return !l.dataDependentOutputs.empty(); });
  if (memo)
    for (ResolvedShapes& m : resolvedMemo_) {
      if (m.profile != profile_ || m.inputs != inputShapes_ || m.values != shapeValues_) continue;
      slotDims_ = m.slotDims;  // same sizes: copies into the existing storage
      inViews_ = m.in;
      outViews_ = m.out;
      m.used = ++memoClock_;
      hasDataDependent_ = false;
      shapesFromRun_ = false;
      resolved_ = true;
      return;
    }
  ++fullResolves_;
  bool allStatic = std::all_of(io.begin(), io.end(), [](const IOTensor& t) { return t.isStatic(); });
  std::unique_ptr<ir::Graph> g;
  const ir::Graph* shapes = &e.graph();
  if (!allStatic || slotDims_.empty()) {
    std::map<std::string, std::vector<int64_t>> inputs;
    for (std::size_t i = 0; i < io.size(); ++i)
      if (io[i].isInput) inputs[io[i].name] = inputShapes_[i];
    std::map<std::string, std::vector<int64_t>> values;
    for (int io : shapeTensors_) values[e.io()[io].name] = shapeValues_[io];
    ir::Graph& target = shapeGraph(g);
    ir::resolveShapes(target, inputs, evaluateOnCpu, 4096, nullptr, &values);
    shapes = &target;
  }
  applyShapes(*shapes);
  hasDataDependent_ = std::any_of(e.layers().begin(), e.layers().end(),
                                  [](const Layer& l) { return !l.dataDependentOutputs.empty(); });
  if (hasDataDependent_) {
    boundDims_ = slotDims_;
    boundInViews_ = inViews_;
    boundOutViews_ = outViews_;
  }
  shapesFromRun_ = false;
  resolved_ = true;
  if (!memo) return;
  ResolvedShapes* slot = nullptr;
  if (resolvedMemo_.size() < kResolvedMemo) {
    slot = &resolvedMemo_.emplace_back();
  } else {
    slot = &*std::min_element(resolvedMemo_.begin(), resolvedMemo_.end(),
                              [](const ResolvedShapes& a, const ResolvedShapes& b) { return a.used < b.used; });
  }
  slot->profile = profile_;
  slot->inputs = inputShapes_;
  slot->values = shapeValues_;
  slot->slotDims = slotDims_;
  slot->in = inViews_;
  slot->out = outViews_;
  slot->used = ++memoClock_;
}

ir::Graph& ExecutionContext::shapeGraph(std::unique_ptr<ir::Graph>& fresh) {
  const ir::Graph& source = engine_->graph();
  auto hasSubgraph = [](const ir::Graph& g) {
    for (const auto& n : g.nodes())
      for (const auto& [key, a] : n->attrs)
        if (std::holds_alternative<ir::GraphAttr>(a)) return true;
    return false;
  };
  if (!shapeGraph_) {
    if (hasSubgraph(source)) {  // inference may touch the bodies: a clean copy each time
      fresh = source.clone();
      return *fresh;
    }
    shapeGraph_ = source.clone();
    return *shapeGraph_;
  }
  // resolveShapes sets values' shapes and host-evaluated constants only: put those back.
  const auto& from = source.values();
  const auto& to = shapeGraph_->values();
  for (std::size_t i = 0; i < from.size(); ++i) {
    to[i]->shape = from[i]->shape;
    to[i]->dtype = from[i]->dtype;
    if (to[i]->constant != from[i]->constant) to[i]->constant = from[i]->constant;
  }
  return *shapeGraph_;
}

void ExecutionContext::applyShapes(const ir::Graph& shapes) {
  const Engine& e = *engine_;
  std::vector<std::vector<int64_t>>& dims = dimsScratch_;
  dims.resize(e.slots().size());
  for (std::size_t s = 0; s < e.slots().size(); ++s) {
    const Slot& slot = e.slots()[s];
    const ir::Value& v = *shapes.values()[slot.value];
    dims[s].resize(v.shape.size());
    for (std::size_t k = 0; k < v.shape.size(); ++k) {
      KILN_CHECK(v.shape[k].known(), "value \"", v.name, "\" has unresolved shape ", ir::toString(v.shape));
      dims[s][k] = v.shape[k].value;
    }
    if (slot.kind == SlotKind::kArena)
      KILN_CHECK(bytesOf(dims[s], slot.dtype) <= slot.capacity, "value \"", v.name, "\" needs ",
                 bytesOf(dims[s], slot.dtype), " bytes at these input shapes but the plan reserved ", slot.capacity,
                 " (a shape outside the profile's range?)");
  }
  inViews_.resize(e.layers().size());
  outViews_.resize(e.layers().size());
  for (std::size_t li = 0; li < e.layers().size(); ++li) {
    const Layer& l = e.layers()[li];
    std::vector<cpu::TensorView>& in = inViews_[li];
    std::vector<cpu::TensorView>& out = outViews_[li];
    in.assign(l.inputs.size(), cpu::TensorView{});
    out.resize(l.outputs.size());
    for (std::size_t i = 0; i < l.inputs.size(); ++i)
      if (l.inputs[i] >= 0) in[i] = cpu::makeView(nullptr, e.slots()[l.inputs[i]].dtype, dims[l.inputs[i]]);
    for (std::size_t i = 0; i < l.outputs.size(); ++i)
      out[i] = cpu::makeView(nullptr, e.slots()[l.outputs[i]].dtype, dims[l.outputs[i]]);
  }
  slotDims_.resize(dims.size());
  for (std::size_t s = 0; s < dims.size(); ++s) slotDims_[s].assign(dims[s].begin(), dims[s].end());
}

void ExecutionContext::updateDataDependentShapes(const Layer& layer, const cpu::TensorView* actual) {
  const Engine& e = *engine_;
  bool changed = false;
  for (int i : layer.dataDependentOutputs) {
    std::vector<int64_t> dims = actual[i].shape();
    int slot = layer.outputs[i];
    KILN_CHECK(bytesOf(dims, e.slots()[slot].dtype) <= bytesOf(boundDims_[slot], e.slots()[slot].dtype), "layer \"",
               layer.name, "\" produced output ", i, " of shape ", ir::toString(dims), ", beyond its bound ",
               ir::toString(boundDims_[slot]));
    changed |= dims != slotDims_[slot];
    actualShapes_[layer.node->outputs[i]->name] = std::move(dims);
  }
  if (!changed) return;
  std::map<std::string, std::vector<int64_t>> inputs;
  for (std::size_t i = 0; i < e.io().size(); ++i)
    if (e.io()[i].isInput) inputs[e.io()[i].name] = inputShapes_[i];
  std::map<std::string, std::vector<int64_t>> values;
  for (int io : shapeTensors_) values[e.io()[io].name] = shapeValues_[io];
  std::unique_ptr<ir::Graph> g = e.graph().clone();
  ir::resolveShapes(*g, inputs, evaluateOnCpu, 4096, &actualShapes_, &values);
  applyShapes(*g);
}

void* ExecutionContext::slotData(int slot) const {
  const Slot& s = engine_->slots()[slot];
  switch (s.kind) {
    case SlotKind::kArena: return arenaBase_ + s.offset;
    case SlotKind::kConstant: return const_cast<void*>(s.constant);
    case SlotKind::kIO: return addresses_[s.io];
  }
  return nullptr;
}

void ExecutionContext::execute(const std::function<void(int, float)>* onLayer, void* stream) {
  const auto& io = engine_->io();
  KILN_CHECK(arenaBase_ || memoryBytes() == 0,
             "the context has no device memory: it was created with kUSER_MANAGED, call setDeviceMemory first");
  refreshShapeValues();  // shape tensors' values may have changed in place since the last run
  if (!resolved_) {
    std::string names;
    for (const std::string& n : missingInputShapes()) names += strCat(names.empty() ? "" : ", ", "\"", n, "\"");
    fail("input shapes are not all specified: call setInputShape for ", names,
         shapeTensors_.empty() ? "" : " (for a shape-tensor input: setInputTensorAddress with its values in host memory)");
  }
  if (hasDataDependent_ && !actualShapes_.empty()) {  // the last run's actual shapes: back to the bounds
    slotDims_ = boundDims_;
    inViews_ = boundInViews_;
    outViews_ = boundOutViews_;
    actualShapes_.clear();
    shapesFromRun_ = false;
  }
  for (std::size_t i = 0; i < io.size(); ++i)
    if (!addresses_[i] && bytesOf(slotDims_[engine_->ioSlot(static_cast<int>(i))], io[i].dtype) > 0)
      fail("no address set for ", io[i].isInput ? "input" : "output", " tensor \"", io[i].name,
           "\" (call setTensorAddress)");
  if (engine_->device()) return enqueueOnDevice(onLayer, stream);
  cpu::ExecContext ctx;
  ctx.pool = pool_.get();
  ctx.workspace = workspace_;
  const auto& layers = engine_->layers();
  for (std::size_t li = 0; li < layers.size(); ++li) {
    const Layer& l = layers[li];
    auto& in = inViews_[li];
    auto& out = outViews_[li];
    for (std::size_t i = 0; i < l.inputs.size(); ++i)
      if (l.inputs[i] >= 0) in[i].data = slotData(l.inputs[i]);
    for (std::size_t i = 0; i < l.outputs.size(); ++i) out[i].data = slotData(l.outputs[i]);
    const cpu::Kernel& kernel = *l.kernels[profile_];
    if (!l.dataDependentOutputs.empty()) {
      actualViews_.assign(out.begin(), out.end());
      ctx.actualOutputs = actualViews_.data();
    }
    if (onLayer) {
      auto t0 = std::chrono::steady_clock::now();
      kernel.run(ctx, in.data(), out.data());
      (*onLayer)(static_cast<int>(li),
                 std::chrono::duration<float, std::milli>(std::chrono::steady_clock::now() - t0).count());
    } else {
      kernel.run(ctx, in.data(), out.data());
    }
    if (ctx.actualOutputs) {
      ctx.actualOutputs = nullptr;
      updateDataDependentShapes(l, actualViews_.data());
    }
  }
  if (hasDataDependent_) shapesFromRun_ = true;
  for (auto [src, dst] : engine_->outputCopies()) {
    void* from = slotData(src);
    if (from != addresses_[dst])
      std::memcpy(addresses_[dst], from, static_cast<std::size_t>(bytesOf(slotDims_[src], io[dst].dtype)));
  }
}

void ExecutionContext::enqueueOnDevice(const std::function<void(int, float)>* onLayer, void* stream) {
  const backends::DeviceBackend& device = *engine_->device();
  const auto& io = engine_->io();
  backends::DeviceLaunch launch;
  launch.stream = stream;
  launch.workspace = workspace_;
  launch.libraries = libraries_.get();
  const auto& layers = engine_->layers();
  if (onLayer) {
    // Per-layer GPU time from events between the layers, read after the last
    // one: waiting is what a stream being captured into a CUDA graph cannot do.
    KILN_CHECK(!device.capturing(stream), "a profiler is set (IExecutionContext::setProfiler) while the stream is "
               "being captured into a CUDA graph: layer timing waits for the GPU; remove the profiler for the capture");
    while (layerEvents_.size() < layers.size() + 1) layerEvents_.push_back(device.createEvent());
    device.recordEvent(layerEvents_[0].get(), stream);
  }
  for (std::size_t li = 0; li < layers.size(); ++li) {
    const Layer& l = layers[li];
    auto& in = inViews_[li];
    auto& out = outViews_[li];
    for (std::size_t i = 0; i < l.inputs.size(); ++i)
      if (l.inputs[i] >= 0) in[i].data = slotData(l.inputs[i]);
    for (std::size_t i = 0; i < l.outputs.size(); ++i) out[i].data = slotData(l.outputs[i]);
    l.deviceKernels[profile_]->enqueue(launch, in.data(), out.data());
    if (onLayer) device.recordEvent(layerEvents_[li + 1].get(), stream);
  }
  for (auto [src, dst] : engine_->outputCopies()) {
    void* from = slotData(src);
    if (from != addresses_[dst])
      device.copyAsync(addresses_[dst], from, static_cast<std::size_t>(bytesOf(slotDims_[src], io[dst].dtype)),
                       backends::CopyKind::kDeviceToDevice, stream);
  }
  if (onLayer)
    for (std::size_t li = 0; li < layers.size(); ++li)
      (*onLayer)(static_cast<int>(li), device.elapsedMs(layerEvents_[li].get(), layerEvents_[li + 1].get()));
}

}  // namespace kiln::runtime
