// onednnPlainLayoutPenaltyMs (onednn_util.h): what keeping a Conv.onednn
// layer's activations plain NCHW would cost in reorders, timed with oneDNN's
// reorder primitive, so the builder can score a layer that would break a
// blocked chain (conv_onednn.cc marks the chains); onednnFP32EdgePenaltyMs:
// what an FP32 layer costs where its output was proposed to pass in bf16.
#include "backends/cpu/ops/onednn_util.h"

#if KILN_HAVE_ONEDNN
#include <algorithm>
#include <chrono>
#include <cstring>

namespace kiln::cpu {

using namespace onednn;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

// One oneDNN reorder from `from` to `to`, timed at `threads`: the fastest of
// the runs, as the tactics are scored (builder timeCandidates): load from
// other work only adds time, and a mean takes it in.
double reorderMs(const memory::desc& from, const memory::desc& to, int threads, int iterations) {
  setThreads(threads);
  memory a(from, engine()), b(to, engine());
  std::memset(a.get_data_handle(), 0, a.get_desc().get_size());
  dnnl::reorder r(a, b);
  dnnl::stream& stream = threadStream();
  r.execute(stream, a, b);  // warm-up: pages, caches
  stream.wait();
  double best = 1e300;
  for (int i = 0, runs = std::max(3, iterations); i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    r.execute(stream, a, b);
    stream.wait();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

double onednnPlainLayoutPenaltyMs(const ir::Node& node, int threads, int iterations) {
  double total = 0;
  // One reorder of `v` between the proposed layout and plain NCHW, timed.
  auto reorderOf = [&](const char* attr, const ir::Value* v, bool toPlain) {
    if (!node.has(attr) || !v || v->shape.size() != 4 || !ir::isStatic(v->shape)) return;
    const memory::dims dims = toDims(ir::staticDims(v->shape));
    const memory::desc blocked(dims, dt::f32, static_cast<tag>(node.i(attr, 0))), plain(dims, dt::f32, tag::nchw);
    total += toPlain ? reorderMs(blocked, plain, threads, iterations) : reorderMs(plain, blocked, threads, iterations);
  };
  // The producer of a proposed-blocked input or residual would write plain
  // instead (a reorder after its convolution); consumers of a proposed-blocked
  // output would read plain (a reorder before theirs).
  reorderOf(kSrcTagAttr, node.inputs.empty() ? nullptr : node.inputs[0], true);
  reorderOf(kResTagAttr, node.inputs.size() > 3 ? node.inputs[3] : nullptr, true);
  reorderOf(kDstTagAttr, node.outputs.empty() ? nullptr : node.outputs[0], false);
  return total;
}

double onednnFP32EdgePenaltyMs(const ir::Node& node, int threads, int iterations) {
  // The BF16 consumers of a proposed bf16 output would convert this layer's
  // FP32 one (the writer's own store of bf16 instead of f32 is left out: it is
  // the cheaper side).
  const ir::Value* y = node.outputs.empty() ? nullptr : node.outputs[0];
  if (node.i(kDstBF16ProposedAttr, 0) == 0 || !node.has(kDstTagAttr) || !y || y->shape.size() != 4 ||
      !ir::isStatic(y->shape))
    return 0;
  const memory::dims dims = toDims(ir::staticDims(y->shape));
  const tag t = static_cast<tag>(node.i(kDstTagAttr, 0));
  return reorderMs(memory::desc(dims, dt::f32, t), memory::desc(dims, dt::bf16, t), threads, iterations);
}

}  // namespace kiln::cpu

#else

namespace kiln::cpu {
double onednnPlainLayoutPenaltyMs(const ir::Node&, int, int) { return 0; }
double onednnFP32EdgePenaltyMs(const ir::Node&, int, int) { return 0; }
}  // namespace kiln::cpu

#endif  // KILN_HAVE_ONEDNN
