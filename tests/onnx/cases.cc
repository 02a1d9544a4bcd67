#include "cases.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include <onnx/onnx_pb.h>

namespace kiln_conformance {

namespace fs = std::filesystem;

const char* outcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPass: return "pass";
    case Outcome::kFail: return "fail";
    case Outcome::kUnsupported: return "unsupported";
    case Outcome::kCrash: return "crash";
  }
  return "?";
}

const std::map<std::string, std::string>& outOfScopeCategories() {
  static const std::map<std::string, std::string> m = {
      {"ai.onnx.ml", "ops of the ai.onnx.ml domain: Kiln covers the standard ai.onnx domain"},
      {"training",
       "ai.onnx.preview.training ops (Gradient, Adagrad, Adam, Momentum) and training-mode cases (Dropout "
       "masks drawn at random, BatchNormalization batch statistics): Kiln builds inference engines"},
      {"random", "random-number ops (RandomNormal*, RandomUniform*, Multinomial, Bernoulli): outputs are draws"},
      {"string", "string tensors (StringNormalizer, StringConcat, StringSplit, RegexFullMatch, casts to/from "
                 "STRING): Kiln has numeric tensors only"},
      {"sequence/optional", "sequence and optional types (Sequence*, SplitToSequence, ConcatFromSequence, "
                            "Optional*, and If/Loop over them): Kiln's values are tensors"},
  };
  return m;
}

const std::vector<ToleranceOverride>& toleranceOverrides() {
  // ONNX's defaults (rtol 1e-3, atol 1e-7) hold for every other case. Each
  // entry says why the case needs more; keep this list short and explained.
  static const char* kBf16 =
      "ONNX's expected bfloat16 values truncate the float32 input; Kiln rounds to nearest even (as TensorRT and "
      "PyTorch do), which differs by at most one bfloat16 ulp (2^-8 relative)";
  static const char* kIdft =
      "ONNX's expected inverse DFT comes from numpy's FFT rounded to float32: outputs that are exactly 0 carry "
      "float32 rounding noise of the sums (values up to 54, so up to 2e-7); Kiln sums in double";
  static const std::vector<ToleranceOverride> t = {
      {"node/test_dft_inverse", 1e-3, 1e-6, kIdft},
      {"node/test_dft_inverse_opset19", 1e-3, 1e-6, kIdft},
      {"node/test_cast_FLOAT_to_BFLOAT16", 8e-3, 0, kBf16},
      {"node/test_castlike_FLOAT_to_BFLOAT16", 8e-3, 0, kBf16},
      {"node/test_castlike_FLOAT_to_BFLOAT16_expanded", 8e-3, 0, kBf16},
  };
  return t;
}

namespace {

// Loss functions (SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss) are
// ai.onnx ops with inference semantics: in scope.
const std::set<std::string> kTrainingOps = {"Gradient", "Adagrad", "Adam", "Momentum"};
const std::set<std::string> kRandomOps = {"RandomNormal", "RandomNormalLike", "RandomUniform",
                                          "RandomUniformLike", "Multinomial", "Bernoulli"};
const std::set<std::string> kStringOps = {"StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch"};
const std::set<std::string> kSequenceOps = {
    "SequenceConstruct", "SequenceAt", "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength",
    "SequenceMap", "SplitToSequence", "ConcatFromSequence", "Optional", "OptionalGetElement",
    "OptionalHasElement"};

std::string qualifiedOp(const ::onnx::NodeProto& n) {
  return n.domain().empty() || n.domain() == "ai.onnx" ? n.op_type() : n.domain() + ":" + n.op_type();
}

//! What a walk over a graph and its subgraphs finds.
struct Scan {
  std::set<std::string> ops;
  bool sequenceOrOptional = false, string = false;
};

void scanType(const ::onnx::TypeProto& t, Scan& s) {
  if (t.has_sequence_type() || t.has_optional_type()) s.sequenceOrOptional = true;
  if (t.has_tensor_type() && t.tensor_type().elem_type() == ::onnx::TensorProto::STRING) s.string = true;
}

void scanGraph(const ::onnx::GraphProto& g, Scan& s) {
  for (const auto& vi : g.input()) scanType(vi.type(), s);
  for (const auto& vi : g.output()) scanType(vi.type(), s);
  for (const auto& vi : g.value_info()) scanType(vi.type(), s);
  for (const auto& t : g.initializer()) s.string |= t.data_type() == ::onnx::TensorProto::STRING;
  for (const auto& n : g.node()) {
    s.ops.insert(qualifiedOp(n));
    for (const auto& a : n.attribute()) {
      if (a.has_g()) scanGraph(a.g(), s);
      for (const auto& sub : a.graphs()) scanGraph(sub, s);
      if (a.has_t()) s.string |= a.t().data_type() == ::onnx::TensorProto::STRING;
      s.string |= a.type() == ::onnx::AttributeProto::STRINGS && n.op_type() == "Constant";
    }
  }
}

bool readModel(const fs::path& path, ::onnx::ModelProto& model) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return in.good() || in.eof() ? model.ParseFromString(bytes) : false;
}

std::string squeeze(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

//! The op a multi-node case tests, judged from its name: the longest of the
//! model's ops whose name starts the test's name ("test_layer_normalization_..."
//! -> LayerNormalization), else the first node's op.
std::string opFromName(const std::string& name, const ::onnx::GraphProto& g) {
  std::string test = squeeze(name.rfind("test_", 0) == 0 ? name.substr(5) : name);
  std::string best;
  for (const auto& n : g.node()) {
    std::string op = squeeze(n.op_type());
    if (test.rfind(op, 0) == 0 && op.size() > squeeze(best).size()) best = qualifiedOp(n);
  }
  if (!best.empty()) return best;
  return g.node_size() ? qualifiedOp(g.node(0)) : "";
}

std::string scopeOf(const CaseInfo& c, const Scan& s) {
  for (const std::string& op : s.ops) {
    if (op.rfind("ai.onnx.ml:", 0) == 0) return "ai.onnx.ml";
  }
  for (const std::string& op : s.ops)
    if (op.rfind("ai.onnx.preview.training:", 0) == 0 || kTrainingOps.count(op)) return "training";
  if (c.name.find("training") != std::string::npos) return "training";
  for (const std::string& op : s.ops)
    if (kRandomOps.count(op)) return "random";
  for (const std::string& op : s.ops)
    if (kStringOps.count(op)) return "string";
  if (s.string) return "string";
  for (const std::string& op : s.ops)
    if (kSequenceOps.count(op)) return "sequence/optional";
  if (s.sequenceOrOptional) return "sequence/optional";
  return "";
}

//! "<base>" of "<base>_expanded" / "<base>_expanded_ver18", or "".
std::string expandedBase(const std::string& name) {
  static const std::regex re("^(.*)_expanded(_ver[0-9]+)?$");
  std::smatch m;
  return std::regex_match(name, m, re) ? m[1].str() : "";
}

CaseInfo describe(const std::string& kind, const fs::path& dir) {
  CaseInfo c;
  c.kind = kind;
  c.name = dir.filename().string();
  c.id = kind + "/" + c.name;
  c.dir = dir.string();
  ::onnx::ModelProto model;
  if (!readModel(dir / "model.onnx", model)) return c;
  for (const auto& imp : model.opset_import())
    if (imp.domain().empty() || imp.domain() == "ai.onnx") c.opset = imp.version();
  Scan s;
  scanGraph(model.graph(), s);
  c.ops = s.ops;
  std::set<std::string> inits;
  for (const auto& t : model.graph().initializer()) inits.insert(t.name());
  auto addType = [&](const ::onnx::ValueInfoProto& vi) {
    if (inits.count(vi.name())) return;
    const auto& t = vi.type();
    if (t.has_tensor_type()) c.dtypes.insert(onnxTypeName(t.tensor_type().elem_type()));
    else if (t.has_sequence_type()) c.dtypes.insert("sequence");
    else if (t.has_optional_type()) c.dtypes.insert("optional");
    else if (t.has_map_type()) c.dtypes.insert("map");
  };
  for (const auto& vi : model.graph().input()) addType(vi);
  for (const auto& vi : model.graph().output()) addType(vi);
  const auto& g = model.graph();
  c.op = g.node_size() == 1 ? qualifiedOp(g.node(0)) : opFromName(c.name, g);
  c.outOfScope = scopeOf(c, s);
  return c;
}

}  // namespace

std::vector<CaseInfo> findCases(const std::string& root, const std::string& filter) {
  static const char* kKinds[] = {"node", "light", "pytorch-converted", "pytorch-operator", "simple"};
  std::vector<CaseInfo> out;
  for (const char* kind : kKinds) {
    fs::path dir = fs::path(root) / kind;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_directory() && fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    std::map<std::string, std::size_t> byName;
    const std::size_t first = out.size();
    for (const fs::path& d : dirs) {
      byName[d.filename().string()] = out.size();
      out.push_back(describe(kind, d));
    }
    // A function-expansion case counts for the op it expands.
    for (std::size_t i = first; i < out.size(); ++i) {
      auto it = byName.find(expandedBase(out[i].name));
      if (it != byName.end()) {
        out[i].op = out[it->second].op;
        if (out[i].outOfScope.empty()) out[i].outOfScope = out[it->second].outOfScope;
      }
    }
  }
  for (CaseInfo& c : out)
    for (const ToleranceOverride& t : toleranceOverrides())
      if (c.id == t.id) {
        c.tolerance = {t.rtol, t.atol};
        c.toleranceWhy = t.why;
      }
  if (!filter.empty()) {
    std::regex re(filter);
    out.erase(std::remove_if(out.begin(), out.end(), [&](const CaseInfo& c) { return !std::regex_search(c.id, re); }),
              out.end());
  }
  return out;
}

}  // namespace kiln_conformance
