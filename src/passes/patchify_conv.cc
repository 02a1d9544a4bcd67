// A Conv whose kernel tiles its input without overlap (kernel == stride, no
// padding, dilation 1, one group: ViT's patch embedding, 16x16 stride 16)
// is a matrix product of the patches, so it becomes one:
//
//   x [N, C, H, W] -> Reshape [N, C, Ho, Kh, Wo, Kw] -> Transpose(0,2,4,1,3,5)
//     -> Reshape [N, Ho*Wo, C*Kh*Kw] -> MatMul(., W') [+ bias] -> [N, Ho*Wo, M]
//
// with W' [C*Kh*Kw, M] the weights flattened and transposed at build time.
// Where the Conv's output is flattened and transposed to tokens, as ViT does
// (Reshape [N, M, Ho*Wo] -> Transpose(0,2,1)), the MatMul's [N, Ho*Wo, M] is
// those tokens and both nodes go; otherwise Reshape [N, Ho, Wo, M] ->
// Transpose(0,3,1,2) gives back the NCHW output. Why: convolution libraries
// pick poor kernels for this shape (cuDNN on the H200: 0.46 ms at batch 64,
// 32 TFLOP/s, where the same product as a GEMM is a few tens of us), and the
// MatMul gets the GEMM tactics, the bias epilogue (fuse_bias_activation runs
// after this pass) and, on the CPU, prepacked weights.
//
// Only static C, H, W (divisible by the kernel) and constant float weights;
// N may be dynamic (the Reshapes copy it with 0). A fused activation or
// residual (kiln_act, a 4th input) would be made later; this pass runs before.
#include <optional>

#include "core/error.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

struct Patchify {
  ir::Node* conv;
  int64_t c, ho, kh, wo, kw, m;
  ir::Node* flatten = nullptr;  //!< Reshape [N, M, Ho*Wo] reading the Conv's output, with...
  ir::Node* tokens = nullptr;   //!< ... Transpose(0,2,1) reading it: both replaced by the MatMul
};

std::optional<Patchify> match(const ir::Graph& g, ir::Node* n) {
  if (n->op != "Conv" || n->inputs.size() < 2 || n->inputs.size() > 3 || n->outputs.size() != 1) return std::nullopt;
  if (n->has("kiln_act") || n->i("group", 1) != 1 || n->s("auto_pad", "NOTSET") != "NOTSET") return std::nullopt;
  const ir::Value* x = n->input(0);
  const ir::Tensor* w = floatConstant(n->input(1));
  if (!x || x->dtype != DType::kFLOAT || !w || w->dims().size() != 4 || x->shape.size() != 4) return std::nullopt;
  if (n->input(2) && !floatConstant(n->input(2))) return std::nullopt;
  for (std::size_t i = 1; i < 4; ++i)
    if (!x->shape[i].known()) return std::nullopt;
  const std::vector<int64_t>& wd = w->dims();
  const int64_t kh = wd[2], kw = wd[3];
  if (n->ints("kernel_shape", {kh, kw}) != std::vector<int64_t>{kh, kw}) return std::nullopt;
  if (n->ints("strides", {1, 1}) != std::vector<int64_t>{kh, kw} || kh * kw == 1) return std::nullopt;  // 1x1: a plain Conv
  if (!allEqual(n->ints("pads", {0, 0, 0, 0}), 0) || !allEqual(n->ints("dilations", {1, 1}), 1)) return std::nullopt;
  const int64_t c = x->shape[1].value, h = x->shape[2].value, wi = x->shape[3].value;
  if (wd[1] != c || h % kh || wi % kw) return std::nullopt;
  Patchify p{n, c, h / kh, kh, wi / kw, kw, wd[0]};

  // ViT's tokens: Reshape to [N, M, Ho*Wo] (any spelling that infers to it), then Transpose(0,2,1).
  ir::Node* flat = soleConsumer(g, n->outputs[0], "Reshape");
  if (flat && flat->outputs.size() == 1) {
    const ir::Shape& fs = flat->outputs[0]->shape;
    ir::Node* tr = soleConsumer(g, flat->outputs[0], "Transpose");
    if (tr && fs.size() == 3 && fs[1].known() && fs[1].value == p.m && fs[2].known() && fs[2].value == p.ho * p.wo &&
        sameDim(fs[0], x->shape[0]) && tr->ints("perm", {}) == std::vector<int64_t>{0, 2, 1}) {
      p.flatten = flat;
      p.tokens = tr;
    }
  }
  return p;
}

bool rewrite(Rewriter& rw, const Patchify& p) {
  ir::Graph& g = rw.graph;
  ir::Node* conv = p.conv;
  const std::string& base = conv->name;
  auto shapeConst = [&](const char* what, std::vector<int64_t> dims) {
    const int64_t rank = static_cast<int64_t>(dims.size());
    return g.addConstant(base + "/patchify_" + what, ir::Tensor::fromInt64(dims, {rank}));
  };
  auto add = [&](const std::string& op, const char* what, std::vector<ir::Value*> in,
                 std::map<std::string, ir::Attribute> attrs = {}) {
    ir::Value* out = g.addValue(base + "/patchify_" + what);
    ir::Node* node = g.addNode(op, base + "/patchify_" + what, std::move(in), {out});
    node->attrs = std::move(attrs);
    return out;
  };

  // W [M, C, Kh, Kw] -> W' [C*Kh*Kw, M]: row (c, kh, kw) of the patch vector, as the Transpose below orders it.
  const ir::Tensor& w = *conv->inputs[1]->constant;
  const int64_t k = p.c * p.kh * p.kw;
  std::vector<float> wv = w.toFloat(), wt(static_cast<std::size_t>(k * p.m));
  for (int64_t o = 0; o < p.m; ++o)
    for (int64_t i = 0; i < k; ++i) wt[i * p.m + o] = wv[o * k + i];
  ir::Value* weights = g.addConstant(conv->inputs[1]->name + "_patches", ir::Tensor::fromFloat(wt, {k, p.m}));

  ir::Value* split = add("Reshape", "split", {conv->inputs[0], shapeConst("split_shape", {0, p.c, p.ho, p.kh, p.wo, p.kw})});
  ir::Value* patches =
      add("Transpose", "patches", {split}, {{"perm", std::vector<int64_t>{0, 2, 4, 1, 3, 5}}});
  ir::Value* rows = add("Reshape", "rows", {patches, shapeConst("rows_shape", {0, p.ho * p.wo, k})});
  ir::Value* product = add("MatMul", "matmul", {rows, weights});
  if (conv->input(2)) product = add("Add", "bias", {product, conv->inputs[2]});

  if (p.tokens) {
    redirectOutput(product->producer, 0, p.tokens->outputs[0]);
    rw.remove(p.tokens);
    rw.remove(p.flatten);
  } else {
    ir::Value* grid = add("Reshape", "grid", {product, shapeConst("grid_shape", {0, p.ho, p.wo, p.m})});
    ir::Node* back = g.addNode("Transpose", base + "/patchify_nchw", {grid}, {conv->outputs[0]});
    back->attrs["perm"] = std::vector<int64_t>{0, 3, 1, 2};
    conv->outputs[0]->producer = back;
  }
  rw.remove(conv);
  return true;
}

}  // namespace

bool patchifyConv(ir::Graph& graph, PassContext& ctx) {
  if (!ctx.patchifyConv) return false;
  Rewriter rw(graph);
  int tokens = 0;
  int done = rw.forEachNode([&](ir::Node* n) {
    std::optional<Patchify> p = match(graph, n);
    if (!p) return false;
    tokens += p->tokens != nullptr;
    return rewrite(rw, *p);
  });
  if (done)
    ctx.log.push_back(strCat("patchify_conv: ", done, " non-overlapping Conv(s) as MatMul over patches (", tokens,
                             " straight to tokens)"));
  return done > 0;
}

}  // namespace kiln::passes
