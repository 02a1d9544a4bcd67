// Unary and broadcasting binary kernels (kernels.h: unary, binary). These are
// memory-bound, so the work is moving bytes: where the pointers are 16-byte
// aligned each thread moves 16 bytes at a time (float4 / 8 halves / 8 bf16),
// the elements beyond the last whole vector in a scalar tail; grid-stride
// loops sized to the SM count. A binary operand that repeats with a period
// over the output (same shape, scalar, bias row, positional table:
// BroadcastShape::aPeriod) is read at i % period, one modulo per vector; only
// other broadcasts keep the per-element index walk. FP32 math throughout. No
// __restrict__: a GEMM's after-activation runs in place (y == x).
#include <atomic>
#include <cstdint>

#include "backends/cuda/ops/activation.cuh"
#include "backends/cuda/ops/element_type.cuh"
#include "backends/cuda/ops/kernels.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;

//! Blocks for `work` items of kThreads threads: enough for a few waves on this
//! GPU (grid-stride loops do the rest), never more than the work needs.
int64_t gridForSMs(int64_t work) {
  static std::atomic<int> sms{0};
  int count = sms.load(std::memory_order_relaxed);
  if (count == 0) {
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || count <= 0)
      count = 132;  // an H100/H200's count: only the grid size depends on it
    sms.store(count, std::memory_order_relaxed);
  }
  const int64_t blocks = (work + kThreads - 1) / kThreads, cap = int64_t(count) * 16;  // 16 blocks of 256 per SM
  return blocks < 1 ? 1 : (blocks > cap ? cap : blocks);
}

template <typename T, int V>
__global__ void unaryKernel(const T* x, T* y, int64_t n, UnaryParams p) {
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, step = int64_t(gridDim.x) * blockDim.x;
  const int64_t vectors = n / V;
  for (int64_t i = first; i < vectors; i += step) {
    Vec<T, V> v = reinterpret_cast<const Vec<T, V>*>(x)[i];
#pragma unroll
    for (int j = 0; j < V; ++j) v.v[j] = fromFloat<T>(applyUnary(p, toFloat(v.v[j])));
    reinterpret_cast<Vec<T, V>*>(y)[i] = v;
  }
  for (int64_t i = vectors * V + first; i < n; i += step) store(y, i, applyUnary(p, load(x, i)));
}

//! V consecutive elements of an operand of period `period` from flat index `base` (a multiple of V).
template <typename T, int V, typename Idx>
__device__ __forceinline__ Vec<T, V> loadPeriodic(const T* p, Idx period, Idx base) {
  Vec<T, V> v;
  if (period == 1) {
#pragma unroll
    for (int j = 0; j < V; ++j) v.v[j] = p[0];
  } else {
    v = *reinterpret_cast<const Vec<T, V>*>(p + base % period);
  }
  return v;
}

// y[i] = then(op(a[i % aPeriod], b[i % bPeriod])). The launcher guarantees,
// for V > 1, 16-byte aligned pointers and periods that are 1, n, or multiples of V.
template <typename T, int V, typename Idx>
__global__ void binaryPeriodicKernel(const T* a, const T* b, T* y, Idx n,
                                     Idx aPeriod, Idx bPeriod, Binary op, UnaryParams then) {
  const Idx first = blockIdx.x * Idx(blockDim.x) + threadIdx.x, step = Idx(gridDim.x) * blockDim.x;
  const Idx vectors = n / V;
  for (Idx i = first; i < vectors; i += step) {
    const Vec<T, V> va = loadPeriodic<T, V>(a, aPeriod, i * V), vb = loadPeriodic<T, V>(b, bPeriod, i * V);
    Vec<T, V> vy;
#pragma unroll
    for (int j = 0; j < V; ++j)
      vy.v[j] = fromFloat<T>(applyUnary(then, applyBinary(op, toFloat(va.v[j]), toFloat(vb.v[j]))));
    reinterpret_cast<Vec<T, V>*>(y)[i] = vy;
  }
  for (Idx i = vectors * V + first; i < n; i += step)
    store(y, i, applyUnary(then, applyBinary(op, load(a, i % aPeriod), load(b, i % bPeriod))));
}

template <typename T, typename Idx>
__global__ void binaryBroadcastKernel(const T* a, const T* b, T* y, Idx n, BroadcastShape s, Binary op,
                                      UnaryParams then) {
  for (Idx i = blockIdx.x * Idx(blockDim.x) + threadIdx.x; i < n; i += Idx(gridDim.x) * blockDim.x) {
    Idx rest = i, ia = 0, ib = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      const Idx dim = Idx(s.dims[d]);
      Idx coord = rest % dim;
      rest /= dim;
      ia += coord * Idx(s.aStrides[d]);
      ib += coord * Idx(s.bStrides[d]);
    }
    store(y, i, applyUnary(then, applyBinary(op, load(a, ia), load(b, ib))));
  }
}

//! Whether the vector kernel may read an operand of `period` over n elements in vectors of V.
bool vectorPeriod(int64_t period, int64_t n, int v) { return period == 1 || period == n || period % v == 0; }

template <typename T, typename Idx>
void launchPeriodic(const T* a, const T* b, T* y, int64_t n, const BroadcastShape& s, Binary op, UnaryParams then,
                    cudaStream_t stream) {
  constexpr int V = kVec16<T>;
  const bool vector = aligned16(y) && (s.aPeriod == 1 || aligned16(a)) && (s.bPeriod == 1 || aligned16(b)) &&
                      vectorPeriod(s.aPeriod, n, V) && vectorPeriod(s.bPeriod, n, V);
  if (vector)
    binaryPeriodicKernel<T, V, Idx><<<gridForSMs(n / V), kThreads, 0, stream>>>(a, b, y, Idx(n), Idx(s.aPeriod),
                                                                                Idx(s.bPeriod), op, then);
  else
    binaryPeriodicKernel<T, 1, Idx><<<gridForSMs(n), kThreads, 0, stream>>>(a, b, y, Idx(n), Idx(s.aPeriod),
                                                                           Idx(s.bPeriod), op, then);
}

}  // namespace

void unary(const void* x, void* y, int64_t n, UnaryParams p, Elem elem, cudaStream_t stream) {
  if (n <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int V = kVec16<T>;
    const T* tx = static_cast<const T*>(x);
    T* ty = static_cast<T*>(y);
    if (aligned16(x) && aligned16(y))
      unaryKernel<T, V><<<gridForSMs(n / V), kThreads, 0, stream>>>(tx, ty, n, p);
    else
      unaryKernel<T, 1><<<gridForSMs(n), kThreads, 0, stream>>>(tx, ty, n, p);
  });
}

void binary(const void* a, const void* b, void* y, const BroadcastShape& s, Binary op, UnaryParams then, Elem elem,
            cudaStream_t stream) {
  int64_t n = 1;
  for (int d = 0; d < s.rank; ++d) n *= s.dims[d];
  if (n <= 0) return;
  dispatchElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *ta = static_cast<const T*>(a), *tb = static_cast<const T*>(b);
    T* ty = static_cast<T*>(y);
    // The operands are no larger than y: where y's offsets fit 32 bits, theirs do too.
    if (s.aPeriod > 0 && s.bPeriod > 0) {
      if (fitsIn32(n)) launchPeriodic<T, uint32_t>(ta, tb, ty, n, s, op, then, stream);
      else launchPeriodic<T, int64_t>(ta, tb, ty, n, s, op, then, stream);
    } else if (fitsIn32(n)) {
      binaryBroadcastKernel<T, uint32_t><<<gridForSMs(n), kThreads, 0, stream>>>(ta, tb, ty, uint32_t(n), s, op, then);
    } else {
      binaryBroadcastKernel<T, int64_t><<<gridForSMs(n), kThreads, 0, stream>>>(ta, tb, ty, n, s, op, then);
    }
  });
}

}  // namespace kiln::cuda::kernels
