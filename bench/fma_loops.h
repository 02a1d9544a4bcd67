// The FMA-throughput loops behind kiln_peak_flops and kiln_gemm_bench's "% of peak": one per
// ISA, compiled with target attributes (no -m flags for the including file), so a binary holds
// them all and picks by CPUID (fmaIsas()): the widest one this CPU runs is the roofline.
#pragma once
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace kiln::bench {

// Independent accumulators per thread: 16 zmm of 32 for AVX-512; 12 ymm of 16 for AVX2 (the
// constants need registers too). Both are >= 8, the FMAs in flight that 2 ports x 4 cycles need.
constexpr int kAcc512 = 16;
constexpr int kAcc256 = 12;

// Each kernel does `iters` x kAcc vector FMAs (kAcc = the ISA's accumulator count) and returns a value that depends on all of
// them, so the compiler cannot drop the loop.
__attribute__((target("avx512f"))) inline float fmaLoopAvx512(int64_t iters) {
  constexpr int kAcc = kAcc512;
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  for (int i = 1; i < kAcc; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc[0]);
  float s = 0;
  for (float v : lanes) s += v;
  return s;
}

__attribute__((target("avx2,fma"))) inline float fmaLoopAvx2(int64_t iters) {
  constexpr int kAcc = kAcc256;
  __m256 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  for (int i = 1; i < kAcc; ++i) acc[0] = _mm256_add_ps(acc[0], acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc[0]);
  float s = 0;
  for (float v : lanes) s += v;
  return s;
}

struct Isa {
  const char* name;
  int lanes;  // floats per vector
  int acc;    // FMAs per loop iteration
  float (*loop)(int64_t);
};

//! The FMA ISAs this CPU runs, widest first (never empty on an x86-64 with AVX2).
inline std::vector<Isa> fmaIsas() {
  __builtin_cpu_init();
  std::vector<Isa> out;
  if (__builtin_cpu_supports("avx512f")) out.push_back({"avx512", 16, kAcc512, fmaLoopAvx512});
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.push_back({"avx2", 8, kAcc256, fmaLoopAvx2});
  return out;
}

//! FLOPs of one call of isa.loop(iters) on one thread.
inline double loopFlops(const Isa& isa, int64_t iters) { return 2.0 * isa.lanes * isa.acc * static_cast<double>(iters); }

}  // namespace kiln::bench
