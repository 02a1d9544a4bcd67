// kilnexec: getting an engine, by building it from ONNX (--onnx) or by
// loading a plan (--loadEngine), through the public API only.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "logger.h"
#include "options.h"

namespace kilnexec {

struct EngineHandle {
  // Declared in this order so that the engine is released before its runtime.
  std::unique_ptr<kiln::IRuntime> runtime;
  std::unique_ptr<kiln::ICudaEngine> engine;
  std::size_t planBytes = 0;
  //! Shapes to run with, per input named by --shapes (or the profile's opt shape).
  std::map<std::string, std::vector<int64_t>> inferenceShapes;
};

//! Builds from --onnx (saving the plan and the timing cache when asked), then
//! deserializes the plan as trtexec does. Throws ToolError.
EngineHandle buildEngine(const Options& options, Logger& logger);

//! Loads --loadEngine. A corrupt or foreign plan fails with the runtime's reason.
EngineHandle loadEngine(const Options& options, Logger& logger);

std::vector<int64_t> toVector(const kiln::Dims& dims);
kiln::Dims toDims(const std::vector<int64_t>& v);

//! Reads a whole file; ToolError naming `flag` and the path when it cannot.
std::string readFile(const std::string& path, const std::string& flag);
//! Writes a whole file; ToolError naming `flag` and the path when it cannot.
void writeFile(const std::string& path, const void* data, std::size_t size, const std::string& flag);

}  // namespace kilnexec
