// Numpy broadcasting for the elementwise kernels, without per-element index
// math: the output shape is collapsed (size-1 dimensions dropped, adjacent
// dimensions merged wherever every input is laid out the same way across
// them), and the work is handed out as runs along the innermost collapsed
// dimension, in which each input is either contiguous or one repeated value.
// So same-shape operands become one run, a scalar operand a run with a
// repeated value, and a "row vector" ([N,C] op [C]) one run per row.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "backends/cpu/kernel.h"
#include "core/error.h"

namespace kiln::cpu {

//! The most inputs one broadcast can walk (KilnFusedElementwise is the widest user).
constexpr int kMaxBroadcastInputs = 16;

struct Broadcast {
  int numInputs = 0;
  int rank = 0;  //!< collapsed rank; >= 1
  int64_t numel = 0;
  int64_t dims[kMaxRank] = {};
  //! Element strides per input and collapsed dimension; 0 where the input repeats.
  int64_t strides[kMaxBroadcastInputs][kMaxRank] = {};

  //! True when input k is contiguous along the innermost dimension (else it repeats one value).
  bool innerContiguous(int k) const { return strides[k][rank - 1] != 0; }
};

//! Plans walking `n` inputs, each broadcast (numpy rules) to `out`'s shape.
//! Throws when an input cannot be broadcast to it.
inline Broadcast planBroadcast(const TensorView& out, const TensorView* inputs, int n) {
  KILN_CHECK(n >= 1 && n <= kMaxBroadcastInputs, "broadcast of ", n, " inputs is not supported (at most ",
             kMaxBroadcastInputs, ")");
  Broadcast p;
  p.numInputs = n;
  p.numel = out.numel();
  int64_t inStride[kMaxBroadcastInputs] = {};  // running contiguous stride of each input, innermost first
  for (int k = 0; k < n; ++k) {
    KILN_CHECK(inputs[k].rank <= out.rank, "cannot broadcast an input of rank ", inputs[k].rank, " to rank ",
               out.rank);
    inStride[k] = 1;
  }
  // Walk dimensions innermost first, building the collapsed dims in reverse.
  int64_t rdims[kMaxRank];
  int64_t rstrides[kMaxBroadcastInputs][kMaxRank];
  int r = 0;
  for (int d = out.rank - 1; d >= 0; --d) {
    int64_t size = out.dims[d];
    int64_t s[kMaxBroadcastInputs];
    for (int k = 0; k < n; ++k) {
      int di = d - (out.rank - inputs[k].rank);
      int64_t in = di >= 0 ? inputs[k].dims[di] : 1;
      KILN_CHECK(in == size || in == 1, "cannot broadcast dimension ", di, " of size ", in, " to size ", size);
      s[k] = (in == size && size != 1) ? inStride[k] : 0;
      inStride[k] *= in;
    }
    if (size == 1) continue;
    // Merge with the next-inner collapsed dim when every input continues it seamlessly.
    bool merge = r > 0;
    for (int k = 0; k < n && merge; ++k) merge = s[k] == rstrides[k][r - 1] * rdims[r - 1];
    if (merge) {
      rdims[r - 1] *= size;
      continue;
    }
    rdims[r] = size;
    for (int k = 0; k < n; ++k) rstrides[k][r] = s[k];
    ++r;
  }
  if (r == 0) {  // a single element
    rdims[0] = 1;
    for (int k = 0; k < n; ++k) rstrides[k][0] = 0;
    r = 1;
  }
  p.rank = r;
  for (int i = 0; i < r; ++i) {
    p.dims[i] = rdims[r - 1 - i];
    for (int k = 0; k < n; ++k) p.strides[k][i] = rstrides[k][r - 1 - i];
  }
  return p;
}

//! Calls fn(const int64_t* inOffsets, int64_t outOffset, int64_t len) for the
//! consecutive runs covering output elements [begin, end). Along a run input k
//! advances by p.strides[k][p.rank - 1] (0 or 1) per element.
template <typename Fn>
void forEachRun(const Broadcast& p, int64_t begin, int64_t end, Fn&& fn) {
  if (begin >= end) return;
  const int r = p.rank, n = p.numInputs;
  int64_t coord[kMaxRank];
  int64_t off[kMaxBroadcastInputs] = {};
  int64_t rem = begin;
  for (int d = r - 1; d >= 0; --d) {
    coord[d] = rem % p.dims[d];
    rem /= p.dims[d];
  }
  for (int k = 0; k < n; ++k)
    for (int d = 0; d < r; ++d) off[k] += coord[d] * p.strides[k][d];
  const int64_t inner = p.dims[r - 1];
  for (int64_t pos = begin; pos < end;) {
    int64_t len = std::min(inner - coord[r - 1], end - pos);
    fn(static_cast<const int64_t*>(off), pos, len);
    pos += len;
    if (pos >= end) break;
    // The run ended at the end of a row: step to the start of the next one.
    for (int k = 0; k < n; ++k) off[k] -= coord[r - 1] * p.strides[k][r - 1];
    coord[r - 1] = 0;
    for (int d = r - 2; d >= 0; --d) {
      ++coord[d];
      for (int k = 0; k < n; ++k) off[k] += p.strides[k][d];
      if (coord[d] < p.dims[d]) break;
      for (int k = 0; k < n; ++k) off[k] -= coord[d] * p.strides[k][d];
      coord[d] = 0;
    }
  }
}

//! Splits [0, numel) into blocks of `grain` elements spread over the pool and
//! walks each block's runs. Small tensors run on the calling thread.
template <typename Fn>
void parallelRuns(const ExecContext& ctx, const Broadcast& p, int64_t grain, Fn&& fn) {
  int64_t numel = p.numel;
  int64_t blocks = (numel + grain - 1) / grain;
  ctx.pool->parallelFor(blocks, [&](int64_t b, int64_t e) {
    forEachRun(p, b * grain, std::min(e * grain, numel), fn);
  });
}

//! parallelFor over [0, n) in blocks of `grain` for flat (non-broadcast) loops:
//! fn(begin, end).
template <typename Fn>
void parallelFlat(const ExecContext& ctx, int64_t n, int64_t grain, Fn&& fn) {
  int64_t blocks = (n + grain - 1) / grain;
  ctx.pool->parallelFor(blocks, [&](int64_t b, int64_t e) { fn(b * grain, std::min(e * grain, n)); });
}

// Elements per thread block: memory-bound loops want big blocks, transcendental ones smaller.
constexpr int64_t kGrainCheap = 32768;
constexpr int64_t kGrainCostly = 4096;

//! Calls fn(T{}) with T the C++ type of a numeric dtype that the math
//! kernels serve (float32, float64, int32, int64); returns false for other dtypes.
template <typename Fn>
bool dispatchNumeric(DType t, Fn&& fn) {
  switch (t) {
    case DType::kFLOAT: fn(float{}); return true;
    case DType::kDOUBLE: fn(double{}); return true;
    case DType::kINT32: fn(int32_t{}); return true;
    case DType::kINT64: fn(int64_t{}); return true;
    default: return false;
  }
}

inline bool isNumericType(DType t) {
  return t == DType::kFLOAT || t == DType::kDOUBLE || t == DType::kINT32 || t == DType::kINT64;
}

//! dispatchNumeric plus the 8/16-bit and unsigned integers: the types ONNX
//! defines Add/Sub/Mul/Div, Max/Min, Mod, comparisons and Clip on (the cheap
//! ops; Pow's base and the reductions stay on dispatchNumeric).
template <typename Fn>
bool dispatchArith(DType t, Fn&& fn) {
  switch (t) {
    case DType::kINT8: fn(int8_t{}); return true;
    case DType::kUINT8: fn(uint8_t{}); return true;
    case DType::kINT16: fn(int16_t{}); return true;
    case DType::kUINT16: fn(uint16_t{}); return true;
    case DType::kUINT32: fn(uint32_t{}); return true;
    case DType::kUINT64: fn(uint64_t{}); return true;
    default: return dispatchNumeric(t, fn);
  }
}

inline bool isArithType(DType t) {
  switch (t) {
    case DType::kINT8: case DType::kUINT8: case DType::kINT16: case DType::kUINT16: case DType::kUINT32:
    case DType::kUINT64: return true;
    default: return isNumericType(t);
  }
}

//! The integer types (the bitwise ops' domain).
template <typename Fn>
bool dispatchInteger(DType t, Fn&& fn) {
  switch (t) {
    case DType::kINT8: fn(int8_t{}); return true;
    case DType::kUINT8: fn(uint8_t{}); return true;
    case DType::kINT16: fn(int16_t{}); return true;
    case DType::kUINT16: fn(uint16_t{}); return true;
    case DType::kINT32: fn(int32_t{}); return true;
    case DType::kUINT32: fn(uint32_t{}); return true;
    case DType::kINT64: fn(int64_t{}); return true;
    case DType::kUINT64: fn(uint64_t{}); return true;
    default: return false;
  }
}

inline bool isIntegerType(DType t) { return isArithType(t) && t != DType::kFLOAT && t != DType::kDOUBLE; }

}  // namespace kiln::cpu
