// Importers of the control-flow ops If (opset 1+), Loop (opset 1+) and Scan
// (opset 9+). Each imports its subgraphs (NodeContext::importSubgraph), turns
// the values they read from enclosing graphs into trailing capture inputs,
// and emits the IR op of the same name (layout: ir/control_flow.h).
#include <algorithm>

#include "ir/control_flow.h"
#include "onnx/importers/importers.h"

namespace kiln::onnx {
namespace {

//! Makes `sub`'s capture inputs match `captures` position for position; a
//! capture the subgraph does not read gets an input nothing reads.
void alignCaptures(SubgraphImport& sub, const std::vector<ir::Value*>& captures) {
  ir::Graph& g = *sub.graph;
  std::vector<ir::Value*> inputs(g.inputs.begin(), g.inputs.begin() + static_cast<std::ptrdiff_t>(sub.formalInputs));
  for (ir::Value* outer : captures) {
    auto it = std::find(sub.captures.begin(), sub.captures.end(), outer);
    if (it != sub.captures.end()) {
      inputs.push_back(g.inputs[sub.formalInputs + static_cast<std::size_t>(it - sub.captures.begin())]);
    } else {
      inputs.push_back(g.addValue(outer->name + "/unread", outer->dtype, outer->shape));
    }
  }
  g.inputs = std::move(inputs);
  sub.captures = captures;
}

void importIf(NodeContext& ctx) {
  ir::Value* cond = ctx.requireInput(0);
  if (!cond->constant)
    if (std::optional<ir::Tensor> known = ctx.tryEvaluate(cond); known && known->numel() == 1)
      cond = ctx.constant("condition", std::move(*known));
  if (cond->constant && cond->constant->numel() == 1) {
    // Known at parse time: only the branch taken is imported (the other may
    // not even type-check for these inputs, as in AffineGrid's 2-D/3-D
    // branches). It stands for both branches until inline_constant_if
    // replaces the node by its nodes.
    const char* taken = cond->constant->toInt64()[0] ? "then_branch" : "else_branch";
    SubgraphImport branch = ctx.importSubgraph(taken, {});
    std::vector<ir::Value*> inputs{cond};
    inputs.insert(inputs.end(), branch.captures.begin(), branch.captures.end());
    Attrs attrs;
    attrs["then_branch"] = std::shared_ptr<ir::Graph>(branch.graph->clone());
    attrs["else_branch"] = branch.graph;
    attrs[ir::control_flow::kCapturesAttr] = static_cast<int64_t>(branch.captures.size());
    ctx.emit("If", std::move(inputs), std::move(attrs));
    return;
  }
  SubgraphImport thenG = ctx.importSubgraph("then_branch", {});
  SubgraphImport elseG = ctx.importSubgraph("else_branch", {});
  std::vector<ir::Value*> captures = thenG.captures;
  for (ir::Value* v : elseG.captures)
    if (std::find(captures.begin(), captures.end(), v) == captures.end()) captures.push_back(v);
  alignCaptures(thenG, captures);
  alignCaptures(elseG, captures);
  KILN_NODE_CHECK(ctx, thenG.graph->outputs.size() == elseG.graph->outputs.size(), ErrorCode::kINVALID_NODE,
                  "then_branch has ", thenG.graph->outputs.size(), " outputs, else_branch ",
                  elseG.graph->outputs.size());
  std::vector<ir::Value*> inputs{cond};
  inputs.insert(inputs.end(), captures.begin(), captures.end());
  Attrs attrs;
  attrs["then_branch"] = thenG.graph;
  attrs["else_branch"] = elseG.graph;
  attrs[ir::control_flow::kCapturesAttr] = static_cast<int64_t>(captures.size());
  ctx.emit("If", std::move(inputs), std::move(attrs));
}

void importLoop(NodeContext& ctx) {
  std::size_t carried = ctx.numInputs() > 2 ? ctx.numInputs() - 2 : 0;
  std::vector<SubgraphInput> formal{{DType::kINT64, {}}, {DType::kBOOL, {}}};
  for (std::size_t i = 0; i < carried; ++i) {
    ir::Value* v = ctx.requireInput(2 + i);
    formal.push_back({v->dtype, v->shape});
  }
  SubgraphImport body = ctx.importSubgraph("body", formal);
  std::vector<ir::Value*> inputs{ctx.input(0), ctx.input(1)};
  for (std::size_t i = 0; i < carried; ++i) inputs.push_back(ctx.input(2 + i));
  inputs.insert(inputs.end(), body.captures.begin(), body.captures.end());
  Attrs attrs;
  attrs["body"] = body.graph;
  attrs[ir::control_flow::kCapturesAttr] = static_cast<int64_t>(body.captures.size());
  ctx.emit("Loop", std::move(inputs), std::move(attrs));
}

//! Opset 8's Scan has a leading batch axis on every state and scan input (the
//! scan axis is 1) and an optional sequence_lens first input. It becomes the
//! IR Scan with `kiln_batched` = 1: the body runs per batch item.
void importScan8(NodeContext& ctx) {
  KILN_NODE_CHECK(ctx, !ctx.input(0), ErrorCode::kUNSUPPORTED_NODE,
                  "Scan of opset 8 with sequence_lens is not supported (only sequences of the full length)");
  int64_t m = ctx.attrInt("num_scan_inputs", -1);
  KILN_NODE_CHECK(ctx, m >= 1 && static_cast<std::size_t>(m) + 1 <= ctx.numInputs(), ErrorCode::kINVALID_NODE,
                  "attribute 'num_scan_inputs' is ", m, " for ", ctx.numInputs(), " inputs");
  std::size_t states = ctx.numInputs() - 1 - static_cast<std::size_t>(m);
  std::vector<ir::Value*> inputs;
  std::vector<SubgraphInput> formal;
  for (std::size_t i = 1; i < ctx.numInputs(); ++i) {
    ir::Value* v = ctx.requireInput(i);
    std::size_t drop = i - 1 < states ? 1 : 2;  // the batch axis, and for scan inputs the scan axis
    KILN_NODE_CHECK(ctx, v->shape.size() >= drop, ErrorCode::kINVALID_NODE, "input \"", v->name, "\" has rank ",
                    v->shape.size(), "; opset 8 Scan needs a batch axis", drop == 2 ? " and a scan axis" : "");
    formal.push_back({v->dtype, ir::Shape(v->shape.begin() + static_cast<std::ptrdiff_t>(drop), v->shape.end())});
    inputs.push_back(v);
  }
  SubgraphImport body = ctx.importSubgraph("body", formal);
  inputs.insert(inputs.end(), body.captures.begin(), body.captures.end());
  Attrs attrs;
  attrs["body"] = body.graph;
  attrs["num_scan_inputs"] = m;
  std::vector<int64_t> dirs = ctx.attrInts("directions");
  if (!dirs.empty()) attrs["scan_input_directions"] = dirs;
  attrs["kiln_batched"] = int64_t{1};
  attrs[ir::control_flow::kCapturesAttr] = static_cast<int64_t>(body.captures.size());
  ctx.emit("Scan", std::move(inputs), std::move(attrs));
}

void importScan(NodeContext& ctx) {
  if (ctx.opset() < 9) return importScan8(ctx);
  int64_t m = ctx.attrInt("num_scan_inputs", -1);
  KILN_NODE_CHECK(ctx, m >= 1 && static_cast<std::size_t>(m) <= ctx.numInputs(), ErrorCode::kINVALID_NODE,
                  "attribute 'num_scan_inputs' is ", m, " for ", ctx.numInputs(), " inputs");
  std::size_t states = ctx.numInputs() - static_cast<std::size_t>(m);
  std::vector<int64_t> axes = ctx.attrInts("scan_input_axes");
  if (axes.empty()) axes.assign(static_cast<std::size_t>(m), 0);
  KILN_NODE_CHECK(ctx, axes.size() == static_cast<std::size_t>(m), ErrorCode::kINVALID_NODE,
                  "attribute 'scan_input_axes' has ", axes.size(), " entries for ", m, " scan inputs");
  std::vector<SubgraphInput> formal;
  for (std::size_t i = 0; i < ctx.numInputs(); ++i) {
    ir::Value* v = ctx.requireInput(i);
    SubgraphInput in{v->dtype, v->shape};
    if (i >= states) {
      int64_t rank = static_cast<int64_t>(v->shape.size()), ax = axes[i - states];
      KILN_NODE_CHECK(ctx, ax >= -rank && ax < rank, ErrorCode::kINVALID_NODE, "scan_input_axes entry ", ax,
                      " is out of range for scan input \"", v->name, "\" of rank ", rank);
      in.shape.erase(in.shape.begin() + (ax < 0 ? ax + rank : ax));
    }
    formal.push_back(std::move(in));
  }
  SubgraphImport body = ctx.importSubgraph("body", formal);
  std::vector<ir::Value*> inputs = ctx.inputs();
  inputs.insert(inputs.end(), body.captures.begin(), body.captures.end());
  Attrs attrs = ctx.attrs({"body"});
  attrs["body"] = body.graph;
  attrs[ir::control_flow::kCapturesAttr] = static_cast<int64_t>(body.captures.size());
  ctx.emit("Scan", std::move(inputs), std::move(attrs));
}

}  // namespace

void addControlFlowImporters(ImporterTable& t) {
  t.push_back({"If", 1, importIf});
  t.push_back({"Loop", 1, importLoop});
  t.push_back({"Scan", 8, importScan});
}

}  // namespace kiln::onnx
