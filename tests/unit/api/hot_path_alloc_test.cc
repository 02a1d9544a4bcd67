// executeV2 must not touch the heap after its first run (issue #3, runtime).
// This binary replaces the global operator new to count allocations while a
// flag is up.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "unit/api/api_test_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// Every plain and nothrow form is replaced, so that each allocation is freed
// by its own kind (sanitizers check new/free pairs).
namespace {
void* counted(std::size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace kiln::test {
namespace {

TEST(HotPath, ExecuteV2AllocatesNothingAfterTheFirstRun) {
  RecordingLogger logger;
  SmallNet def;
  // Kiln's own kernels only: oneDNN's primitive execution allocates a little
  // bookkeeping per call (TacticSource::kONEDNN documents it).
  auto plan = buildPlan(logger, def, /*onednn=*/false);
  ASSERT_TRUE(plan) << logger.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  ASSERT_TRUE(engine);
  std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());
  std::vector<float> x = wave(2 * 3 * 6 * 6, 1.f), out(10);
  void* bindings[] = {x.data(), out.data()};
  ASSERT_TRUE(ctx->executeV2(bindings));
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 5; ++i) ctx->executeV2(bindings);
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0);
}

}  // namespace
}  // namespace kiln::test
