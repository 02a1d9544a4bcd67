// Importing If, Loop and Scan: subgraphs become graph attributes, values read
// from enclosing graphs become trailing capture inputs (ir/control_flow.h),
// and problems inside a subgraph are reported naming the node and subgraph.
#include <gtest/gtest.h>

#include "builder/build_plan.h"
#include "ir/control_flow.h"
#include "unit/onnx/control_flow_models.h"

namespace kiln::test {
namespace {

const ir::Node* findNode(const ir::Graph& g, const std::string& op) {
  for (auto& n : g.nodes())
    if (n->op == op) return n.get();
  return nullptr;
}

std::vector<std::string> names(const std::vector<ir::Value*>& vs) {
  std::vector<std::string> out;
  for (auto* v : vs) out.push_back(v ? v->name : "<absent>");
  return out;
}

TEST(ControlFlowImport, IfCapturesOuterValuesAndAlignsBranches) {
  ir::Graph g;
  auto r = importBytes(ifModel(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Node* n = findNode(g, "If");
  ASSERT_TRUE(n);
  // cond, then the captures in first-use order: y and x (then_branch reads both, else_branch y).
  EXPECT_EQ(names(n->inputs), (std::vector<std::string>{"c", "y", "x"}));
  EXPECT_EQ(n->i(ir::control_flow::kCapturesAttr, -1), 2);
  const ir::Graph& thenG = ir::control_flow::subgraph(*n, "then_branch");
  const ir::Graph& elseG = ir::control_flow::subgraph(*n, "else_branch");
  ASSERT_EQ(thenG.inputs.size(), 2u);
  ASSERT_EQ(elseG.inputs.size(), 2u);
  EXPECT_EQ(thenG.inputs[0]->name, "y");
  EXPECT_EQ(elseG.inputs[0]->name, "y");
  EXPECT_TRUE(thenG.consumers(thenG.inputs[1]).size() == 1);  // x, read by the Add
  EXPECT_TRUE(elseG.consumers(elseG.inputs[1]).empty());      // x, which else_branch does not read
  // The branch's own initializer stays a constant of the branch.
  ASSERT_TRUE(elseG.findValue("one"));
  EXPECT_TRUE(elseG.findValue("one")->isConstant());
  EXPECT_EQ(ir::toString(n->outputs[0]->shape), "[2,3]");
}

TEST(ControlFlowImport, LoopNestedCapturesChainThroughEachLevel) {
  ir::Graph g;
  auto r = importBytes(loopModel(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Node* loop = findNode(g, "Loop");
  ASSERT_TRUE(loop);
  // M, absent cond, v_initial, then x captured for the If inside the body.
  EXPECT_EQ(names(loop->inputs), (std::vector<std::string>{"M", "<absent>", "zeros", "x"}));
  EXPECT_EQ(loop->i(ir::control_flow::kCapturesAttr, -1), 1);
  const ir::Graph& body = ir::control_flow::subgraph(*loop, "body");
  EXPECT_EQ(names(body.inputs), (std::vector<std::string>{"i", "cond_in", "acc", "x"}));
  const ir::Node* inner = findNode(body, "If");
  ASSERT_TRUE(inner);
  ASSERT_EQ(inner->inputs.size(), 2u);
  EXPECT_EQ(inner->inputs[1], body.inputs[3]);  // the If captures the body's capture of x
  // A constant trip count and no condition: scan outputs have a known length.
  EXPECT_EQ(ir::toString(loop->outputs[0]->shape), "[3]");
  EXPECT_EQ(ir::toString(loop->outputs[1]->shape), "[4,3]");
}

TEST(ControlFlowImport, ScanShapesFromAxes) {
  ir::Graph g;
  auto r = importBytes(scanModel(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Node* scan = findNode(g, "Scan");
  ASSERT_TRUE(scan);
  EXPECT_EQ(names(scan->inputs), (std::vector<std::string>{"s0", "xs", "ys", "scale"}));
  const ir::Graph& body = ir::control_flow::subgraph(*scan, "body");
  EXPECT_EQ(ir::toString(body.inputs[1]->shape), "[2]");  // xs [3,2] sliced along axis 0
  EXPECT_EQ(ir::toString(body.inputs[2]->shape), "[2]");  // ys [2,3] sliced along axis 1
  EXPECT_EQ(ir::toString(scan->outputs[0]->shape), "[2]");
  EXPECT_EQ(ir::toString(scan->outputs[1]->shape), "[2,3]");  // scan axis inserted at 1
}

TEST(ControlFlowImport, ProducerListedAfterTheNodeThatCapturesIt) {
  // ONNX wants topological order, but the only reader of "y" is a subgraph:
  // the parser must still order Mul before If.
  ::onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(ifModel()));
  auto* nodes = m.mutable_graph()->mutable_node();
  ASSERT_EQ(nodes->size(), 2);
  nodes->SwapElements(0, 1);
  ir::Graph g;
  auto r = importBytes(m.SerializeAsString(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Mul", "If"}));
}

TEST(ControlFlowImport, ErrorsInsideSubgraphsNameNodeAndSubgraph) {
  ::onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(ifModel()));
  auto* elseG = m.mutable_graph()->mutable_node(1)->mutable_attribute(1)->mutable_g();
  elseG->mutable_node(0)->set_input(0, "nowhere");
  ir::Graph g;
  auto r = importBytes(m.SerializeAsString(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.errors[0].desc.find("node \"choose\" (If, opset 13): in subgraph 'else_branch'"), std::string::npos)
      << r.errors[0].desc;
  EXPECT_NE(r.errors[0].desc.find("\"nowhere\" is not produced"), std::string::npos) << r.errors[0].desc;
}

TEST(ControlFlowImport, BranchesWithDifferentOutputCounts) {
  ::onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(ifModel()));
  auto* elseG = m.mutable_graph()->mutable_node(1)->mutable_attribute(1)->mutable_g();
  addValueInfo(elseG->mutable_output(), "one", TP::FLOAT);
  ir::Graph g;
  auto r = importBytes(m.SerializeAsString(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.errors[0].desc.find("then_branch has 1 outputs, else_branch 2"), std::string::npos) << r.errors[0].desc;
}

TEST(ControlFlowImport, LoopBodyInputCountMustMatch) {
  ::onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(loopModel()));
  auto* body = m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g();
  addValueInfo(body->mutable_input(), "extra", TP::FLOAT);
  ir::Graph g;
  auto r = importBytes(m.SerializeAsString(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.errors[0].desc.find("subgraph 'body' has 4 inputs, the node gives it 3"), std::string::npos)
      << r.errors[0].desc;
}

TEST(ControlFlowImport, LoopCarriedShapeMustNotChange) {
  ::onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(loopModel()));
  auto* body = m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g();
  // acc_out = Concat(acc, step): grows every iteration.
  for (auto& n : *body->mutable_node())
    if (n.output(0) == "acc_out") {
      n.set_op_type("Concat");
      setAttr(&n, "axis", int64_t{0});
    }
  ir::Graph g;
  auto r = importBytes(m.SerializeAsString(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.errors[0].desc.find("loop-carried value 0 starts as [3] but the body makes [6]"), std::string::npos)
      << r.errors[0].desc;
}

//! cond = Equal(Size(x), 6) for x [2,3]: true, but only a parse-time evaluation can tell. The
//! branches disagree in rank (then: x [2,3]; else: Flatten to... a [6,1,1] Reshape).
std::string rankChangingIf() {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2, 3}).output("z");
  b.initializerInt64("six", {}, {6});
  b.initializerInt64("shape3", {3}, {6, 1, 1});
  b.node("Size", {"x"}, {"n"}, "size");
  b.node("Equal", {"n", "six"}, {"cond"}, "is_six");
  auto* n = b.node("If", {"cond"}, {"z"}, "choose");
  auto* thenG = graphAttr(n, "then_branch");
  addNode(thenG, "Relu", {"x"}, {"t"});
  addValueInfo(thenG->mutable_output(), "t", TP::FLOAT);
  auto* elseG = graphAttr(n, "else_branch");
  addNode(elseG, "Reshape", {"x", "shape3"}, {"e"});
  addValueInfo(elseG->mutable_output(), "e", TP::FLOAT);
  return b.bytes();
}

TEST(ControlFlowImport, ConditionKnownAtParseTimeImportsOnlyTheTakenBranch) {
  std::string model = rankChangingIf();
  {
    ir::Graph g;  // without an evaluator the condition is unknown, and the ranks disagree
    auto r = importBytes(model, g);
    ASSERT_FALSE(r.ok);
    EXPECT_NE(r.errors[0].desc.find("rank 2 in one branch and 3 in the other"), std::string::npos) << errorText(r);
  }
  ir::Graph g;
  auto r = onnx::importModel(model.data(), model.size(), "", g, builder::evaluateOnHost);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Node* n = findNode(g, "If");
  ASSERT_TRUE(n);
  ASSERT_TRUE(n->inputs[0]->constant);
  EXPECT_EQ(n->inputs[0]->constant->toInt64()[0], 1);
  EXPECT_EQ(ir::toString(n->outputs[0]->shape), "[2,3]");
  // Both attributes hold the taken branch (Relu); inline_constant_if replaces the node at build time.
  EXPECT_EQ(opsOf(ir::control_flow::subgraph(*n, "then_branch")), std::vector<std::string>{"Relu"});
  EXPECT_EQ(opsOf(ir::control_flow::subgraph(*n, "else_branch")), std::vector<std::string>{"Relu"});
}

TEST(ControlFlowImport, ScanOpset8BecomesTheBatchedForm) {
  ir::Graph g;
  auto r = importBytes(scan8Model(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Node* scan = findNode(g, "Scan");
  ASSERT_TRUE(scan);
  EXPECT_EQ(names(scan->inputs), (std::vector<std::string>{"s0", "xs"}));  // sequence_lens dropped
  EXPECT_EQ(scan->i("kiln_batched", 0), 1);
  EXPECT_EQ(scan->ints("scan_input_directions"), std::vector<int64_t>{1});
  const ir::Graph& body = ir::control_flow::subgraph(*scan, "body");
  EXPECT_EQ(ir::toString(body.inputs[0]->shape), "[2]");  // the batch axis is not the body's
  EXPECT_EQ(ir::toString(body.inputs[1]->shape), "[2]");  // nor the scan axis
  EXPECT_EQ(ir::toString(scan->outputs[0]->shape), "[2,2]");
  EXPECT_EQ(ir::toString(scan->outputs[1]->shape), "[2,3,2]");
}

TEST(ControlFlowImport, ScanOpset8WithSequenceLensIsRefusedClearly) {
  ::onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(scan8Model()));
  auto* in = m.mutable_graph()->add_initializer();
  *in = int64Tensor("lens", {2}, {3, 2});
  m.mutable_graph()->mutable_node(0)->set_input(0, "lens");
  ir::Graph g;
  auto r = importBytes(m.SerializeAsString(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, onnx::ErrorCode::kUNSUPPORTED_NODE);
  EXPECT_NE(r.errors[0].desc.find("sequence_lens is not supported"), std::string::npos) << r.errors[0].desc;
}

TEST(ControlFlowImport, SubgraphNestingIsBounded) {
  // If inside If inside ... 20 deep: refused with an error, not a stack overflow.
  OnnxModelBuilder b(13);
  b.input("c", TP::BOOL, {}).output("z");
  b.initializer("v", {}, {1.f});
  ::onnx::GraphProto* g = b.graph();
  std::string out = "z";
  for (int depth = 0; depth < 20; ++depth) {
    auto* n = addNode(g, "If", {"c"}, {out}, strCat("if", depth));
    auto* elseG = graphAttr(n, "else_branch");
    addNode(elseG, "Identity", {"v"}, {strCat("e", depth)});
    addValueInfo(elseG->mutable_output(), strCat("e", depth), TP::FLOAT);
    g = graphAttr(n, "then_branch");
    out = strCat("t", depth);
    addValueInfo(g->mutable_output(), out, TP::FLOAT);
  }
  addNode(g, "Identity", {"v"}, {out});
  ir::Graph ir;
  auto r = importBytes(b.bytes(), ir);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.errors[0].desc.find("nest more than 16 deep"), std::string::npos) << r.errors[0].desc;
}

}  // namespace
}  // namespace kiln::test
