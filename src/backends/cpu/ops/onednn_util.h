// Shared by the oneDNN tactics (conv_onednn.cc, gemm_onednn.cc): oneDNN is a
// tactic source beside Kiln's own kernels, compiled in when CMake finds it
// (KILN_HAVE_ONEDNN); without it the tactics are simply absent.
//
// Threads. Debian's libdnnl runs on OpenMP, and an OpenMP primitive fixes its
// thread count when it is created. A kernel therefore keeps one primitive
// per (thread count, shapes) — the execution context's pool size decides,
// never OpenMP's default — created with the calling thread's OpenMP thread
// count set to that many (omp_set_num_threads is per calling thread, so two
// contexts on two threads do not disturb each other). The primitive for the
// machine's thread count and the kernel's shapes is made at load time; any
// other is made on first use and kept (PrimitiveCache: lock-free lookups).
//
// Weights are reordered at build time into the format oneDNN picks
// (format_tag::any); the plan keeps that format's memory descriptor
// (`kiln_onednn_wdesc`, its bytes) and the oneDNN version it is valid for.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cpu/activation.h"
#include "backends/cpu/kernel.h"

namespace kiln::cpu {
//! Adds the oneDNN tactics of each family (no-ops without oneDNN).
void addOnednnConvTactics(TacticRegistry& r);
void addOnednnGemmTactics(TacticRegistry& r);
//! After tactic choice: where a Conv.onednn layer's output feeds only
//! Conv.onednn layers (as input or residual) that run in the same blocked
//! layout (nChw16c / nChw8c / nhwc, with no channel padding), the value stays
//! in that layout: the producer skips its output reorder and the consumers
//! their input reorders (node attributes kiln_onednn_{dst,src,res}_tag).
//! Before tactic choice, the same for every Conv that Conv.onednn supports,
//! as if all chose it: Conv.onednn is then timed without the reorders a
//! chain saves (as TensorRT times formats, not reformats). Whatever is not
//! confirmed after the choice is undone by chainOnednnConvLayouts.
void chainOnednnConvLayouts(ir::Graph& graph);
void proposeOnednnConvLayouts(ir::Graph& graph);
}  // namespace kiln::cpu

#if KILN_HAVE_ONEDNN
#include <array>
#include <atomic>
#include <memory>
#include <mutex>

#include <oneapi/dnnl/dnnl.hpp>

namespace kiln::cpu::onednn {

using dnnl::memory;

const dnnl::engine& engine();
//! The calling thread's dnnl stream (streams are not thread-safe; made once per thread).
dnnl::stream& threadStream();
//! Sets the OpenMP thread count of the calling thread (what oneDNN creates and runs with).
void setThreads(int threads);
//! `kiln_packed` value for weights reordered by this oneDNN version.
std::string packedLayout();

//! Appends `a` as eltwise post-ops; false when oneDNN has no such activation.
bool appendActivation(dnnl::post_ops& po, const Activation& a);

std::vector<int64_t> encodeDesc(const memory::desc& md);
memory::desc decodeDesc(const std::vector<int64_t>& words, const std::string& what);

memory::dims toDims(const std::vector<int64_t>& v);
//! Row-major strides of `dims`.
memory::dims denseStrides(const memory::dims& dims);

//! Bytes needed to put `sizes` one after the other, each 64-byte aligned.
std::size_t alignedTotal(std::initializer_list<std::size_t> sizes);
inline std::size_t align64(std::size_t n) { return (n + 63) & ~std::size_t{63}; }

//! Primitives keyed by (thread count, shape), filled on first use and never
//! removed: lookups are lock-free, insertion takes a mutex. When the table
//! is full a miss gives a one-off entry held by the caller.
template <typename Entry>
class PrimitiveCache {
 public:
  struct Key {
    int threads = 0;
    std::array<int64_t, 3 * kMaxRank + 2> dims{};
    bool operator==(const Key& o) const { return threads == o.threads && dims == o.dims; }
  };

  //! The entry for `key`; `make` builds one on a miss. `owned` receives a
  //! one-off entry when the cache is full.
  template <typename Make>
  const Entry& get(const Key& key, Make&& make, std::unique_ptr<Entry>& owned) const {
    const int n = count_.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i)
      if (keys_[i] == key) return *entries_[i];
    std::lock_guard<std::mutex> lock(mu_);
    const int m = count_.load(std::memory_order_relaxed);
    for (int i = n; i < m; ++i)
      if (keys_[i] == key) return *entries_[i];
    std::unique_ptr<Entry> e = make();
    if (m == kSlots) {
      owned = std::move(e);
      return *owned;
    }
    keys_[m] = key;
    entries_[m] = std::move(e);
    count_.store(m + 1, std::memory_order_release);
    return *entries_[m];
  }

 private:
  static constexpr int kSlots = 16;
  mutable std::mutex mu_;
  mutable std::atomic<int> count_{0};
  mutable std::array<Key, kSlots> keys_{};
  mutable std::array<std::unique_ptr<Entry>, kSlots> entries_{};
};

//! Wraps `data` (may be null for an absent argument) as a dnnl memory of `md`.
inline memory wrap(const memory::desc& md, const void* data) {
  return memory(md, engine(), const_cast<void*>(data));
}

//! Runs `prim` with a fixed argument array (the C++ API's map would allocate per call).
void execute(const dnnl::primitive& prim, dnnl::stream& stream, int nargs, const dnnl_exec_arg_t* args);

}  // namespace kiln::cpu::onednn
#endif
