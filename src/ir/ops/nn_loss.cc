// Schemas of the loss ops (part of the nn family, see nn.cc):
// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss. Both take scores
// N x C x d1..dk, integer targets N x d1..dk and optional per-class weights C;
// reduction 'none' gives a loss per target, 'sum' / 'mean' a scalar.
#include "ir/ops/nn_internal.h"

namespace kiln::ir {
namespace {

void inferLoss(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloat(ctx, 0, "input");
  const Shape& x = ctx.in(0).shape;
  ctx.check(x.size() >= 2, "input has rank ", x.size(), ", expected N x C x d1..dk");
  const DType tt = ctx.in(1).dtype;
  ctx.check(tt == DType::kINT32 || tt == DType::kINT64, "target is ", dataTypeName(tt), "; expected int32 or int64");
  const Shape& t = ctx.in(1).shape;
  ctx.check(t.size() + 1 == x.size(), "target has rank ", t.size(), ", expected ", x.size() - 1, " (input ",
            toString(x), " without its class axis)");
  for (std::size_t i = 0; i < t.size(); ++i) {
    const Dim& xd = x[i == 0 ? 0 : i + 1];
    ctx.check(!t[i].known() || !xd.known() || t[i].value == xd.value, "target ", toString(t),
              " does not match input ", toString(x), " (without its class axis)");
  }
  if (ctx.hasInput(2)) {
    requireFloat(ctx, 2, "weight");
    const Shape& w = ctx.in(2).shape;
    ctx.check(w.size() == 1, "weight has rank ", w.size(), ", expected 1 (one weight per class)");
    ctx.check(!w[0].known() || !x[1].known() || w[0].value == x[1].value, "weight has ", w[0].value,
              " elements, input has ", x[1].value, " classes");
  }
  const std::string reduction = node.s("reduction", "mean");
  ctx.check(reduction == "none" || reduction == "sum" || reduction == "mean", "attribute 'reduction' is '", reduction,
            "'; expected 'none', 'sum' or 'mean'");
  ctx.setOutput(0, DType::kFLOAT, reduction == "none" ? t : Shape{});
  if (ctx.numOutputs() > 1 && node.outputs[1]) ctx.setOutput(1, DType::kFLOAT, x);  // log_prob (SCE)
}

void add(SchemaRegistry& r, const char* op, int maxOut) {
  OpSchema s;
  s.op = op;
  s.minInputs = 2;
  s.maxInputs = 3;  // input, target, [weight]
  s.minOutputs = 1;
  s.maxOutputs = maxOut;
  s.infer = inferLoss;
  r.add(std::move(s));
}

}  // namespace

void registerLossSchemas(SchemaRegistry& r) {
  add(r, "NegativeLogLikelihoodLoss", 1);
  add(r, "SoftmaxCrossEntropyLoss", 2);  // output, [log_prob]
}

}  // namespace kiln::ir
