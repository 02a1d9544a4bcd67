// Model-level import: parse, opsets, initializers, graph inputs, nodes (each
// through its op importer, see importers/), graph outputs.
#include "onnx/importer.h"

#include <algorithm>
#include <climits>
#include <new>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "onnx/import_context.h"
#include "onnx/importers/importers.h"
#include "onnx/plugin_importer.h"
#include "onnx/tensor_proto.h"

namespace kiln::onnx {

namespace {

ImportError toImportError(const ImportFailure& e) {
  ImportError out;
  out.code = e.code;
  out.desc = e.what();
  out.file = e.file;
  out.line = e.line;
  out.func = e.func;
  return out;
}

//! Runs `body`, turning whatever it throws into an ImportError (appended to `errors`).
template <typename Body>
bool guarded(std::vector<ImportError>& errors, Body&& body) {
  try {
    body();
    return true;
  } catch (const ImportFailure& e) {
    errors.push_back(toImportError(e));
  } catch (const Error& e) {  // shape inference and IR checks: they name the node themselves
    errors.push_back({ErrorCode::kINVALID_NODE, e.what(), -1, "", "", __FILE__, __LINE__, __func__});
  } catch (const std::bad_alloc&) {
    errors.push_back({ErrorCode::kMEM_ALLOC_FAILED, "out of memory while importing the model", -1, "", "",
                      __FILE__, __LINE__, __func__});
  } catch (const std::exception& e) {
    errors.push_back({ErrorCode::kINTERNAL_ERROR, strCat("internal error: ", e.what()), -1, "", "", __FILE__,
                      __LINE__, __func__});
  }
  return false;
}

bool isDefaultDomain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

std::string nodeName(const ::onnx::NodeProto& n, int index) {
  return n.name().empty() ? strCat(n.op_type(), "_", index) : n.name();
}

//! Deserializes and checks what every import needs: a graph and a supported
//! ai.onnx opset. Returns the opset (0 when no node needs one).
int64_t parseModel(const void* data, std::size_t size, ::onnx::ModelProto& model) {
  // An empty buffer is a valid (empty) protobuf message, so reject it first.
  KILN_IMPORT_CHECK(data && size > 0, ErrorCode::kMODEL_DESERIALIZE_FAILED, "the ONNX model is empty (0 bytes)");
  KILN_IMPORT_CHECK(size <= static_cast<std::size_t>(INT_MAX), ErrorCode::kMODEL_DESERIALIZE_FAILED,
                    "the ONNX model is ", size, " bytes; models over 2 GiB must keep weights as external data");
  KILN_IMPORT_CHECK(model.ParseFromArray(data, static_cast<int>(size)), ErrorCode::kMODEL_DESERIALIZE_FAILED,
                    "cannot parse the ONNX model (", size, " bytes): not a ModelProto, or a truncated file");
  KILN_IMPORT_CHECK(model.has_graph(), ErrorCode::kMODEL_DESERIALIZE_FAILED,
                    "the ONNX model has no graph (is this an ONNX file?)");
  int64_t opset = 0;
  for (const auto& imp : model.opset_import())
    if (isDefaultDomain(imp.domain())) opset = imp.version();
  bool needsOpset = false;
  for (const auto& n : model.graph().node()) needsOpset |= isDefaultDomain(n.domain());
  if (!needsOpset) return opset;
  KILN_IMPORT_CHECK(opset != 0, ErrorCode::kUNSUPPORTED_GRAPH, "the model imports no ai.onnx opset");
  // Below opset 6 a model is taken only when all its ops are ones whose first
  // definition already means what the latest does (their importers handle the
  // legacy broadcasting of And/Or/Xor/Equal/Less/Greater).
  static constexpr std::string_view kUnchangedSinceOpset1[] = {"Not",     "And",       "Or",      "Xor",
                                                               "Equal",   "Less",      "Greater", "Identity",
                                                               "Shape",   "Size",      "Transpose", "MatMul"};
  bool early = opset >= 1 && opset < kMinOpset;
  for (const auto& n : model.graph().node()) {
    if (!early || !isDefaultDomain(n.domain())) continue;
    early = std::find(std::begin(kUnchangedSinceOpset1), std::end(kUnchangedSinceOpset1), n.op_type()) !=
            std::end(kUnchangedSinceOpset1);
  }
  KILN_IMPORT_CHECK(early || (opset >= kMinOpset && opset <= kMaxOpset), ErrorCode::kUNSUPPORTED_GRAPH,
                    "the model imports ai.onnx opset ", opset, "; Kiln supports opsets ", kMinOpset, " to ",
                    kMaxOpset, " (and opsets 1 to 5 for models made only of ops unchanged since opset 1; ",
                    "onnx.version_converter can convert the model)");
  return opset;
}

//! The node's importer, or nullptr when a registered plugin creator provides
//! its op (see plugin_importer.h); fails with kUNSUPPORTED_NODE when neither.
const OpImporter* importerFor(const ::onnx::NodeProto& n, int index, int64_t opset) {
  std::string name = nodeName(n, index);
  const OpImporter* imp = isDefaultDomain(n.domain()) ? findImporter(n.op_type()) : nullptr;
  if (!imp) {
    if (pluginCreatorFor(n)) return nullptr;
    std::string what = isDefaultDomain(n.domain()) ? strCat(n.op_type(), ", opset ", opset)
                                                   : strCat(n.op_type(), ", domain ", n.domain());
    std::string lacks = isDefaultDomain(n.domain()) ? std::string("no importer for this op")
                                                    : strCat("no importer for ops of domain \"", n.domain(), "\"");
    KILN_IMPORT_FAIL(ErrorCode::kUNSUPPORTED_NODE, "node \"", name, "\" (", what, "): ", lacks, "; a plugin can provide it, but no ",
                     pluginWanted(n), " is registered (load its library with IPluginRegistry::loadLibrary or "
                     "kilnexec --plugins=lib.so, or register its creator)");
  }
  KILN_IMPORT_CHECK(opset >= imp->minOpset, ErrorCode::kUNSUPPORTED_NODE, "node \"", name, "\" (", n.op_type(),
                    ", opset ", opset, "): this op exists from opset ", imp->minOpset, " on");
  return imp;
}

//! Every name that the subgraphs of `n` read (node inputs and subgraph
//! outputs, nested subgraphs included). Names they define themselves are in
//! it too; ONNX names are unique across scopes, so they match no outer value.
void collectSubgraphRefs(const ::onnx::NodeProto& n, std::vector<std::string>& out) {
  auto visit = [&](const ::onnx::GraphProto& g, auto&& self) -> void {
    for (const auto& sn : g.node()) {
      for (const auto& in : sn.input())
        if (!in.empty()) out.push_back(in);
      for (const auto& a : sn.attribute()) {
        if (a.has_g()) self(a.g(), self);
        for (const auto& sg : a.graphs()) self(sg, self);
      }
    }
    for (const auto& o : g.output()) out.push_back(o.name());
  };
  for (const auto& a : n.attribute()) {
    if (a.has_g()) visit(a.g(), visit);
    for (const auto& sg : a.graphs()) visit(sg, visit);
  }
}

//! The names node `n` reads: its inputs, and what its subgraphs read implicitly.
std::vector<std::string> nodeReads(const ::onnx::NodeProto& n) {
  std::vector<std::string> names(n.input().begin(), n.input().end());
  collectSubgraphRefs(n, names);
  return names;
}

//! Names read by some node of `g` (subgraphs included) or listed as its outputs.
void collectUsed(const ::onnx::GraphProto& g, std::unordered_set<std::string>& used) {
  for (const auto& n : g.node())
    for (const auto& in : nodeReads(n)) used.insert(in);
  for (const auto& o : g.output()) used.insert(o.name());
}

//! Node indices in an order where producers come first (ONNX requires it, but
//! some exporters do not keep it). Nodes on a cycle or reading a missing tensor
//! keep their place at the end, where resolving their inputs reports the problem.
std::vector<int> nodeOrder(const ::onnx::GraphProto& g) {
  int n = g.node_size();
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const auto& o : g.node(i).output())
      if (!o.empty()) producer.emplace(o, i);
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> readers(n);
  for (int i = 0; i < n; ++i)
    for (const auto& in : nodeReads(g.node(i))) {
      auto it = in.empty() ? producer.end() : producer.find(in);
      if (it == producer.end() || it->second == i) continue;
      ++pending[i];
      readers[it->second].push_back(i);
    }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;  // keeps the file's order when valid
  for (int i = 0; i < n; ++i)
    if (!pending[i]) ready.push(i);
  std::vector<int> order;
  std::vector<bool> placed(n, false);
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    placed[i] = true;
    for (int r : readers[i])
      if (--pending[r] == 0) ready.push(r);
  }
  for (int i = 0; i < n; ++i)
    if (!placed[i]) order.push_back(i);
  return order;
}

ir::Value* declareInput(ModelState& st, const ::onnx::ValueInfoProto& vi) {
  std::string what = strCat("network input \"", vi.name(), "\"");
  KILN_IMPORT_CHECK(vi.type().has_tensor_type(), ErrorCode::kUNSUPPORTED_GRAPH, what,
                    ": only tensor inputs are supported");
  const auto& tt = vi.type().tensor_type();
  DType dtype = requireDtype(tt.elem_type(), what);
  KILN_IMPORT_CHECK(tt.has_shape(), ErrorCode::kUNSUPPORTED_GRAPH, what,
                    " has no shape; Kiln needs the rank of every network input");
  ir::Shape shape;
  for (const auto& d : tt.shape().dim()) {
    if (d.has_dim_value() && d.dim_value() >= 0) shape.emplace_back(d.dim_value());
    else if (d.has_dim_param() && !d.dim_param().empty()) shape.emplace_back(d.dim_param());
    else shape.emplace_back();
  }
  return st.graph.addValue(vi.name(), dtype, std::move(shape));
}

void importGraphIO(ModelState& st, const ::onnx::GraphProto& g, std::vector<ImportError>& errors) {
  for (const auto& init : g.initializer())
    guarded(errors, [&] {
      std::string what = strCat("initializer \"", init.name(), "\"");
      KILN_IMPORT_CHECK(!init.name().empty(), ErrorCode::kINVALID_GRAPH, "an initializer has no name");
      KILN_IMPORT_CHECK(!st.tensors.count(init.name()), ErrorCode::kINVALID_GRAPH, what, " is defined twice");
      ir::Tensor t = tensorFromProto(init, st.modelDir, what);
      st.tensors[init.name()] = st.graph.addConstant(init.name(), std::move(t));
    });
  for (const auto& sparse : g.sparse_initializer())
    guarded(errors, [&] {
      KILN_IMPORT_FAIL(ErrorCode::kUNSUPPORTED_GRAPH, "sparse initializer \"", sparse.values().name(),
                       "\" is not supported");
    });
  std::unordered_map<std::string, bool> seenInputs;
  for (const auto& vi : g.input())
    guarded(errors, [&] {
      KILN_IMPORT_CHECK(!vi.name().empty(), ErrorCode::kINVALID_GRAPH, "a network input has no name");
      KILN_IMPORT_CHECK(!seenInputs[vi.name()], ErrorCode::kINVALID_GRAPH, "network input \"", vi.name(),
                        "\" is listed twice");
      seenInputs[vi.name()] = true;
      if (st.tensors.count(vi.name())) return;  // an initializer: IR < 4 lists them as inputs; they stay constants
      ir::Value* v = declareInput(st, vi);
      st.tensors[vi.name()] = v;
      st.graph.inputs.push_back(v);
    });
}

//! `skip`: outputs of nodes that did not import (support analysis), left out.
void importOutputs(ModelState& st, const ::onnx::GraphProto& g, std::vector<ImportError>& errors,
                   const std::unordered_set<std::string>& skip = {}) {
  std::unordered_map<std::string, bool> seen;
  for (const auto& vi : g.output())
    guarded(errors, [&] {
      if (skip.count(vi.name())) return;
      auto it = st.tensors.find(vi.name());
      KILN_IMPORT_CHECK(it != st.tensors.end(), ErrorCode::kINVALID_GRAPH, "network output \"", vi.name(),
                        "\" is not produced by any node, initializer or graph input");
      KILN_IMPORT_CHECK(!seen[vi.name()], ErrorCode::kINVALID_GRAPH, "network output \"", vi.name(),
                        "\" is listed twice");
      seen[vi.name()] = true;
      ir::Value* v = it->second;
      // Inference leaves unknown dims unnamed where it cannot tell; the model's
      // declared symbol ("batch") keeps the engine's IO readable.
      const auto& tt = vi.type().tensor_type();
      if (tt.has_shape() && tt.shape().dim_size() == static_cast<int>(v->shape.size()))
        for (int i = 0; i < tt.shape().dim_size(); ++i) {
          ir::Dim& d = v->shape[i];
          if (!d.known() && d.symbol.empty() && !tt.shape().dim(i).dim_param().empty())
            d.symbol = tt.shape().dim(i).dim_param();
        }
      st.graph.outputs.push_back(v);
    });
}

ImportResult finish(std::vector<ImportError> errors) {
  ImportResult r;
  r.ok = errors.empty();
  r.errors = std::move(errors);
  return r;
}

void tagNode(ImportError& e, const ::onnx::NodeProto& n, int index) {
  e.node = index;
  e.nodeName = nodeName(n, index);
  e.nodeOperator = n.op_type();
}

//! Imports the graph's nodes in order. By default the first failing node ends
//! the import. With `supported` (support analysis) every node is visited and
//! gets a verdict: a failing node's outputs are "blocked", and a node reading
//! a blocked name is judged by its op alone (see analyzeModelSupport); a node
//! reading a network input that failed to import is unsupported.
ImportResult importParsed(const ::onnx::ModelProto& model, int64_t opset, const std::string& modelDir,
                          ir::Graph& graph, const ir::NodeEvaluator& evaluate, std::vector<char>* supported = nullptr) {
  std::vector<ImportError> errors;
  const auto& g = model.graph();
  ModelState st{graph, modelDir, opset, {}, {}, nullptr, {}, 0, evaluate ? &evaluate : nullptr};
  collectUsed(g, st.used);

  importGraphIO(st, g, errors);
  if (!errors.empty() && !supported) return finish(std::move(errors));
  std::unordered_set<std::string> failedInputs, blocked;
  if (supported) {
    supported->assign(static_cast<std::size_t>(g.node_size()), 0);
    for (const auto& vi : g.input())
      if (!st.tensors.count(vi.name())) failedInputs.insert(vi.name());
    for (const auto& init : g.initializer())
      if (!st.tensors.count(init.name())) failedInputs.insert(init.name());
  }

  for (int index : nodeOrder(g)) {
    const auto& np = g.node(index);
    if (supported) {
      std::string badInput;
      bool downstream = false;
      for (const auto& in : nodeReads(np)) {
        if (failedInputs.count(in)) badInput = in;
        else downstream |= blocked.count(in) != 0;
      }
      if (!badInput.empty() || downstream) {
        bool ok = badInput.empty() && guarded(errors, [&] { importerFor(np, index, opset); });
        if (!badInput.empty())
          errors.push_back({ErrorCode::kUNSUPPORTED_NODE_INPUT,
                            strCat("node \"", nodeName(np, index), "\" (", np.op_type(), "): reads \"", badInput,
                                   "\", which could not be imported"),
                            -1, "", "", __FILE__, __LINE__, __func__});
        if (!ok) tagNode(errors.back(), np, index);
        (*supported)[index] = ok ? 1 : 0;
        for (const auto& o : np.output()) blocked.insert(o);
        continue;
      }
    }
    bool ok = guarded(errors, [&] {
      const OpImporter* imp = importerFor(np, index, opset);
      NodeContext ctx(st, np, index, nodeName(np, index));
      if (imp) imp->fn(ctx);
      else importPlugin(ctx);
    });
    if (!ok) {
      tagNode(errors.back(), np, index);
      if (!supported) return finish(std::move(errors));  // later nodes would only report follow-on errors
      for (const auto& o : np.output()) blocked.insert(o);
      continue;
    }
    if (supported) (*supported)[index] = 1;
  }
  importOutputs(st, g, errors, blocked);
  return finish(std::move(errors));
}

//! `e` with "<node>: in subgraph '<attr>': " in front (the inner error names the inner node).
ImportFailure inSubgraph(const NodeContext& ctx, std::string_view attr, ErrorCode code, const char* file, int line,
                         const char* func, const char* what) {
  return ImportFailure(code, file, line, func, strCat(ctx.describe(), ": in subgraph '", attr, "': ", what));
}

}  // namespace

SubgraphImport NodeContext::importSubgraph(std::string_view attrName, const std::vector<SubgraphInput>& formal) const {
  using AP = ::onnx::AttributeProto;
  const AP* a = attr(attrName);
  KILN_NODE_CHECK(*this, a && (a->type() == AP::GRAPH || (a->type() == AP::UNDEFINED && a->has_g())),
                  ErrorCode::kINVALID_NODE, "attribute '", attrName, "' (a subgraph) is missing or not a graph");
  KILN_NODE_CHECK(*this, model_.depth < 16, ErrorCode::kUNSUPPORTED_GRAPH, "subgraphs nest more than 16 deep");
  const ::onnx::GraphProto& g = a->g();
  SubgraphImport out;
  out.graph = std::make_shared<ir::Graph>();
  out.graph->name = strCat(name_, "/", attrName);
  out.formalInputs = formal.size();
  ModelState st{*out.graph, model_.modelDir, model_.opset, {}, {}, &model_, {}, model_.depth + 1, model_.evaluate};
  collectUsed(g, st.used);
  KILN_NODE_CHECK(*this, g.input_size() == static_cast<int>(formal.size()), ErrorCode::kINVALID_NODE, "subgraph '",
                  attrName, "' has ", g.input_size(), " inputs, the node gives it ", formal.size());
  try {
    for (const auto& init : g.initializer()) {
      std::string what = strCat("initializer \"", init.name(), "\"");
      KILN_IMPORT_CHECK(!init.name().empty() && !st.tensors.count(init.name()), ErrorCode::kINVALID_GRAPH, what,
                        " has no name or is defined twice");
      st.tensors[init.name()] = st.graph.addConstant(init.name(), tensorFromProto(init, st.modelDir, what));
    }
    KILN_IMPORT_CHECK(g.sparse_initializer_size() == 0, ErrorCode::kUNSUPPORTED_GRAPH,
                      "sparse initializers are not supported");
    std::vector<ir::Value*> inputs;
    for (int i = 0; i < g.input_size(); ++i) {
      const auto& vi = g.input(i);
      KILN_IMPORT_CHECK(!vi.name().empty() && !st.tensors.count(vi.name()), ErrorCode::kINVALID_GRAPH, "input ", i,
                        " has no name or a name already taken");
      if (vi.type().has_tensor_type() && vi.type().tensor_type().elem_type() != 0) {
        DType declared = requireDtype(vi.type().tensor_type().elem_type(), strCat("input \"", vi.name(), "\""));
        KILN_IMPORT_CHECK(declared == formal[i].dtype, ErrorCode::kINVALID_GRAPH, "input \"", vi.name(),
                          "\" is declared ", dataTypeName(declared), " but receives ", dataTypeName(formal[i].dtype));
      }
      ir::Value* v = st.graph.addValue(vi.name(), formal[i].dtype, formal[i].shape);
      st.tensors[vi.name()] = v;
      inputs.push_back(v);
    }
    for (int index : nodeOrder(g)) {
      const auto& np = g.node(index);
      const OpImporter* imp = importerFor(np, index, model_.opset);
      NodeContext ctx(st, np, index, nodeName(np, index));
      if (imp) imp->fn(ctx);
      else importPlugin(ctx);
    }
    for (const auto& o : g.output()) {
      ir::Value* v = st.lookup(o.name());
      KILN_IMPORT_CHECK(v, ErrorCode::kINVALID_GRAPH, "output \"", o.name(),
                        "\" is not produced by any node, initializer or input");
      out.graph->outputs.push_back(v);
    }
    for (auto& [outer, inner] : st.captures) {
      inputs.push_back(inner);
      out.captures.push_back(outer);
    }
    out.graph->inputs = std::move(inputs);
  } catch (const ImportFailure& e) {
    throw inSubgraph(*this, attrName, e.code, e.file, e.line, e.func, e.what());
  } catch (const Error& e) {
    throw inSubgraph(*this, attrName, ErrorCode::kINVALID_NODE, __FILE__, __LINE__, __func__, e.what());
  }
  return out;
}

ImportResult importModel(const void* data, std::size_t size, const std::string& modelDir, ir::Graph& graph,
                         const ir::NodeEvaluator& evaluate) {
  std::vector<ImportError> errors;
  ::onnx::ModelProto model;
  int64_t opset = 0;
  if (!guarded(errors, [&] { opset = parseModel(data, size, model); })) return finish(std::move(errors));
  ImportResult r;
  if (!guarded(errors, [&] { r = importParsed(model, opset, modelDir, graph, evaluate); }))
    return finish(std::move(errors));
  return r;
}

bool isOperatorSupported(const std::string& opType) {
  ::onnx::NodeProto n;
  n.set_op_type(opType);
  return findImporter(opType) != nullptr || pluginCreatorFor(n) != nullptr;
}

ImportResult checkModelSupport(const void* data, std::size_t size, const std::string& modelDir,
                               const ir::NodeEvaluator& evaluate) {
  std::vector<ImportError> errors;
  ::onnx::ModelProto model;
  int64_t opset = 0;
  if (!guarded(errors, [&] { opset = parseModel(data, size, model); })) return finish(std::move(errors));
  // Every node without an importer is reported, not just the first.
  const auto& g = model.graph();
  for (int i = 0; i < g.node_size(); ++i) {
    if (!guarded(errors, [&] { importerFor(g.node(i), i, opset); })) tagNode(errors.back(), g.node(i), i);
  }
  if (!errors.empty()) return finish(std::move(errors));
  ImportResult r;
  if (!guarded(errors, [&] {
        ir::Graph scratch;
        r = importParsed(model, opset, modelDir, scratch, evaluate);
      }))
    return finish(std::move(errors));
  return r;
}

ModelSupport analyzeModelSupport(const void* data, std::size_t size, const std::string& modelDir,
                                 const ir::NodeEvaluator& evaluate) {
  ModelSupport out;
  std::vector<ImportError> errors;
  ::onnx::ModelProto model;
  int64_t opset = 0;
  std::vector<char> supported;
  if (!guarded(errors, [&] { opset = parseModel(data, size, model); }) || !guarded(errors, [&] {
        ir::Graph scratch;
        out.result = importParsed(model, opset, modelDir, scratch, evaluate, &supported);
      })) {
    out.result = finish(std::move(errors));
    return out;
  }
  for (int index : nodeOrder(model.graph())) {
    bool s = supported[static_cast<std::size_t>(index)] != 0;
    if (out.subgraphs.empty() || out.subgraphs.back().supported != s) out.subgraphs.push_back({{}, s});
    out.subgraphs.back().nodes.push_back(index);
  }
  return out;
}

}  // namespace kiln::onnx
