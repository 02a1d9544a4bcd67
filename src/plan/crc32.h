// CRC-32 (IEEE 802.3, the zlib/PNG polynomial) of the bytes of a plan file.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kiln::plan {

//! CRC-32 of `size` bytes. `seed` continues an earlier result, so
//! crc32(b, nb, crc32(a, na)) == crc32 of a followed by b.
uint32_t crc32(const void* data, std::size_t size, uint32_t seed = 0);

}  // namespace kiln::plan
