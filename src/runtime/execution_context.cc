// ExecutionContext: one engine's run state (arena, IO addresses, shapes,
// profile) and its two run paths, on the CPU (execute) and on a device
// (enqueueOnDevice). The Engine it runs is in engine.cc.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "core/host_buffer.h"
#include "ir/op_schema.h"
#include "ir/shape_resolver.h"
#include "runtime/engine.h"
#include "runtime/engine_internal.h"

namespace kiln::runtime {

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
    arena_ = allocHostBuffer(static_cast<std::size_t>(bytes) + 64, "an activation arena");
    setUserArena(arena_.get());
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
