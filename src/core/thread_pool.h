// A fixed pool of worker threads for the kernels' parallel loops.
//
// parallelFor(n, fn) cuts [0, n) into a few contiguous chunks per thread and
// every thread, the caller included, claims the next unclaimed chunk from one
// atomic word until none is left. So a call costs no more than publishing one
// word (workers that are awake see it within a cache-line transfer), the
// caller never waits for a worker that has not started (it runs the chunks
// itself: on a loaded machine a worker may wake late or not at all), and a
// thread that is preempted mid-call holds up at most one chunk. Idle workers
// spin briefly (ops follow each other within microseconds during an
// inference) and then sleep on a futex; a caller waiting for the last chunks
// does the same. Nothing on the call path allocates or locks.
//
// In a build with oneDNN (which runs on OpenMP: KILN_POOL_OPENMP), the pool
// has no threads of its own: parallelFor opens an OpenMP parallel region of
// size() threads claiming the same chunks. Why: oneDNN's OpenMP workers spin
// for a while after each primitive, and a second set of threads (Kiln's
// workers) running the next layer on the same cores competed with them: a
// plan mixing oneDNN convolutions with Kiln's Winograd/im2col ones ran
// YOLO-style at 2 threads no faster than at 1 (105 vs 105 ms). With one set
// of threads the spinning worker is the one the next layer needs.
//
// One pool serves one caller at a time (each execution context owns its own
// pool). A call made while the pool is busy (from inside a chunk, i.e. a
// nested loop, or from a second thread) runs serially on the calling thread
// instead of waiting or corrupting the running call.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <type_traits>
#include <vector>

namespace kiln {

class ThreadPool {
 public:
  //! threads <= 0 means all hardware threads.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }

  //! Calls fn(begin, end) on disjoint, contiguous ranges covering [0, n), in
  //! any order and on any of the pool's threads; blocks until all are done.
  //! The first exception a call of fn throws is rethrown here.
  template <typename Fn>
  void parallelFor(int64_t n, Fn&& fn) {
    if (n <= 0) return;
    if (threads_ == 1 || n == 1) {
      fn(int64_t{0}, n);
      return;
    }
    using F = std::remove_reference_t<Fn>;
    auto thunk = [](void* ctx, int64_t b, int64_t e) { (*static_cast<F*>(ctx))(b, e); };
    if (!tryRun(n, thunk, const_cast<void*>(static_cast<const void*>(&fn)))) fn(int64_t{0}, n);
  }

  static int hardwareThreads();

  // Loops whose whole work is below these run on the calling thread (kernels
  // check before they split: a loop of bytes moved, or one of flops). Why: a
  // call costs a fork and a join (an OpenMP region in oneDNN builds), a few
  // us on a quiet machine, and on a busy one it waits until every thread of
  // the team is scheduled again (ms); splitting ~8 us of work saves less.
  // CRNN at 2 threads forked for its 14k-output pools and 0.5-MFLOP classifier.
  static constexpr int64_t kMinSplitBytes = 256 * 1024;
  static constexpr int64_t kMinSplitFlops = 1 << 20;

 private:
  using Thunk = void (*)(void*, int64_t, int64_t);
  //! Runs the loop on the pool; false (nothing run) when the pool is busy.
  bool tryRun(int64_t n, Thunk thunk, void* ctx);
  //! tryRun's OpenMP form (KILN_POOL_OPENMP): the chunks over one parallel region.
  bool runOpenmp(int64_t n, Thunk thunk, void* ctx);
  //! Claims and runs chunks of the current job until none is left.
  void runChunks();
  void workerLoop();

  // The claim word: job generation (32 bits) | chunks (16) | next chunk (16).
  // A chunk is claimed by a CAS that bumps `next`; the job's fields below are
  // read only after a successful claim, when the job cannot finish (and so
  // cannot be replaced) before the claimed chunk is reported done.
  static constexpr uint64_t kChunkBits = 16, kChunkMask = (uint64_t{1} << kChunkBits) - 1;
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<uint32_t> done_{0};       //!< chunks finished in the current job (a futex word)
  std::atomic<bool> callerWaiting_{false};          //!< the caller sleeps on done_
  alignas(64) std::atomic<uint32_t> jobSeq_{0};     //!< bumped per job; sleeping workers wait on it
  std::atomic<uint32_t> sleepers_{0};
  std::atomic<bool> stop_{false};
  alignas(64) std::atomic<bool> busy_{false};
  // The current job (written by the caller before it publishes the claim word).
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  uint32_t generation_ = 0;
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::vector<std::thread> workers_;
  int threads_ = 1;
};

}  // namespace kiln
