#include "builder/device_precision.h"

#include <cmath>
#include <map>

#include "core/error.h"
#include "ir/op_schema.h"

namespace kiln::builder {
namespace {

bool isReduced(DType t) { return t == DType::kHALF || t == DType::kBF16; }
bool isDeviceFloat(DType t) { return t == DType::kFLOAT || isReduced(t); }

//! The ONNX TensorProto number Cast's `to` takes for a device float type.
int64_t onnxCode(DType t) { return t == DType::kHALF ? 10 : t == DType::kBF16 ? 16 : 1; }

const char* shortName(DType t) { return t == DType::kHALF ? "fp16" : t == DType::kBF16 ? "bf16" : "fp32"; }

//! `t` (FP32) converted to the reduced type `type`. Finite values beyond the type's range
//! become its largest finite value (as TensorRT does when it converts weights), not
//! infinity: an attention mask of finfo(float32).min must stay finite, or 0 * it is NaN.
//! `clamped` counts them.
ir::Tensor convertWeights(const ir::Tensor& t, DType type, int64_t* clamped) {
  ir::Tensor out = t.castTo(type);
  if (t.dtype() != DType::kFLOAT) return out;
  const uint16_t maxCode = type == DType::kHALF ? 0x7bff : 0x7f7f;  // 65504 / 3.3895e38
  const float* src = t.as<float>();
  uint16_t* dst = out.mutableAs<uint16_t>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if ((dst[i] & 0x7fff) == (maxCode + 1) && std::isfinite(src[i])) {  // rounded to +-infinity
      dst[i] = static_cast<uint16_t>((dst[i] & 0x8000) | maxCode);
      ++*clamped;
    }
  }
  return out;
}

bool hasSubgraph(const ir::Node& n) {
  for (const auto& [name, a] : n.attrs)
    if (std::holds_alternative<ir::GraphAttr>(a)) return true;
  return false;
}

//! Whether `n` reads FP32 data whose type it could change (the layers the pass decides for).
bool readsFloatData(const ir::Node& n) {
  for (std::size_t j = 0; j < n.inputs.size(); ++j)
    if (n.inputs[j] && n.inputs[j]->dtype == DType::kFLOAT && followsPrecision(n, j)) return true;
  return false;
}

//! What one layer was decided to run in, and the output types it must deliver.
struct Decision {
  DType compute = DType::kFLOAT;
  std::vector<DType> outputs;  //!< per output: the type its consumers see (kFLOAT for non-float outputs: unused)
};

}  // namespace

bool followsPrecision(const ir::Node& node, std::size_t index) {
  if (index >= node.inputs.size() || !node.inputs[index]) return false;
  if (node.op == "Resize" && (index == 1 || index == 2)) return false;  // roi, scales: tensor(float) in ONNX
  return isDeviceFloat(node.inputs[index]->dtype);
}

bool outputsFollowPrecision(const ir::Node& node) { return node.op != "Cast"; }

std::vector<std::pair<ir::Value*, DType>> retypeForTrial(ir::Node& node, DType type) {
  std::vector<std::pair<ir::Value*, DType>> changed;
  auto retype = [&](ir::Value* v) {
    for (auto& c : changed)
      if (c.first == v) return;  // read twice (x * x)
    changed.emplace_back(v, v->dtype);
    v->dtype = type;
  };
  for (std::size_t j = 0; j < node.inputs.size(); ++j)
    if (node.inputs[j] && node.inputs[j]->dtype == DType::kFLOAT && followsPrecision(node, j)) retype(node.inputs[j]);
  if (outputsFollowPrecision(node))
    for (ir::Value* v : node.outputs)
      if (v && v->dtype == DType::kFLOAT) retype(v);
  return changed;
}

void restoreTypes(const std::vector<std::pair<ir::Value*, DType>>& changed) {
  for (auto it = changed.rbegin(); it != changed.rend(); ++it) it->first->dtype = it->second;
}

PrecisionResult assignDevicePrecision(ir::Graph& graph, const PrecisionOptions& o, const PrecisionSupport& supported) {
  PrecisionResult result;
  const std::vector<ir::Node*> nodes = graph.nodeList();
  const bool constraints = o.obeyConstraints || o.preferConstraints;

  // 1. Decide, on the untouched graph (the indices `supported` answers for).
  std::vector<Decision> decisions(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const ir::Node& n = *nodes[i];
    Decision& d = decisions[i];
    d.outputs.assign(n.outputs.size(), DType::kFLOAT);
    for (std::size_t k = 0; k < n.outputs.size(); ++k)
      if (n.outputs[k]) d.outputs[k] = n.outputs[k]->dtype;
    if (hasSubgraph(n) || !readsFloatData(n)) continue;  // nothing this pass could change

    auto unmet = [&](const std::string& why) {
      std::string msg = strCat(n.describe(), ": ", why);
      if (o.obeyConstraints) fail(msg, " (kOBEY_PRECISION_CONSTRAINTS; clear it or use kPREFER_PRECISION_CONSTRAINTS)");
      result.warnings.push_back(msg + "; the constraint is not honored (kPREFER_PRECISION_CONSTRAINTS)");
    };
    const bool constrained = constraints && n.has(kPrecisionAttr);
    if (constrained) {
      const int64_t raw = n.i(kPrecisionAttr, 0);
      const DType want = isValidDtype(static_cast<int32_t>(raw)) ? static_cast<DType>(raw) : DType::kFLOAT;
      if (!isValidDtype(static_cast<int32_t>(raw)) || !isDeviceFloat(want)) {
        unmet(strCat("precision constraint ", isValidDtype(static_cast<int32_t>(raw)) ? dataTypeName(want) : "?",
                     " (", raw, "): the CUDA backend runs layers in FP32, FP16 or BF16 only"));
      } else if (isReduced(want) && !supported(i, want)) {
        unmet(strCat("precision constraint ", dataTypeName(want), ": no CUDA tactic supports the layer in ",
                     dataTypeName(want)));
      } else {
        d.compute = want;
      }
    } else {
      for (DType t : {DType::kHALF, DType::kBF16}) {
        bool allowed = t == DType::kHALF ? o.fp16 : o.bf16;
        if (allowed && supported(i, t)) {
          d.compute = t;
          break;
        }
      }
    }
    if (!outputsFollowPrecision(n)) continue;
    // The types the outputs are delivered in: setOutputType where constraints are honored, the
    // network's type for network outputs, else the layer's own.
    const std::vector<int64_t> outTypes = constraints ? n.ints(kOutputTypesAttr) : std::vector<int64_t>{};
    for (std::size_t k = 0; k < n.outputs.size(); ++k) {
      const ir::Value* v = n.outputs[k];
      if (!v || v->dtype != DType::kFLOAT) continue;
      d.outputs[k] = graph.isGraphOutput(v) ? v->dtype : d.compute;
      if (k < outTypes.size() && outTypes[k] >= 0) {
        const DType t = static_cast<DType>(outTypes[k]);
        if (isValidDtype(static_cast<int32_t>(outTypes[k])) && isDeviceFloat(t))
          d.outputs[k] = t;
        else
          unmet(strCat("output ", k, " type constraint ", outTypes[k],
                       ": the CUDA backend delivers float outputs as FP32, FP16 or BF16 only"));
      }
    }
  }

  // 2. Rewrite. `versions[v]` holds the copies of logical value v by type;
  // `written[v]` is the one its producer writes (what casts convert from).
  std::map<ir::Value*, DType> original;
  for (const auto& v : graph.values()) original[v.get()] = v->dtype;
  std::map<ir::Value*, std::map<DType, ir::Value*>> versions;
  std::map<ir::Value*, ir::Value*> written;
  auto addCast = [&](ir::Value* from, ir::Value* to, const std::string& base) {
    ir::Node* c = graph.addNode("Cast", base + "/kiln_cast_" + shortName(to->dtype), {from}, {to});
    c->attrs["to"] = onnxCode(to->dtype);
    ++result.castsInserted;
  };
  auto versionOf = [&](ir::Value* v, DType t) -> ir::Value* {
    auto& vs = versions[v];
    if (vs.empty()) vs[v->dtype] = v;
    if (auto it = vs.find(t); it != vs.end()) return it->second;
    ir::Value* copy = nullptr;
    if (v->isConstant()) {
      int64_t clamped = 0;  // weights: converted now, at build time
      copy = graph.addConstant(strCat(v->name, "/", shortName(t)), convertWeights(*v->constant, t, &clamped));
      if (clamped)
        result.warnings.push_back(strCat("constant \"", v->name, "\": ", clamped, " value(s) beyond ", dataTypeName(t),
                                         "'s range clamped to its largest finite value"));
    } else {
      copy = graph.addValue(strCat(v->name, "/", shortName(t)), t, v->shape);
      ir::Value* from = written.count(v) ? written[v] : v;
      addCast(from, copy, v->name);
    }
    vs[t] = copy;
    return copy;
  };

  for (std::size_t i = 0; i < nodes.size(); ++i) {
    ir::Node& n = *nodes[i];
    const Decision& d = decisions[i];
    for (std::size_t j = 0; j < n.inputs.size(); ++j) {
      ir::Value* v = n.inputs[j];
      if (!v || original[v] != DType::kFLOAT || !followsPrecision(n, j)) continue;
      n.inputs[j] = versionOf(v, hasSubgraph(n) ? DType::kFLOAT : d.compute);
    }
    if (isReduced(d.compute)) {
      ++result.reducedLayers;
      result.log.push_back(strCat("precision: ", n.describe(), " runs in ", dataTypeName(d.compute)));
    } else if (o.tf32 && readsFloatData(n) && !hasSubgraph(n)) {
      n.attrs[kTf32Attr] = int64_t{1};
    }
    if (!outputsFollowPrecision(n)) continue;
    for (std::size_t k = 0; k < n.outputs.size(); ++k) {
      ir::Value* v = n.outputs[k];
      if (!v || original[v] != DType::kFLOAT) continue;
      const DType deliver = d.outputs[k];
      if (deliver == d.compute) {
        v->dtype = d.compute;
        versions[v][d.compute] = v;
        continue;
      }
      // The layer writes its own type into a new value; a Cast delivers `v` (which keeps its
      // name: a network output's binding) in the type asked for.
      ir::Value* own = graph.addValue(strCat(v->name, "/", shortName(d.compute)), d.compute, v->shape);
      n.outputs[k] = own;
      own->producer = &n;
      v->dtype = deliver;
      addCast(own, v, v->name);
      versions[v][d.compute] = own;
      versions[v][deliver] = v;
      written[v] = own;
    }
  }
  graph.topoSort();
  graph.removeUnusedValues();

  // Every rewritten layer must still type-check in its new types: the schemas are the arbiter.
  std::map<const ir::Value*, DType> chosen;
  for (const auto& v : graph.values()) chosen[v.get()] = v->dtype;
  ir::inferGraph(graph);
  for (const auto& v : graph.values())
    KILN_CHECK(chosen.at(v.get()) == v->dtype, "device precision: value \"", v->name, "\" was made ",
               dataTypeName(chosen.at(v.get())), " but its producer ",
               v->producer ? v->producer->describe() : std::string("(none)"), " infers ", dataTypeName(v->dtype));
  return result;
}

}  // namespace kiln::builder
