// deserializeCudaEngine(IStreamReader&) and (IStreamReaderV2&): the plan read
// in pieces straight into the engine's buffer runs as the blob overload's
// engine does; a stream cut short or a foreign header gives null and a logged
// reason naming what was wrong.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "unit/api/api_test_util.h"

namespace kiln::test {
namespace {

//! Hands out a byte buffer `chunk` bytes at a time (odd sizes: the runtime must loop).
class ChunkReader final : public IStreamReader {
 public:
  ChunkReader(const void* data, std::size_t size, int64_t chunk) : data_(static_cast<const uint8_t*>(data)), size_(size), chunk_(chunk) {}
  int64_t read(void* to, int64_t n) override {
    int64_t take = std::min<int64_t>({n, chunk_, static_cast<int64_t>(size_ - at_)});
    std::memcpy(to, data_ + at_, static_cast<std::size_t>(take));
    at_ += static_cast<std::size_t>(take);
    ++calls;
    return take;
  }
  int calls = 0;

 private:
  const uint8_t* data_;
  std::size_t size_, at_ = 0;
  int64_t chunk_;
};

class ReaderV2 final : public IStreamReaderV2 {
 public:
  ReaderV2(const void* data, std::size_t size) : inner_(data, size, 1 << 20) {}
  bool seek(int64_t, SeekPosition) noexcept override { return false; }
  int64_t read(void* to, int64_t n, void* stream) noexcept override {
    EXPECT_EQ(stream, nullptr);
    return inner_.read(to, n);
  }

 private:
  ChunkReader inner_;
};

std::vector<float> runOnce(ICudaEngine& engine, const std::vector<float>& x) {
  std::unique_ptr<IExecutionContext> ctx(engine.createExecutionContext());
  std::vector<float> out(10, -1.f);
  void* bindings[] = {const_cast<float*>(x.data()), out.data()};
  EXPECT_TRUE(ctx->executeV2(bindings));
  return out;
}

TEST(StreamReader, PlanReadInPiecesRunsLikeTheBlob) {
  RecordingLogger logger;
  SmallNet def;
  std::unique_ptr<IHostMemory> plan = buildPlan(logger, def);
  ASSERT_TRUE(plan) << logger.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  auto x = wave(2 * 3 * 6 * 6, 1.f, 0.5f);
  auto want = def.reference(x);

  // Pieces of an odd size, about a seventh of the plan each: the plan's size depends on the tactics the
  // build picked (prepacked weights or not), so a fixed piece size may read a small plan in two calls.
  const int64_t piece = static_cast<int64_t>(plan->size()) / 7 + 3;
  ChunkReader reader(plan->data(), plan->size(), piece);
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(reader));
  ASSERT_TRUE(engine) << logger.all();
  EXPECT_GT(reader.calls, 2) << "plan of " << plan->size() << " bytes in pieces of " << piece;
  auto got = runOnce(*engine, x);
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << i;

  ReaderV2 v2(plan->data(), plan->size());
  std::unique_ptr<ICudaEngine> engine2(runtime->deserializeCudaEngine(v2));
  ASSERT_TRUE(engine2) << logger.all();
  got = runOnce(*engine2, x);
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << i;
}

TEST(StreamReader, ShortOrForeignStreamsAreRefusedWithTheReason) {
  RecordingLogger logger;
  SmallNet def;
  std::unique_ptr<IHostMemory> plan = buildPlan(logger, def);
  ASSERT_TRUE(plan) << logger.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));

  ChunkReader cut(plan->data(), plan->size() - 100, 1000);
  EXPECT_EQ(runtime->deserializeCudaEngine(cut), nullptr);
  EXPECT_TRUE(logger.saw("the plan stream ended after " + std::to_string(plan->size() - 100) + " of " +
                         std::to_string(plan->size()) + " bytes"))
      << logger.all();

  logger.clear();
  ChunkReader headerOnly(plan->data(), 30, 1000);
  EXPECT_EQ(runtime->deserializeCudaEngine(headerOnly), nullptr);
  EXPECT_TRUE(logger.saw("the plan stream ended after 30 of 64 bytes")) << logger.all();

  logger.clear();
  std::vector<uint8_t> foreign(static_cast<const uint8_t*>(plan->data()),
                               static_cast<const uint8_t*>(plan->data()) + plan->size());
  std::memcpy(foreign.data(), "ONNXPLAN", 8);
  ChunkReader bad(foreign.data(), foreign.size(), 1 << 20);
  EXPECT_EQ(runtime->deserializeCudaEngine(bad), nullptr);
  EXPECT_TRUE(logger.saw("bad magic")) << logger.all();

  logger.clear();
  foreign = std::vector<uint8_t>(static_cast<const uint8_t*>(plan->data()),
                                 static_cast<const uint8_t*>(plan->data()) + plan->size());
  foreign[foreign.size() - 1] ^= 0x5a;  // a weight byte: the body CRC catches it after the read
  ChunkReader flipped(foreign.data(), foreign.size(), 1 << 20);
  EXPECT_EQ(runtime->deserializeCudaEngine(flipped), nullptr);
  EXPECT_TRUE(logger.saw("checksum mismatch")) << logger.all();
}

}  // namespace
}  // namespace kiln::test
