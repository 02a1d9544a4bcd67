#include "plan/plan_format.h"

#include <cstring>

#include "core/error.h"
#include "plan/crc32.h"

namespace kiln::plan {
namespace {

template <typename T>
T load(const uint8_t* data, std::size_t at) {
  T v;
  std::memcpy(&v, data + at, sizeof v);
  return v;
}

template <typename T>
void store(uint8_t* data, std::size_t at, T v) {
  std::memcpy(data + at, &v, sizeof v);
}

}  // namespace

FileLayout planLayout(uint64_t bodySize, uint64_t weightsSize) {
  FileLayout l;
  l.bodyOffset = kHeaderSize;
  l.bodySize = bodySize;
  l.weightsOffset = alignUp(l.bodyOffset + bodySize, kWeightsAlign);
  l.weightsSize = weightsSize;
  l.fileSize = l.weightsOffset + weightsSize;
  return l;
}

void writeHeader(uint8_t* data, const FileLayout& l, uint32_t version) {
  std::memset(data, 0, kHeaderSize);
  std::memcpy(data + hdr::kMagic, kMagic, sizeof kMagic);
  store<uint32_t>(data, hdr::kVersion, version);
  store<uint32_t>(data, hdr::kHeaderSize, static_cast<uint32_t>(kHeaderSize));
  store<uint64_t>(data, hdr::kBodyOffset, l.bodyOffset);
  store<uint64_t>(data, hdr::kBodySize, l.bodySize);
  store<uint64_t>(data, hdr::kWeightsOffset, l.weightsOffset);
  store<uint64_t>(data, hdr::kWeightsSize, l.weightsSize);
  store<uint32_t>(data, hdr::kCrc, crc32(data + kHeaderSize, l.fileSize - kHeaderSize));
  store<uint32_t>(data, hdr::kHeaderCrc, crc32(data, hdr::kHeaderCrc));
}

void resealPlan(uint8_t* data, std::size_t size) {
  KILN_CHECK(size >= kHeaderSize, "resealPlan: ", size, " bytes is smaller than the header");
  store<uint32_t>(data, hdr::kCrc, crc32(data + kHeaderSize, size - kHeaderSize));
  store<uint32_t>(data, hdr::kHeaderCrc, crc32(data, hdr::kHeaderCrc));
}

FileLayout checkPlanHeader(const uint8_t* data, std::size_t size) {
  if (size == 0 || data == nullptr) fail("not a Kiln plan: the buffer is empty");
  if (size < kHeaderSize) fail("not a Kiln plan: ", size, " bytes is smaller than the ", kHeaderSize, "-byte header");
  if (std::memcmp(data + hdr::kMagic, kMagic, sizeof kMagic) != 0) fail("not a Kiln plan (bad magic)");
  uint32_t version = load<uint32_t>(data, hdr::kVersion);
  if (version != kFormatVersion)
    fail("plan format version ", version, ", this Kiln reads version ", kFormatVersion,
         version > kFormatVersion ? " (the plan was built by a newer Kiln; rebuild it with this one)"
                                  : " (rebuild the plan with this Kiln)");

  if (crc32(data, hdr::kHeaderCrc) != load<uint32_t>(data, hdr::kHeaderCrc))
    fail("corrupt plan header (checksum mismatch)");

  // Sections: a version-1 header fixes where each starts, so any damage to
  // the header (which the CRC does not cover) shows up here.
  FileLayout l;
  uint32_t headerSize = load<uint32_t>(data, hdr::kHeaderSize);
  l.bodyOffset = load<uint64_t>(data, hdr::kBodyOffset);
  l.bodySize = load<uint64_t>(data, hdr::kBodySize);
  l.weightsOffset = load<uint64_t>(data, hdr::kWeightsOffset);
  l.weightsSize = load<uint64_t>(data, hdr::kWeightsSize);
  if (headerSize != kHeaderSize) fail("corrupt plan header: header size ", headerSize, ", expected ", kHeaderSize);
  for (std::size_t i = hdr::kReserved; i < kHeaderSize; ++i)
    if (data[i] != 0) fail("corrupt plan header: reserved byte ", i, " is not zero");
  if (l.bodyOffset != kHeaderSize)
    fail("corrupt plan header: body at offset ", l.bodyOffset, ", expected ", kHeaderSize);
  // Bounded so that the sums below cannot wrap; no real plan comes near 2^62.
  constexpr uint64_t kLimit = uint64_t{1} << 62;
  if (l.bodySize >= kLimit || l.weightsSize >= kLimit || l.weightsOffset >= kLimit)
    fail("corrupt plan header: section sizes are impossibly large");
  if (l.weightsOffset != alignUp(l.bodyOffset + l.bodySize, kWeightsAlign))
    fail("corrupt plan header: weights at offset ", l.weightsOffset, ", expected ",
         alignUp(l.bodyOffset + l.bodySize, kWeightsAlign));
  l.fileSize = l.weightsOffset + l.weightsSize;
  return l;
}

FileLayout checkPlanFile(const uint8_t* data, std::size_t size) {
  FileLayout l = checkPlanHeader(data, size);
  if (l.fileSize > size) fail("truncated: plan says ", l.fileSize, " bytes, file has ", size);
  if (l.fileSize < size) fail("corrupt plan: ", size - l.fileSize, " unexpected bytes after the weights (plan says ",
                              l.fileSize, " bytes, file has ", size, ")");

  if (crc32(data + kHeaderSize, size - kHeaderSize) != load<uint32_t>(data, hdr::kCrc))
    fail("checksum mismatch: the plan is corrupt");
  return l;
}

}  // namespace kiln::plan
