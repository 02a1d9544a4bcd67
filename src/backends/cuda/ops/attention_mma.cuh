// The tensor-core pieces the attention kernels share (attention.cu: the staged
// kernel; attention_pipelined.cu: the cp.async/ldmatrix one).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cfloat>
#include <cstdint>

#include "backends/cuda/ops/attention_kernels.h"
#include "backends/cuda/ops/element_type.cuh"

namespace kiln::cuda::kernels::attention_mma {

// Tensor-core path. mma.sync.m16n8k16 fragments (PTX ISA "Matrix Fragments for
// mma.m16n8k16"), with g = lane / 4 and t = lane % 4:
//   A (16x16, row-major), 4 registers of 2 elements: a0 (row g,   cols 2t, 2t+1),
//     a1 (row g+8, cols 2t..), a2 (row g, cols 2t+8..), a3 (row g+8, cols 2t+8..);
//   B (16x8, "col": B[k][n]), 2 registers: b0 (k 2t, 2t+1; n g), b1 (k 2t+8, 2t+9; n g);
//   C (16x8, FP32), 4 registers: c0, c1 (row g, cols 2t, 2t+1), c2, c3 (row g+8, same cols).
// The low 16 bits of a register hold the element with the lower column / k.

template <typename T>
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1);

template <>
__device__ __forceinline__ void mma16816<__half>(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

//! Two floats as one register of two T (lo in the low 16 bits).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}

template <typename T>
__device__ __forceinline__ uint32_t load2(const T* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

//! Four 8x8 b16 matrices from shared memory (lanes 8i..8i+7 give matrix i's row
//! addresses); lane (g, t) gets row g, cols 2t and 2t+1 of each: a B fragment
//! pair of a K tile stored [key][dim].
__device__ __forceinline__ void ldmatrixX4(uint32_t r[4], const void* smem) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

//! The same, transposed: lane (g, t) gets rows 2t and 2t+1 of col g of each
//! matrix: B fragments of a V tile stored [key][dim] (k = key, n = dim).
__device__ __forceinline__ void ldmatrixX4Trans(uint32_t r[4], const void* smem) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

//! 16 bytes global -> shared without passing through registers; `valid` false
//! writes 16 zero bytes (src-size 0) and reads nothing (gmem must still be a
//! valid address).
__device__ __forceinline__ void cpAsync16(void* smem, const void* gmem, bool valid) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(a), "l"(gmem), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
//! Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

//! A thread's A fragments of Q K^T for its rows row0 and row0 + 8 of a warp's 16
//! (zeros past sq): qb is the batch entry's first row, rows rowStride elements apart.
template <typename T, int kSteps>
__device__ __forceinline__ void loadQueryFragments(uint32_t (&qf)[kSteps][4], const T* qb, int64_t rowStride,
                                                   int64_t row0, int64_t sq, int t) {
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk)
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int64_t row = row0 + 8 * r;
        qf[kk][r + 2 * c] = row < sq ? load2(qb + row * rowStride + kk * 16 + c * 8 + 2 * t) : 0u;
      }
}

//! One 64-key tile's online-softmax step for a thread's two query rows (row0:
//! r 0, row0 + 8: r 1) of its warp's 16: scale, mask and the padding keys'
//! -inf on the scores `sc` (C fragments of keys kv0 + 8 nt + 2t, +1), the new
//! running max m, the exponentials left in `sc` as P, this thread's part of the
//! row sums l, and the accumulators o rescaled by exp(m_old - m_new).
template <typename T, int kKeyTiles, int kDimTiles>
__device__ __forceinline__ void onlineSoftmaxTile(float (&sc)[kKeyTiles][4], float (&m)[2], float (&l)[2],
                                                  float (&o)[kDimTiles][4], int64_t row0, int64_t kv0, int t,
                                                  const AttentionShape& s, float scale, const T* mb) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t row = row0 + 8 * r;
    float mx = m[r];
#pragma unroll
    for (int nt = 0; nt < kKeyTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int64_t col = kv0 + nt * 8 + 2 * t + e;
        float x = sc[nt][2 * r + e] * scale;
        if (col >= s.sk) x = -INFINITY;
        else if (mb != nullptr && row < s.sq) x += toFloat(mb[row * s.maskRowStride + col * s.maskColStride]);
        sc[nt][2 * r + e] = x;
        mx = fmaxf(mx, x);
      }
    // The 4 threads of a group hold one row's scores.
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float corr = __expf(m[r] - mx);
    m[r] = mx;
    float sum = 0.f;
#pragma unroll
    for (int nt = 0; nt < kKeyTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const float p = __expf(sc[nt][2 * r + e] - mx);
        sc[nt][2 * r + e] = p;
        sum += p;
      }
    l[r] = l[r] * corr + sum;  // this thread's part of the row sum; the group's parts are added at the end
#pragma unroll
    for (int j = 0; j < kDimTiles; ++j) {
      o[j][2 * r] *= corr;
      o[j][2 * r + 1] *= corr;
    }
  }
}

//! y rows row0 and row0 + 8 (those below sq) = o / l, the group's four parts of l
//! added first; yb is the batch entry's first row, rowStride elements apart.
template <typename T, int kDimTiles>
__device__ __forceinline__ void storeOutputRows(const float (&o)[kDimTiles][4], float (&l)[2], int64_t row0, int t,
                                                int64_t sq, T* yb, int64_t rowStride) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    const int64_t row = row0 + 8 * r;
    if (row >= sq) continue;
    T* yr = yb + row * rowStride + 2 * t;
#pragma unroll
    for (int j = 0; j < kDimTiles; ++j)  // l == 0 (every score -inf): 0/0 = NaN, as unfused
      *reinterpret_cast<uint32_t*>(yr + j * 8) = pack2<T>(o[j][2 * r] / l[r], o[j][2 * r + 1] / l[r]);
  }
}

}  // namespace kiln::cuda::kernels::attention_mma
