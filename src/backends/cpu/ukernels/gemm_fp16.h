// FP16 GEMM for CPUs with AVX512-FP16 (the MatMul / Gemm / Conv FP16 tactics) (vfmadd231ph: 32 half lanes per FMA,
// twice the FP32 rate; the BF16 dot product on such CPUs — Sapphire Rapids
// without AMX — runs at half the FP32 rate, so there FP16 is the reduced
// precision that pays).
//
// C (f32) = epilogue(A * B): A is f32 in memory, converted to fp16 per run
// (row-major, into the workspace; each value stored twice in a 32-bit word,
// which the micro-kernel broadcasts with one load); B is packed at build time into fp16
// panels of kNR = 64 columns (panel j: K rows of 64 halves; columns past N
// are zero). The micro-kernel keeps a kMR x 64 tile in fp16 accumulators
// for at most kChunk steps of K, then adds it into the f32 tile of C: fp16
// sums never run longer than kChunk products (error ~ sqrt(kChunk) * 2^-11
// of a chunk's sum), the chunks are summed in f32.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backends/cpu/ukernels/gemm.h"
#include "core/thread_pool.h"

namespace kiln::cpu::gemm16 {

constexpr int kNR = 64;     //!< columns of a B panel (two zmm of halves)
constexpr int kMR = 12;     //!< rows of a micro-tile
constexpr int kChunk = 64;  //!< K steps summed in fp16 before the f32 add
constexpr int kKc = 256;    //!< K block: kKc x 64 halves of B (32 KiB) stay in L1

//! Whether this CPU has AVX512-FP16 (and AVX-512 F/BW/VL/DQ).
bool hostSupportsFP16();

//! Converts n floats to fp16 (round to nearest even).
void toHalf(const float* x, int64_t n, uint16_t* y);

//! Halves of a packed B (K x N).
inline int64_t packedBSize(int64_t k, int64_t n) { return gemm::roundUp(n, kNR) * k; }
//! Packs B (K x N, B(k, n) = b[k*rsb + n*csb]) into fp16 panels (`out`: packedBSize halves).
void packB(const float* b, int64_t rsb, int64_t csb, int64_t k, int64_t n, uint16_t* out);
//! Converts A (M x K, A(i, k) = a[i*rsa + k*csa]) to row-major fp16 pairs
//! (`out`: M * K words, each h | h << 16), over the pool.
void convertA(ThreadPool& pool, const float* a, int64_t rsa, int64_t csa, int64_t m, int64_t k, uint32_t* out);

//! C (M x N, row stride ldc) = ep(A * B): A from convertA (row stride K), B packed.
void run(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const uint32_t* a, const uint16_t* b, float* c,
         int64_t ldc, const gemm::Epilogue& ep);

}  // namespace kiln::cpu::gemm16
