// Importers of tensor_index.cc: older forms (Scatter, TopK's k attribute,
// Hardmax before opset 13, DFT's axis attribute) become the IR's latest form;
// CenterCropPad becomes Slice + Pad.
#include <gtest/gtest.h>

#include "onnx/importer.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

using ir::Shape;

void importOk(OnnxModelBuilder& b, ir::Graph& g) {
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
}

const ir::Node* findOp(const ir::Graph& g, const std::string& op) {
  for (const auto& n : g.nodes())
    if (n->op == op) return n.get();
  return nullptr;
}

TEST(OnnxTensorIndex, ScatterBecomesScatterElements) {
  OnnxModelBuilder b(10);
  b.input("x", TP::FLOAT, {3, 3}).input("i", TP::INT64, {1, 2}).input("u", TP::FLOAT, {1, 2});
  setAttr(b.node("Scatter", {"x", "i", "u"}, {"y"}), "axis", int64_t{1});
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  const ir::Node* n = findOp(g, "ScatterElements");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->i("axis", 0), 1);
  EXPECT_EQ(g.outputs[0]->shape, (Shape{3, 3}));
}

TEST(OnnxTensorIndex, TopKAttributeHardmaxFlattenAndDftAxis) {
  OnnxModelBuilder b(9);
  b.input("x", TP::FLOAT, {2, 3, 4});
  setAttr(b.node("TopK", {"x"}, {"v", "i"}), "k", int64_t{2});
  setAttr(b.node("Hardmax", {"x"}, {"h"}), "axis", int64_t{1});
  b.output("v").output("i", TP::INT64).output("h");
  ir::Graph g;
  importOk(b, g);
  EXPECT_EQ(g.outputs[0]->shape, (Shape{2, 3, 2}));
  EXPECT_EQ(g.outputs[1]->dtype, DType::kINT64);
  EXPECT_EQ(g.outputs[2]->shape, (Shape{2, 3, 4}));
  ASSERT_NE(findOp(g, "Flatten"), nullptr);  // opset < 13: over the input flattened at axis 1
  EXPECT_EQ(findOp(g, "Hardmax")->outputs[0]->shape, (Shape{2, 12}));

  OnnxModelBuilder d(17);
  d.input("s", TP::FLOAT, {2, 8, 1});
  setAttr(d.node("DFT", {"s"}, {"f"}), "onesided", int64_t{1});
  d.output("f");
  ir::Graph gd;
  importOk(d, gd);
  const ir::Node* n = findOp(gd, "DFT");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->inputs.size(), 3u);
  EXPECT_EQ(n->inputs[2]->constant->toInt64(), (std::vector<int64_t>{1}));  // the opset 17 default axis
  EXPECT_EQ(gd.outputs[0]->shape, (Shape{2, 5, 2}));
}

TEST(OnnxTensorIndex, CenterCropPadIsSliceAndPad) {
  OnnxModelBuilder b(18);
  b.input("x", TP::FLOAT, {5, 4, 3});
  b.initializerInt64("shape", {2}, {3, 7});
  setAttr(b.node("CenterCropPad", {"x", "shape"}, {"y"}), "axes", std::vector<int64_t>{0, -2});
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  EXPECT_EQ(g.outputs[0]->shape, (Shape{3, 7, 3}));
  const ir::Node* slice = findOp(g, "Slice");
  ASSERT_NE(slice, nullptr);
  EXPECT_EQ(slice->inputs[1]->constant->toInt64(), (std::vector<int64_t>{1}));  // (5 - 3) / 2
  const ir::Node* pad = findOp(g, "Pad");
  ASSERT_NE(pad, nullptr);
  EXPECT_EQ(pad->inputs[1]->constant->toInt64(), (std::vector<int64_t>{0, 1, 0, 0, 2, 0}));  // 3 = 1 + 2
}

}  // namespace
}  // namespace kiln::test
