// cuBLASLt, loaded on first use instead of linked.
//
// Why: loading libcublasLt.so costs a process about 150 MB of resident memory
// before it calls anything (measured: a bare dlopen of libcublasLt.so.13
// raised ru_maxrss by 151 MB; cudart 0.4 MB, cuDNN 1 MB), and a CUDA-enabled
// Kiln build links its CUDA backend into every program — also those that
// only run CPU engines, whose peak RSS issue #6 compares with ONNX Runtime's.
// So kiln_cuda does not link cuBLASLt: the functions below, with cuBLASLt's
// own names and signatures, dlopen the library on the first call and forward
// to it. A cuBLASLt function the backend starts using must be added here
// (the link fails until it is).
#include "backends/cuda/cublaslt_lazy.h"

#include <cublasLt.h>

#include <initializer_list>
#include <string>

#include "backends/cuda/lazy_library.h"

namespace kiln::cuda {
namespace {

#define KILN_STR2(x) #x
#define KILN_STR(x) KILN_STR2(x)
constexpr const char* kLibrary = "libcublasLt.so." KILN_STR(CUBLAS_VER_MAJOR);

const LazyLibrary& cublasLt() {
  static const LazyLibrary l(kLibrary);
  return l;
}

template <typename F>
F resolve(const char* name) {
  return cublasLt().resolve<F>(name);
}

}  // namespace

std::string cublasLtLoadError() { return cublasLt().check(std::initializer_list<const char*>{"cublasLtMatmul"}); }

}  // namespace kiln::cuda

// Each forwarder resolves its function once; an unresolved one answers
// CUBLAS_STATUS_NOT_INITIALIZED (createLibraries reports cublasLtLoadError first).
#define KILN_LT_FORWARD(name, params, args)                                             \
  extern "C" cublasStatus_t CUBLASWINAPI name params {                                  \
    static const auto fn = kiln::cuda::resolve<decltype(&::name)>(#name);              \
    return fn ? fn args : CUBLAS_STATUS_NOT_INITIALIZED;                                 \
  }

KILN_LT_FORWARD(cublasLtCreate, (cublasLtHandle_t * handle), (handle))
KILN_LT_FORWARD(cublasLtDestroy, (cublasLtHandle_t handle), (handle))
KILN_LT_FORWARD(cublasLtMatmulDescCreate,
                (cublasLtMatmulDesc_t * desc, cublasComputeType_t computeType, cudaDataType_t scaleType),
                (desc, computeType, scaleType))
KILN_LT_FORWARD(cublasLtMatmulDescDestroy, (cublasLtMatmulDesc_t desc), (desc))
KILN_LT_FORWARD(cublasLtMatmulDescSetAttribute,
                (cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const void* buf, size_t size),
                (desc, attr, buf, size))
KILN_LT_FORWARD(cublasLtMatrixLayoutCreate,
                (cublasLtMatrixLayout_t * layout, cudaDataType type, uint64_t rows, uint64_t cols, int64_t ld),
                (layout, type, rows, cols, ld))
KILN_LT_FORWARD(cublasLtMatrixLayoutDestroy, (cublasLtMatrixLayout_t layout), (layout))
KILN_LT_FORWARD(cublasLtMatrixLayoutSetAttribute,
                (cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attr, const void* buf, size_t size),
                (layout, attr, buf, size))
KILN_LT_FORWARD(cublasLtMatmulPreferenceCreate, (cublasLtMatmulPreference_t * pref), (pref))
KILN_LT_FORWARD(cublasLtMatmulPreferenceDestroy, (cublasLtMatmulPreference_t pref), (pref))
KILN_LT_FORWARD(cublasLtMatmulPreferenceSetAttribute,
                (cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr, const void* buf,
                 size_t size),
                (pref, attr, buf, size))
KILN_LT_FORWARD(cublasLtMatmulAlgoGetHeuristic,
                (cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                 cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                 cublasLtMatmulPreference_t pref, int requested, cublasLtMatmulHeuristicResult_t results[],
                 int* returned),
                (handle, desc, a, b, c, d, pref, requested, results, returned))
KILN_LT_FORWARD(cublasLtMatmulAlgoCheck,
                (cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                 cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                 const cublasLtMatmulAlgo_t* algo, cublasLtMatmulHeuristicResult_t* result),
                (handle, desc, a, b, c, d, algo, result))
KILN_LT_FORWARD(cublasLtMatmul,
                (cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void* alpha, const void* a,
                 cublasLtMatrixLayout_t aDesc, const void* b, cublasLtMatrixLayout_t bDesc, const void* beta,
                 const void* c, cublasLtMatrixLayout_t cDesc, void* d, cublasLtMatrixLayout_t dDesc,
                 const cublasLtMatmulAlgo_t* algo, void* workspace, size_t workspaceBytes, cudaStream_t stream),
                (handle, desc, alpha, a, aDesc, b, bDesc, beta, c, cDesc, d, dDesc, algo, workspace, workspaceBytes,
                 stream))

extern "C" size_t CUBLASWINAPI cublasLtGetVersion(void) {
  static const auto fn = kiln::cuda::resolve<decltype(&::cublasLtGetVersion)>("cublasLtGetVersion");
  return fn ? fn() : 0;
}
