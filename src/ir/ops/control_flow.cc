// Schemas of the control-flow ops If, Loop and Scan (layout of their inputs,
// outputs and subgraphs: ir/control_flow.h). Inference runs the subgraph's
// own inference with the subgraph inputs typed from the node's inputs, then
// derives the node's outputs from the subgraph's outputs.
#include <algorithm>
#include <functional>

#include "ir/control_flow.h"
#include "ir/ops/families.h"

namespace kiln::ir {
namespace {

using control_flow::subgraph;

struct TypedShape {
  DType dtype;
  Shape shape;
  const Tensor* constant = nullptr;  //!< the outer value's data when it is a constant
};

//! Types the subgraph's inputs and infers every node of it. Constant outer
//! values are visible to the subgraph's inference for the duration (so a
//! Reshape inside can read a captured shape) but are not kept: the
//! subgraph's inputs stay inputs.
//! `refine`, when given, runs after the first inference and may fix dims of
//! the subgraph's values; the nodes it returns keep their outputs' shapes and
//! every other node is inferred again.
void inferSubgraph(const InferContext& ctx, Graph& g, const char* attr, const std::vector<TypedShape>& inputs,
                   const std::function<std::vector<const Node*>()>& refine = nullptr) {
  ctx.check(g.inputs.size() == inputs.size(), "subgraph '", attr, "' has ", g.inputs.size(), " inputs, expected ",
            inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Value* v = g.inputs[i];
    v->dtype = inputs[i].dtype;
    v->shape = inputs[i].shape;
    if (inputs[i].constant) v->constant = std::shared_ptr<const Tensor>(std::shared_ptr<const Tensor>(), inputs[i].constant);
  }
  struct Reset {
    Graph& g;
    ~Reset() {
      for (Value* v : g.inputs) v->constant.reset();
    }
  } reset{g};
  try {
    inferGraph(g);
  } catch (const Error& e) {
    ctx.error("in subgraph '", attr, "': ", e.what());
  }
  std::vector<const Node*> pinned = refine ? refine() : std::vector<const Node*>{};
  if (pinned.empty()) return;
  try {
    for (Node* n : g.nodeList())
      if (std::find(pinned.begin(), pinned.end(), n) == pinned.end()) inferNode(*n);
  } catch (const Error& e) {
    ctx.error("in subgraph '", attr, "': ", e.what());
  }
}

TypedShape typeOf(const Value* v) { return {v->dtype, v->shape, v->constant.get()}; }

std::vector<TypedShape> captureTypes(const InferContext& ctx, std::size_t first) {
  std::vector<TypedShape> out;
  for (std::size_t i = first; i < ctx.numInputs(); ++i) out.push_back(typeOf(&ctx.in(i)));
  return out;
}

//! Dims both shapes agree on stay; the others become unknown.
Shape mergeShapes(const InferContext& ctx, const Shape& a, const Shape& b, std::size_t output) {
  ctx.check(a.size() == b.size(), "output ", output, " has rank ", a.size(), " in one branch and ", b.size(),
            " in the other; Kiln needs one rank for each output, so the condition must be known at parse "
            "time, and it is not a constant");
  Shape out(a.size());
  for (std::size_t d = 0; d < a.size(); ++d) out[d] = a[d] == b[d] ? a[d] : Dim();
  return out;
}

void inferIf(InferContext& ctx) {
  const Value& cond = ctx.in(0);
  ctx.check(cond.dtype == DType::kBOOL, "the condition must be bool, got ", dataTypeName(cond.dtype));
  ctx.check(cond.shape.size() <= 1 && (cond.shape.empty() || !cond.shape[0].known() || cond.shape[0].value == 1),
            "the condition must hold one element, got shape ", toString(cond.shape));
  std::size_t k = control_flow::captures(ctx.node());
  ctx.check(k == ctx.numInputs() - 1, "has ", ctx.numInputs(), " inputs but ", k, " captured values");
  Graph& thenG = subgraph(ctx.node(), "then_branch");
  Graph& elseG = subgraph(ctx.node(), "else_branch");
  std::vector<TypedShape> caps = captureTypes(ctx, 1);
  inferSubgraph(ctx, thenG, "then_branch", caps);
  inferSubgraph(ctx, elseG, "else_branch", caps);
  ctx.check(thenG.outputs.size() == ctx.numOutputs() && elseG.outputs.size() == ctx.numOutputs(), "has ",
            ctx.numOutputs(), " outputs but its branches have ", thenG.outputs.size(), " and ", elseG.outputs.size());
  const Tensor* c = ctx.constInput(0);
  for (std::size_t i = 0; i < ctx.numOutputs(); ++i) {
    const Value* t = thenG.outputs[i];
    const Value* e = elseG.outputs[i];
    ctx.check(t->dtype == e->dtype, "output ", i, " is ", dataTypeName(t->dtype), " in then_branch and ",
              dataTypeName(e->dtype), " in else_branch");
    if (c && c->numel() == 1) {  // a known condition: only the taken branch counts
      const Value* taken = c->toInt64()[0] ? t : e;
      ctx.setOutput(i, taken->dtype, taken->shape);
    } else {
      ctx.setOutput(i, t->dtype, mergeShapes(ctx, t->shape, e->shape, i));
    }
  }
}

void inferLoop(InferContext& ctx) {
  Node& node = ctx.node();
  control_flow::LoopArity a = control_flow::loopArity(node);
  if (ctx.hasInput(0)) {
    const Value& m = ctx.in(0);
    ctx.check(m.dtype == DType::kINT64, "the trip count M must be int64, got ", dataTypeName(m.dtype));
    ctx.check(m.shape.size() <= 1, "the trip count M must be a scalar, got shape ", toString(m.shape));
  }
  if (ctx.hasInput(1)) {
    const Value& c = ctx.in(1);
    ctx.check(c.dtype == DType::kBOOL, "the condition must be bool, got ", dataTypeName(c.dtype));
    ctx.check(c.shape.size() <= 1, "the condition must be a scalar, got shape ", toString(c.shape));
  }
  Graph& body = subgraph(node, "body");
  std::vector<TypedShape> ins{{DType::kINT64, {}}, {DType::kBOOL, {}}};
  for (std::size_t i = 0; i < a.carried; ++i) {
    TypedShape t = typeOf(&ctx.in(2 + i));
    t.constant = nullptr;  // changes from one iteration to the next
    ins.push_back(t);
  }
  for (TypedShape& t : captureTypes(ctx, 2 + a.carried)) ins.push_back(t);
  // Loop-carried values keep their shape from one iteration to the next (as
  // TensorRT's recurrences require): where the body's inference can't tell a
  // dim (a Slice by the iteration number), the initial value's dim is taken,
  // and the rest of the body is re-inferred with it. The kernel checks it.
  auto pinCarried = [&]() {
    std::vector<const Node*> pinned;
    for (std::size_t i = 0; i < a.carried; ++i) {
      const Value& init = ctx.in(2 + i);
      Value* next = body.outputs[1 + i];
      if (next->shape.size() != init.shape.size() || body.isGraphInput(next) || !next->producer) continue;
      for (std::size_t d = 0; d < init.shape.size(); ++d)
        if (!next->shape[d].known() && init.shape[d].known()) {
          next->shape[d] = init.shape[d];
          pinned.push_back(next->producer);
        }
    }
    return pinned;
  };
  inferSubgraph(ctx, body, "body", ins, pinCarried);
  ctx.check(body.outputs[0]->dtype == DType::kBOOL, "the body's condition output must be bool, got ",
            dataTypeName(body.outputs[0]->dtype));
  for (std::size_t i = 0; i < a.carried; ++i) {
    const Value& init = ctx.in(2 + i);
    const Value* next = body.outputs[1 + i];
    ctx.check(next->dtype == init.dtype, "loop-carried value ", i, " starts as ", dataTypeName(init.dtype),
              " but the body makes ", dataTypeName(next->dtype));
    bool same = next->shape.size() == init.shape.size();
    for (std::size_t d = 0; same && d < init.shape.size(); ++d)
      same = !(init.shape[d].known() && next->shape[d].known() && init.shape[d].value != next->shape[d].value);
    ctx.check(same, "loop-carried value ", i, " starts as ", toString(init.shape), " but the body makes ",
              toString(next->shape), "; Kiln (like TensorRT) needs loop-carried values to keep their shape");
    ctx.setOutput(i, init.dtype, mergeShapes(ctx, init.shape, next->shape, i));
  }
  std::optional<int64_t> trips = control_flow::loopTripCount(node);
  for (std::size_t j = 0; j < a.scanOutputs; ++j) {
    const Value* slice = body.outputs[1 + a.carried + j];
    Shape s;
    s.push_back(trips ? Dim(*trips) : Dim());
    s.insert(s.end(), slice->shape.begin(), slice->shape.end());
    ctx.setOutput(a.carried + j, slice->dtype, std::move(s));
  }
}

void inferScan(InferContext& ctx) {
  Node& node = ctx.node();
  control_flow::ScanArity a = control_flow::scanArity(node);
  std::vector<int64_t> inAxes = node.ints("scan_input_axes", std::vector<int64_t>(a.scanInputs, 0));
  std::vector<int64_t> inDirs = node.ints("scan_input_directions", std::vector<int64_t>(a.scanInputs, 0));
  std::vector<int64_t> outAxes = node.ints("scan_output_axes", std::vector<int64_t>(a.scanOutputs, 0));
  std::vector<int64_t> outDirs = node.ints("scan_output_directions", std::vector<int64_t>(a.scanOutputs, 0));
  ctx.check(inAxes.size() == a.scanInputs && inDirs.size() == a.scanInputs, "scan_input_axes and "
            "scan_input_directions need one entry per scan input (", a.scanInputs, ")");
  ctx.check(outAxes.size() == a.scanOutputs && outDirs.size() == a.scanOutputs, "scan_output_axes and "
            "scan_output_directions need one entry per scan output (", a.scanOutputs, ")");
  for (int64_t d : inDirs) ctx.check(d == 0 || d == 1, "scan_input_directions must be 0 or 1, got ", d);
  for (int64_t d : outDirs) ctx.check(d == 0 || d == 1, "scan_output_directions must be 0 or 1, got ", d);
  Graph& body = subgraph(node, "body");
  // kiln_batched (opset 8's form): states and scan inputs have a leading batch
  // axis that the body does not see; everything below is per batch item.
  const bool batched = node.i("kiln_batched", 0) != 0;
  Dim batch;
  auto perItem = [&](const Value& v, const char* what) {
    if (!batched) return v.shape;
    ctx.check(!v.shape.empty(), what, " \"", v.name, "\" has no batch axis");
    if (!batch.known()) batch = v.shape[0];
    return Shape(v.shape.begin() + 1, v.shape.end());
  };
  std::vector<TypedShape> ins;
  for (std::size_t i = 0; i < a.states; ++i) ins.push_back({ctx.in(i).dtype, perItem(ctx.in(i), "state")});
  Dim length;
  bool lengthSet = false;
  for (std::size_t j = 0; j < a.scanInputs; ++j) {
    const Value& in = ctx.in(a.states + j);
    Shape slice = perItem(in, "scan input");
    int64_t ax = ctx.axis(inAxes[j], static_cast<int64_t>(slice.size()), "scan_input_axes entry");
    ctx.check(!slice.empty(), "scan input ", j, " is a scalar; it needs an axis to scan");
    const Dim& d = slice[ax];
    if (!lengthSet || (!length.known() && d.known())) length = d;
    else if (length.known() && d.known())
      ctx.check(length.value == d.value, "scan inputs have different lengths along their scan axes (", length.value,
                " and ", d.value, ")");
    lengthSet = true;
    slice.erase(slice.begin() + ax);
    ins.push_back({in.dtype, std::move(slice)});
  }
  for (TypedShape& t : captureTypes(ctx, a.states + a.scanInputs)) ins.push_back(t);
  inferSubgraph(ctx, body, "body", ins);
  auto withBatch = [&](Shape s) {
    if (batched) s.insert(s.begin(), batch);
    return s;
  };
  for (std::size_t i = 0; i < a.states; ++i) {
    const Value* next = body.outputs[i];
    const Shape& init = ins[i].shape;
    ctx.check(next->dtype == ctx.in(i).dtype, "state ", i, " starts as ", dataTypeName(ctx.in(i).dtype),
              " but the body makes ", dataTypeName(next->dtype));
    ctx.check(next->shape.size() == init.size(), "state ", i, " starts with rank ", init.size(),
              " but the body makes rank ", next->shape.size());
    ctx.setOutput(i, next->dtype, withBatch(mergeShapes(ctx, init, next->shape, i)));
  }
  for (std::size_t k = 0; k < a.scanOutputs; ++k) {
    const Value* slice = body.outputs[a.states + k];
    int64_t r = static_cast<int64_t>(slice->shape.size()) + 1;
    int64_t ax = ctx.axis(outAxes[k], r, "scan_output_axes entry");
    Shape s = slice->shape;
    s.insert(s.begin() + ax, length);
    ctx.setOutput(a.states + k, slice->dtype, withBatch(std::move(s)));
  }
}

}  // namespace

void registerControlFlowSchemas(SchemaRegistry& r) {
  r.add({"If", 1, 1 << 20, 1, 1 << 20, inferIf});
  r.add({"Loop", 0, 1 << 20, 0, 1 << 20, inferLoop});
  r.add({"Scan", 1, 1 << 20, 1, 1 << 20, inferScan});
}

}  // namespace kiln::ir
