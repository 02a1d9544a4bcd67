// Building blocks shared by the data-movement kernels (tensor*.cc, pad.cc).
// They work on raw elements of 1, 2, 4 or 8 bytes, so every kernel built on
// them is dtype-agnostic.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "backends/cpu/kernel.h"
#include "core/error.h"

namespace kiln::cpu {

//! Tile views a rank-r tensor as rank 2r, so strided copies go that far.
constexpr int kMaxCopyRank = 2 * kMaxRank;

//! Copies below this many bytes run on the calling thread: waking the pool
//! costs more than it saves.
constexpr int64_t kParallelCopyBytes = int64_t{1} << 17;

//! Writes a contiguous output of shape dims[0..rank) where element
//! (i0, ..., ik) is read from in + sum(ik * inStrides[k]) (strides in
//! elements; 0 broadcasts, negative walks backwards). Transposes, slices,
//! broadcasts and tiles are all this copy with different strides. Coalesces
//! dims, uses memcpy for contiguous rows and blocked tiles for transposes, and
//! multithreads large copies.
void stridedCopy(const ExecContext& ctx, void* out, const void* in, int64_t elemSize, int rank,
                 const int64_t* dims, const int64_t* inStrides);

//! memcpy split across the pool when large.
void parallelCopy(const ExecContext& ctx, void* dst, const void* src, std::size_t bytes);

//! Row-major strides (in elements) of `v`.
inline void contiguousStrides(const TensorView& v, int64_t* strides) {
  int64_t s = 1;
  for (int k = v.rank - 1; k >= 0; --k) {
    strides[k] = s;
    s *= v.dims[k];
  }
}

inline int64_t elementSize(const TensorView& v) { return dtypeSize(v.dtype); }

//! Element `i` of an int32 or int64 view (index and shape inputs).
inline int64_t readIndex(const TensorView& v, int64_t i) {
  return v.dtype == DType::kINT32 ? static_cast<int64_t>(v.as<const int32_t>()[i]) : v.as<const int64_t>()[i];
}

//! Calls fn.template operator()<T>() with the unsigned integer type whose size
//! is `elemSize` (the element types the copy kernels move around).
template <typename Fn>
void dispatchBySize(int64_t elemSize, Fn&& fn) {
  switch (elemSize) {
    case 1: fn.template operator()<uint8_t>(); break;
    case 2: fn.template operator()<uint16_t>(); break;
    case 4: fn.template operator()<uint32_t>(); break;
    case 8: fn.template operator()<uint64_t>(); break;
    default: fail("data-movement kernels support elements of 1, 2, 4 or 8 bytes, got ", elemSize);
  }
}

//! Fills `count` elements of `elemSize` bytes at dst with the element at value.
void fillElements(void* dst, const void* value, int64_t elemSize, int64_t count);

//! Splits `work` (some measure of bytes) into a parallelFor over n items when
//! large, else runs fn(0, n) inline.
template <typename Fn>
void maybeParallel(const ExecContext& ctx, int64_t n, int64_t workBytes, Fn&& fn) {
  if (workBytes >= kParallelCopyBytes && ctx.pool && ctx.pool->size() > 1 && n > 1)
    ctx.pool->parallelFor(n, fn);
  else if (n > 0)
    fn(int64_t{0}, n);
}

//! Data-movement tactics support any dtype of 1, 2, 4 or 8 bytes.
inline bool supportsElementSizes(const ir::Node& node) {
  for (const ir::Value* v : node.outputs) {
    if (!v) continue;
    int32_t size = dtypeSize(v->dtype);
    if (size != 1 && size != 2 && size != 4 && size != 8) return false;
    if (v->shape.size() > static_cast<std::size_t>(kMaxRank)) return false;
  }
  return true;
}

//! The "<op>.ref" tactic whose kernel is K(node).
template <typename K>
Tactic refTactic(const char* op, bool (*supports)(const ir::Node&) = supportsElementSizes) {
  Tactic t;
  t.name = std::string(op) + ".ref";
  t.op = op;
  t.supports = supports;
  t.create = [](const ir::Node& node) -> std::unique_ptr<Kernel> { return std::make_unique<K>(node); };
  return t;
}

// The kernel families built on these helpers; registerTensorKernels calls each.
void registerReshapeLikeKernels(TacticRegistry& r);  // tensor.cc
void registerConcatSliceKernels(TacticRegistry& r);  // tensor_concat.cc
void registerGatherKernels(TacticRegistry& r);       // tensor_gather.cc
void registerLayoutKernels(TacticRegistry& r);       // tensor_layout.cc
void registerPadKernels(TacticRegistry& r);          // pad.cc
void registerSelectKernels(TacticRegistry& r);       // tensor_select.cc
void registerScatterKernels(TacticRegistry& r);      // tensor_scatter.cc

}  // namespace kiln::cpu
