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
// other is made on first use and kept (PrimitiveCache: the recently used
// shapes, bounded).
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
//! Where producer and consumers are Conv.onednn_bf16 layers (a residual
//! consumer may be either), the value is also stored in bf16
//! (kiln_onednn_{dst,src,res}_bf16 = 1): the IR still types it FP32, and its
//! buffer, sized so, holds half as many bytes — opaque, as the blocked layout
//! is, to anything but those layers.
//! A chain may also pass through ops that do not care where each element is
//! (passesThrough, conv_onednn_chains.cc): an NHWC MaxPool (MaxPool.rows; kNhwcAttr
//! on the pool, nn_util.h), same-shape binary ops, an NHWC channel-scaling
//! Mul (a squeeze-excitation gate), and channel-axis Concat / Split (kNhwcAttr
//! on them in NHWC; in nChw16c / nChw8c when the channel counts are multiples
//! of the block), as long as what they write again feeds only such layers or
//! ops; and it may end in a global pool reading NHWC (kNhwcAttr).
//! Before tactic choice, the same for every Conv that Conv.onednn supports,
//! as if all chose it: Conv.onednn is then timed without the reorders a
//! chain saves (as TensorRT times formats, not reformats). Whatever is not
//! confirmed after the choice is undone by chainOnednnConvLayouts.
//! `shapes` (chainOnednnConvLayouts): `graph` resolved at the shapes to
//! decide at, for a graph whose shapes vary (the builder passes the first
//! profile's opt shapes); the kernels reorder at other shapes where oneDNN
//! would run another layout, so the marks stay correct over the whole range.
void chainOnednnConvLayouts(ir::Graph& graph, const ir::Graph* shapes = nullptr);
//! The attributes holding those layouts (oneDNN format_tag values).
constexpr const char* kSrcTagAttr = "kiln_onednn_src_tag";
constexpr const char* kDstTagAttr = "kiln_onednn_dst_tag";
constexpr const char* kResTagAttr = "kiln_onednn_res_tag";
constexpr const char* kSrcBF16Attr = "kiln_onednn_src_bf16";
constexpr const char* kDstBF16Attr = "kiln_onednn_dst_bf16";
constexpr const char* kResBF16Attr = "kiln_onednn_res_bf16";
//! Proposed (before tactic choice) where a chained value would pass in bf16
//! if every convolution marked for BF16 chose it: the producer and each
//! consumer reading it as its input are BF16 candidates (kBF16Attr). The
//! builder times a BF16 tactic with them as the edges above
//! (cpu::assumeProposedPrecision), as layouts are proposed: a memory-bound
//! layer (a depthwise convolution) timed with an FP32 input to convert, and
//! FP32 output, loses to FP32 when inside a BF16 chain it would win (MobileNetV2).
constexpr const char* kSrcBF16ProposedAttr = "kiln_onednn_src_bf16_proposed";
constexpr const char* kDstBF16ProposedAttr = "kiln_onednn_dst_bf16_proposed";
constexpr const char* kResBF16ProposedAttr = "kiln_onednn_res_bf16_proposed";
void proposeOnednnConvLayouts(ir::Graph& graph);
//! cpu::plainLayoutPenaltyMs for a node marked by proposeOnednnConvLayouts (0 without oneDNN).
double onednnPlainLayoutPenaltyMs(const ir::Node& node, int threads, int iterations);
//! cpu::fp32EdgePenaltyMs (conv_onednn_penalty.cc).
double onednnFP32EdgePenaltyMs(const ir::Node& node, int threads, int iterations);

//! Debug counters, process-wide (tests read them; nothing decides by them;
//! zero without oneDNN): oneDNN primitives the oneDNN tactics made (at load,
//! or on the first run at a shape and thread count), and weight reorders at
//! run time (a thread count whose primitive wants another weight format
//! than the plan's: once per kernel and format, never per shape).
struct OnednnCounters {
  long primitives = 0;
  long weightReorders = 0;
};
OnednnCounters onednnCounters();
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

//! The counters behind onednnCounters().
struct Counters {
  std::atomic<long> primitives{0};
  std::atomic<long> weightReorders{0};
};
Counters& counters();

//! Primitives keyed by (thread count, shape): made on a key's first use,
//! kept for the last kSlots keys used (least recently used goes first), so
//! that a dynamic-shape engine meeting many widths keeps the recent ones
//! instead of making a primitive per call once a fixed table is full.
//! Entries are shared: one evicted while another thread runs it lives
//! until that run ends. A lookup takes a mutex for a scan of kSlots keys
//! (tens of ns, uncontended unless contexts run the same layer at once);
//! making a primitive happens outside it.
template <typename Entry>
class PrimitiveCache {
 public:
  static constexpr int kSlots = 32;
  struct Key {
    int threads = 0;
    std::array<int64_t, 3 * kMaxRank + 2> dims{};
    bool operator==(const Key& o) const { return threads == o.threads && dims == o.dims; }
  };

  //! The entry for `key`; `make` (returning std::unique_ptr<Entry>) builds one on a miss.
  template <typename Make>
  std::shared_ptr<const Entry> get(const Key& key, Make&& make) const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (const Slot* s = find(key)) return s->entry;
    }
    std::shared_ptr<const Entry> made(make());
    std::lock_guard<std::mutex> lock(mu_);
    if (const Slot* s = find(key)) return s->entry;  // another thread made it meanwhile
    Slot* victim = &slots_[0];
    for (Slot& s : slots_) {
      if (!s.entry) {
        victim = &s;
        break;
      }
      if (s.used < victim->used) victim = &s;
    }
    *victim = Slot{key, made, ++clock_};
    return made;
  }

  //! Keys held now (tests).
  int size() const {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const Slot& s : slots_) n += s.entry != nullptr;
    return n;
  }

 private:
  struct Slot {
    Key key;
    std::shared_ptr<const Entry> entry;
    uint64_t used = 0;
  };
  const Slot* find(const Key& key) const {
    for (Slot& s : slots_)
      if (s.entry && s.key == key) {
        s.used = ++clock_;
        return &s;
      }
    return nullptr;
  }
  mutable std::mutex mu_;
  mutable uint64_t clock_ = 0;
  mutable std::array<Slot, kSlots> slots_{};
};

//! Wraps `data` (may be null for an absent argument) as a dnnl memory of `md`.
inline memory wrap(const memory::desc& md, const void* data) {
  return memory(md, engine(), const_cast<void*>(data));
}

//! The primitive descriptor a 2-D Conv (or KilnScaledConv) node runs with in
//! Conv.onednn (KilnScaledConv.onednn) at its static shapes (conv_onednn.cc;
//! `chosen`: the node has chosen a oneDNN tactic and carries its prepacked
//! weights); false when there is none.
bool convPrimitiveOf(const ir::Node& n, bool chosen, dnnl::convolution_forward::primitive_desc* pd);
//! "Conv.onednn" or "Conv.onednn_bf16", by the source type.
const char* convTacticName(memory::data_type type);

//! Runs `prim` with a fixed argument array (the C++ API's map would allocate per call).
void execute(const dnnl::primitive& prim, dnnl::stream& stream, int nargs, const dnnl_exec_arg_t* args);

}  // namespace kiln::cpu::onednn
#endif
