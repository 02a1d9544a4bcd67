#include "plan/crc32.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kiln::plan {
namespace {

uint32_t bitwiseCrc(const uint8_t* p, std::size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return ~c;
}

TEST(Crc32, KnownValues) {
  std::string check = "123456789";
  EXPECT_EQ(crc32(check.data(), check.size()), 0xCBF43926u);  // the standard check value
  EXPECT_EQ(crc32(nullptr, 0), 0u);
  std::string fox = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(crc32(fox.data(), fox.size()), 0x414FA339u);
}

TEST(Crc32, MatchesBitwiseAtEveryLengthAndAlignment) {
  // Lengths past 64 take the carry-less folding path (where the CPU has it).
  std::vector<uint8_t> data(300);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + 7);
  for (std::size_t start = 0; start < 9; ++start)
    for (std::size_t n = 0; start + n <= data.size(); n += (n < 40 ? 1 : 37))
      EXPECT_EQ(crc32(data.data() + start, n), bitwiseCrc(data.data() + start, n)) << start << " " << n;
}

TEST(Crc32, SeedContinues) {
  std::vector<uint8_t> data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i ^ (i >> 3));
  uint32_t whole = crc32(data.data(), data.size());
  for (std::size_t cut : {0, 1, 7, 8, 513, 999, 1000})
    EXPECT_EQ(crc32(data.data() + cut, data.size() - cut, crc32(data.data(), cut)), whole) << cut;
}

TEST(Crc32, LargeBuffersMatchBitwise) {
  // Many 64-byte folding steps, every remainder of 16, odd seeds.
  std::vector<uint8_t> data(1 << 16);
  uint32_t x = 12345;
  for (uint8_t& b : data) b = static_cast<uint8_t>((x = x * 1103515245u + 12345u) >> 23);
  for (std::size_t n : {64u, 65u, 79u, 80u, 127u, 128u, 1000u, 4096u, 65535u, 65536u}) {
    EXPECT_EQ(crc32(data.data(), n), bitwiseCrc(data.data(), n)) << n;
    EXPECT_EQ(crc32(data.data() + 3, n - 3), bitwiseCrc(data.data() + 3, n - 3)) << n;
  }
  uint32_t head = crc32(data.data(), 777);
  EXPECT_EQ(crc32(data.data() + 777, data.size() - 777, head), crc32(data.data(), data.size()));
}

}  // namespace
}  // namespace kiln::plan
