// Schemas of the normalizations beyond BatchNormalization / LayerNormalization
// (part of the nn family, see nn.cc): InstanceNormalization,
// GroupNormalization (opset 21 form: per-channel scale and bias), LRN,
// MeanVarianceNormalization, LpNormalization. Each keeps its input's shape.
#include <set>

#include "ir/ops/nn_internal.h"

namespace kiln::ir {
namespace {

// A per-channel float vector input of length `channels`.
void checkChannelVector(const InferContext& ctx, std::size_t i, const Dim& channels, const char* what) {
  requireFloat(ctx, i, what);
  const Shape& s = ctx.in(i).shape;
  ctx.check(s.size() == 1, what, " has rank ", s.size(), ", expected 1 (one value per channel)");
  ctx.check(!s[0].known() || !channels.known() || s[0].value == channels.value, what, " has ", s[0].value,
            " elements, input has ", channels.value, " channels");
}

void inferInstanceNorm(InferContext& ctx) {
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.in(0).shape;
  ctx.check(x.size() >= 3, "input has rank ", x.size(), ", expected N x C x spatial dims");
  checkChannelVector(ctx, 1, x[1], "scale");
  checkChannelVector(ctx, 2, x[1], "B");
  ctx.setOutput(0, DType::kFLOAT, x);
}

void inferGroupNorm(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.in(0).shape;
  ctx.check(x.size() >= 2, "input has rank ", x.size(), ", expected N x C x ...");
  ctx.check(node.has("num_groups"), "needs the attribute 'num_groups'");
  const int64_t groups = node.i("num_groups", 1);
  ctx.check(groups >= 1, "attribute 'num_groups' is ", groups, "; expected >= 1");
  if (x[1].known())
    ctx.check(x[1].value % groups == 0, "input has ", x[1].value, " channels, not a multiple of num_groups ",
              groups);
  checkChannelVector(ctx, 1, x[1], "scale");
  checkChannelVector(ctx, 2, x[1], "bias");
  ctx.setOutput(0, DType::kFLOAT, x);
}

void inferLrn(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.in(0).shape;
  ctx.check(x.size() >= 3, "input has rank ", x.size(), ", expected N x C x spatial dims");
  ctx.check(node.has("size"), "needs the attribute 'size'");
  const int64_t size = node.i("size", 1);
  ctx.check(size >= 1, "attribute 'size' is ", size, "; expected >= 1");
  ctx.setOutput(0, DType::kFLOAT, x);
}

void inferMvn(InferContext& ctx) {
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.in(0).shape;
  const int64_t rank = static_cast<int64_t>(x.size());
  std::vector<int64_t> axes = ctx.node().ints("axes", {0, 2, 3});
  std::set<int64_t> seen;
  for (int64_t a : axes) ctx.check(seen.insert(ctx.axis(a, rank, "axes value")).second, "axes has axis ", a, " twice");
  ctx.setOutput(0, DType::kFLOAT, x);
}

void inferLpNorm(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.in(0).shape;
  ctx.check(!x.empty(), "input must have rank >= 1");
  ctx.axis(node.i("axis", -1), static_cast<int64_t>(x.size()));
  const int64_t p = node.i("p", 2);
  ctx.check(p == 1 || p == 2, "attribute 'p' is ", p, "; expected 1 or 2");
  ctx.setOutput(0, DType::kFLOAT, x);
}

void add(SchemaRegistry& r, const char* op, int minIn, int maxIn, InferFn fn) {
  OpSchema s;
  s.op = op;
  s.minInputs = minIn;
  s.maxInputs = maxIn;
  s.minOutputs = 1;
  s.maxOutputs = 1;
  s.infer = fn;
  r.add(std::move(s));
}

}  // namespace

void registerExtraNormSchemas(SchemaRegistry& r) {
  add(r, "InstanceNormalization", 3, 3, inferInstanceNorm);  // input, scale, B
  add(r, "GroupNormalization", 3, 3, inferGroupNorm);        // X, scale, bias (per channel)
  add(r, "LRN", 1, 1, inferLrn);
  add(r, "MeanVarianceNormalization", 1, 1, inferMvn);
  add(r, "LpNormalization", 1, 1, inferLpNorm);
}

}  // namespace kiln::ir
