// Portable build of the Winograd tile transforms (the code is
// winograd_impl.inc), the choice of the transforms for this CPU, and the
// build-time filter transform.
#include <algorithm>
#include <cstdint>
#include <string>

#include "backends/cpu/kernel.h"
#include "backends/cpu/ukernels/gemm.h"
#include "backends/cpu/ukernels/winograd.h"

namespace kiln::cpu::winograd {
namespace {
#include "backends/cpu/ukernels/winograd_impl.inc"

// G of F(4x4, 3x3) for the points 0, 1, -1, 2, -2 and infinity.
constexpr double kG[kAlpha][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};
}  // namespace

const Kernels& genericKernels() {
  static const Kernels k{"generic", inputPanel, outputPanel};
  return k;
}

const Kernels* kernelsForIsa(const char* isa) {
  const std::string want = isa, host = hostIsa();
  if (want == "generic") return &genericKernels();
  if (want == "avx2") return host == "avx2" || host == "avx512" ? &avx2Kernels() : nullptr;
  if (want == "avx512") return host == "avx512" ? &avx512Kernels() : nullptr;
  return nullptr;
}

const Kernels& hostKernels() {
  static const Kernels* k = [] {
    const Kernels* h = kernelsForIsa(hostIsa());
    return h ? h : &genericKernels();
  }();
  return *k;
}

void transformWeights(const float* w, int64_t k, int64_t c, float* u) {
  for (int64_t ko = 0; ko < k; ++ko)
    for (int64_t ci = 0; ci < c; ++ci) {
      const float* g = w + (ko * c + ci) * 9;
      double gt[kAlpha][3];  // G g
      for (int i = 0; i < kAlpha; ++i)
        for (int j = 0; j < 3; ++j)
          gt[i][j] = kG[i][0] * g[0 * 3 + j] + kG[i][1] * g[1 * 3 + j] + kG[i][2] * g[2 * 3 + j];
      for (int i = 0; i < kAlpha; ++i)
        for (int j = 0; j < kAlpha; ++j) {
          const double v = gt[i][0] * kG[j][0] + gt[i][1] * kG[j][1] + gt[i][2] * kG[j][2];
          u[(i * kAlpha + j) * k * c + ko * c + ci] = static_cast<float>(v);
        }
    }
}

}  // namespace kiln::cpu::winograd
