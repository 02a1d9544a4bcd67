// A Mul that scales each input channel of a pointwise Conv, y = Conv(x * s)
// with s of shape [N or 1, C, 1, 1] computed at run time (a squeeze-excitation
// gate: EfficientNet's and MobileNetV3's x * sigmoid(fc(pool(x))) before the
// block's 1x1 projection), becomes one KilnScaledConv(x, w, b, residual, s):
// the CPU's 1x1 GEMM copies x into its B panels anyway and scales the rows
// there (backends/cpu/ops/conv_gemm.cc), so the Mul's full pass over the
// activation (write x * s, read it back) is gone. The builder times that
// GEMM against KilnScaledConv.onednn (conv_onednn.cc: the Mul's pass, then
// oneDNN's convolution, inside a oneDNN layout chain), charging the GEMM the
// reorders it forces on the chain: on EfficientNet-B0 the chain wins.
//
// Only where that pays and the GEMM takes it: the Conv is 1x1, stride 1, no
// padding, dilation 1, group 1, NCHW (no kiln_layout), FP32 with constant
// weights; the Mul's output feeds it alone and is no graph output; x's plane
// is static and at least kMinPlanePerOutput x the output channels. (That
// bound is a rule of thumb, not a per-layer measurement: below it the layer is
// weight-bound — EfficientNet's 14x14 and 7x7 stages, 320 outputs over 49
// pixels — the GEMM loses there and KilnScaledConv.onednn does what the Mul
// and oneDNN's convolution would: fusing all 16 of EfficientNet-B0's blocks
// instead of 9 measured the same.) Runs after
// fuse_bias_activation, so the Conv's bias, residual and
// activation travel with it; CPU builds only (PassContext::cpuFusions), and
// FP32 ones (PassContext::channelScale: under --bf16 on EfficientNet-B0 the
// five BF16 oneDNN convolutions plus their Muls took 0.41 ms, the FP32 scaled
// GEMMs 0.83).
#include "core/error.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

constexpr int64_t kMinPlanePerOutput = 8;

//! Whether `s` is [N or 1, C, 1, 1] for x [N, C, H, W].
bool isChannelScale(const ir::Value* s, const ir::Value* x) {
  if (!s || s->isConstant() || s->dtype != DType::kFLOAT || s->shape.size() != 4 || x->shape.size() != 4) return false;
  const ir::Shape &ss = s->shape, &xs = x->shape;
  if (!ss[0].known() || !(ss[0].value == 1 || ss[0] == xs[0])) return false;
  return ss[1].known() && xs[1].known() && ss[1].value == xs[1].value && ss[2].known() && ss[2].value == 1 &&
         ss[3].known() && ss[3].value == 1;
}

//! The pointwise, plain FP32 Conv that alone reads `v` as its input, or null.
ir::Node* pointwiseReader(const ir::Graph& g, const ir::Value* v) {
  if (g.isGraphOutput(v)) return nullptr;
  const std::vector<ir::Node*> readers = g.consumers(v);
  if (readers.size() != 1) return nullptr;
  ir::Node* c = readers[0];
  if (c->op != "Conv" || c->input(0) != v || c->outputs.size() != 1 || c->has("kiln_layout")) return nullptr;
  for (std::size_t i = 1; i < c->inputs.size(); ++i)
    if (c->inputs[i] == v) return nullptr;
  const ir::Tensor* w = floatConstant(c->input(1));
  if (!w || w->dims().size() != 4 || w->dims()[2] != 1 || w->dims()[3] != 1 || c->i("group", 1) != 1) return nullptr;
  if (c->s("auto_pad", "NOTSET") != "NOTSET" && c->s("auto_pad", "NOTSET") != "VALID") return nullptr;
  if (!allEqual(c->ints("strides", {1, 1}), 1) || !allEqual(c->ints("dilations", {1, 1}), 1) ||
      !allEqual(c->ints("pads", {0, 0, 0, 0}), 0))
    return nullptr;
  return c;
}

}  // namespace

bool fuseChannelScale(ir::Graph& graph, PassContext& ctx) {
  if (!ctx.cpuFusions || !ctx.channelScale) return false;
  struct Match {
    ir::Node *mul, *conv;
    ir::Value *x, *s;
  };
  std::vector<Match> matches;  // found first, rewritten after: rewriting deletes nodes the walk would reach
  for (ir::Node* mul : graph.nodeList()) {
    if (mul->op != "Mul" || mul->inputs.size() != 2 || mul->outputs.size() != 1) continue;
    const ir::Value* y = mul->outputs[0];
    if (y->dtype != DType::kFLOAT) continue;
    for (int side = 0; side < 2; ++side) {
      ir::Value* x = mul->inputs[side];
      ir::Value* s = mul->inputs[1 - side];
      if (!x || x->dtype != DType::kFLOAT || !isChannelScale(s, x) || x->shape != y->shape) continue;
      if (!x->shape[2].known() || !x->shape[3].known()) continue;
      ir::Node* conv = pointwiseReader(graph, y);
      if (!conv) continue;
      const int64_t k = floatConstant(conv->input(1))->dims()[0];
      if (x->shape[2].value * x->shape[3].value < kMinPlanePerOutput * k) continue;
      matches.push_back({mul, conv, x, s});
      break;
    }
  }
  for (const Match& m : matches) {
    std::vector<ir::Value*> inputs = {m.x, m.conv->inputs[1], m.conv->input(2), m.conv->input(3), m.s};
    ir::Value* out = m.conv->outputs[0];
    const std::string name = m.conv->name + "/kiln_scaled";
    auto attrs = m.conv->attrs;
    graph.removeNode(m.conv);
    graph.removeNode(m.mul);
    graph.addNode("KilnScaledConv", name, inputs, {out})->attrs = std::move(attrs);
  }
  if (!matches.empty())
    ctx.log.push_back(strCat("fuse_channel_scale: ", matches.size(), " channel-scale Muls folded into 1x1 Convs"));
  return !matches.empty();
}

}  // namespace kiln::passes
