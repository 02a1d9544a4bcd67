// The cases of the ONNX conformance run: found in the cache that
// scripts/make_onnx_node_tests.py writes, described from their model files
// (ops, opsets, dtypes, scope), and their outcomes.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "test_data.h"

namespace kiln_conformance {

enum class Outcome { kPass, kFail, kUnsupported, kCrash };
const char* outcomeName(Outcome o);

struct CaseInfo {
  std::string id;    //!< "<kind>/<name>", e.g. "node/test_abs": stable, used by the expectations file
  std::string kind;  //!< node, light, pytorch-converted, pytorch-operator, simple
  std::string name;  //!< the folder name, e.g. "test_abs"
  std::string dir;   //!< the case's folder
  //! The op the case tests (node kind): the single node's op, or for a
  //! function-expansion case ("<base>_expanded") the op of its base case.
  std::string op;
  std::set<std::string> ops;     //!< every op of the model, subgraphs included ("domain:Op" off ai.onnx)
  std::set<std::string> dtypes;  //!< element types of the graph's inputs and outputs
  int64_t opset = 0;             //!< the ai.onnx opset the model imports (0: none)
  //! Why the case is out of Kiln's scope (an entry of outOfScopeCategories()), "" when in scope.
  std::string outOfScope;
  Tolerance tolerance;
  std::string toleranceWhy;  //!< non-empty when the case has its own tolerance
};

struct CaseResult {
  Outcome outcome = Outcome::kCrash;
  std::string reason;  //!< first error line ("" for a pass)
  //! The outcome is that of the second attempt, with the case's scalar and 1-D
  //! inputs made constants (see run_case.h).
  bool constInputs = false;
};

//! Every case under `root` (kinds in a fixed order, names sorted), described
//! from its model. Cases whose model cannot be read are kept with outcome
//! left to the run (the parser reports the problem).
std::vector<CaseInfo> findCases(const std::string& root, const std::string& filter);

//! The out-of-scope categories of the issue: category -> reason.
const std::map<std::string, std::string>& outOfScopeCategories();

//! Per-case tolerances, documented: {case id, rtol, atol, why}.
struct ToleranceOverride {
  const char* id;
  double rtol, atol;
  const char* why;
};
const std::vector<ToleranceOverride>& toleranceOverrides();

}  // namespace kiln_conformance
