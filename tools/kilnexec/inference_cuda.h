// kilnexec on a CUDA engine, timed as trtexec times one: per inference stream
// an execution context with its own device buffers (cudaMalloc) and pinned
// host staging (cudaMallocHost); per query H2D copies, enqueueV3 (or one
// cudaGraphLaunch with --useCudaGraph) and D2H copies on three streams,
// bracketed by CUDA events; two queries in flight per stream. Compiled only
// where CMake found CUDA (KILNEXEC_HAVE_CUDA); kilnexec links cudart then.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "inference.h"

namespace kilnexec {

//! trtexec's "Selected Device" lines for the current CUDA device, or why there is none.
void printCudaDevice(Logger& logger);

//! runInference for a CUDA engine: warm-up, the timed run (result.trace holds
//! GPU event times), the profiling run when asked, then stream 0's outputs
//! copied back into result.tensors. Throws ToolError on failure.
void runInferenceCuda(kiln::ICudaEngine& engine, const std::map<std::string, std::vector<int64_t>>& shapes,
                      const Options& options, Logger& logger, InferenceResult& result);

}  // namespace kilnexec
