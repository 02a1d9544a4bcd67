// The fixed 64-byte header of a plan file and the layout of its sections.
// Shared by the writer, the reader and the tests that craft plans by hand.
//
//   offset  size  field
//        0     8  magic "KILNPLAN"
//        8     4  format version (kFormatVersion)
//       12     4  header size (64)
//       16     8  body offset (64)       \  FlatBuffers body (plan.fbs)
//       24     8  body size              /
//       32     8  weights offset         \  weights blob, offset a multiple of 64,
//       40     8  weights size           /  file size = weights offset + size
//       48     4  CRC-32 of every byte after the header
//       52     4  CRC-32 of header bytes [0, 52): the body CRC does not cover
//                 the header, and a damaged size field must not go unnoticed
//       56     8  reserved, zero
// All integers little-endian (the host's order: Kiln targets little-endian CPUs).
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "plan/plan.h"

namespace kiln::plan {

static_assert(std::endian::native == std::endian::little, "plan files are little-endian");

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'P', 'L', 'A', 'N'};
constexpr std::size_t kHeaderSize = 64;
//! Alignment of the weights blob and of every tensor in it, from the file start.
constexpr std::size_t kWeightsAlign = 64;

//! Byte offsets of the header fields (tests patch them).
namespace hdr {
constexpr std::size_t kMagic = 0, kVersion = 8, kHeaderSize = 12, kBodyOffset = 16, kBodySize = 24,
                      kWeightsOffset = 32, kWeightsSize = 40, kCrc = 48, kHeaderCrc = 52,
                      kReserved = 56;
}  // namespace hdr

struct FileLayout {
  uint64_t bodyOffset = kHeaderSize;
  uint64_t bodySize = 0;
  uint64_t weightsOffset = 0;
  uint64_t weightsSize = 0;
  uint64_t fileSize = 0;
};

constexpr uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

//! Where the sections of a plan with this body and weights size go.
FileLayout planLayout(uint64_t bodySize, uint64_t weightsSize);

//! Writes the header for `layout` into data[0, 64), CRC included; the body and
//! the weights must already be in place (data holds layout.fileSize bytes).
void writeHeader(uint8_t* data, const FileLayout& layout, uint32_t version = kFormatVersion);

//! Recomputes both CRCs of a plan whose bytes (header fields included) were
//! changed on purpose (tests).
void resealPlan(uint8_t* data, std::size_t size);

//! Checks the first `size` (>= 64) bytes as a plan header (magic, version,
//! header CRC, section bounds) and returns the layout, whose fileSize says how
//! many bytes the whole plan has: how a stream reader knows what to read.
//! Throws kiln::Error with a one-line reason.
FileLayout checkPlanHeader(const uint8_t* data, std::size_t size);

//! Checks the header, the section bounds and the CRC (in that order) and
//! returns the layout; throws kiln::Error with a one-line reason.
FileLayout checkPlanFile(const uint8_t* data, std::size_t size);

}  // namespace kiln::plan
