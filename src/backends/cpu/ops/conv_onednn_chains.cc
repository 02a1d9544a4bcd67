// Which values stay in oneDNN's layout between Conv.onednn layers (the chains
// of onednn_util.h): before tactic timing (proposeOnednnConvLayouts) and after
// the choice (chainOnednnConvLayouts), as node attributes the convolutions,
// and the NHWC Concat / Split / MaxPool kernels, read.
#include "backends/cpu/ops/onednn_util.h"

#if KILN_HAVE_ONEDNN
#include <map>
#include <optional>

#include "backends/cpu/ops/nn_util.h"
#include "backends/cpu/precision.h"

namespace kiln::cpu {
namespace {

using namespace onednn;
using tag = memory::format_tag;
using dt = memory::data_type;

// The blocked layout that `md` (a 4-D activation) is, if it is one Kiln can
// keep in a plain tensor's bytes (no channel padding); tag::undef otherwise.
tag blockedTagOf(const memory::desc& md) {
  const std::size_t plainBytes = static_cast<std::size_t>(ir::numElements(md.dims())) * sizeof(float);
  for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc})
    if (md == memory::desc(md.dims(), dt::f32, t)) return md.get_size() == plainBytes ? t : tag::undef;
  return tag::undef;
}

// The ops a value in one of oneDNN's layouts passes through unchanged, so a
// chain of oneDNN convolutions need not reorder around them (YOLO's C2f:
// Split, the bottleneck's shortcut Add, Concat, all between convolutions;
// its SPPF: MaxPools and a Concat):
// - binary ops on two operands of one shape: elementwise by flat position, in any layout;
// - Concat and Split on the channel axis: in nChw16c / nChw8c, when every
//   channel count is a multiple of the block, each image's part is one run of
//   C_i x H x W values as in NCHW, so the NCHW kernel moves the right bytes;
//   in NHWC the kernel (Concat.ref / Split.ref with kNhwcAttr) moves each
//   pixel's run of C_i values instead;
// - a 2-D MaxPool without Indices in NHWC (MaxPool.rows with kNhwcAttr).
// - in NHWC, a Mul scaling x's channels by s [N or 1, C, 1, 1] (EfficientNet's
//   squeeze-excitation gate, s * x): Mul.ref walks pixels (kNhwcAttr), s is
//   the same in any layout.
// Readers that take a value in NHWC without passing it on: a global pool
// (its [N, C, 1, 1] output is plain), GlobalAveragePool.lanes with kNhwcAttr
// — the gate's other reader; and KilnScaledConv.onednn, the gate and the
// projection in one (a convolution to this file: convPrimitiveOf). With
// those, an MBConv block stays NHWC from its expansion convolution to its
// projection: on EfficientNet-B0 the chain broke at every depthwise output
// (a reorder to NCHW for the pool and the gate, then one back), 3.25 of the
// 11.2 ms oneDNN spent at 2 threads; 0.06 ms of reorders are left.

// The data operand of a Mul that scales the channels of an FP32 x [N, C, H, W]
// by s [N or 1, C, 1, 1] (either order), or -1.
int channelScaledInput(const ir::Node& n) {
  if (n.op != "Mul" || n.inputs.size() != 2 || n.outputs.size() != 1 || !n.outputs[0]) return -1;
  for (int d = 0; d < 2; ++d) {
    const ir::Value *x = n.input(d), *s = n.input(1 - d);
    if (!x || !s || x->dtype != DType::kFLOAT || s->dtype != DType::kFLOAT || x->shape.size() != 4 ||
        s->shape.size() != 4 || !ir::isStatic(x->shape) || !ir::isStatic(s->shape) || x->shape == s->shape ||
        n.outputs[0]->shape != x->shape)
      continue;
    const std::vector<int64_t> xd = ir::staticDims(x->shape), sd = ir::staticDims(s->shape);
    if ((sd[0] == 1 || sd[0] == xd[0]) && sd[1] == xd[1] && sd[2] == 1 && sd[3] == 1) return d;
  }
  return -1;
}

// Whether reader c takes v in layout t and writes a plain output (a global pool, above).
bool readsWithoutPassing(const ir::Node& c, const ir::Value* v, tag t, bool chosen) {
  if (c.op != "GlobalAveragePool" && c.op != "GlobalMaxPool") return false;
  if (t != tag::nhwc || c.inputs.size() != 1 || c.input(0) != v || (chosen && c.tactic != c.op + ".lanes")) return false;
  return v->dtype == DType::kFLOAT && v->shape.size() == 4 && ir::isStatic(v->shape);
}

// Their inputs that carry data (Split's sizes do not, nor a channel scale's gate).
std::vector<const ir::Value*> passThroughInputs(const ir::Node& n) {
  if (n.op == "Split" || n.op == "MaxPool") return {n.input(0)};
  if (const int d = channelScaledInput(n); d >= 0) return {n.input(d)};
  return std::vector<const ir::Value*>(n.inputs.begin(), n.inputs.end());
}

bool passesThrough(const ir::Node& n, tag t, bool chosen) {
  const int64_t block = t == tag::nChw16c ? 16 : t == tag::nChw8c ? 8 : t == tag::nhwc ? 1 : 0;
  if (block == 0 || n.outputs.empty()) return false;
  auto fits = [&](const ir::Value* v) {
    return v && v->dtype == DType::kFLOAT && v->shape.size() == 4 && ir::isStatic(v->shape) &&
           v->shape[1].value % block == 0;
  };
  if (n.op == "MaxPool") {
    if (t != tag::nhwc || (chosen && n.tactic != "MaxPool.rows") || n.i("storage_order", 0) != 0) return false;
    return n.inputs.size() == 1 && fits(n.input(0)) && n.outputs.size() == 1 && fits(n.outputs[0]);
  }
  // Otherwise the reference kernels: they copy and combine by flat position.
  if (chosen && n.tactic != n.op + ".ref") return false;
  if (const int d = channelScaledInput(n); d >= 0) return t == tag::nhwc && fits(n.input(d)) && fits(n.outputs[0]);
  const bool binary = n.op == "Add" || n.op == "Sub" || n.op == "Mul" || n.op == "Max" || n.op == "Min";
  if (binary) {
    return n.inputs.size() == 2 && n.outputs.size() == 1 && fits(n.input(0)) && fits(n.input(1)) &&
           n.input(0)->shape == n.input(1)->shape && n.outputs[0]->shape == n.input(0)->shape;
  }
  if (n.op != "Concat" && n.op != "Split") return false;
  if (n.inputs.size() > 64 || n.outputs.size() > 64) return false;  // the NHWC kernels' part tables
  const int64_t axis = n.i("axis", 0);  // as the kernels read it
  if (axis != 1 && axis != -3) return false;
  for (const ir::Value* v : passThroughInputs(n))
    if (!fits(v)) return false;
  for (const ir::Value* v : n.outputs)
    if (!fits(v)) return false;
  return true;
}

// Tells reader c (not a pass-through op) that it reads v in layout t: a
// convolution as its source or residual, a global pool by kNhwcAttr.
void markReader(ir::Node& c, const ir::Value* v, tag t) {
  c.attrs[c.inputs[0] == v ? kSrcTagAttr : kResTagAttr] = static_cast<int64_t>(t);
  if (c.op == "GlobalAveragePool" || c.op == "GlobalMaxPool") c.attrs[kNhwcAttr] = int64_t{1};
}

// Marks the values that pass between oneDNN convolutions in a blocked
// layout (see onednn_util.h); `chosen` as for convPrimitiveOf. `shapes`, when
// given, is `graph` resolved at the shapes to decide for (same nodes, same
// order): a graph whose inputs vary decides at its opt shapes.
void markChains(ir::Graph& graph, bool chosen, const ir::Graph* shapes) {
  setThreads(ThreadPool::hardwareThreads());
  std::map<const ir::Node*, const ir::Node*> at;  // graph's node -> the same node in `shapes`
  if (shapes) {
    const std::vector<ir::Node*> a = graph.nodeList(), b = shapes->nodeList();
    KILN_CHECK(a.size() == b.size(), "layout choice: the resolved graph has ", b.size(), " nodes, the graph ", a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      KILN_CHECK(a[i]->name == b[i]->name, "layout choice: node ", i, " is \"", a[i]->name, "\" in the graph but \"",
                 b[i]->name, "\" in the resolved one");
      at[a[i]] = b[i];
    }
  }
  std::map<const ir::Node*, std::optional<dnnl::convolution_forward::primitive_desc>> pds;
  auto pdOf = [&](const ir::Node* n) -> const dnnl::convolution_forward::primitive_desc* {
    auto it = pds.find(n);
    if (it == pds.end()) {
      dnnl::convolution_forward::primitive_desc pd;
      bool ok = false;
      try {
        ok = convPrimitiveOf(shapes ? *at.at(n) : *n, chosen, &pd);
      } catch (const dnnl::error&) {  // no chain through a layer oneDNN cannot describe
      }
      it = pds.emplace(n, ok ? std::optional(pd) : std::nullopt).first;
    }
    return it->second ? &*it->second : nullptr;
  };
  // Whether consumer c reads v (as input or residual, once) in layout t.
  auto takes = [&](const ir::Node* c, const ir::Value* v, tag t) {
    const auto* cpd = pdOf(c);
    if (!cpd) return false;
    int uses = 0;
    bool agree = true;
    for (std::size_t i = 0; agree && i < c->inputs.size(); ++i) {
      if (c->inputs[i] != v) continue;
      ++uses;
      // (a BF16 consumer converts its FP32 input in the reorder it does anyway: its layout is what counts)
      const memory::desc& src = cpd->src_desc();
      agree = (i == 0 && src == memory::desc(src.dims(), src.data_type(), t)) ||
              (i == 3 && cpd->dst_desc() == memory::desc(cpd->dst_desc().dims(), dt::f32, t));
    }
    return agree && uses == 1;
  };
  // The values that stay blocked, and their layout: first every convolution
  // output oneDNN would write blocked, carried forward through the ops a
  // blocked value passes unchanged (passThrough), in graph order; then, until
  // nothing changes, a value goes where one of its readers cannot take it so,
  // or where it leaves a pass-through op some of whose data is not blocked.
  const std::vector<ir::Node*> nodes = graph.nodeList();
  std::map<const ir::Value*, tag> blocked;
  std::map<const ir::Node*, tag> passing;  // pass-through ops whose inputs were all blocked alike
  for (ir::Node* n : nodes) {
    if (const auto* pd = pdOf(n)) {
      const tag t = blockedTagOf(pd->dst_desc());
      if (t != tag::undef && !graph.isGraphOutput(n->outputs[0])) blocked[n->outputs[0]] = t;
      continue;
    }
    std::optional<tag> common;
    bool all = true;
    for (const ir::Value* in : passThroughInputs(*n)) {
      auto it = blocked.find(in);
      all = all && it != blocked.end() && (!common || *common == it->second);
      if (all) common = it->second;
    }
    if (!all || !common || !passesThrough(*n, *common, chosen)) continue;
    bool outputs = true;
    for (const ir::Value* o : n->outputs) outputs = outputs && o && !graph.isGraphOutput(o);
    if (!outputs) continue;
    passing[n] = *common;
    for (const ir::Value* o : n->outputs) blocked[o] = *common;
  }
  auto readerTakes = [&](const ir::Node* c, const ir::Value* v, tag t) {
    if (auto it = passing.find(c); it != passing.end()) return it->second == t;
    return readsWithoutPassing(*c, v, t, chosen) || takes(c, v, t);
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = passing.begin(); it != passing.end();) {
      bool ok = true;
      for (const ir::Value* in : passThroughInputs(*it->first)) {
        auto b = blocked.find(in);
        ok = ok && b != blocked.end() && b->second == it->second;
      }
      for (const ir::Value* o : it->first->outputs) ok = ok && blocked.count(o);
      if (ok) {
        ++it;
        continue;
      }
      for (const ir::Value* o : it->first->outputs) blocked.erase(o);
      it = passing.erase(it);
      changed = true;
    }
    for (auto it = blocked.begin(); it != blocked.end();) {
      const std::vector<ir::Node*> readers = graph.consumers(it->first);
      bool ok = !readers.empty();
      for (const ir::Node* c : readers) ok = ok && readerTakes(c, it->first, it->second);
      if (ok) {
        ++it;
        continue;
      }
      it = blocked.erase(it);
      changed = true;
    }
  }
  for (ir::Node* n : nodes) {
    if (passing.count(n) || !pdOf(n)) continue;
    const ir::Value* v = n->outputs[0];
    auto found = blocked.find(v);
    if (found == blocked.end()) continue;
    const tag t = found->second;
    const std::vector<ir::Node*> consumers = graph.consumers(v);
    // Between BF16 layers the value is stored in bf16: the producer runs in
    // BF16 and each consumer is a BF16 layer reading it as its input, or any
    // oneDNN convolution reading it as its residual (the sum's reorder
    // converts). A MaxPool (FP32) or a pass-through op between them keeps it FP32.
    bool bf16 = chosen && n->tactic == convTacticName(dt::bf16);
    for (const ir::Node* c : consumers)
      bf16 = bf16 && c->op == "Conv" && (c->inputs[0] != v || c->tactic == convTacticName(dt::bf16));
    // Before the choice, the same as a proposal (kDstBF16ProposedAttr) where
    // every layer marked for BF16 would choose it.
    auto candidate = [](const ir::Node* c) { return c->op == "Conv" && c->i(kBF16Attr, 0) >= 1; };
    bool proposedBF16 = !chosen && candidate(n) && hostSupportsBF16Tactics();
    for (const ir::Node* c : consumers)
      proposedBF16 = proposedBF16 && c->op == "Conv" && (c->inputs[0] != v || candidate(c));
    n->attrs[kDstTagAttr] = static_cast<int64_t>(t);
    if (bf16) n->attrs[kDstBF16Attr] = int64_t{1};
    if (proposedBF16) n->attrs[kDstBF16ProposedAttr] = int64_t{1};
    for (ir::Node* c : consumers) {
      if (passing.count(c)) continue;
      markReader(*c, v, t);
      if (bf16) c->attrs[c->inputs[0] == v ? kSrcBF16Attr : kResBF16Attr] = int64_t{1};
      if (proposedBF16) c->attrs[c->inputs[0] == v ? kSrcBF16ProposedAttr : kResBF16ProposedAttr] = int64_t{1};
    }
  }
  // The pass-through ops (NHWC ones are told: their kernels walk pixels, not
  // planes), and the convolutions reading what they wrote.
  for (const auto& [cp, t] : passing) {
    ir::Node* p = const_cast<ir::Node*>(cp);
    if (t == tag::nhwc && (p->op == "Concat" || p->op == "Split" || p->op == "MaxPool" || p->op == "Mul")) {
      p->attrs[kNhwcAttr] = int64_t{1};
      p->attrs[kSrcTagAttr] = p->attrs[kDstTagAttr] = static_cast<int64_t>(t);
    }
    for (const ir::Value* o : p->outputs)
      for (ir::Node* c : graph.consumers(o))
        if (!passing.count(c)) markReader(*c, o, t);
  }
}

void clearChains(ir::Graph& graph) {
  for (ir::Node* n : graph.nodeList())
    for (const char* a : {kSrcTagAttr, kDstTagAttr, kResTagAttr, kSrcBF16Attr, kDstBF16Attr, kResBF16Attr,
                          kSrcBF16ProposedAttr, kDstBF16ProposedAttr, kResBF16ProposedAttr, kNhwcAttr})
      n->attrs.erase(a);
}

}  // namespace

void proposeOnednnConvLayouts(ir::Graph& graph) {
  clearChains(graph);
  markChains(graph, false, nullptr);
}

void chainOnednnConvLayouts(ir::Graph& graph, const ir::Graph* shapes) {
  clearChains(graph);
  markChains(graph, true, shapes);
}

}  // namespace kiln::cpu

#else
namespace kiln::cpu {
void proposeOnednnConvLayouts(ir::Graph&) {}
void chainOnednnConvLayouts(ir::Graph&, const ir::Graph*) {}
}  // namespace kiln::cpu
#endif
