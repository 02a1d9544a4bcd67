// Winograd F(4x4, 3x3) transforms (Lavin & Gray, points 0, +-1, +-2, inf):
// a 6x6 input tile d becomes V = B^T d B, a 3x3 filter g becomes U = G g G^T,
// and the 4x4 output tile is A^T (U . V) A, where the 36 element-wise products
// summed over input channels are 36 GEMMs (conv_winograd.cc runs them through
// the packed GEMM of gemm.h). The tile transforms are compiled once per ISA
// (winograd_impl.inc) with tiles in vector lanes; the kernels for this CPU are
// picked once through hostIsa().
#pragma once
#include <cstdint>

#include "backends/cpu/activation.h"

namespace kiln::cpu::winograd {

constexpr int kTile = 4;            //!< output tile edge (m)
constexpr int kAlpha = 6;           //!< input tile edge (m + r - 1)
constexpr int kPoints = kAlpha * kAlpha;
constexpr int kOutLanes = 16;       //!< tiles per output-transform step

//! Input tiles [tile0, tile0 + count) (count <= nr; tiles numbered row-major,
//! tilesW per row, tilesPerImage per image, image after image, so that one
//! panel may span images: small images still fill the GEMM's panels) of
//! channels [c0, c1), written as one B panel of
//! each point's GEMM: V(point p, channel c, lane l) at v[p * pointStride + c * nr + l];
//! lanes past count are zero.
struct InputPanel {
  const float* x = nullptr;  //!< channel 0 of image 0, channels planeStride and images imageStride apart
  int64_t planeStride = 0, imageStride = 0;
  int64_t h = 0, w = 0, padTop = 0, padLeft = 0, tilesW = 0, tilesPerImage = 0;
  int64_t tile0 = 0, count = 0, c0 = 0, c1 = 0;
  int nr = 16;  //!< 16 or 32: the GEMM's panel width
  float* v = nullptr;
  int64_t pointStride = 0;
};

//! The GEMM results M(point p, channel k, tile l) = m[p * pointStride + k * ldm + l]
//! of output channels [k0, k1) and block tiles [0, count) (tile l of the block
//! is tile tile0 + l, numbered as in InputPanel) become output tiles: y = act(A^T M A + bias + residual),
//! only the pixels inside the oh x ow output written.
struct OutputPanel {
  const float* m = nullptr;
  int64_t pointStride = 0, ldm = 0;
  int64_t k0 = 0, k1 = 0, tile0 = 0, count = 0, tilesW = 0, tilesPerImage = 0;
  float* y = nullptr;  //!< channel 0 of output image 0, channels planeStride and images imageStride apart
  int64_t planeStride = 0, imageStride = 0, oh = 0, ow = 0;
  const float* bias = nullptr;      //!< per output channel, or null
  const float* residual = nullptr;  //!< like y, or null
  Activation act;
};

using InputFn = void (*)(const InputPanel& p);
using OutputFn = void (*)(const OutputPanel& p);

struct Kernels {
  const char* isa;
  InputFn input;
  OutputFn output;
};

//! The transforms for this CPU (chosen once).
const Kernels& hostKernels();
//! The transforms of one ISA ("avx512", "avx2", "generic"), or nullptr when
//! this CPU cannot run them.
const Kernels* kernelsForIsa(const char* isa);

const Kernels& genericKernels();
const Kernels& avx2Kernels();
const Kernels& avx512Kernels();

//! U = G g G^T for every (output channel, input channel) filter of a
//! k x c x 3 x 3 weight, in double: u[p * k * c + ko * c + ci] (point-major).
void transformWeights(const float* w, int64_t k, int64_t c, float* u);

}  // namespace kiln::cpu::winograd
