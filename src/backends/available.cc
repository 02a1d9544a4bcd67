// Which backends this build has: the only file that knows whether the CUDA
// backend was compiled in (KILN_HAVE_CUDA, set by cmake/KilnCuda.cmake).
#include "backends/backend.h"

#if KILN_HAVE_CUDA
#include "backends/cuda/backend.h"
#endif

namespace kiln::backends {

const DeviceBackend* cudaBackend() {
#if KILN_HAVE_CUDA
  return &cuda::backend();
#else
  return nullptr;
#endif
}

HostDevice cudaHost() {
  if (const DeviceBackend* b = cudaBackend()) return b->host();
  HostDevice h;
  h.unavailable = "this Kiln was built without the CUDA backend (KILN_CUDA=OFF, or no CUDA toolkit when it was built)";
  return h;
}

}  // namespace kiln::backends
