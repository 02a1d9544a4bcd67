// The "Model families" section of docs/onnx-support.md (issue #4 part 4): the
// record that tests/models/model_families.py writes (PyTorch exports run
// through Kiln and compared with ONNX Runtime, outside CI since CI has no
// PyTorch), rendered as a table so the matrix stays one generated file.
#pragma once
#include <string>

namespace kiln_conformance {

//! Markdown for the JSON record at `path`; a short note when the file is absent,
//! and a clear error (thrown) when it is malformed.
std::string renderModelFamilies(const std::string& path);

}  // namespace kiln_conformance
