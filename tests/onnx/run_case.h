// One conformance case through Kiln's public API: parse the model, build an
// engine for the shapes of the test data, run it, compare every output.
#pragma once
#include "cases.h"

namespace kiln_conformance {

//! Runs `c` in this process. A parse failure is kUnsupported (with the
//! parser's first error); a build/run failure or a wrong value is kFail. Never
//! returns kCrash: a crash takes the process down, which the caller judges.
//!
//! Kiln, like TensorRT, needs the inputs that decide output shapes (axes,
//! shape, pads, sizes, scales, repeats, K, ...) at build time; ONNX's node
//! tests feed them as graph inputs. When the first attempt fails for exactly
//! that reason (the parser asks for a constant, or the builder cannot resolve
//! a shape), the case is built again with its scalar and 1-D inputs turned
//! into initializers holding the test data, and that attempt's outcome counts
//! (CaseResult::constInputs says so; the matrix lists these cases).
CaseResult runCase(const CaseInfo& c);

}  // namespace kiln_conformance
