// ThreadPool: every index is run exactly once, on any thread count, through
// nested and concurrent calls, exceptions and sleeping workers.
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace kiln {
namespace {

// Runs parallelFor(n) and checks that [0, n) was covered exactly once by
// non-empty, in-range ranges.
void expectCoversOnce(ThreadPool& pool, int64_t n) {
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
  std::atomic<bool> bad{false};
  pool.parallelFor(n, [&](int64_t b, int64_t e) {
    if (b < 0 || e > n || b >= e) bad = true;
    for (int64_t i = b; i < e && !bad; ++i) hits[static_cast<std::size_t>(i)].fetch_add(1);
  });
  EXPECT_FALSE(bad) << "n=" << n;
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 1) << "n=" << n << " i=" << i;
}

TEST(ThreadPool, CoversEveryIndexOnceForAnySize) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 3, 7, 8, 13, 64, 1000, 100003}) expectCoversOnce(pool, n);
  }
}

TEST(ThreadPool, ManyCallsInARow) {
  // Back-to-back jobs: a worker that is late for one job must not run a
  // chunk of the next with the old job's function, or miss one.
  ThreadPool pool(4);
  std::atomic<int64_t> sum{0};
  for (int call = 0; call < 20000; ++call) {
    const int64_t n = 1 + call % 17;
    pool.parallelFor(n, [&, call](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) sum.fetch_add(call + i, std::memory_order_relaxed);
    });
  }
  int64_t want = 0;
  for (int call = 0; call < 20000; ++call)
    for (int64_t i = 0; i < 1 + call % 17; ++i) want += call + i;
  EXPECT_EQ(sum.load(), want);
}

TEST(ThreadPool, WorkersWakeAfterSleeping) {
  ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin: workers sleep
    std::atomic<int> threadsSeen{0};
    std::vector<std::thread::id> ids(64);
    pool.parallelFor(64, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ids[static_cast<std::size_t>(i)] = std::this_thread::get_id();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    });
    for (auto& id : ids) EXPECT_NE(id, std::thread::id());
    (void)threadsSeen;
  }
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  pool.parallelFor(8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      pool.parallelFor(100, [&](int64_t ib, int64_t ie) { total.fetch_add(ie - ib); });
  });
  EXPECT_EQ(total.load(), 800);
}

TEST(ThreadPool, TwoCallersShareOnePool) {
  // Not the intended use (a context owns its pool), but it must stay correct:
  // the caller that finds the pool busy runs its loop itself.
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  auto caller = [&] {
    for (int k = 0; k < 2000; ++k)
      pool.parallelFor(37, [&](int64_t b, int64_t e) { total.fetch_add(e - b, std::memory_order_relaxed); });
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2 * 2000 * 37);
}

TEST(ThreadPool, ExceptionsReachTheCaller) {
  ThreadPool pool(3);
  for (int round = 0; round < 20; ++round) {
    EXPECT_THROW(pool.parallelFor(50,
                                  [&](int64_t b, int64_t e) {
                                    for (int64_t i = b; i < e; ++i)
                                      if (i == 20 + round) throw std::runtime_error("chunk failed");
                                  }),
                 std::runtime_error);
    expectCoversOnce(pool, 50);  // the pool still works afterwards
  }
}

TEST(ThreadPool, DestroyWhileWorkersSpinOrSleep) {
  for (int sleepMs : {0, 5}) {
    ThreadPool pool(4);
    expectCoversOnce(pool, 100);
    std::this_thread::sleep_for(std::chrono::milliseconds(sleepMs));
  }
  SUCCEED();
}

}  // namespace
}  // namespace kiln
