#include "plan/crc32.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace kiln::plan {
namespace {

// Slicing-by-8 tables: the portable path, and the head / tail of the folded one.
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables makeTables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t s = 1; s < 8; ++s)
    for (uint32_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  return t;
}

constexpr Tables kTables = makeTables();

// The running (pre-inverted) register over `size` bytes, 8 at a time.
uint32_t sliceBy8(uint32_t c, const uint8_t* p, std::size_t size) {
  const auto& t = kTables;
  while (size >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);  // memcpy: any alignment, and a little-endian host (plan_format.h)
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
        t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size--) c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
// Carry-less multiply folding (Intel, "Fast CRC Computation for Generic Polynomials
// Using PCLMULQDQ", 2009; the constants are the bit-reflected x^k mod P of the Linux
// kernel's crc32-pclmul): four 128-bit lanes fold 64 bytes per step, so a plan of
// hundreds of MB is checked at memory speed (slicing-by-8 runs at ~2 GB/s, and was a
// quarter of a warm BERT build). `size` is a multiple of 16 and at least 64.
#define KILN_CRC_TARGET __attribute__((target("pclmul,sse4.1")))
KILN_CRC_TARGET inline __m128i load(const uint8_t* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); }
// x's low half times k's low, its high half times k's high, plus the next block.
KILN_CRC_TARGET inline __m128i fold(__m128i x, __m128i k, __m128i next) {
  return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

KILN_CRC_TARGET uint32_t foldPclmul(uint32_t c, const uint8_t* p, std::size_t size) {
  const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);  // x^(4*128+32), x^(4*128-32) mod P
  const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);  // x^(128+32), x^(128-32) mod P
  const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);
  const __m128i poly = _mm_set_epi64x(0x1F7011641, 0x1DB710641);  // Barrett: u' (high), P' (low)
  const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);

  __m128i x0 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(c)));
  __m128i x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
  p += 64, size -= 64;
  for (; size >= 64; p += 64, size -= 64) {
    x0 = fold(x0, k1k2, load(p));
    x1 = fold(x1, k1k2, load(p + 16));
    x2 = fold(x2, k1k2, load(p + 32));
    x3 = fold(x3, k1k2, load(p + 48));
  }
  __m128i x = fold(fold(fold(x0, k3k4, x1), k3k4, x2), k3k4, x3);
  for (; size >= 16; p += 16, size -= 16) x = fold(x, k3k4, load(p));

  // 128 -> 64 -> 32 bits, then Barrett reduction.
  x = _mm_xor_si128(_mm_clmulepi64_si128(x, k3k4, 0x10), _mm_srli_si128(x, 8));
  x = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x, mask32), k5, 0x00), _mm_srli_si128(x, 4));
  __m128i t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x, mask32), poly, 0x10), mask32);
  x = _mm_xor_si128(x, _mm_clmulepi64_si128(t, poly, 0x00));
  return static_cast<uint32_t>(_mm_extract_epi32(x, 1));
}

bool hasPclmul() {
  static const bool has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return has;
}
#endif

}  // namespace

uint32_t crc32(const void* data, std::size_t size, uint32_t seed) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~seed;
#if defined(__x86_64__)
  if (size >= 64 && hasPclmul()) {
    const std::size_t folded = size & ~std::size_t{15};
    c = foldPclmul(c, p, folded);
    p += folded, size -= folded;
  }
#endif
  return ~sliceBy8(c, p, size);
}

}  // namespace kiln::plan
