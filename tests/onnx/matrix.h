// The generated support matrix (docs/onnx-support.md) and the expectations
// file (tests/onnx/expected_passing.txt). Both are pure functions of the cases
// and their outcomes: sorted, no timings, no paths, so a rerun on another
// machine writes the same bytes.
#pragma once
#include <string>
#include <vector>

#include "cases.h"

namespace kiln_conformance {

struct RunRecord {
  const CaseInfo* info;
  CaseResult result;
};

//! The matrix as Markdown. `source` names the cases' origin ("onnx 1.17.0").
std::string renderMatrix(const std::vector<RunRecord>& runs, const std::string& source,
                         const std::vector<std::string>& missingKinds);

//! The ids of the passing cases, one per line, after a comment header.
std::string renderExpected(const std::vector<RunRecord>& runs, const std::string& source);

//! One line: reason shortened to `max` characters, `root` replaced by "<cases>".
std::string shortReason(const std::string& reason, const std::string& root, std::size_t max = 180);

}  // namespace kiln_conformance
