// Schemas of the recurrent ops RNN, GRU and LSTM (opset 14 form: `layout`).
// Inputs: X, W, R, B?, sequence_lens?, initial_h? (LSTM: initial_c?, P?).
// Outputs: Y?, Y_h? (LSTM: Y_c?). layout 0: X [seq, batch, input],
// Y [seq, dirs, batch, hidden], Y_h [dirs, batch, hidden]; layout 1: X
// [batch, seq, input], Y [batch, seq, dirs, hidden], Y_h [batch, dirs, hidden].
#include "ir/ops/families.h"

namespace kiln::ir {
namespace {

//! Gates per op: RNN 1, GRU 3 (z, r, h), LSTM 4 (i, o, f, c).
int64_t gatesOf(const std::string& op) { return op == "RNN" ? 1 : op == "GRU" ? 3 : 4; }

void inferRecurrent(InferContext& ctx) {
  const Node& n = ctx.node();
  const Value& x = ctx.in(0);
  const Value& w = ctx.in(1);
  const Value& r = ctx.in(2);
  ctx.check(x.shape.size() == 3, "X must have rank 3, got ", toString(x.shape));
  ctx.check(w.shape.size() == 3 && r.shape.size() == 3, "W and R must have rank 3, got ", toString(w.shape), " and ",
            toString(r.shape));
  ctx.check(x.dtype == DType::kFLOAT && w.dtype == DType::kFLOAT && r.dtype == DType::kFLOAT,
            "X, W and R must be float32");
  std::string direction = n.s("direction", "forward");
  ctx.check(direction == "forward" || direction == "reverse" || direction == "bidirectional",
            "direction must be forward, reverse or bidirectional, got '", direction, "'");
  int64_t dirs = direction == "bidirectional" ? 2 : 1;
  int64_t layout = n.i("layout", 0);
  ctx.check(layout == 0 || layout == 1, "layout must be 0 or 1, got ", layout);
  int64_t gates = gatesOf(n.op);
  Dim hidden = n.has("hidden_size") ? Dim(n.i("hidden_size", 0)) : r.shape[2];
  ctx.check(!hidden.known() || hidden.value > 0, "hidden_size must be positive");
  if (hidden.known()) {
    auto expect = [&](const Dim& d, int64_t v, const char* what) {
      ctx.check(!d.known() || d.value == v, what, " is ", d.value, ", expected ", v);
    };
    expect(w.shape[0], dirs, "W's dim 0 (directions)");
    expect(w.shape[1], gates * hidden.value, "W's dim 1 (gates x hidden_size)");
    expect(r.shape[1], gates * hidden.value, "R's dim 1 (gates x hidden_size)");
    expect(r.shape[2], hidden.value, "R's dim 2 (hidden_size)");
    if (ctx.hasInput(3)) {
      ctx.check(ctx.rank(3) == 2, "B must have rank 2");
      expect(ctx.in(3).shape[1], 2 * gates * hidden.value, "B's dim 1 (2 x gates x hidden_size)");
    }
    if (n.op == "LSTM" && ctx.hasInput(7)) {
      ctx.check(ctx.rank(7) == 2, "P must have rank 2");
      expect(ctx.in(7).shape[1], 3 * hidden.value, "P's dim 1 (3 x hidden_size)");
    }
  }
  if (x.shape[2].known() && w.shape[2].known())
    ctx.check(x.shape[2].value == w.shape[2].value, "X has input size ", x.shape[2].value, " but W expects ",
              w.shape[2].value);
  if (ctx.hasInput(4)) {
    DType t = ctx.in(4).dtype;
    ctx.check(t == DType::kINT32 || t == DType::kINT64, "sequence_lens must be int32, got ", dataTypeName(t));
  }
  const Dim& seq = layout ? x.shape[1] : x.shape[0];
  const Dim& batch = layout ? x.shape[0] : x.shape[1];
  Shape y = layout ? Shape{batch, seq, Dim(dirs), hidden} : Shape{seq, Dim(dirs), batch, hidden};
  Shape yh = layout ? Shape{batch, Dim(dirs), hidden} : Shape{Dim(dirs), batch, hidden};
  for (std::size_t i = 0; i < ctx.numOutputs(); ++i) ctx.setOutput(i, x.dtype, i == 0 ? y : yh);
}

}  // namespace

void registerRnnSchemas(SchemaRegistry& r) {
  r.add({"RNN", 3, 6, 1, 2, inferRecurrent});
  r.add({"GRU", 3, 6, 1, 2, inferRecurrent});
  r.add({"LSTM", 3, 8, 1, 3, inferRecurrent});
}

}  // namespace kiln::ir
