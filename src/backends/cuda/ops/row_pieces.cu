// The one-launch Concat/Split copy (row_pieces.h).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/cuda/ops/kernels.h"
#include "backends/cuda/ops/row_pieces.h"

namespace kiln::cuda::kernels {
namespace {

constexpr int kThreads = 256;

template <int Bytes>
struct Word;
template <>
struct Word<16> {
  using type = int4;
};
template <>
struct Word<8> {
  using type = int2;
};
template <>
struct Word<4> {
  using type = int32_t;
};
template <>
struct Word<2> {
  using type = int16_t;
};
template <>
struct Word<1> {
  using type = int8_t;
};

// One thread per word of the packed tensor: its row and column, then the
// piece owning that column (a short scan: pieces are few, and neighbouring
// threads take the same branch).
template <int Bytes, typename Idx>
__global__ void rowPiecesKernel(RowPieces p, char* packed, bool gather, Idx words, Idx rowWords) {
  using W = typename Word<Bytes>::type;
  for (Idx i = blockIdx.x * Idx(blockDim.x) + threadIdx.x; i < words; i += Idx(gridDim.x) * blockDim.x) {
    const Idx row = i / rowWords, col = (i % rowWords) * Bytes;
    int k = 0;
    while (k + 1 < p.count && Idx(p.offset[k + 1]) <= col) ++k;
    const Idx width = Idx(p.offset[k + 1] - p.offset[k]);
    W* dense = reinterpret_cast<W*>(static_cast<char*>(p.piece[k]) + row * width + (col - Idx(p.offset[k])));
    W* wide = reinterpret_cast<W*>(packed + row * Idx(p.pitch) + col);
    if (gather) *wide = *dense;
    else *dense = *wide;
  }
}

template <int Bytes>
void launch(const RowPieces& p, void* packed, bool gather, cudaStream_t stream) {
  const int64_t rowWords = p.offset[p.count] / Bytes, words = p.rows * rowWords;
  if (words <= 0) return;
  const unsigned grid = static_cast<unsigned>(gridFor(words, kThreads));
  if (fitsIn32(p.rows * p.pitch))  // every byte offset the kernel forms is below rows * pitch
    rowPiecesKernel<Bytes, uint32_t><<<grid, kThreads, 0, stream>>>(p, static_cast<char*>(packed), gather,
                                                                     uint32_t(words), uint32_t(rowWords));
  else
    rowPiecesKernel<Bytes, int64_t><<<grid, kThreads, 0, stream>>>(p, static_cast<char*>(packed), gather, words,
                                                                    rowWords);
}

}  // namespace

int rowPiecesWord(const RowPieces& p, const void* packed) {
  uint64_t bits = reinterpret_cast<uintptr_t>(packed) | uint64_t(p.pitch);
  for (int i = 0; i < p.count; ++i) bits |= reinterpret_cast<uintptr_t>(p.piece[i]) | uint64_t(p.offset[i + 1]);
  for (int w : {16, 8, 4, 2})
    if (bits % uint64_t(w) == 0) return w;
  return 1;
}

void copyRowPieces(const RowPieces& p, void* packed, bool gather, cudaStream_t stream) {
  switch (rowPiecesWord(p, packed)) {
    case 16: launch<16>(p, packed, gather, stream); break;
    case 8: launch<8>(p, packed, gather, stream); break;
    case 4: launch<4>(p, packed, gather, stream); break;
    case 2: launch<2>(p, packed, gather, stream); break;
    default: launch<1>(p, packed, gather, stream); break;
  }
}

void copyPieces(void* packed, int64_t rows, int64_t pitch, const std::vector<void*>& pieces,
                const std::vector<int64_t>& widths, bool gather, cudaStream_t stream) {
  if (rows <= 0 || pitch <= 0) return;
  int64_t column = 0;
  for (std::size_t first = 0; first < pieces.size(); first += kMaxRowPieces) {
    RowPieces p;
    p.rows = rows, p.pitch = pitch;
    for (std::size_t i = first; i < pieces.size() && p.count < kMaxRowPieces; ++i) {
      p.piece[p.count] = pieces[i];
      p.offset[p.count + 1] = p.offset[p.count] + widths[i];
      ++p.count;
    }
    if (p.offset[p.count] > 0) copyRowPieces(p, static_cast<char*>(packed) + column, gather, stream);
    column += p.offset[p.count];
  }
}

}  // namespace kiln::cuda::kernels
