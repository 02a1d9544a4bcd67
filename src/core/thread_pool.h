// A fixed pool of worker threads with no per-call start cost beyond waking
// the workers. parallelFor splits [0, n) into one contiguous range per thread;
// the calling thread takes the first range. One pool serves one caller at a
// time (each execution context owns its own pool).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
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

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  //! Calls fn(begin, end) on disjoint ranges covering [0, n); blocks until done.
  template <typename Fn>
  void parallelFor(int64_t n, Fn&& fn) {
    if (n <= 0) return;
    if (workers_.empty() || n == 1) {
      fn(int64_t{0}, n);
      return;
    }
    using F = std::remove_reference_t<Fn>;
    auto thunk = [](void* ctx, int64_t b, int64_t e) { (*static_cast<F*>(ctx))(b, e); };
    run(n, thunk, const_cast<void*>(static_cast<const void*>(&fn)));
  }

  static int hardwareThreads();

 private:
  using Thunk = void (*)(void*, int64_t, int64_t);
  void run(int64_t n, Thunk thunk, void* ctx);
  void workerLoop(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
};

}  // namespace kiln
