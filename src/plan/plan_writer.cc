// writePlan: ir::Graph + memory plan -> plan file bytes (layout in plan_format.h).
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "core/error.h"
#include "plan/plan.h"
#include "plan/plan_format.h"
#include "plan/plan_generated.h"

namespace kiln::plan {
namespace {

using flatbuffers::Offset;

//! Bytes of a tensor of `dims` (all known, checked by the caller).
int64_t byteSize(DType dtype, const std::vector<int64_t>& dims) {
  return ir::numElements(dims) * dtypeSize(dtype);
}

//! Deepest subgraph nesting a plan may hold (the reader refuses deeper ones).
constexpr int kMaxSubgraphDepth = 8;

//! Places tensors in the weights blob, each at a multiple of 64; a tensor
//! shared by several values (one shared_ptr) is stored once.
class WeightsBlob {
 public:
  fb::WeightsRef place(const ir::Tensor& t, const std::string& what) {
    for (int64_t d : t.dims()) KILN_CHECK(d >= 0, what, ": dimension ", d, " is negative");
    KILN_CHECK(t.dims().size() <= kMaxRank, what, ": rank ", t.dims().size(), " is over ", kMaxRank);
    std::size_t bytes = t.bytes();
    KILN_CHECK(bytes == 0 || t.data(), what, ": the tensor has no data");
    auto key = std::make_pair(t.data(), bytes);
    auto it = placed_.find(key);
    if (it != placed_.end()) return fb::WeightsRef(it->second, bytes);
    uint64_t offset = alignUp(size_, kWeightsAlign);
    chunks_.push_back({t.data(), offset, bytes});
    size_ = offset + bytes;
    if (bytes) placed_[key] = offset;
    return fb::WeightsRef(offset, bytes);
  }
  uint64_t size() const { return size_; }
  void copyTo(uint8_t* blob) const {
    for (const Chunk& c : chunks_)
      if (c.bytes) std::memcpy(blob + c.offset, c.data, c.bytes);
  }
  static constexpr std::size_t kMaxRank = 8;

 private:
  struct Chunk {
    const void* data;
    uint64_t offset;
    std::size_t bytes;
  };
  std::vector<Chunk> chunks_;
  std::map<std::pair<const void*, std::size_t>, uint64_t> placed_;
  uint64_t size_ = 0;
};

//! Writes one graph: the plan's own (`top`, with its memory plan) or a
//! node's subgraph (values indexed within it, no memory plan), sharing the
//! FlatBuffers builder and the weights blob.
class Writer {
 public:
  Writer(const PlanContents& plan, const ir::Graph& g, flatbuffers::FlatBufferBuilder& fbb, WeightsBlob& weights,
         bool top, int depth)
      : plan_(plan), g_(g), fbb_(fbb), weights_(weights), top_(top), depth_(depth) {}

  Offset<fb::Subgraph> writeSubgraph() {
    KILN_CHECK(depth_ <= kMaxSubgraphDepth, "writePlan: subgraphs nest more than ", kMaxSubgraphDepth, " deep");
    indexValues();
    checkDataflow();
    std::vector<Offset<fb::Value>> values;
    for (const auto& v : g_.values()) values.push_back(writeValue(*v));
    std::vector<Offset<fb::Node>> nodes;
    for (const auto& n : g_.nodes()) nodes.push_back(writeNode(*n));
    std::vector<int32_t> inputs, outputs;
    for (const ir::Value* v : g_.inputs) inputs.push_back(indexOf(v, "subgraph input"));
    for (const ir::Value* v : g_.outputs) outputs.push_back(indexOf(v, "subgraph output"));
    return fb::CreateSubgraph(fbb_, fbb_.CreateString(g_.name), fbb_.CreateVector(values), fbb_.CreateVector(nodes),
                              fbb_.CreateVector(inputs), fbb_.CreateVector(outputs));
  }

  std::vector<uint8_t> write() {
    KILN_CHECK(plan_.arenaBytes >= 0, "writePlan: arena size ", plan_.arenaBytes, " is negative");
    KILN_CHECK(plan_.workspaceBytes >= 0, "writePlan: workspace size ", plan_.workspaceBytes, " is negative");
    indexValues();
    checkArena();
    checkDataflow();

    std::vector<Offset<fb::Value>> values;
    for (const auto& v : g_.values()) values.push_back(writeValue(*v));
    std::vector<Offset<fb::Node>> nodes;
    for (const auto& n : g_.nodes()) nodes.push_back(writeNode(*n));
    std::vector<int32_t> inputs, outputs;
    for (const ir::Value* v : g_.inputs) inputs.push_back(indexOf(v, "graph input"));
    for (const ir::Value* v : g_.outputs) outputs.push_back(indexOf(v, "graph output"));

    const PlanMetadata& m = plan_.meta;
    KILN_CHECK(m.cudaRuntimeVersion >= 0 && m.cudnnVersion >= 0 && m.cublasLtVersion >= 0,
               "writePlan: negative library version in the plan's target");
    auto meta = fb::CreateMetadata(fbb_, fbb_.CreateString(m.kilnVersion), fbb_.CreateString(m.device),
                                   fbb_.CreateString(m.isa), fbb_.CreateString(m.networkName),
                                   m.deviceName.empty() ? 0 : fbb_.CreateString(m.deviceName), m.cudaRuntimeVersion,
                                   m.cudnnVersion, m.cublasLtVersion);
    std::vector<Offset<fb::Profile>> profiles;
    for (const Profile& p : plan_.profiles) {
      std::vector<Offset<fb::ProfileInput>> ins;
      for (const ProfileInput& in : p) {
        KILN_CHECK(in.min.size() == in.opt.size() && in.opt.size() == in.max.size(), "writePlan: profile for \"",
                   in.name, "\" has min/opt/max of different ranks");
        KILN_CHECK(in.minValues.size() == in.optValues.size() && in.optValues.size() == in.maxValues.size(),
                   "writePlan: profile for \"", in.name, "\" has min/opt/max shape values of different counts");
        auto values = [&](const std::vector<int64_t>& v) { return v.empty() ? 0 : fbb_.CreateVector(v); };
        ins.push_back(fb::CreateProfileInput(fbb_, fbb_.CreateString(in.name), fbb_.CreateVector(in.min),
                                             fbb_.CreateVector(in.opt), fbb_.CreateVector(in.max),
                                             values(in.minValues), values(in.optValues), values(in.maxValues)));
      }
      profiles.push_back(fb::CreateProfile(fbb_, fbb_.CreateVector(ins)));
    }
    std::vector<Offset<fb::PluginLibrary>> libraries;
    for (const PluginLibrary& lib : plan_.pluginLibraries)
      libraries.push_back(fb::CreatePluginLibrary(fbb_, fbb_.CreateString(lib.name), fbb_.CreateVector(lib.bytes)));
    auto root = fb::CreatePlan(fbb_, meta, fbb_.CreateString(g_.name), fbb_.CreateVector(values),
                               fbb_.CreateVector(nodes), fbb_.CreateVector(inputs), fbb_.CreateVector(outputs),
                               plan_.arenaBytes, plan_.workspaceBytes, fbb_.CreateVector(profiles),
                               libraries.empty() ? 0 : fbb_.CreateVector(libraries));
    fb::FinishPlanBuffer(fbb_, root);

    FileLayout layout = planLayout(fbb_.GetSize(), weights_.size());
    std::vector<uint8_t> file(layout.fileSize, 0);
    std::memcpy(file.data() + layout.bodyOffset, fbb_.GetBufferPointer(), fbb_.GetSize());
    weights_.copyTo(file.data() + layout.weightsOffset);
    writeHeader(file.data(), layout);
    return file;
  }

 private:
  void indexValues() {
    for (const auto& v : g_.values()) {
      KILN_CHECK(!v->name.empty(), "writePlan: value ", index_.size(), " has no name");
      KILN_CHECK(names_.insert(v->name).second, "writePlan: two values are named \"", v->name, "\"");
      index_[v.get()] = static_cast<int32_t>(index_.size());
    }
  }

  int32_t indexOf(const ir::Value* v, const std::string& where) const {
    auto it = index_.find(v);
    if (it == index_.end()) fail("writePlan: ", where, " \"", v->name, "\" is not a value of the graph");
    return it->second;
  }

  void checkArena() const {
    for (const auto& [name, offset] : plan_.arenaOffsets) {
      const ir::Value* v = g_.findValue(name);
      KILN_CHECK(v && names_.count(name), "writePlan: arena offset for \"", name, "\", which is not a value");
      KILN_CHECK(offset >= 0, "writePlan: value \"", name, "\" has arena offset ", offset);
      auto cap = plan_.arenaCapacity.find(name);
      if (cap == plan_.arenaCapacity.end() && !ir::isStatic(v->shape)) continue;
      int64_t bytes = cap != plan_.arenaCapacity.end() ? cap->second : byteSize(v->dtype, ir::staticDims(v->shape));
      KILN_CHECK(offset <= plan_.arenaBytes && bytes <= plan_.arenaBytes - offset, "writePlan: value \"", name,
                 "\" (", bytes, " bytes at arena offset ", offset, ") overruns the ", plan_.arenaBytes,
                 "-byte arena");
    }
  }

  //! The runtime runs nodes in order, so every input must exist by then; a
  //! plan that breaks this fails here, at build time, not at load time.
  void checkDataflow() const {
    std::unordered_set<const ir::Value*> ready;
    for (const ir::Value* v : g_.inputs) {
      KILN_CHECK(v, "writePlan: graph \"", g_.name, "\" has a null input");
      indexOf(v, "graph input");
      ready.insert(v);
    }
    for (const auto& v : g_.values())
      if (v->isConstant()) ready.insert(v.get());
    for (const auto& n : g_.nodes()) {
      for (const ir::Value* in : n->inputs) {
        if (!in) continue;
        indexOf(in, n->describe() + " input");
        KILN_CHECK(ready.count(in), "writePlan: ", n->describe(), " reads \"", in->name,
                   "\" before any node computes it");
      }
      for (const ir::Value* out : n->outputs) {
        KILN_CHECK(out, "writePlan: ", n->describe(), " has a null output");
        indexOf(out, n->describe() + " output");
        KILN_CHECK(ready.insert(out).second, "writePlan: ", n->describe(), " writes \"", out->name,
                   "\", which is already a graph input, a constant or another node's output");
      }
    }
  }

  Offset<flatbuffers::Vector<int64_t>> dims(const ir::Shape& shape, const std::string& what) {
    KILN_CHECK(shape.size() <= WeightsBlob::kMaxRank, "writePlan: ", what, " has rank ", shape.size(), ", over ",
               WeightsBlob::kMaxRank);
    std::vector<int64_t> d;
    for (const ir::Dim& x : shape) d.push_back(x.known() ? x.value : -1);
    return fbb_.CreateVector(d);
  }

  Offset<fb::Value> writeValue(const ir::Value& v) {
    std::string what = strCat("value \"", v.name, "\"");
    auto name = fbb_.CreateString(v.name);
    auto d = dims(v.shape, what);
    Offset<flatbuffers::Vector<Offset<flatbuffers::String>>> symbols = 0;
    bool anySymbol = false;
    for (const ir::Dim& x : v.shape) anySymbol |= !x.known() && !x.symbol.empty();
    if (anySymbol) {
      std::vector<Offset<flatbuffers::String>> s;
      for (const ir::Dim& x : v.shape) s.push_back(fbb_.CreateString(x.known() ? std::string() : x.symbol));
      symbols = fbb_.CreateVector(s);
    }
    fb::ValueKind kind = fb::ValueKind::Activation;
    std::optional<fb::WeightsRef> constant;
    if (v.isConstant()) {
      const ir::Tensor& t = *v.constant;
      KILN_CHECK(t.dtype() == v.dtype && ir::isStatic(v.shape) && ir::staticDims(v.shape) == t.dims(),
                 "writePlan: ", what, " is ", dataTypeName(v.dtype), " ", ir::toString(v.shape),
                 " but its constant is ", dataTypeName(t.dtype()), " ", ir::toString(t.dims()));
      constant = weights_.place(t, "writePlan: " + what);
      kind = fb::ValueKind::Constant;
    } else if (g_.isGraphInput(&v)) {
      kind = fb::ValueKind::Input;
    } else if (g_.isGraphOutput(&v)) {
      kind = fb::ValueKind::Output;
    }
    int64_t arena = -1, capacity = -1;
    if (top_) {
      auto it = plan_.arenaOffsets.find(v.name);
      arena = it == plan_.arenaOffsets.end() ? -1 : it->second;
      auto cap = plan_.arenaCapacity.find(v.name);
      capacity = cap == plan_.arenaCapacity.end() ? -1 : cap->second;
    }
    return fb::CreateValue(fbb_, name, static_cast<fb::DType>(v.dtype), d, symbols, kind,
                           constant ? &*constant : nullptr, arena, capacity);
  }

  Offset<fb::Attribute> writeAttr(const ir::Node& n, const std::string& key, const ir::Attribute& a) {
    auto name = fbb_.CreateString(key);
    Offset<flatbuffers::String> s = 0;
    Offset<flatbuffers::Vector<int64_t>> ints = 0;
    Offset<flatbuffers::Vector<float>> floats = 0;
    Offset<flatbuffers::Vector<Offset<flatbuffers::String>>> strings = 0;
    Offset<fb::TensorData> tensor = 0;
    Offset<fb::Subgraph> graph = 0;
    int64_t i = 0;
    float f = 0;
    fb::AttrType type = fb::AttrType::Int;
    if (auto* v = std::get_if<int64_t>(&a)) {
      i = *v;
    } else if (auto* v = std::get_if<float>(&a)) {
      type = fb::AttrType::Float, f = *v;
    } else if (auto* v = std::get_if<std::string>(&a)) {
      type = fb::AttrType::String, s = fbb_.CreateString(*v);
    } else if (auto* v = std::get_if<std::vector<int64_t>>(&a)) {
      type = fb::AttrType::Ints, ints = fbb_.CreateVector(*v);
    } else if (auto* v = std::get_if<std::vector<float>>(&a)) {
      type = fb::AttrType::Floats, floats = fbb_.CreateVector(*v);
    } else if (auto* v = std::get_if<std::vector<std::string>>(&a)) {
      type = fb::AttrType::Strings, strings = fbb_.CreateVectorOfStrings(*v);
    } else if (auto* v = std::get_if<ir::GraphAttr>(&a)) {
      KILN_CHECK(*v, "writePlan: ", n.describe(), " attribute '", key, "' is an empty subgraph");
      type = fb::AttrType::Graph;
      graph = Writer(plan_, **v, fbb_, weights_, false, depth_ + 1).writeSubgraph();
    } else {
      const ir::Tensor& t = std::get<ir::Tensor>(a);
      fb::WeightsRef ref = weights_.place(t, strCat("writePlan: ", n.describe(), " attribute '", key, "'"));
      type = fb::AttrType::Tensor;
      tensor = fb::CreateTensorData(fbb_, static_cast<fb::DType>(t.dtype()), fbb_.CreateVector(t.dims()), &ref);
    }
    return fb::CreateAttribute(fbb_, name, type, i, f, s, ints, floats, strings, tensor, graph);
  }

  Offset<fb::Node> writeNode(const ir::Node& n) {
    KILN_CHECK(!n.op.empty(), "writePlan: node \"", n.name, "\" has no op");
    std::vector<Offset<fb::Attribute>> attrs;
    for (const auto& [key, a] : n.attrs) attrs.push_back(writeAttr(n, key, a));
    std::vector<int32_t> ins, outs;
    for (const ir::Value* v : n.inputs) ins.push_back(v ? indexOf(v, n.describe() + " input") : -1);
    for (const ir::Value* v : n.outputs) outs.push_back(indexOf(v, n.describe() + " output"));
    return fb::CreateNode(fbb_, fbb_.CreateString(n.op), fbb_.CreateString(n.name), fbb_.CreateString(n.tactic),
                          fbb_.CreateVector(attrs), fbb_.CreateVector(ins), fbb_.CreateVector(outs));
  }

  const PlanContents& plan_;
  const ir::Graph& g_;
  flatbuffers::FlatBufferBuilder& fbb_;
  WeightsBlob& weights_;
  bool top_;
  int depth_;
  std::unordered_map<const ir::Value*, int32_t> index_;
  std::unordered_set<std::string> names_;
};

}  // namespace

std::vector<uint8_t> writePlan(const PlanContents& plan) {
  KILN_CHECK(plan.graph, "writePlan: the plan has no graph");
  flatbuffers::FlatBufferBuilder fbb(4096);
  WeightsBlob weights;
  return Writer(plan, *plan.graph, fbb, weights, true, 0).write();
}

}  // namespace kiln::plan
