// The strided copy behind Transpose, Slice, Expand, Tile, DepthToSpace and
// SpaceToDepth. Dims are first coalesced (size-1 dims dropped, dims that are
// contiguous in the input merged) so that common cases become a few long
// memcpys; a real transpose (the input's unit-stride axis is not the output's
// last) runs in cache-sized tiles.
#include <algorithm>

#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

constexpr int kLayoutRank = kMaxCopyRank + 1;  // + 1 for an element split into bytes
constexpr int64_t kTile = 32;

struct Layout {
  int rank = 0;
  int64_t dims[kLayoutRank] = {};
  int64_t in[kLayoutRank] = {};
};

// Drops size-1 dims and merges neighbours that are contiguous in the input.
// The output is contiguous, so any merge that keeps the input walk is valid.
void coalesce(Layout& l) {
  int r = 0;
  for (int k = 0; k < l.rank; ++k) {
    if (l.dims[k] == 1) continue;
    if (r > 0 && l.in[r - 1] == l.in[k] * l.dims[k]) {
      l.dims[r - 1] *= l.dims[k];
      l.in[r - 1] = l.in[k];
      continue;
    }
    l.dims[r] = l.dims[k];
    l.in[r] = l.in[k];
    ++r;
  }
  l.rank = r;
}

// Walks a multi-index over `rank` dims, tracking input and output offsets.
struct Cursor {
  int rank = 0;
  const int64_t* dims = nullptr;
  const int64_t* inStr = nullptr;
  const int64_t* outStr = nullptr;
  int64_t idx[kLayoutRank] = {};
  int64_t inOff = 0, outOff = 0;

  void seek(int64_t linear) {
    inOff = outOff = 0;
    for (int k = rank - 1; k >= 0; --k) {
      idx[k] = linear % dims[k];
      linear /= dims[k];
      inOff += idx[k] * inStr[k];
      outOff += idx[k] * outStr[k];
    }
  }
  void next() {
    for (int k = rank - 1; k >= 0; --k) {
      inOff += inStr[k];
      outOff += outStr[k];
      if (++idx[k] < dims[k]) return;
      inOff -= inStr[k] * dims[k];
      outOff -= outStr[k] * dims[k];
      idx[k] = 0;
    }
  }
};

// Rows of the last dim: memcpy when the input row is contiguous, a fill when
// it is broadcast, a strided gather otherwise.
template <typename T>
void copyRows(const Layout& l, T* out, const T* in, int64_t begin, int64_t end) {
  int outer = l.rank - 1;
  int64_t len = l.dims[outer], step = l.in[outer];
  int64_t outStr[kLayoutRank];
  int64_t s = len;
  for (int k = outer - 1; k >= 0; --k) {
    outStr[k] = s;
    s *= l.dims[k];
  }
  Cursor c{outer, l.dims, l.in, outStr};
  c.seek(begin);
  for (int64_t row = begin; row < end; ++row, c.next()) {
    T* o = out + row * len;
    const T* src = in + c.inOff;
    if (step == 1) {
      std::memcpy(o, src, static_cast<std::size_t>(len) * sizeof(T));
    } else if (step == 0) {
      std::fill(o, o + len, *src);
    } else {
      for (int64_t j = 0; j < len; ++j) o[j] = src[j * step];
    }
  }
}

// A transpose: axis p has input stride 1, the last axis q does not. Each work
// item is one (outer index, kTile rows of p) strip, copied in kTile x kTile
// tiles so that both the reads along p and the writes along q stay in cache.
struct TransposePlan {
  int p = 0, q = 0;
  Layout outer;  // every dim but p and q
  int64_t outerOut[kLayoutRank] = {};
  int64_t outStrP = 0, inStrQ = 0, dimP = 0, dimQ = 0, blocksP = 0;
};

TransposePlan planTranspose(const Layout& l, int p) {
  TransposePlan t;
  t.p = p;
  t.q = l.rank - 1;
  int64_t outStr[kLayoutRank];
  int64_t s = 1;
  for (int k = l.rank - 1; k >= 0; --k) {
    outStr[k] = s;
    s *= l.dims[k];
  }
  for (int k = 0; k < l.rank - 1; ++k) {
    if (k == p) continue;
    t.outer.dims[t.outer.rank] = l.dims[k];
    t.outer.in[t.outer.rank] = l.in[k];
    t.outerOut[t.outer.rank] = outStr[k];
    ++t.outer.rank;
  }
  t.outStrP = outStr[p];
  t.inStrQ = l.in[t.q];
  t.dimP = l.dims[p];
  t.dimQ = l.dims[t.q];
  t.blocksP = (t.dimP + kTile - 1) / kTile;
  return t;
}

template <typename T>
void copyTransposed(const TransposePlan& t, T* out, const T* in, int64_t begin, int64_t end) {
  Cursor c{t.outer.rank, t.outer.dims, t.outer.in, t.outerOut};
  c.seek(begin / t.blocksP);
  int64_t block = begin % t.blocksP;
  for (int64_t item = begin; item < end; ++item) {
    int64_t i0 = block * kTile, i1 = std::min(i0 + kTile, t.dimP);
    T* o = out + c.outOff;
    const T* src = in + c.inOff;
    for (int64_t j0 = 0; j0 < t.dimQ; j0 += kTile) {
      int64_t j1 = std::min(j0 + kTile, t.dimQ);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) o[i * t.outStrP + j] = src[i + j * t.inStrQ];
    }
    if (++block == t.blocksP) {
      block = 0;
      c.next();
    }
  }
}

}  // namespace

void stridedCopy(const ExecContext& ctx, void* out, const void* in, int64_t elemSize, int rank,
                 const int64_t* dims, const int64_t* inStrides) {
  KILN_CHECK(rank <= kMaxCopyRank, "strided copy of rank ", rank, " exceeds ", kMaxCopyRank);
  Layout l;
  l.rank = rank;
  int64_t numel = 1;
  for (int k = 0; k < rank; ++k) {
    l.dims[k] = dims[k];
    l.in[k] = inStrides[k];
    numel *= dims[k];
  }
  if (numel == 0) return;
  if (elemSize != 1 && elemSize != 2 && elemSize != 4 && elemSize != 8) {
    // Odd element sizes move as bytes: one more dim for the bytes of an element.
    for (int k = 0; k < rank; ++k) l.in[k] *= elemSize;
    l.dims[l.rank] = elemSize;
    l.in[l.rank] = 1;
    ++l.rank;
    elemSize = 1;
  }
  coalesce(l);
  if (l.rank == 0) {
    std::memcpy(out, in, static_cast<std::size_t>(elemSize));
    return;
  }
  int64_t bytes = numel * elemSize;
  if (l.rank == 1 && l.in[0] == 1) {
    parallelCopy(ctx, out, in, static_cast<std::size_t>(bytes));
    return;
  }
  int transposeAxis = -1;
  if (l.in[l.rank - 1] != 1 && l.in[l.rank - 1] != 0)
    for (int k = 0; k < l.rank - 1; ++k)
      if (l.in[k] == 1) transposeAxis = k;
  dispatchBySize(elemSize, [&]<typename T>() {
    auto* o = static_cast<T*>(out);
    const auto* src = static_cast<const T*>(in);
    if (transposeAxis >= 0) {
      TransposePlan t = planTranspose(l, transposeAxis);
      int64_t outerCount = numel / (t.dimP * t.dimQ);
      maybeParallel(ctx, outerCount * t.blocksP, bytes,
                    [&](int64_t b, int64_t e) { copyTransposed<T>(t, o, src, b, e); });
    } else {
      int64_t rows = numel / l.dims[l.rank - 1];
      maybeParallel(ctx, rows, bytes, [&](int64_t b, int64_t e) { copyRows<T>(l, o, src, b, e); });
    }
  });
}

void parallelCopy(const ExecContext& ctx, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0 || dst == src) return;
  constexpr int64_t kChunk = 16384;
  auto n = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
  maybeParallel(ctx, n, static_cast<int64_t>(bytes), [&](int64_t b, int64_t e) {
    std::size_t from = static_cast<std::size_t>(b * kChunk);
    std::size_t to = std::min(bytes, static_cast<std::size_t>(e * kChunk));
    std::memcpy(static_cast<char*>(dst) + from, static_cast<const char*>(src) + from, to - from);
  });
}

void fillElements(void* dst, const void* value, int64_t elemSize, int64_t count) {
  dispatchBySize(elemSize, [&]<typename T>() {
    T v;
    std::memcpy(&v, value, sizeof(T));
    std::fill(static_cast<T*>(dst), static_cast<T*>(dst) + count, v);
  });
}

}  // namespace kiln::cpu
