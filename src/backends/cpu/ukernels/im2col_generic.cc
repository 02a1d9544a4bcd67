// Portable build of the im2col panel writer (the code is im2col_impl.inc),
// and the choice of the panel writer for this CPU.
#include <cstdint>
#include <string>

#include "backends/cpu/kernel.h"

#include "backends/cpu/ukernels/im2col.h"

namespace kiln::cpu::im2col {
namespace {
#include "backends/cpu/ukernels/im2col_impl.inc"
}  // namespace

PanelFn genericPanelKernel() { return panel; }

PanelFn panelKernelForIsa(const char* isa) {
  const std::string want = isa, host = hostIsa();
  if (want == "generic") return genericPanelKernel();
  if (want == "avx2") return host == "avx2" || host == "avx512" ? avx2PanelKernel() : nullptr;
  if (want == "avx512") return host == "avx512" ? avx512PanelKernel() : nullptr;
  return nullptr;
}

PanelFn hostPanelKernel() {
  static const PanelFn fn = [] {
    PanelFn f = panelKernelForIsa(hostIsa());
    return f ? f : genericPanelKernel();
  }();
  return fn;
}

}  // namespace kiln::cpu::im2col
