// Portable GEMM micro-kernels (any x86-64 or other CPU): plain loops the
// compiler vectorizes for the baseline ISA. Also the reference epilogue.
#include <algorithm>

#include "backends/cpu/ukernels/gemm.h"

namespace kiln::cpu::gemm {
namespace {

template <int MRV, int NR>
void ukernel(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b, float* c, int64_t ldc,
             int64_t nr, bool accumulate) {
  float acc[MRV][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float* bk = b + k * NR;
    const float* ak = a + k * csa;
    for (int i = 0; i < MRV; ++i) {
      const float av = ak[i * rsa];
      for (int j = 0; j < NR; ++j) acc[i][j] += av * bk[j];
    }
  }
  for (int i = 0; i < MRV; ++i) {
    float* cr = c + i * ldc;
    if (accumulate)
      for (int64_t j = 0; j < nr; ++j) cr[j] += acc[i][j];
    else
      for (int64_t j = 0; j < nr; ++j) cr[j] = acc[i][j];
  }
}

void epilogue(const Epilogue& ep, float* c, int64_t ldc, int64_t row0, int64_t col0, int64_t mr, int64_t nr) {
  for (int64_t i = 0; i < mr; ++i) {
    float* cr = c + i * ldc;
    const float rb = ep.biasScale * (ep.scalarBias + (ep.rowBias ? ep.rowBias[row0 + i] : 0.f));
    const float* cb = ep.colBias ? ep.colBias + col0 : nullptr;
    const float* mx = ep.matrix ? ep.matrix + (row0 + i) * ep.ldm + col0 : nullptr;
    for (int64_t j = 0; j < nr; ++j) {
      float v = ep.scale * cr[j] + rb;
      if (cb) v += ep.biasScale * cb[j];
      if (mx) v += ep.biasScale * mx[j];
      cr[j] = v;
    }
    activateRow(ep.act, cr, nr);
  }
}

template <int NR>
Ukernels makeTable() {
  Ukernels u{};
  u.isa = "generic";
  u.nr = NR;
  u.kc = 256;
  u.kernel[0] = nullptr;
  u.kernel[1] = ukernel<1, NR>;
  u.kernel[2] = ukernel<2, NR>;
  u.kernel[3] = ukernel<3, NR>;
  u.kernel[4] = ukernel<4, NR>;
  u.kernel[5] = ukernel<5, NR>;
  u.kernel[6] = ukernel<6, NR>;
  u.epilogue = epilogue;
  return u;
}

}  // namespace

const Ukernels& genericUkernels16() {
  static const Ukernels u = makeTable<16>();
  return u;
}

const Ukernels& genericUkernels32() {
  static const Ukernels u = makeTable<32>();
  return u;
}

}  // namespace kiln::cpu::gemm
