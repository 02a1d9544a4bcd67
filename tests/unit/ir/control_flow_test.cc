// Subgraph attributes in the IR: deep clone, topological order and the
// schemas of If, Loop and Scan (shapes from their subgraphs).
#include <gtest/gtest.h>

#include "core/error.h"
#include "ir/control_flow.h"
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

//! A branch computing Add(a, b) of its two capture inputs, or Neg(a) when `neg`.
std::shared_ptr<Graph> branch(const std::string& name, const Shape& s, bool neg) {
  auto g = std::make_shared<Graph>();
  g->name = name;
  Value* a = g->addValue("a", DType::kFLOAT, s);
  Value* b = g->addValue("b", DType::kFLOAT, s);
  Value* out = g->addValue("out");
  if (neg) g->addNode("Neg", name + "/neg", {a}, {out});
  else g->addNode("Add", name + "/add", {a, b}, {out});
  g->inputs = {a, b};
  g->outputs = {out};
  return g;
}

struct IfGraph {
  Graph g;
  Node* ifNode = nullptr;
  Value *cond, *x, *y, *z;
  IfGraph() {
    cond = g.addValue("cond", DType::kBOOL, {});
    x = g.addValue("x", DType::kFLOAT, {2, Dim(std::string("n"))});
    y = g.addValue("y");
    z = g.addValue("z");
    g.inputs = {cond, x};
    // The If (added first) reads y, which Relu makes: topoSort must order them.
    ifNode = g.addNode("If", "if", {cond, y, x}, {z});
    ifNode->attrs["then_branch"] = branch("then", {}, false);
    ifNode->attrs["else_branch"] = branch("else", {}, true);
    ifNode->attrs[control_flow::kCapturesAttr] = int64_t{2};
    g.addNode("Relu", "relu", {x}, {y});
    g.outputs = {z};
  }
};

TEST(ControlFlowIr, CloneCopiesSubgraphsDeeply) {
  IfGraph f;
  auto copy = f.g.clone();
  Node* c = copy->nodeList()[0];
  ASSERT_EQ(c->op, "If");
  Graph* original = f.ifNode->graph("then_branch");
  Graph* cloned = c->graph("then_branch");
  ASSERT_TRUE(original && cloned);
  EXPECT_NE(original, cloned);
  EXPECT_EQ(cloned->nodes().size(), 1u);
  cloned->outputs[0]->name = "changed";
  EXPECT_EQ(original->outputs[0]->name, "out");
  EXPECT_EQ(c->graph("no_such"), nullptr);
}

TEST(ControlFlowIr, TopoSortOrdersProducersOfCapturedValues) {
  IfGraph f;
  f.g.topoSort();
  ASSERT_EQ(f.g.nodes().size(), 2u);
  EXPECT_EQ(f.g.nodes()[0]->op, "Relu");
  EXPECT_EQ(f.g.nodes()[1]->op, "If");
}

TEST(ControlFlowIr, IfMergesBranchShapes) {
  IfGraph f;
  f.g.topoSort();
  inferGraph(f.g);
  EXPECT_EQ(toString(f.z->shape), "[2,n]");  // both branches keep the captured shape
  // Branches of different static shapes: the differing dim becomes unknown.
  f.x->shape = {2, 5};
  inferGraph(f.g);
  Graph* elseG = f.ifNode->graph("else_branch");
  Value* c = elseG->addConstant("k", Tensor::fromFloat({1, 2, 3, 4, 5, 6}, {3, 2}));  // [3,2] instead of [2,5]
  elseG->outputs[0] = c;
  inferNode(*f.ifNode);
  EXPECT_EQ(toString(f.z->shape), "[?,?]");
  // A known condition takes only its branch's shape.
  f.cond->constant = std::make_shared<const Tensor>(Tensor::fromInt64({0}, {}).castTo(DType::kBOOL));
  inferNode(*f.ifNode);
  EXPECT_EQ(toString(f.z->shape), "[3,2]");
}

TEST(ControlFlowIr, IfRejectsDifferentRanksAndDtypes) {
  IfGraph f;
  f.g.topoSort();
  Graph* elseG = f.ifNode->graph("else_branch");
  elseG->outputs[0] = elseG->addConstant("k", Tensor::fromFloat({1}, {1, 1, 1}));
  try {
    inferNode(*f.ifNode);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("If node \"if\": output 0 has rank 2 in one branch and 3"), std::string::npos)
        << e.what();
  }
  elseG->outputs[0] = elseG->addConstant("i", Tensor::fromInt64({1, 2}, {1, 2}));
  EXPECT_THROW(inferNode(*f.ifNode), Error);
}

//! Loop over a body acc_out = acc + x (x captured), scan acc_out; M and cond as given.
struct LoopGraph {
  Graph g;
  Node* loop = nullptr;
  Value *m, *cond, *init, *x, *fin, *scan;
  Graph* body = nullptr;
  LoopGraph(bool withCond, bool passCondThrough) {
    m = g.addConstant("M", Tensor::fromInt64({5}, {}));
    cond = withCond ? g.addValue("cond", DType::kBOOL, {}) : nullptr;
    init = g.addValue("init", DType::kFLOAT, {3});
    x = g.addValue("x", DType::kFLOAT, {3});
    fin = g.addValue("fin");
    scan = g.addValue("scan");
    g.inputs = {init, x};
    if (cond) g.inputs.push_back(cond);
    auto b = std::make_shared<Graph>();
    Value* it = b->addValue("i", DType::kINT64, {});
    Value* c = b->addValue("c", DType::kBOOL, {});
    Value* acc = b->addValue("acc", DType::kFLOAT, {3});
    Value* bx = b->addValue("x", DType::kFLOAT, {3});
    Value* accOut = b->addValue("acc_out");
    Value* cOut = b->addValue("c_out");
    Value* accScan = b->addValue("acc_scan");
    b->addNode("Add", "add", {acc, bx}, {accOut});
    if (passCondThrough) b->addNode("Identity", "keep", {c}, {cOut});
    else b->addNode("Greater", "stop", {it, b->addConstant("three", Tensor::fromInt64({3}, {}))}, {cOut});
    b->addNode("Identity", "scan", {accOut}, {accScan});
    b->inputs = {it, c, acc, bx};
    b->outputs = {cOut, accOut, accScan};
    body = b.get();
    loop = g.addNode("Loop", "loop", {m, cond, init, x}, {fin, scan});
    loop->attrs["body"] = b;
    loop->attrs[control_flow::kCapturesAttr] = int64_t{1};
    g.outputs = {fin, scan};
  }
};

TEST(ControlFlowIr, LoopWithKnownTripCountStacksScanOutputs) {
  LoopGraph f(false, true);
  inferGraph(f.g);
  EXPECT_EQ(control_flow::loopTripCount(*f.loop), 5);
  EXPECT_EQ(toString(f.fin->shape), "[3]");
  EXPECT_EQ(toString(f.scan->shape), "[5,3]");
  control_flow::LoopArity a = control_flow::loopArity(*f.loop);
  EXPECT_EQ(a.carried, 1u);
  EXPECT_EQ(a.scanOutputs, 1u);
  EXPECT_EQ(a.captures, 1u);
}

TEST(ControlFlowIr, LoopWhoseConditionCanStopItHasUnknownLength) {
  LoopGraph passing(true, true);  // a condition input that is not a constant
  inferGraph(passing.g);
  EXPECT_FALSE(control_flow::loopTripCount(*passing.loop));
  EXPECT_EQ(toString(passing.scan->shape), "[?,3]");
  LoopGraph stopping(false, false);  // the body computes its condition
  inferGraph(stopping.g);
  EXPECT_FALSE(control_flow::loopTripCount(*stopping.loop));
  EXPECT_EQ(toString(stopping.scan->shape), "[?,3]");
  // A constant false condition: zero iterations.
  passing.cond->constant = std::make_shared<const Tensor>(Tensor::fromInt64({0}, {}).castTo(DType::kBOOL));
  inferNode(*passing.loop);
  EXPECT_EQ(toString(passing.scan->shape), "[0,3]");
}

TEST(ControlFlowIr, LoopRejectsBadLayouts) {
  LoopGraph f(false, true);
  f.loop->attrs[control_flow::kCapturesAttr] = int64_t{9};
  EXPECT_THROW(inferNode(*f.loop), Error);
  f.loop->attrs[control_flow::kCapturesAttr] = int64_t{1};
  f.loop->outputs.pop_back();  // the body makes a scan output the node lacks
  EXPECT_THROW(inferNode(*f.loop), Error);
}

TEST(ControlFlowIr, ScanInsertsTheSequenceAxis) {
  Graph g;
  Value* s0 = g.addValue("s0", DType::kFLOAT, {4});
  Value* xs = g.addValue("xs", DType::kFLOAT, {4, Dim(std::string("T"))});
  Value* fin = g.addValue("fin");
  Value* outs = g.addValue("outs");
  g.inputs = {s0, xs};
  auto b = std::make_shared<Graph>();
  Value* s = b->addValue("s", DType::kFLOAT, {4});
  Value* xt = b->addValue("x_t", DType::kFLOAT, {4});
  Value* sOut = b->addValue("s_out");
  Value* sScan = b->addValue("s_scan");
  b->addNode("Add", "add", {s, xt}, {sOut});
  b->addNode("Identity", "id", {sOut}, {sScan});
  b->inputs = {s, xt};
  b->outputs = {sOut, sScan};
  Node* scan = g.addNode("Scan", "scan", {s0, xs}, {fin, outs});
  scan->attrs["body"] = b;
  scan->attrs["num_scan_inputs"] = int64_t{1};
  scan->attrs["scan_input_axes"] = std::vector<int64_t>{-1};
  scan->attrs["scan_output_axes"] = std::vector<int64_t>{-1};
  inferNode(*scan);
  EXPECT_EQ(toString(b->inputs[1]->shape), "[4]");
  EXPECT_EQ(toString(fin->shape), "[4]");
  EXPECT_EQ(toString(outs->shape), "[4,T]");
  scan->attrs["scan_input_directions"] = std::vector<int64_t>{2};
  EXPECT_THROW(inferNode(*scan), Error);
}

}  // namespace
}  // namespace kiln::ir
