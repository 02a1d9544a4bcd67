// Damaged plans give one clear kiln::Error, never a crash or an out-of-bounds
// read (this binary also runs under ASan/UBSan: -DKILN_SANITIZE=ON).
#include <cstring>
#include <random>

#include "plan/plan_format.h"
#include "plan_test_util.h"

namespace kiln::plan {
namespace {

using testing::AlignedBuffer;
using testing::readError;

class PlanCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    plan_ = writePlan(testing::samplePlan());
    layout_ = checkPlanFile(plan_.data(), plan_.size());
    ASSERT_EQ(readError(plan_), "");
    ASSERT_GT(layout_.weightsSize, 0u);
  }
  std::vector<uint8_t> plan_;
  FileLayout layout_;
};

bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST_F(PlanCorruption, EmptyAndTiny) {
  EXPECT_THROW(readPlan(nullptr, 0, nullptr), kiln::Error);
  EXPECT_EQ(readError({}), "not a Kiln plan: the buffer is empty");
  EXPECT_EQ(readError(std::vector<uint8_t>(plan_.begin(), plan_.begin() + 10)),
            "not a Kiln plan: 10 bytes is smaller than the 64-byte header");
}

TEST_F(PlanCorruption, TruncatedAnywhere) {
  std::vector<std::size_t> cuts = {1, 8, 12, 63};
  for (std::size_t cut : cuts) EXPECT_NE(readError({plan_.begin(), plan_.begin() + cut}), "") << cut;
  std::size_t body = layout_.bodyOffset, weights = layout_.weightsOffset;
  cuts = {64, 65, body + layout_.bodySize / 2, body + layout_.bodySize, weights, weights + 1,
          weights + layout_.weightsSize / 2, plan_.size() - 1};
  for (std::size_t cut : cuts)
    EXPECT_EQ(readError({plan_.begin(), plan_.begin() + static_cast<std::ptrdiff_t>(cut)}),
              strCat("truncated: plan says ", plan_.size(), " bytes, file has ", cut));
}

TEST_F(PlanCorruption, TrailingBytes) {
  std::vector<uint8_t> f = plan_;
  f.push_back(0);
  EXPECT_NE(readError(f).find("1 unexpected bytes after the weights"), std::string::npos) << readError(f);
}

TEST_F(PlanCorruption, EveryBitFlipIsCaught) {
  for (std::size_t i = 0; i < plan_.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> f = plan_;
      f[i] ^= static_cast<uint8_t>(1u << bit);
      std::string err = readError(f);
      if (i >= kHeaderSize) {
        ASSERT_EQ(err, "checksum mismatch: the plan is corrupt") << "byte " << i << " bit " << bit;
      } else {
        ASSERT_NE(err, "") << "header byte " << i << " bit " << bit;
      }
    }
  }
}

TEST_F(PlanCorruption, WrongMagic) {
  std::vector<uint8_t> f = plan_;
  std::memcpy(f.data(), "ONNXPLAN", 8);
  EXPECT_EQ(readError(f), "not a Kiln plan (bad magic)");
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  png.resize(200, 0);
  EXPECT_EQ(readError(png), "not a Kiln plan (bad magic)");
}

TEST_F(PlanCorruption, ForeignVersion) {
  // Versions 1 and 2 are the formats before subgraph attributes and before the layers format 3
  // added: refused too (plans are rebuilt, not migrated).
  for (uint32_t version : {0u, 1u, 2u, 3u, kFormatVersion + 1, 7u, 0xFFFFFFFFu}) {
    std::vector<uint8_t> f = plan_;
    std::memcpy(f.data() + hdr::kVersion, &version, 4);
    resealPlan(f.data(), f.size());  // a genuine plan of that version, checksums intact
    std::string err = readError(f);
    EXPECT_TRUE(startsWith(err, strCat("plan format version ", version, ", this Kiln reads version ", kFormatVersion))) << err;
  }
}

TEST_F(PlanCorruption, DamagedHeaderFieldsWithValidChecksums) {
  struct Case {
    std::size_t at;
    uint64_t value;
    int width;
    std::string error;
  };
  const uint64_t size = plan_.size();
  std::vector<Case> cases = {
      {hdr::kHeaderSize, 128, 4, "corrupt plan header: header size 128, expected 64"},
      {hdr::kBodyOffset, 128, 8, "corrupt plan header: body at offset 128, expected 64"},
      {hdr::kBodySize, layout_.bodySize + 200, 8, "corrupt plan header: weights at offset"},
      {hdr::kWeightsOffset, layout_.weightsOffset + 64, 8, "corrupt plan header: weights at offset"},
      {hdr::kWeightsSize, layout_.weightsSize + 1, 8, strCat("truncated: plan says ", size + 1, " bytes")},
      {hdr::kWeightsSize, layout_.weightsSize - 1, 8, "corrupt plan: 1 unexpected bytes after the weights"},
      {hdr::kWeightsSize, ~uint64_t{0}, 8, "corrupt plan header: section sizes are impossibly large"},
      {hdr::kBodySize, uint64_t{1} << 63, 8, "corrupt plan header: section sizes are impossibly large"},
      {hdr::kReserved + 3, 1, 1, "corrupt plan header: reserved byte 59 is not zero"},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> f = plan_;
    std::memcpy(f.data() + c.at, &c.value, c.width);
    resealPlan(f.data(), f.size());
    std::string err = readError(f);
    EXPECT_TRUE(startsWith(err, c.error)) << "field at " << c.at << ": " << err;
  }
  // Without resealing, the header checksum catches the same damage first.
  std::vector<uint8_t> f = plan_;
  f[hdr::kBodySize] ^= 1;
  EXPECT_EQ(readError(f), "corrupt plan header (checksum mismatch)");
}

TEST_F(PlanCorruption, RandomGarbage) {
  std::mt19937 rng(1234);
  for (std::size_t size : {1, 7, 63, 64, 65, 100, 1000, 4096, 65536}) {
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<uint8_t> f(size);
      for (auto& b : f) b = static_cast<uint8_t>(rng());
      EXPECT_NE(readError(f), "") << size;
      if (size >= 12) {  // past the magic and version: still refused
        std::memcpy(f.data(), kMagic, 8);
        uint32_t v = kFormatVersion;
        std::memcpy(f.data() + 8, &v, 4);
        EXPECT_NE(readError(f), "") << size;
      }
    }
  }
}

TEST_F(PlanCorruption, GarbageBodyWithValidChecksumsIsMalformed) {
  std::mt19937 rng(99);
  for (uint64_t bodySize : {4, 8, 64, 1000, 4096}) {
    for (int trial = 0; trial < 8; ++trial) {
      FileLayout l = planLayout(bodySize, 128);
      std::vector<uint8_t> f(l.fileSize, 0);
      for (uint64_t i = 0; i < bodySize; ++i) f[l.bodyOffset + i] = static_cast<uint8_t>(rng());
      if (trial % 2) std::memcpy(f.data() + l.bodyOffset + 4, "KILN", 4);  // right identifier, wrong rest
      writeHeader(f.data(), l);
      EXPECT_EQ(readError(f), "malformed plan body") << bodySize << " " << trial;
    }
  }
}

TEST_F(PlanCorruption, CorruptedBodyWithFixedChecksumIsMalformed) {
  std::vector<uint8_t> f = plan_;
  std::memset(f.data() + layout_.bodyOffset, 0, layout_.bodySize);
  resealPlan(f.data(), f.size());
  EXPECT_EQ(readError(f), "malformed plan body");

  f = plan_;
  uint32_t root = 0xFFFFFFF0u;  // the root table offset, far outside the body
  std::memcpy(f.data() + layout_.bodyOffset, &root, 4);
  resealPlan(f.data(), f.size());
  EXPECT_EQ(readError(f), "malformed plan body");

  f = plan_;
  std::memcpy(f.data() + layout_.bodyOffset + 4, "ONNX", 4);  // file identifier
  resealPlan(f.data(), f.size());
  EXPECT_EQ(readError(f), "malformed plan body");
}

// Past the CRC, every single-bit change to the body must still be handled:
// either it reads (a flipped float attribute is a valid plan) or it fails
// with kiln::Error. Nothing else may escape, and ASan sees no bad access.
TEST_F(PlanCorruption, ResealedBodyBitFlipsNeverCrash) {
  int refused = 0, read = 0;
  for (uint64_t i = layout_.bodyOffset; i < layout_.bodyOffset + layout_.bodySize; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> f = plan_;
      f[i] ^= static_cast<uint8_t>(1u << bit);
      resealPlan(f.data(), f.size());
      AlignedBuffer buf(f);
      try {
        PlanContents q = buf.read();
        ++read;
        ASSERT_NE(q.graph, nullptr);
      } catch (const kiln::Error& e) {
        ++refused;
        std::string msg = e.what();
        ASSERT_TRUE(startsWith(msg, "malformed plan")) << msg;
        ASSERT_EQ(msg.find('\n'), std::string::npos) << msg;
      }
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(read, 0);
}

// The same with random multi-byte damage (fixed seed: the run is repeatable).
TEST_F(PlanCorruption, ResealedRandomBodyDamageNeverCrashes) {
  std::mt19937 rng(2024);
  int refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> f = plan_;
    int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
      uint64_t at = layout_.bodyOffset + rng() % layout_.bodySize;
      f[at] = (rng() % 3 == 0) ? 0xFF : static_cast<uint8_t>(rng());
    }
    resealPlan(f.data(), f.size());
    AlignedBuffer buf(f);
    try {
      buf.read();
    } catch (const kiln::Error& e) {
      ++refused;
      ASSERT_TRUE(startsWith(e.what(), "malformed plan")) << e.what();
    }
  }
  EXPECT_GT(refused, 1000);
}

TEST_F(PlanCorruption, ResealedWeightFlipsChangeOnlyTheWeights) {
  PlanContents original = AlignedBuffer(plan_).read();
  const ir::Tensor& w = *original.graph->findValue("conv.weight")->constant;
  std::vector<uint8_t> f = plan_;
  f[layout_.weightsOffset] ^= 0x80;  // conv.weight is placed first
  resealPlan(f.data(), f.size());
  PlanContents q = AlignedBuffer(f).read();
  const ir::Tensor& w2 = *q.graph->findValue("conv.weight")->constant;
  EXPECT_NE(std::memcmp(w.data(), w2.data(), w.bytes()), 0);
  EXPECT_EQ(std::memcmp(static_cast<const uint8_t*>(w.data()) + 1, static_cast<const uint8_t*>(w2.data()) + 1,
                        w.bytes() - 1), 0);
}

}  // namespace
}  // namespace kiln::plan
