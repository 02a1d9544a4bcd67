// kilnexec: a drop-in for TensorRT's trtexec, written only against Kiln's
// public API (include/kiln). It builds an engine from ONNX or loads a plan,
// runs it with trtexec's timing rules and prints trtexec's report, so that
// scripts written for trtexec work with Kiln. See docs/kilnexec.md.
#include <exception>
#include <iostream>

#include "engine_setup.h"
#include "inference.h"
#ifdef KILNEXEC_HAVE_CUDA
#include "inference_cuda.h"
#endif
#include "logger.h"
#include "options.h"
#include "plugins.h"
#include "report.h"

namespace kilnexec {
namespace {

const char* kTitle = "Kiln.kilnexec [TensorRT-compatible]";

void run(const Options& o, Logger& logger) {
  printOptions(o, logger);
  printDeviceInfo(o, logger);
  loadPlugins(o, logger);

  EngineHandle handle = o.onnx.empty() ? loadEngine(o, logger) : buildEngine(o, logger);
  bool gpuEngine = handle.engine->getDeviceType() == kiln::DeviceType::kGPU;
  if (gpuEngine != (o.device == "cuda"))
    throw ToolError(std::string("the engine is a ") + (gpuEngine ? "CUDA" : "CPU") + " engine; give --device=" +
                    (gpuEngine ? "cuda" : "cpu") + " to run it");
  printEngineInfo(*handle.engine, handle.planBytes, o, logger);
  if (!o.exportLayerInfo.empty()) exportLayerInfo(*handle.engine, o.exportLayerInfo);

  if (o.skipInference) {
    logger.info("Skipped inference phase since --skipInference is added.");
    return;
  }
  InferenceResult result;
  if (gpuEngine) {
#ifdef KILNEXEC_HAVE_CUDA
    runInferenceCuda(*handle.engine, handle.inferenceShapes, o, logger, result);
#else
    throw ToolError("this kilnexec was built without CUDA: it cannot run a CUDA engine");
#endif
  } else {
    runInference(*handle.engine, handle.inferenceShapes, o, logger, result);
  }
  printPerformance(result, o, logger);
  if (o.dumpOutput) printOutputs(result, logger);
  if (result.profiled && o.dumpProfile) printProfile(result.profiler, logger);
  if (!o.exportTimes.empty()) exportTimes(result, o.exportTimes);
  if (!o.exportOutput.empty()) exportOutput(result, o.exportOutput);
  if (!o.exportProfile.empty()) exportProfile(result.profiler, o.exportProfile);
}

}  // namespace
}  // namespace kilnexec

int main(int argc, char** argv) {
  using namespace kilnexec;
  ParseResult parsed = parseOptions(argc, argv);
  if (!parsed.run) return parsed.exitCode;
  const Options& o = parsed.options;

  std::cout << "&&&& RUNNING " << kTitle << " # " << o.commandLine << std::endl;
  Logger logger(o.verbose ? kiln::ILogger::Severity::kVERBOSE : kiln::ILogger::Severity::kINFO);
  bool ok = false;
  try {
    run(o, logger);
    ok = true;
  } catch (const ToolError& e) {
    // An empty message: the library already logged the one-line reason.
    if (*e.what()) logger.error(e.what());
  } catch (const std::bad_alloc&) {
    logger.error("out of memory");
  } catch (const std::exception& e) {
    logger.error(std::string("unexpected error: ") + e.what());
  }
  std::cout << "&&&& " << (ok ? "PASSED " : "FAILED ") << kTitle << " # " << o.commandLine << std::endl;
  return ok ? 0 : 1;
}
