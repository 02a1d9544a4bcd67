// The two kernels of the unfused attention (attention_gemm_kernels.h): the
// products' pointer arrays, and the masked row softmax of S in place.
#include <cfloat>
#include <type_traits>

#include "backends/cuda/ops/attention_gemm_kernels.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;

struct OperandBases {
  const float* at[kGemmOperands];
  AttentionOperand layout[kGemmOperands];
};

__global__ void attentionGemmPointersKernel(OperandBases bases, AttentionShape s, void** pointers) {
  const int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= s.batch) return;
#pragma unroll
  for (int o = 0; o < kGemmOperands; ++o)
    pointers[attentionGemmPointerSlot(o, b, s.batch)] =
        const_cast<float*>(bases.at[o] + attentionOperandOffset(s, bases.layout[o], b));
}

//! The scores of row `row` (b * sq + i) plus its mask, as the kernels below read them.
struct MaskedRow {
  float* scores;
  const float* mask;  //!< null: no mask
  int64_t maskCol;    //!< the mask's column stride

  __device__ float at(int64_t j) const { return mask ? scores[j] + mask[j * maskCol] : scores[j]; }
};

__device__ MaskedRow maskedRow(float* scores, const float* mask, const AttentionShape& s, int64_t ldS, int64_t row) {
  const int64_t b = row / s.sq, i = row % s.sq;
  MaskedRow r;
  r.scores = scores + row * ldS;
  r.mask = mask ? mask + attentionMaskOffset(s, b, i, 0) : nullptr;
  r.maskCol = s.maskColStride;
  return r;
}

// One warp per row of at most 32 * N scores, held in registers: read once, written once
// (the unfused Softmax's warp kernel, kernels.cu, with the mask added on the way in).
template <int N>
__global__ void softmaxRowsInRegisters(float* scores, const float* mask, AttentionShape s, int64_t ldS, int64_t rows) {
  const int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const MaskedRow r = maskedRow(scores, mask, s, ldS, row);
  const int sk = static_cast<int>(s.sk);
  float v[N];
  float m = -FLT_MAX;
#pragma unroll
  for (int j = 0; j < N; ++j) {
    const int k = lane + 32 * j;
    v[j] = k < sk ? r.at(k) : -FLT_MAX;
    m = fmaxf(m, v[j]);
  }
  for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  float sum = 0.f;
#pragma unroll
  for (int j = 0; j < N; ++j)
    if (lane + 32 * j < sk) sum += v[j] = expf(v[j] - m);
  for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
#pragma unroll
  for (int j = 0; j < N; ++j) {
    const int k = lane + 32 * j;
    if (k < sk) r.scores[k] = v[j] / sum;  // an all -inf row: 0 / 0
  }
}

// Longer rows: one warp per row in three passes (the masked scores written back, their
// exponentials' sum, the quotients), the row staying in L1/L2 between them.
__global__ void softmaxRowsInPasses(float* scores, const float* mask, AttentionShape s, int64_t ldS, int64_t rows) {
  const int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const MaskedRow r = maskedRow(scores, mask, s, ldS, row);
  float m = -FLT_MAX;
  for (int64_t k = lane; k < s.sk; k += 32) {
    const float x = r.at(k);
    r.scores[k] = x;
    m = fmaxf(m, x);
  }
  for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  float sum = 0.f;
  for (int64_t k = lane; k < s.sk; k += 32) sum += expf(r.scores[k] - m);
  for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  for (int64_t k = lane; k < s.sk; k += 32) r.scores[k] = expf(r.scores[k] - m) / sum;
}

}  // namespace

void attentionGemmPointers(const float* q, const float* k, const float* v, float* y, float* scores,
                           const AttentionShape& s, void** pointers, cudaStream_t stream) {
  if (s.batch <= 0) return;
  OperandBases bases;
  bases.at[kGemmQ] = q, bases.at[kGemmK] = k, bases.at[kGemmV] = v, bases.at[kGemmY] = y, bases.at[kGemmS] = scores;
  bases.layout[kGemmQ] = s.q, bases.layout[kGemmK] = s.k, bases.layout[kGemmV] = s.v, bases.layout[kGemmY] = s.y;
  bases.layout[kGemmS] = attentionScoresOperand(s);
  const int64_t blocks = (s.batch + kThreads - 1) / kThreads;
  attentionGemmPointersKernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(bases, s, pointers);
}

void attentionGemmSoftmax(float* scores, const float* mask, const AttentionShape& s, cudaStream_t stream) {
  const int64_t rows = s.batch * s.sq;
  if (rows <= 0 || s.sk <= 0) return;
  const int64_t ldS = attentionScoresRowStride(s.sk);
  const int64_t blocks = (rows * 32 + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks);
  auto inRegisters = [&](auto n) {
    softmaxRowsInRegisters<decltype(n)::value><<<grid, kThreads, 0, stream>>>(scores, mask, s, ldS, rows);
  };
  if (s.sk <= 32) inRegisters(std::integral_constant<int, 1>{});
  else if (s.sk <= 64) inRegisters(std::integral_constant<int, 2>{});
  else if (s.sk <= 128) inRegisters(std::integral_constant<int, 4>{});
  else if (s.sk <= 256) inRegisters(std::integral_constant<int, 8>{});
  else if (s.sk <= 512) inRegisters(std::integral_constant<int, 16>{});
  else if (s.sk <= 1024) inRegisters(std::integral_constant<int, 32>{});
  else softmaxRowsInPasses<<<grid, kThreads, 0, stream>>>(scores, mask, s, ldS, rows);
}

}  // namespace kiln::cuda::kernels
