// An attention's Q, K and V projections of one input become one MatMul by the
// three weight matrices side by side (HF BERT writes three):
//   x -> MatMul(Wq) [-> Add(bq)], MatMul(Wk) [-> Add(bk)], MatMul(Wv) [-> Add(bv)]
//   becomes x -> MatMul([Wq Wk Wv]) [-> Add([bq bk bv])] -> Reshape [.., 3, N]
//   -> Gather 0 / 1 / 2 (axis -2), each writing what its projection wrote.
// One GEMM with N = 3E instead of three with N = E: at batch 1 each of the
// three is too small to fill the GPU (BERT-base s128: 6 output tiles of 128),
// so their times add up; the packed one takes about the time of one.
// fold_attention_views (next in the pipeline) reads Q, K and V from the packed
// output through their views (the select index of each Gather), as it does for
// torch's MultiheadAttention, whose in_proj is already packed; the Gathers and
// the head-split Transposes go. fuse_bias_activation later takes the packed
// bias Add into the MatMul.
// Needs: the three projections of the same value, float 2-D constant weights
// of one [K, N], biases on all three or none (constants of N elements), static
// shapes (the Reshape), each reaching Q, K or V of the same KilnAttention
// through layout ops only, and no precision pins on them.
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "passes/passes.h"
#include "passes/pattern.h"

namespace kiln::passes {
namespace {

bool isLayoutOp(const ir::Node* n) { return isRegroup(*n) || n->op == "Transpose"; }

//! One projection: x @ W (+ b), writing `out`.
struct Projection {
  ir::Node* matmul = nullptr;
  ir::Node* add = nullptr;  //!< the bias Add, or null
  const ir::Tensor* weights = nullptr;
  const ir::Tensor* bias = nullptr;
  ir::Value* out = nullptr;
};

//! The projection that `operand` is a layout-op chain of, or nothing.
std::optional<Projection> projectionOf(const ir::Graph& g, ir::Value* operand) {
  ir::Value* v = operand;
  for (int depth = 0; depth < 8 && v->producer && isLayoutOp(v->producer); ++depth) v = v->producer->inputs[0];
  Projection p;
  p.out = v;
  ir::Node* n = producerOf(v);
  if (n && n->op == "Add") {
    for (int i = 0; i < 2; ++i) {
      ir::Node* mm = producerOf(n->inputs[static_cast<std::size_t>(i)], "MatMul");
      const ir::Tensor* b = floatConstant(n->inputs[static_cast<std::size_t>(1 - i)]);
      if (mm && b && soleConsumer(g, mm->outputs[0]) == n) p.matmul = mm, p.bias = b;
    }
    if (!p.matmul) return std::nullopt;
    p.add = n;
  } else if (n && n->op == "MatMul") {
    p.matmul = n;
  } else {
    return std::nullopt;
  }
  ir::Node* mm = p.matmul;
  if (mm->inputs.size() != 2 || mm->outputs.size() != 1 || mm->has("kiln_act") || hasPrecisionPin(*mm) ||
      (p.add && hasPrecisionPin(*p.add)))
    return std::nullopt;
  p.weights = floatConstant(mm->inputs[1]);
  if (!p.weights || p.weights->dims().size() != 2 || mm->outputs[0]->dtype != DType::kFLOAT) return std::nullopt;
  const int64_t n_ = p.weights->dims()[1];
  if (p.bias && (p.bias->numel() != n_ || p.bias->dims().empty() || p.bias->dims().back() != n_)) return std::nullopt;
  if (!ir::isStatic(mm->inputs[0]->shape) || !ir::isStatic(p.out->shape) ||
      !sameShape(p.out->shape, mm->outputs[0]->shape))
    return std::nullopt;  // a bias that broadcast the product to more dims
  return p;
}

//! Concatenates three [rows, cols] float blocks along the columns.
ir::Tensor sideBySide(const std::array<const ir::Tensor*, 3>& parts, int64_t rows, int64_t cols) {
  std::vector<float> out(static_cast<std::size_t>(rows * cols * 3));
  for (int64_t r = 0; r < rows; ++r)
    for (int i = 0; i < 3; ++i) {
      const float* src = parts[static_cast<std::size_t>(i)]->as<float>() + r * cols;
      std::copy(src, src + cols, out.begin() + (r * 3 + i) * cols);
    }
  return ir::Tensor::fromFloat(out, rows == 1 ? std::vector<int64_t>{cols * 3} : std::vector<int64_t>{rows, cols * 3});
}

bool pack(Rewriter& rw, ir::Node* attention) {
  if (attention->op != "KilnAttention" || attention->inputs.size() < 3) return false;
  ir::Graph& g = rw.graph;
  std::array<Projection, 3> p;
  for (int i = 0; i < 3; ++i) {
    std::optional<Projection> found = projectionOf(g, attention->inputs[static_cast<std::size_t>(i)]);
    if (!found) return false;
    p[static_cast<std::size_t>(i)] = *found;
  }
  ir::Value* x = p[0].matmul->inputs[0];
  for (const Projection& q : p) {
    if (q.matmul->inputs[0] != x || q.weights->dims() != p[0].weights->dims() || (q.bias == nullptr) != (p[0].bias == nullptr))
      return false;
  }
  if (p[0].matmul == p[1].matmul || p[0].matmul == p[2].matmul || p[1].matmul == p[2].matmul) return false;
  const int64_t k = p[0].weights->dims()[0], n = p[0].weights->dims()[1];
  const std::string name = g.uniqueName(p[0].matmul->name + "/qkv");
  ir::Value* w = g.addConstant(name + "/weights", sideBySide({p[0].weights, p[1].weights, p[2].weights}, k, n));
  ir::Shape packedShape = x->shape;
  packedShape.back() = ir::Dim(3 * n);
  ir::Value* packed = g.addValue(name, DType::kFLOAT, packedShape);
  g.addNode("MatMul", name, {x, w}, {packed});
  if (p[0].bias) {
    ir::Value* b = g.addConstant(name + "/bias", sideBySide({p[0].bias, p[1].bias, p[2].bias}, 1, n));
    ir::Value* biased = g.addValue(name + "/biased", DType::kFLOAT, packedShape);
    g.addNode("Add", name + "/bias_add", {packed, b}, {biased});
    packed = biased;
  }
  ir::Shape split(packedShape.begin(), packedShape.end() - 1);
  split.push_back(ir::Dim(int64_t{3}));
  split.push_back(ir::Dim(n));
  ir::Value* three = reshapeTo(g, packed, split, name + "/split");
  for (int i = 0; i < 3; ++i) {
    const Projection& q = p[static_cast<std::size_t>(i)];
    ir::Value* index = g.addConstant(strCat(name, "/index", i), ir::Tensor::fromInt64({i}, {}));
    ir::Value* out = q.out;
    rw.remove(q.add ? q.add : q.matmul);
    if (q.add) rw.remove(q.matmul);
    g.addNode("Gather", strCat(name, "/select", i), {three, index}, {out})->attrs["axis"] =
        static_cast<int64_t>(split.size() - 2);
  }
  return true;
}

}  // namespace

bool packQkvProjections(ir::Graph& graph, PassContext& ctx) {
  if (!ctx.attentionFusion) return false;
  Rewriter rw(graph);
  int packed = rw.forEachNode([&](ir::Node* n) { return pack(rw, n); });
  if (packed == 0) return false;
  ctx.log.push_back(strCat("pack_qkv_projections: packed the Q, K and V projections of ", packed, " attentions"));
  return true;
}

}  // namespace kiln::passes
