// readPlan: plan file bytes -> ir::Graph + memory plan. The file may come from
// anywhere, so nothing is trusted: the header, bounds and CRC are checked
// first (plan_format.cc), then the FlatBuffers verifier, then every index,
// enum, size and offset as it is read. Any failure is one kiln::Error.
#include <cstdlib>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "core/error.h"
#include "core/host_buffer.h"
#include "plan/plan.h"
#include "plan/plan_format.h"
#include "plan/plan_generated.h"

namespace kiln::plan {
namespace {

constexpr std::size_t kMaxRank = 8;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

//! A name from the file, printable on one line whatever bytes it holds.
std::string quoted(const flatbuffers::String* s) {
  std::string out = "\"";
  if (s) {
    for (std::size_t i = 0; i < s->size() && i < 80; ++i) {
      char c = s->c_str()[i];
      out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    if (s->size() > 80) out += "...";
  }
  return out + "\"";
}

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

//! A vector of scalars, copied bytewise: the verifier checks that a vector's
//! 4-byte length is aligned, not that its 8-byte elements are.
template <typename T>
std::vector<T> vec(const flatbuffers::Vector<T>* v) {
  std::vector<T> out(v ? v->size() : 0);
  if (!out.empty()) std::memcpy(out.data(), v->Data(), out.size() * sizeof(T));
  return out;
}

//! Deepest subgraph nesting read (the writer refuses deeper ones).
constexpr int kMaxSubgraphDepth = 8;

class Reader {
 public:
  //! `scope` prefixes every error of a subgraph reader: where the subgraph is.
  Reader(const uint8_t* weights, uint64_t weightsSize, std::shared_ptr<const void> owner, int depth = 0,
         std::string scope = "")
      : weights_(weights), weightsSize_(weightsSize), owner_(std::move(owner)), depth_(depth), scope_(std::move(scope)) {}

  PlanContents read(const fb::Plan& p) {
    PlanContents out;
    if (const fb::Metadata* m = p.metadata()) {
      out.meta.kilnVersion = str(m->kiln_version());
      out.meta.device = str(m->device());
      out.meta.isa = str(m->isa());
      out.meta.networkName = str(m->network_name());
      out.meta.deviceName = str(m->device_name());
      out.meta.cudaRuntimeVersion = m->cuda_runtime_version();
      out.meta.cudnnVersion = m->cudnn_version();
      out.meta.cublasLtVersion = m->cublaslt_version();
      check(out.meta.cudaRuntimeVersion >= 0 && out.meta.cudnnVersion >= 0 && out.meta.cublasLtVersion >= 0,
            "negative library version in the plan's target");
    }
    out.arenaBytes = p.arena_bytes();
    out.workspaceBytes = p.workspace_bytes();
    check(out.arenaBytes >= 0, "arena size ", out.arenaBytes, " is negative");
    check(out.workspaceBytes >= 0, "workspace size ", out.workspaceBytes, " is negative");

    if (auto* profiles = p.profiles())
      for (const fb::Profile* fp : *profiles) {
        check(fp != nullptr, "profile entry is null");
        Profile profile;
        if (fp->inputs())
          for (const fb::ProfileInput* in : *fp->inputs()) {
            ProfileInput pi{str(in->name()), vec(in->min()),        vec(in->opt()),       vec(in->max()),
                            vec(in->min_values()), vec(in->opt_values()), vec(in->max_values())};
            check(pi.minValues.size() == pi.optValues.size() && pi.optValues.size() == pi.maxValues.size(),
                  "profile for \"", pi.name, "\" has shape values of different counts");
            for (std::size_t k = 0; k < pi.minValues.size(); ++k)
              check(pi.minValues[k] <= pi.optValues[k] && pi.optValues[k] <= pi.maxValues[k], "profile for \"",
                    pi.name, "\" has min/opt/max shape values out of order");
            check(pi.min.size() == pi.opt.size() && pi.opt.size() == pi.max.size() && pi.max.size() <= 8,
                  "profile for \"", pi.name, "\" has inconsistent ranks");
            for (std::size_t k = 0; k < pi.min.size(); ++k)
              check(0 <= pi.min[k] && pi.min[k] <= pi.opt[k] && pi.opt[k] <= pi.max[k], "profile for \"", pi.name,
                    "\" has min/opt/max out of order");
            profile.push_back(std::move(pi));
          }
        out.profiles.push_back(std::move(profile));
      }
    if (auto* libraries = p.plugin_libraries())
      for (const fb::PluginLibrary* lib : *libraries) {
        check(lib != nullptr, "plugin library entry is null");
        out.pluginLibraries.push_back(PluginLibrary{str(lib->name()), vec(lib->data())});
      }
    out.graph = std::make_unique<ir::Graph>();
    out.graph->name = str(p.graph_name());
    readGraph(*out.graph, p.values(), p.inputs(), p.nodes(), p.outputs(), &out);
    return out;
  }

  std::shared_ptr<ir::Graph> readSubgraph(const fb::Subgraph& sg) {
    auto g = std::make_shared<ir::Graph>();
    g->name = str(sg.name());
    readGraph(*g, sg.values(), sg.inputs(), sg.nodes(), sg.outputs(), nullptr);
    return g;
  }

 private:
  //! `out` is the plan being read for the top graph (it gets the memory plan), nullptr for a subgraph.
  void readGraph(ir::Graph& g, const flatbuffers::Vector<flatbuffers::Offset<fb::Value>>* values,
                 const flatbuffers::Vector<int32_t>* inputs,
                 const flatbuffers::Vector<flatbuffers::Offset<fb::Node>>* nodes,
                 const flatbuffers::Vector<int32_t>* outputs, PlanContents* out) {
    g_ = &g;
    if (values)
      for (flatbuffers::uoffset_t i = 0; i < values->size(); ++i) readValue(i, *values->Get(i), out);
    values_ = g_->values().size();
    ready_.assign(values_, false);
    for (std::size_t k = 0; k < values_; ++k) ready_[k] = g_->values()[k]->isConstant();

    for (int32_t i : vec(inputs)) {
      ir::Value* v = value(i, "graph input");
      check(!v->isConstant(), "graph input \"", v->name, "\" is a constant");
      g_->inputs.push_back(v);
      ready_[i] = true;
    }
    if (nodes)
      for (flatbuffers::uoffset_t i = 0; i < nodes->size(); ++i) readNode(i, *nodes->Get(i));
    for (int32_t i : vec(outputs)) {
      ir::Value* v = value(i, "graph output");
      check(ready_[i], "graph output \"", v->name, "\" is never computed");
      g_->outputs.push_back(v);
    }
  }

 private:
  template <typename... Args>
  void check(bool ok, const Args&... args) const {
    if (!ok) fail("malformed plan: ", scope_, args...);
  }

  ir::Value* value(int32_t i, const std::string& where) const {
    check(i >= 0 && static_cast<std::size_t>(i) < values_, where, " refers to value ", i, ", the plan has ",
          values_, " values");
    return g_->values()[static_cast<std::size_t>(i)].get();
  }

  DType dtype(fb::DType t, const std::string& where) const {
    int v = static_cast<int>(t);
    check(isValidDtype(v), where, " has unknown dtype ", v);
    return static_cast<DType>(v);
  }

  //! numel * element size, or an error when it does not fit in int64.
  int64_t byteSize(DType t, const std::vector<int64_t>& dims, const std::string& where) const {
    int64_t n = 1;
    for (int64_t d : dims) {
      check(d >= 0, where, " has dimension ", d);
      check(d == 0 || n <= kInt64Max / d, where, " has an impossibly large shape");
      n *= d;
    }
    int64_t size = dtypeSize(t);
    check(n <= kInt64Max / size, where, " has an impossibly large shape");
    return n * size;
  }

  std::vector<int64_t> dims(const flatbuffers::Vector<int64_t>* v, const std::string& where) const {
    check(!v || v->size() <= kMaxRank, where, " has rank ", v ? v->size() : 0, ", over ", kMaxRank);
    return vec(v);
  }

  //! Tensor bytes in the weights blob, borrowed: no copy.
  ir::Tensor borrow(DType t, std::vector<int64_t> d, const fb::WeightsRef& ref, const std::string& where) const {
    int64_t bytes = byteSize(t, d, where);
    uint64_t offset = ref.offset(), size = ref.size();
    check(size == static_cast<uint64_t>(bytes), where, " stores ", size, " bytes, but ", dataTypeName(t), " ",
          ir::toString(d), " is ", bytes, " bytes");
    check(offset <= weightsSize_ && size <= weightsSize_ - offset, where, " lies outside the weights (bytes ",
          offset, "+", size, " of ", weightsSize_, ")");
    check(offset % kWeightsAlign == 0, where, " is at weights offset ", offset, ", not a multiple of ",
          kWeightsAlign);
    return ir::Tensor::borrow(t, std::move(d), weights_ + offset, owner_);
  }

  void readValue(flatbuffers::uoffset_t i, const fb::Value& fv, PlanContents* out) {
    std::string where = strCat("value ", i, " ", quoted(fv.name()));
    std::string name = str(fv.name());
    check(!name.empty(), "value ", i, " has no name");
    check(!g_->findValue(name), where, ": two values have this name");
    DType t = dtype(fv.dtype(), where);
    std::vector<int64_t> d = dims(fv.dims(), where);
    auto* symbols = fv.symbols();
    check(!symbols || symbols->size() == d.size(), where, " has ", symbols ? symbols->size() : 0,
          " dimension names for ", d.size(), " dimensions");
    ir::Shape shape;
    for (std::size_t k = 0; k < d.size(); ++k) {
      check(d[k] >= -1, where, " has dimension ", d[k]);
      if (d[k] >= 0) {
        shape.emplace_back(d[k]);
      } else {
        shape.emplace_back(symbols ? str(symbols->Get(static_cast<flatbuffers::uoffset_t>(k))) : std::string());
      }
    }
    int kind = static_cast<int>(fv.kind());
    check(kind >= 0 && kind <= static_cast<int>(fb::ValueKind::MAX), where, " has unknown kind ", kind);
    bool isConstant = fv.kind() == fb::ValueKind::Constant;
    check(isConstant == (fv.constant() != nullptr), where,
          isConstant ? " is a constant without data" : " has data but is not a constant");

    ir::Value* v = g_->addValue(name, t, std::move(shape));
    if (isConstant) v->constant = std::make_shared<const ir::Tensor>(borrow(t, d, *fv.constant(), where));

    int64_t arena = fv.arena_offset();
    if (arena == -1) return;
    check(out != nullptr, where, " is a subgraph value with an arena offset; subgraphs have no memory plan");
    check(arena >= 0, where, " has arena offset ", arena);
    int64_t capacity = fv.arena_capacity();
    if (capacity >= 0) out->arenaCapacity[name] = capacity;
    if (capacity >= 0 || ir::isStatic(v->shape)) {
      int64_t bytes = capacity >= 0 ? capacity : byteSize(t, d, where);
      check(arena <= out->arenaBytes && bytes <= out->arenaBytes - arena, where, " (", bytes,
            " bytes at arena offset ", arena, ") overruns the ", out->arenaBytes, "-byte arena");
    }
    out->arenaOffsets[name] = arena;
  }

  ir::Attribute readAttr(const fb::Attribute& a, const std::string& where) const {
    switch (a.type()) {
      case fb::AttrType::Int: return a.i();
      case fb::AttrType::Float: return a.f();
      case fb::AttrType::String: return str(a.s());
      case fb::AttrType::Ints: return vec(a.ints());
      case fb::AttrType::Floats: return vec(a.floats());
      case fb::AttrType::Strings: {
        std::vector<std::string> out;
        if (a.strings())
          for (const flatbuffers::String* s : *a.strings()) out.push_back(str(s));
        return out;
      }
      case fb::AttrType::Tensor: {
        const fb::TensorData* t = a.tensor();
        check(t != nullptr, where, " is a tensor without data");
        return borrow(dtype(t->dtype(), where), dims(t->dims(), where), *t->data(), where);
      }
      case fb::AttrType::Graph: {
        check(a.graph() != nullptr, where, " is a subgraph without a graph");
        check(depth_ < kMaxSubgraphDepth, where, ": subgraphs nest more than ", kMaxSubgraphDepth, " deep");
        return ir::GraphAttr(
            Reader(weights_, weightsSize_, owner_, depth_ + 1, strCat(scope_, where, ": ")).readSubgraph(*a.graph()));
      }
    }
    fail("malformed plan: ", scope_, where, " has unknown type ", static_cast<int>(a.type()));
  }

  void readNode(flatbuffers::uoffset_t i, const fb::Node& fn) {
    std::string where = strCat("node ", i, " (", quoted(fn.op()), " ", quoted(fn.name()), ")");
    check(fn.op()->size() > 0, "node ", i, " has no op");
    std::vector<ir::Value*> ins, outs;
    for (int32_t k : vec(fn.inputs())) {
      if (k == -1) {
        ins.push_back(nullptr);
        continue;
      }
      ir::Value* v = value(k, where + " input");
      check(ready_[k], where, " reads \"", v->name, "\" before any node computes it");
      ins.push_back(v);
    }
    for (int32_t k : vec(fn.outputs())) {
      ir::Value* v = value(k, where + " output");
      check(!ready_[k], where, " writes \"", v->name,
            "\", which is already a graph input, a constant or another node's output");
      ready_[k] = true;
      outs.push_back(v);
    }
    ir::Node* n = g_->addNode(str(fn.op()), str(fn.name()), std::move(ins), std::move(outs));
    n->tactic = str(fn.tactic());
    if (auto* attrs = fn.attrs())
      for (const fb::Attribute* a : *attrs) {
        std::string aw = strCat(where, " attribute ", quoted(a->name()));
        check(!n->attrs.count(a->name()->str()), aw, " appears twice");
        n->attrs.emplace(a->name()->str(), readAttr(*a, aw));
      }
  }

  const uint8_t* weights_;
  uint64_t weightsSize_;
  std::shared_ptr<const void> owner_;
  int depth_ = 0;
  std::string scope_;
  ir::Graph* g_ = nullptr;
  std::size_t values_ = 0;
  std::vector<bool> ready_;  //!< by value index: available to the next node
};

}  // namespace

PlanContents readPlan(const uint8_t* data, std::size_t size, std::shared_ptr<const void> owner) {
  FileLayout layout = checkPlanFile(data, size);

  // Constants are borrowed from the buffer, and kernels rely on them being
  // 64-byte aligned; a buffer that is not gets copied once into one that is.
  if (reinterpret_cast<uintptr_t>(data) % kWeightsAlign != 0) {
    static_assert(kWeightsAlign <= 64, "allocHostBuffer aligns to 64 bytes");
    std::shared_ptr<void> copy = allocHostBuffer(size, "a copy of the plan");
    std::memcpy(copy.get(), data, size);
    data = static_cast<const uint8_t*>(copy.get());
    owner = std::move(copy);
  }

  const uint8_t* body = data + layout.bodyOffset;
  if (layout.bodySize >= FLATBUFFERS_MAX_BUFFER_SIZE) fail("malformed plan body (", layout.bodySize, " bytes)");
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 64;  // the schema nests 4 deep, plus 3 per subgraph level (at most kMaxSubgraphDepth)
  opts.max_tables = static_cast<flatbuffers::uoffset_t>(layout.bodySize / 4 + 16);
  flatbuffers::Verifier verifier(body, layout.bodySize, opts);
  if (!fb::VerifyPlanBuffer(verifier)) fail("malformed plan body");

  return Reader(data + layout.weightsOffset, layout.weightsSize, std::move(owner)).read(*fb::GetPlan(body));
}

}  // namespace kiln::plan
