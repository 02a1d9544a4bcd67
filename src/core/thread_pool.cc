#include "core/thread_pool.h"

#if defined(KILN_POOL_OPENMP)
#include <omp.h>
#endif

#include <algorithm>
#include <chrono>
#include <climits>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KILN_CPU_RELAX() _mm_pause()
#else
#define KILN_CPU_RELAX() ((void)0)
#endif

namespace kiln {
namespace {

// Chunks per thread: enough that a thread preempted by other load on the
// machine holds up a small share of the loop, few enough that per-chunk work
// (a kernel's setup per range) stays negligible.
constexpr int64_t kChunksPerThread = 4;
// How long an idle worker spins before it sleeps. Ops of one inference follow
// each other within microseconds; a sleeping worker costs a futex wake (and a
// scheduler round trip) per op, a spinning one a core while the caller is
// between inferences.
// On a machine shared with other work (where the scheduler is fair between
// processes or cgroups, a spinning thread takes time from its own process's
// other thread), long spins cost more than they save: keep them short.
constexpr auto kSpin = std::chrono::microseconds(50);
// How long the caller spins for workers to finish their last chunks before
// it sleeps on the done counter.
constexpr auto kSpinWait = std::chrono::microseconds(20);

// The pool whose chunk this thread is running (nested loops run inline).
thread_local const ThreadPool* tlsPool = nullptr;

// Sleeping on the job counter: a raw futex on Linux (one syscall each way,
// nothing else), C++20 atomic wait elsewhere.
inline void waitWhileEquals(std::atomic<uint32_t>& word, uint32_t value) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, value, nullptr, nullptr, 0);
#else
  word.wait(value, std::memory_order_seq_cst);
#endif
}

inline void wakeAll(std::atomic<uint32_t>& word) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
  word.notify_all();
#endif
}

inline void rangeOf(int64_t n, int64_t parts, int64_t index, int64_t* b, int64_t* e) {
  const int64_t chunk = n / parts, rem = n % parts;
  *b = index * chunk + std::min(index, rem);
  *e = *b + chunk + (index < rem ? 1 : 0);
}

}  // namespace

int ThreadPool::hardwareThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = hardwareThreads();
  threads_ = threads;
#if !defined(KILN_POOL_OPENMP)  // else OpenMP's threads run the loops (runOpenmp)
  workers_.reserve(static_cast<std::size_t>(threads - 1));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { workerLoop(); });
#endif
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  jobSeq_.fetch_add(1, std::memory_order_seq_cst);
  wakeAll(jobSeq_);
  for (auto& t : workers_) t.join();
}

void ThreadPool::runChunks() {
  const ThreadPool* outer = tlsPool;
  tlsPool = this;
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    const uint64_t chunks = (c >> kChunkBits) & kChunkMask, next = c & kChunkMask;
    if (next >= chunks) break;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // Claimed: the job stays put until this chunk is counted done.
    int64_t b, e;
    rangeOf(n_, static_cast<int64_t>(chunks), static_cast<int64_t>(next), &b, &e);
    if (!failed_.load(std::memory_order_relaxed)) {
      try {
        thunk_(ctx_, b, e);
      } catch (...) {
        if (!failed_.exchange(true)) error_ = std::current_exception();
      }
    }
    if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == chunks && callerWaiting_.load(std::memory_order_seq_cst))
      wakeAll(done_);  // the last chunk of a job whose caller sleeps
    c = claim_.load(std::memory_order_acquire);
  }
  tlsPool = outer;
}

bool ThreadPool::runOpenmp(int64_t n, Thunk thunk, void* ctx) {
#if defined(KILN_POOL_OPENMP)
  // Nested (inside a chunk) or a second caller while busy: the caller runs it serially.
  if (omp_in_parallel() || busy_.exchange(true, std::memory_order_acquire)) return false;
  const int64_t chunks = std::min<int64_t>(n, int64_t{threads_} * kChunksPerThread);
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
#pragma omp parallel num_threads(threads_)
  {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      if (failed.load(std::memory_order_relaxed)) continue;
      int64_t b, e;
      rangeOf(n, chunks, c, &b, &e);
      try {
        thunk(ctx, b, e);
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  }
  busy_.store(false, std::memory_order_release);
  if (error) std::rethrow_exception(error);
  return true;
#else
  (void)n, (void)thunk, (void)ctx;
  return false;
#endif
}

bool ThreadPool::tryRun(int64_t n, Thunk thunk, void* ctx) {
#if defined(KILN_POOL_OPENMP)
  return runOpenmp(n, thunk, ctx);
#endif
  if (tlsPool == this || busy_.exchange(true, std::memory_order_acquire)) return false;
  const int64_t chunks = std::min<int64_t>(n, std::min<int64_t>(kChunkMask, size() * kChunksPerThread));
  thunk_ = thunk;
  ctx_ = ctx;
  n_ = n;
  failed_.store(false, std::memory_order_relaxed);
  error_ = nullptr;
  done_.store(0, std::memory_order_relaxed);
  ++generation_;
  claim_.store((uint64_t{generation_} << (2 * kChunkBits)) | (static_cast<uint64_t>(chunks) << kChunkBits),
               std::memory_order_release);
  jobSeq_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) wakeAll(jobSeq_);
  runChunks();
  // Whatever is not done now is running on a worker that claimed it: spin a
  // little (chunks end together when all threads run), then sleep until the
  // worker that finishes the last chunk wakes this thread.
  const uint32_t all = static_cast<uint32_t>(chunks);
  if (done_.load(std::memory_order_acquire) < all) {
    const auto until = std::chrono::steady_clock::now() + kSpinWait;
    for (int i = 0; done_.load(std::memory_order_acquire) < all; ++i) {
      KILN_CPU_RELAX();
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
        callerWaiting_.store(true, std::memory_order_seq_cst);
        for (uint32_t d; (d = done_.load(std::memory_order_seq_cst)) < all;) waitWhileEquals(done_, d);
        callerWaiting_.store(false, std::memory_order_relaxed);
        break;
      }
    }
  }
  std::exception_ptr error = failed_.load(std::memory_order_relaxed) ? error_ : nullptr;
  busy_.store(false, std::memory_order_release);
  if (error) std::rethrow_exception(error);
  return true;
}

void ThreadPool::workerLoop() {
  tlsPool = nullptr;
  // The counter's value when the pool was made (a worker may start late,
  // after jobs or even the destructor have bumped it).
  uint32_t seen = 0;
  for (;;) {
    // Spin for the next job, then sleep.
    uint32_t seq = jobSeq_.load(std::memory_order_acquire);
    if (seq == seen) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      for (int i = 0; seq == seen; ++i) {
        KILN_CPU_RELAX();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          while ((seq = jobSeq_.load(std::memory_order_seq_cst)) == seen) waitWhileEquals(jobSeq_, seen);
          sleepers_.fetch_sub(1, std::memory_order_relaxed);
          break;
        }
        seq = jobSeq_.load(std::memory_order_acquire);
      }
    }
    seen = seq;
    if (stop_.load(std::memory_order_acquire)) return;
    runChunks();
  }
}

}  // namespace kiln
