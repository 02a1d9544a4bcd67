// BF16 GEMM micro-kernels for CPUs with AVX512_BF16 (vdpbf16ps: each 32-bit
// lane sums the products of a pair of bf16 values into an f32 accumulator,
// twice the FP32 FMA rate). Used where Kiln multiplies activations by
// activations in BF16 (KilnAttention.fused_bf16: Q K^T and P V); the weight
// GEMMs' BF16 tactics are oneDNN's (precision.h).
//
// Operands are bf16 pairs along K, each pair one 32-bit word:
//  - A: row-major, row i holds ceil(K/2) words (A(i, 2p) low, A(i, 2p+1)
//    high; an odd K's last high half is 0); the micro-kernel broadcasts one
//    word per row per step.
//  - B: panels of kNR = 32 columns; panel j holds ceil(K/2) rows of 32 words
//    (word (p, t) = B(2p, j*32 + t) low, B(2p+1, j*32 + t) high; columns past
//    N and an odd K's last high half are 0).
// C is f32. Conversions round to nearest even.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kiln::cpu::gemmbf16 {

constexpr int kNR = 32;  //!< columns of a B panel (two zmm of f32 accumulators)
constexpr int kMR = 12;  //!< rows of a micro-tile (24 accumulators)

//! Whether this CPU has AVX512_BF16 (with AVX-512 F/BW/VL/DQ).
bool hostSupportsBF16();

//! Words per A row / B panel row of a K-long dot product.
inline int64_t pairs(int64_t k) { return (k + 1) / 2; }
//! Words of a packed B (K x N).
inline int64_t packedBWords(int64_t k, int64_t n) { return (n + kNR - 1) / kNR * kNR * pairs(k); }

//! Packs B (K x N, B(k, n) = b[k*rsb + n*csb]) times `scale` into panels (`out`: packedBWords).
void packB(const float* b, int64_t rsb, int64_t csb, int64_t k, int64_t n, float scale, uint32_t* out);
//! Converts rows of A (M x K, A(i, k) = a[i*rsa + k]) to pairs; row i at out + i * ldo words.
void convertRows(const float* a, int64_t rsa, int64_t m, int64_t k, uint32_t* out, int64_t ldo);
//! C (M x N, row stride ldc) = A * B: A from convertRows (row stride lda words), B packed.
void compute(int64_t m, int64_t n, int64_t k, const uint32_t* a, int64_t lda, const uint32_t* b, float* c,
             int64_t ldc);

}  // namespace kiln::cpu::gemmbf16
