#include "core/thread_pool.h"

namespace kiln {

int ThreadPool::hardwareThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = hardwareThreads();
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

static void rangeOf(int64_t n, int parts, int index, int64_t* b, int64_t* e) {
  int64_t chunk = n / parts, rem = n % parts;
  *b = index * chunk + (index < rem ? index : rem);
  *e = *b + chunk + (index < rem ? 1 : 0);
}

void ThreadPool::run(int64_t n, Thunk thunk, void* ctx) {
  int parts = size();
  if (n < parts) parts = static_cast<int>(n);
  {
    std::lock_guard<std::mutex> lock(mu_);
    thunk_ = thunk;
    ctx_ = ctx;
    n_ = n;
    pending_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  int64_t b, e;
  rangeOf(n, size(), 0, &b, &e);
  if (b < e) thunk(ctx, b, e);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return pending_ == 0; });
  (void)parts;
}

void ThreadPool::workerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    Thunk thunk;
    void* ctx;
    int64_t n;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      thunk = thunk_;
      ctx = ctx_;
      n = n_;
    }
    int64_t b, e;
    rangeOf(n, size(), index, &b, &e);
    if (b < e) thunk(ctx, b, e);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

}  // namespace kiln
