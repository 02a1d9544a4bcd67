#include "runtime/engine.h"

#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "core/error.h"

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

}  // namespace

std::shared_ptr<const Engine> Engine::load(const void* data, std::size_t size) {
  KILN_CHECK(data != nullptr || size == 0, "plan pointer is null");
  std::shared_ptr<Engine> e(new Engine());
  e->buffer_ = alignedCopy(data, size);
  e->size_ = size;
  e->plan_ = plan::readPlan(static_cast<const uint8_t*>(e->buffer_.get()), size, e->buffer_);
  const plan::PlanMetadata& meta = e->plan_.meta;
  KILN_CHECK(meta.device == "cpu", "plan was built for device '", meta.device,
             "'; this Kiln runtime runs plans for 'cpu'");
  KILN_CHECK(isaRank(meta.isa) >= 0, "plan targets unknown CPU ISA '", meta.isa, "'");
  KILN_CHECK(isaRank(meta.isa) <= isaRank(cpu::hostIsa()), "plan was built for ISA ", meta.isa,
             " but this CPU supports only ", cpu::hostIsa(), "; rebuild the engine on this machine");
  const ir::Graph& g = *e->plan_.graph;

  std::unordered_map<const ir::Value*, int> slotOf;
  auto addIO = [&](const ir::Value* v, bool isInput) {
    IOTensor t;
    t.name = v->name;
    t.isInput = isInput;
    t.dtype = v->dtype;
    t.dims = ir::staticDims(v->shape);
    for (const ir::Dim& d : v->shape) t.symbols.push_back(d.symbol);
    e->io_.push_back(std::move(t));
    Slot s;
    s.kind = SlotKind::kIO;
    s.io = static_cast<int>(e->io_.size()) - 1;
    s.dtype = v->dtype;
    s.dims = e->io_.back().dims;
    e->slots_.push_back(std::move(s));
    return static_cast<int>(e->slots_.size()) - 1;
  };
  for (const ir::Value* v : g.inputs) slotOf[v] = addIO(v, true);
  std::vector<int> outputSlots;
  for (const ir::Value* v : g.outputs) outputSlots.push_back(addIO(v, false));
  for (std::size_t i = 0; i < g.outputs.size(); ++i) {
    const ir::Value* v = g.outputs[i];
    if (v->producer) slotOf[v] = outputSlots[i];
  }

  auto slotFor = [&](const ir::Value* v) -> int {
    auto it = slotOf.find(v);
    if (it != slotOf.end()) return it->second;
    Slot s;
    s.dtype = v->dtype;
    s.dims = ir::staticDims(v->shape);
    if (v->isConstant()) {
      s.kind = SlotKind::kConstant;
      s.constant = v->constant->data();
    } else {
      auto off = e->plan_.arenaOffsets.find(v->name);
      KILN_CHECK(off != e->plan_.arenaOffsets.end(), "plan has no arena offset for value \"", v->name, "\"");
      int64_t bytes = ir::numElements(s.dims) * dtypeSize(s.dtype);
      KILN_CHECK(off->second >= 0 && off->second + bytes <= e->plan_.arenaBytes, "value \"", v->name,
                 "\" lies outside the plan's arena");
      s.kind = SlotKind::kArena;
      s.offset = off->second;
    }
    e->slots_.push_back(std::move(s));
    slotOf[v] = static_cast<int>(e->slots_.size()) - 1;
    return slotOf[v];
  };

  for (const auto& n : g.nodes()) {
    Layer layer;
    layer.node = n.get();
    layer.name = n->name;
    layer.op = n->op;
    layer.tactic = n->tactic;
    const cpu::Tactic* tactic = cpu::tactics().find(n->tactic);
    KILN_CHECK(tactic, "plan layer \"", n->name, "\" uses tactic '", n->tactic, "', which this Kiln does not have");
    KILN_CHECK(tactic->op == n->op, "plan layer \"", n->name, "\" pairs op ", n->op, " with tactic ", n->tactic);
    layer.kernel = tactic->create(*n);
    KILN_CHECK(static_cast<int64_t>(layer.kernel->workspaceBytes()) <= e->plan_.workspaceBytes,
               "plan layer \"", n->name, "\" needs more workspace than the plan reserves");
    for (const ir::Value* v : n->inputs) layer.inputs.push_back(v ? slotFor(v) : -1);
    for (const ir::Value* v : n->outputs) layer.outputs.push_back(slotFor(v));
    e->layers_.push_back(std::move(layer));
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

int64_t ExecutionContext::memoryBytes() const {
  return (engine_->arenaBytes() + 63) / 64 * 64 + engine_->workspaceBytes();
}

ExecutionContext::ExecutionContext(std::shared_ptr<const Engine> engine, int threads, bool ownArena)
    : engine_(std::move(engine)), pool_(std::make_unique<ThreadPool>(threads)) {
  addresses_.assign(engine_->io().size(), nullptr);
  if (ownArena) {
    int64_t bytes = memoryBytes();
    void* p = std::aligned_alloc(64, static_cast<std::size_t>((bytes + 63) / 64 * 64 + 64));
    KILN_CHECK(p, "out of memory allocating an activation arena of ", bytes, " bytes");
    arena_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    setUserArena(p);
  }
  for (const Layer& l : engine_->layers()) {
    std::vector<cpu::TensorView> in(l.inputs.size()), out(l.outputs.size());
    for (std::size_t i = 0; i < l.inputs.size(); ++i)
      if (l.inputs[i] >= 0) {
        const Slot& s = engine_->slots()[l.inputs[i]];
        in[i] = cpu::makeView(nullptr, s.dtype, s.dims);
      }
    for (std::size_t i = 0; i < l.outputs.size(); ++i) {
      const Slot& s = engine_->slots()[l.outputs[i]];
      out[i] = cpu::makeView(nullptr, s.dtype, s.dims);
    }
    inViews_.push_back(std::move(in));
    outViews_.push_back(std::move(out));
  }
}

void ExecutionContext::setUserArena(void* memory) {
  arenaBase_ = static_cast<uint8_t*>(memory);
  workspace_ = arenaBase_ + (engine_->arenaBytes() + 63) / 64 * 64;
}

void ExecutionContext::setThreads(int threads) { pool_ = std::make_unique<ThreadPool>(threads); }

void* ExecutionContext::slotData(int slot) const {
  const Slot& s = engine_->slots()[slot];
  switch (s.kind) {
    case SlotKind::kArena: return arenaBase_ + s.offset;
    case SlotKind::kConstant: return const_cast<void*>(s.constant);
    case SlotKind::kIO: return addresses_[s.io];
  }
  return nullptr;
}

void ExecutionContext::execute(const std::function<void(int, float)>* onLayer) {
  const auto& io = engine_->io();
  KILN_CHECK(arenaBase_ || memoryBytes() == 0,
             "the context has no device memory: it was created with kUSER_MANAGED, call setDeviceMemory first");
  for (std::size_t i = 0; i < io.size(); ++i)
    if (!addresses_[i] && io[i].bytes() > 0)
      fail("no address set for ", io[i].isInput ? "input" : "output", " tensor \"", io[i].name,
           "\" (call setTensorAddress)");
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
    if (onLayer) {
      auto t0 = std::chrono::steady_clock::now();
      l.kernel->run(ctx, in.data(), out.data());
      (*onLayer)(static_cast<int>(li),
                 std::chrono::duration<float, std::milli>(std::chrono::steady_clock::now() - t0).count());
    } else {
      l.kernel->run(ctx, in.data(), out.data());
    }
  }
  for (auto [src, dst] : engine_->outputCopies()) {
    void* from = slotData(src);
    if (from != addresses_[dst]) std::memcpy(addresses_[dst], from, static_cast<std::size_t>(io[dst].bytes()));
  }
}

}  // namespace kiln::runtime
