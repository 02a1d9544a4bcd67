// Opset 6 models (ONNX's pytorch-converted / pytorch-operator tests): binary
// ops broadcast only with `broadcast` = 1, aligning B at `axis`; PRelu takes a
// per-channel [C] slope. Both import as the numpy-broadcast form the IR uses.
#include <gtest/gtest.h>

#include "onnx/importer.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

using ir::Shape;

const ir::Node* findOp(const ir::Graph& g, const std::string& op) {
  for (auto& n : g.nodes())
    if (n->op == op) return n.get();
  return nullptr;
}

TEST(LegacyOpset, BroadcastAxisAlignsBWithA) {
  OnnxModelBuilder b(6);
  b.input("a", TP::FLOAT, {2, 3, 4, 5});
  b.initializer("bias", {3}, {1.f, 2.f, 3.f});
  auto* add = b.node("Add", {"a", "bias"}, {"y"}, "add");
  setAttr(add, "broadcast", int64_t{1});
  setAttr(add, "axis", int64_t{1});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Node* unsq = findOp(g, "Unsqueeze");
  ASSERT_NE(unsq, nullptr) << "B must get trailing 1s";
  EXPECT_EQ(unsq->inputs[1]->constant->toInt64(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(unsq->outputs[0]->shape, (Shape{3, 1, 1}));
  const ir::Node* n = findOp(g, "Add");
  ASSERT_NE(n, nullptr);
  EXPECT_FALSE(n->has("broadcast"));
  EXPECT_FALSE(n->has("axis"));
  EXPECT_EQ(n->inputs[1], unsq->outputs[0]);
  EXPECT_EQ(g.outputs[0]->shape, (Shape{2, 3, 4, 5}));
}

TEST(LegacyOpset, TrailingOrNegativeAxisNeedsNoReshape) {
  for (int64_t axis : {2, -2}) {
    OnnxModelBuilder b(6);
    b.input("a", TP::FLOAT, {2, 3, 4, 5});
    b.input("b", TP::FLOAT, {4, 5});
    auto* mul = b.node("Mul", {"a", "b"}, {"y"}, "mul");
    setAttr(mul, "broadcast", int64_t{1});
    setAttr(mul, "axis", axis);
    b.output("y");
    ir::Graph g;
    auto r = importBytes(b.bytes(), g);
    ASSERT_TRUE(r.ok) << errorText(r);
    EXPECT_EQ(findOp(g, "Unsqueeze"), nullptr) << axis;
    EXPECT_EQ(g.outputs[0]->shape, (Shape{2, 3, 4, 5})) << axis;
  }
}

TEST(LegacyOpset, AxisOutsideAIsAnErrorNamingTheNode) {
  OnnxModelBuilder b(6);
  b.input("a", TP::FLOAT, {2, 3});
  b.input("b", TP::FLOAT, {3, 4});
  auto* sub = b.node("Sub", {"a", "b"}, {"y"}, "sub1");
  setAttr(sub, "broadcast", int64_t{1});
  setAttr(sub, "axis", int64_t{1});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.errors[0].desc.find("sub1"), std::string::npos) << errorText(r);
  EXPECT_NE(r.errors[0].desc.find("axis 1"), std::string::npos) << errorText(r);
}

TEST(LegacyOpset, PReluSlopeIsPerChannelBefore7) {
  for (int64_t opset : {6, 9}) {
    OnnxModelBuilder b(opset);
    b.input("x", TP::FLOAT, {2, 3, 4});
    b.initializer("slope", {3}, {0.1f, 0.2f, 0.3f});
    b.node("PRelu", {"x", "slope"}, {"y"}, "prelu");
    b.output("y");
    ir::Graph g;
    auto r = importBytes(b.bytes(), g);
    if (opset >= 7) {  // numpy broadcasting: [3] meets the last dim (4) and fails
      EXPECT_FALSE(r.ok);
      continue;
    }
    ASSERT_TRUE(r.ok) << errorText(r);
    const ir::Node* n = findOp(g, "PRelu");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->inputs[1]->shape, (Shape{3, 1}));
    EXPECT_EQ(g.outputs[0]->shape, (Shape{2, 3, 4}));
  }
}

TEST(LegacyOpset, Opset5StaysUnsupported) {
  OnnxModelBuilder b(5);
  b.input("x", TP::FLOAT, {2});
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.errors[0].desc.find("opsets 6 to"), std::string::npos) << errorText(r);
}

// Ops unchanged since opset 1 (Not, the logic ops, ...) import from opset 1 on.
TEST(LegacyOpset, Opset1ModelsOfUnchangedOpsImport) {
  OnnxModelBuilder b(1);
  b.input("x", TP::BOOL, {2, 3});
  b.node("Not", {"x"}, {"y"});
  b.output("y", TP::BOOL);
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  EXPECT_EQ(g.outputs[0]->dtype, DType::kBOOL);
}

}  // namespace
}  // namespace kiln::test
