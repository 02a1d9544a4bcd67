// Schemas of the reductions (ONNX opset 18+ form: `axes` is the optional,
// constant input 1) and of ArgMax/ArgMin (`axis` attribute, int64 out).
#include <algorithm>
#include <vector>

#include "ir/ops/families.h"

namespace kiln::ir {
namespace {

void inferReduce(InferContext& ctx) {
  const Node& node = ctx.node();
  DType t = ctx.in(0).dtype;
  // bool ReduceMax/ReduceMin are opset 20's any/all.
  bool boolOk = t == DType::kBOOL && (node.op == "ReduceMax" || node.op == "ReduceMin");
  ctx.check((t != DType::kBOOL || boolOk) && !isFp8(t), "does not accept a ", dataTypeName(t), " input");
  // The parser upgrades the old attribute form; one left here would be silently ignored.
  ctx.check(!node.has("axes"), "axes must be input 1, not an attribute (opset 18 form)");
  int64_t keepdims = node.i("keepdims", 1);
  int64_t noop = node.i("noop_with_empty_axes", 0);
  ctx.check(keepdims == 0 || keepdims == 1, "keepdims must be 0 or 1, got ", keepdims);
  const Shape& in = ctx.in(0).shape;
  int64_t rank = ctx.rank(0);

  std::vector<int64_t> axes;
  if (ctx.hasInput(1)) {
    const Tensor* t1 = ctx.constInput(1);
    ctx.check(t1 != nullptr, "axes (input 1, \"", ctx.in(1).name, "\") must be a constant");
    ctx.check(t1->dtype() == DType::kINT64 || t1->dtype() == DType::kINT32, "axes must be int64, got ",
              dataTypeName(t1->dtype()));
    ctx.check(t1->dims().size() <= 1, "axes must be 1-D, got shape ", toString(t1->dims()));
    axes = t1->toInt64();
  }
  std::vector<bool> reduced(static_cast<std::size_t>(rank), false);
  if (axes.empty()) {
    if (noop) {
      ctx.setOutput(0, t, in);
      return;
    }
    std::fill(reduced.begin(), reduced.end(), true);
  }
  for (int64_t a : axes) {
    int64_t n = ctx.axis(a, rank, "axes entry");
    ctx.check(!reduced[n], "axis ", a, " appears twice in axes");
    reduced[n] = true;
  }
  Shape out;
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced[d]) out.push_back(in[d]);
    else if (keepdims) out.push_back(Dim(int64_t{1}));
  }
  ctx.setOutput(0, t, out);
}

void inferArg(InferContext& ctx) {
  const Node& node = ctx.node();
  DType t = ctx.in(0).dtype;
  ctx.check(t != DType::kBOOL && !isFp8(t), "does not accept a ", dataTypeName(t), " input");
  int64_t keepdims = node.i("keepdims", 1);
  int64_t last = node.i("select_last_index", 0);
  ctx.check(keepdims == 0 || keepdims == 1, "keepdims must be 0 or 1, got ", keepdims);
  ctx.check(last == 0 || last == 1, "select_last_index must be 0 or 1, got ", last);
  int64_t rank = ctx.rank(0);
  ctx.check(rank >= 1, "needs an input of rank >= 1");
  int64_t axis = ctx.axis(node.i("axis", 0), rank);
  const Shape& in = ctx.in(0).shape;
  ctx.check(!in[axis].known() || in[axis].value > 0, "cannot reduce the empty axis ", axis, " of ", toString(in));
  Shape out;
  for (int64_t d = 0; d < rank; ++d) {
    if (d != axis) out.push_back(in[d]);
    else if (keepdims) out.push_back(Dim(int64_t{1}));
  }
  ctx.setOutput(0, DType::kINT64, out);
}

}  // namespace

void registerReduceSchemas(SchemaRegistry& r) {
  for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                         "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"}) {
    OpSchema s;
    s.op = op;
    s.minInputs = 1;
    s.maxInputs = 2;
    s.infer = inferReduce;
    r.add(std::move(s));
  }
  for (const char* op : {"ArgMax", "ArgMin"}) {
    OpSchema s;
    s.op = op;
    s.infer = inferArg;
    r.add(std::move(s));
  }
}

}  // namespace kiln::ir
