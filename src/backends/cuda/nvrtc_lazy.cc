// NVRTC, loaded on first use instead of linked (as cuBLASLt: cublaslt_lazy.cc).
//
// Why: only a CUDA *build* that fuses an elementwise chain compiles code
// (ops/fused_elementwise.cc); running a plan loads the cubin it carries and
// never needs NVRTC. Linking libnvrtc would cost every process that links
// kiln_cuda ~30 MB of resident memory at start (measured: a bare dlopen of
// libnvrtc.so.13 raised ru_maxrss by 29.6 MB), CPU-only runs included. The
// forwarders below have NVRTC's own names and signatures and dlopen the library
// on the first call; an NVRTC function the backend starts using must be added
// here (the link fails until it is).
#include "backends/cuda/nvrtc_lazy.h"

#include <cuda_runtime_api.h>  // CUDART_VERSION: NVRTC ships with the toolkit, same major version
#include <nvrtc.h>

#include <initializer_list>
#include <string>

#include "backends/cuda/lazy_library.h"

namespace kiln::cuda {
namespace {

const LazyLibrary& nvrtc() {
  static const LazyLibrary l("libnvrtc.so." + std::to_string(CUDART_VERSION / 1000));
  return l;
}

template <typename F>
F resolve(const char* name) {
  return nvrtc().resolve<F>(name);
}

}  // namespace

std::string nvrtcLoadError() {
  return nvrtc().check(std::initializer_list<const char*>{"nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetCUBIN"});
}

}  // namespace kiln::cuda

// Each forwarder resolves its function once; an unresolved one answers
// NVRTC_ERROR_INTERNAL_ERROR (callers report nvrtcLoadError() first).
#define KILN_NVRTC_FORWARD(name, params, args)                               \
  extern "C" nvrtcResult name params {                                       \
    static const auto fn = kiln::cuda::resolve<decltype(&::name)>(#name);    \
    return fn ? fn args : NVRTC_ERROR_INTERNAL_ERROR;                        \
  }

KILN_NVRTC_FORWARD(nvrtcVersion, (int* major, int* minor), (major, minor))
KILN_NVRTC_FORWARD(nvrtcCreateProgram,
                   (nvrtcProgram * prog, const char* src, const char* name, int numHeaders, const char* const* headers,
                    const char* const* includeNames),
                   (prog, src, name, numHeaders, headers, includeNames))
KILN_NVRTC_FORWARD(nvrtcDestroyProgram, (nvrtcProgram * prog), (prog))
KILN_NVRTC_FORWARD(nvrtcCompileProgram, (nvrtcProgram prog, int numOptions, const char* const* options),
                   (prog, numOptions, options))
KILN_NVRTC_FORWARD(nvrtcGetProgramLogSize, (nvrtcProgram prog, size_t* logSizeRet), (prog, logSizeRet))
KILN_NVRTC_FORWARD(nvrtcGetProgramLog, (nvrtcProgram prog, char* log), (prog, log))
KILN_NVRTC_FORWARD(nvrtcGetCUBINSize, (nvrtcProgram prog, size_t* cubinSizeRet), (prog, cubinSizeRet))
KILN_NVRTC_FORWARD(nvrtcGetCUBIN, (nvrtcProgram prog, char* cubin), (prog, cubin))

extern "C" const char* nvrtcGetErrorString(nvrtcResult result) {
  static const auto fn = kiln::cuda::resolve<decltype(&::nvrtcGetErrorString)>("nvrtcGetErrorString");
  return fn ? fn(result) : "NVRTC is not loaded";
}
