// kilnexec: what is printed and exported, in trtexec's shapes, so that scripts
// written for trtexec's output and JSON files read Kiln's unchanged.
#pragma once
#include <string>

#include "inference.h"
#include "kiln/kiln.h"
#include "logger.h"
#include "options.h"

namespace kilnexec {

//! "=== Model Options ===", "=== Build Options ===", "=== Inference Options ===", ...
void printOptions(const Options& options, Logger& logger);
//! "=== Device Information ===": the CPU and the thread count.
void printDeviceInfo(const Options& options, Logger& logger);
//! "=== Engine ===": plan size, arena size, layers, IO tensors.
void printEngineInfo(const kiln::ICudaEngine& engine, std::size_t planBytes, const Options& options, Logger& logger);

//! "=== Trace details ===" and "=== Performance summary ===".
void printPerformance(const InferenceResult& result, const Options& options, Logger& logger);
//! "=== Profile (N iterations ) ===" table (--dumpProfile).
void printProfile(const LayerProfiler& profiler, Logger& logger);
//! The outputs as numbers (--dumpOutput).
void printOutputs(const InferenceResult& result, Logger& logger);

// JSON exports; each throws ToolError naming its flag and path when the file cannot be written.
void exportTimes(const InferenceResult& result, const std::string& path);
void exportProfile(const LayerProfiler& profiler, const std::string& path);
void exportOutput(const InferenceResult& result, const std::string& path);
void exportLayerInfo(const kiln::ICudaEngine& engine, const std::string& path);

}  // namespace kilnexec
