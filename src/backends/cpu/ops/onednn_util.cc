// The oneDNN glue shared by its tactics (see onednn_util.h).
#include "backends/cpu/ops/onednn_util.h"
#include "backends/cpu/precision.h"

#if KILN_HAVE_ONEDNN
#include <omp.h>

#include <cstring>

#include "core/error.h"

namespace kiln::cpu::onednn {

const dnnl::engine& engine() {
  static const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

Counters& counters() {
  static Counters c;
  return c;
}

dnnl::stream& threadStream() {
  thread_local dnnl::stream stream(engine());
  return stream;
}

void setThreads(int threads) {
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

std::string packedLayout() {
  const dnnl_version_t* v = dnnl_version();
  return strCat("onednn", v->major, ".", v->minor, ".", v->patch);
}

bool appendActivation(dnnl::post_ops& po, const Activation& a) {
  using A = dnnl::algorithm;
  switch (a.kind) {
    case ActKind::kNone: return true;
    case ActKind::kRelu: po.append_eltwise(1.f, A::eltwise_relu, 0.f, 0.f); return true;
    case ActKind::kLeakyRelu: po.append_eltwise(1.f, A::eltwise_relu, a.alpha, 0.f); return true;
    case ActKind::kSigmoid: po.append_eltwise(1.f, A::eltwise_logistic, 0.f, 0.f); return true;
    case ActKind::kTanh: po.append_eltwise(1.f, A::eltwise_tanh, 0.f, 0.f); return true;
    case ActKind::kClip: po.append_eltwise(1.f, A::eltwise_clip, a.alpha, a.beta); return true;
    case ActKind::kHardSigmoid:  // max(0, min(1, alpha x + beta)): linear, then clip
      po.append_eltwise(1.f, A::eltwise_linear, a.alpha, a.beta);
      po.append_eltwise(1.f, A::eltwise_clip, 0.f, 1.f);
      return true;
    case ActKind::kHardSwish: po.append_eltwise(1.f, A::eltwise_hardswish, 0.f, 0.f); return true;
    case ActKind::kGelu: po.append_eltwise(1.f, A::eltwise_gelu_erf, 0.f, 0.f); return true;
    case ActKind::kGeluTanh: po.append_eltwise(1.f, A::eltwise_gelu_tanh, 0.f, 0.f); return true;
    case ActKind::kSilu: po.append_eltwise(1.f, A::eltwise_swish, 1.f, 0.f); return true;
    case ActKind::kSoftplus: po.append_eltwise(1.f, A::eltwise_soft_relu, 0.f, 0.f); return true;
  }
  return false;
}

std::vector<int64_t> encodeDesc(const memory::desc& md) {
  static_assert(sizeof(dnnl_memory_desc_t) % sizeof(int64_t) == 0);
  std::vector<int64_t> words(sizeof(dnnl_memory_desc_t) / sizeof(int64_t));
  std::memcpy(words.data(), &md.data, sizeof(dnnl_memory_desc_t));
  return words;
}

memory::desc decodeDesc(const std::vector<int64_t>& words, const std::string& what) {
  KILN_CHECK(words.size() * sizeof(int64_t) == sizeof(dnnl_memory_desc_t), what,
             ": the plan's oneDNN weight descriptor has ", words.size() * sizeof(int64_t), " bytes, this oneDNN's has ",
             sizeof(dnnl_memory_desc_t));
  dnnl_memory_desc_t raw;
  std::memcpy(&raw, words.data(), sizeof raw);
  return memory::desc(raw);
}

memory::dims toDims(const std::vector<int64_t>& v) { return memory::dims(v.begin(), v.end()); }

memory::dims denseStrides(const memory::dims& dims) {
  memory::dims s(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

void execute(const dnnl::primitive& prim, dnnl::stream& stream, int nargs, const dnnl_exec_arg_t* args) {
  dnnl::error::wrap_c_api(dnnl_primitive_execute(prim.get(), stream.get(), nargs, args), "oneDNN primitive execution");
}

std::size_t alignedTotal(std::initializer_list<std::size_t> sizes) {
  std::size_t total = 0;
  for (std::size_t s : sizes) total += align64(s);
  return total;
}

}  // namespace kiln::cpu::onednn

namespace kiln::cpu {
bool hostSupportsBF16Tactics() {
  // dnnl_cpu_isa_t values are bit sets, each ISA holding the bits of those it extends.
  static const bool native = [] {
    const unsigned isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
  }();
  return native;
}

OnednnCounters onednnCounters() {
  const onednn::Counters& c = onednn::counters();
  return {c.primitives.load(), c.weightReorders.load()};
}
}  // namespace kiln::cpu

#else
namespace kiln::cpu {
bool hostSupportsBF16Tactics() { return false; }  // the BF16 tactics are oneDNN's

OnednnCounters onednnCounters() { return {}; }
}  // namespace kiln::cpu
#endif
