// Older opset forms import as the latest (opset-21) form the IR uses.
#include <gtest/gtest.h>

#include "onnx/importer.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

using ir::Shape;

//! Imports `b` and returns the graph; fails the test on an import error.
void importOk(OnnxModelBuilder& b, ir::Graph& g) {
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
}

std::vector<int64_t> constInts(const ir::Value* v) {
  EXPECT_TRUE(v && v->isConstant());
  return v && v->isConstant() ? v->constant->toInt64() : std::vector<int64_t>{};
}
std::vector<float> constFloats(const ir::Value* v) {
  EXPECT_TRUE(v && v->isConstant());
  return v && v->isConstant() ? v->constant->toFloat() : std::vector<float>{};
}

TEST(OnnxUpgrade, SqueezeAttrAndInputFormsMatch) {
  OnnxModelBuilder old(11);
  old.input("x", TP::FLOAT, {1, 3, 1, 5});
  setAttr(old.node("Squeeze", {"x"}, {"y"}, "sq"), "axes", std::vector<int64_t>{0, 2});
  old.output("y");
  OnnxModelBuilder cur(13);
  cur.input("x", TP::FLOAT, {1, 3, 1, 5});
  cur.initializerInt64("axes", {2}, {0, 2});
  cur.node("Squeeze", {"x", "axes"}, {"y"}, "sq");
  cur.output("y");
  ir::Graph g1, g2;
  importOk(old, g1);
  importOk(cur, g2);
  for (ir::Graph* g : {&g1, &g2}) {
    ASSERT_EQ(g->nodes().size(), 1u);
    const ir::Node& n = *g->nodes()[0];
    EXPECT_EQ(n.op, "Squeeze");
    EXPECT_FALSE(n.has("axes"));
    ASSERT_EQ(n.inputs.size(), 2u);
    EXPECT_EQ(n.inputs[1]->dtype, DType::kINT64);
    EXPECT_EQ(constInts(n.inputs[1]), (std::vector<int64_t>{0, 2}));
    EXPECT_EQ(n.outputs[0]->shape, (Shape{3, 5}));
  }
}

TEST(OnnxUpgrade, UnsqueezeAttr) {
  OnnxModelBuilder b(11);
  b.input("x", TP::FLOAT, {3});
  setAttr(b.node("Unsqueeze", {"x"}, {"y"}), "axes", std::vector<int64_t>{0, 2});
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  EXPECT_EQ(constInts(g.nodes()[0]->inputs[1]), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(g.outputs[0]->shape, (Shape{1, 3, 1}));
}

TEST(OnnxUpgrade, Upsample9BecomesResize) {
  OnnxModelBuilder b(9);
  b.input("x", TP::FLOAT, {1, 2, 3, 4});
  b.initializer("scales", {4}, {1.f, 1.f, 2.f, 2.f});
  setAttr(b.node("Upsample", {"x", "scales"}, {"y"}, "up"), "mode", "nearest");
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  ASSERT_EQ(g.nodes().size(), 1u);
  const ir::Node& n = *g.nodes()[0];
  EXPECT_EQ(n.op, "Resize");
  EXPECT_EQ(n.name, "up");
  ASSERT_EQ(n.inputs.size(), 3u);
  EXPECT_EQ(n.inputs[1], nullptr);  // no roi
  EXPECT_EQ(constFloats(n.inputs[2]), (std::vector<float>{1.f, 1.f, 2.f, 2.f}));
  EXPECT_EQ(n.s("mode", ""), "nearest");
  EXPECT_EQ(n.s("coordinate_transformation_mode", ""), "asymmetric");
  EXPECT_EQ(n.s("nearest_mode", ""), "floor");
  EXPECT_EQ(g.outputs[0]->shape, (Shape{1, 2, 6, 8}));
}

TEST(OnnxUpgrade, Upsample7ScalesAttribute) {
  OnnxModelBuilder b(7);
  b.input("x", TP::FLOAT, {1, 1, 2, 2});
  auto* up = b.node("Upsample", {"x"}, {"y"});
  setAttr(up, "scales", std::vector<float>{1.f, 1.f, 3.f, 2.f});
  setAttr(up, "mode", "linear");
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  const ir::Node& n = *g.nodes()[0];
  EXPECT_EQ(n.op, "Resize");
  EXPECT_EQ(n.s("mode", ""), "linear");
  EXPECT_EQ(constFloats(n.inputs[2]), (std::vector<float>{1.f, 1.f, 3.f, 2.f}));
  EXPECT_EQ(g.outputs[0]->shape, (Shape{1, 1, 6, 4}));
}

TEST(OnnxUpgrade, Resize10IsAsymmetric) {
  OnnxModelBuilder b(10);
  b.input("x", TP::FLOAT, {1, 1, 2, 2});
  b.initializer("scales", {4}, {1.f, 1.f, 2.f, 2.f});
  b.node("Resize", {"x", "scales"}, {"y"});
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  const ir::Node& n = *g.nodes()[0];
  EXPECT_EQ(n.inputs[1], nullptr);
  EXPECT_EQ(n.inputs[2]->name, "scales");
  EXPECT_EQ(n.s("coordinate_transformation_mode", ""), "asymmetric");
}

TEST(OnnxUpgrade, Resize11EmptyScalesMeansAbsent) {
  OnnxModelBuilder b(11);
  b.input("x", TP::FLOAT, {1, 1, 2, 2});
  b.initializer("roi", {0}, {});
  b.initializer("scales", {0}, {});
  b.initializerInt64("sizes", {4}, {1, 1, 5, 3});
  b.node("Resize", {"x", "roi", "scales", "sizes"}, {"y"});
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  const ir::Node& n = *g.nodes()[0];
  ASSERT_EQ(n.inputs.size(), 4u);
  EXPECT_EQ(n.inputs[1], nullptr);
  EXPECT_EQ(n.inputs[2], nullptr);
  EXPECT_EQ(g.outputs[0]->shape, (Shape{1, 1, 5, 3}));
}

TEST(OnnxUpgrade, ClipAttrsBecomeInputs) {
  OnnxModelBuilder b(6 + 1);
  b.input("x", TP::FLOAT, {4});
  auto* c = b.node("Clip", {"x"}, {"y"});
  setAttr(c, "min", -1.0f);
  setAttr(c, "max", 6.0f);
  auto* c2 = b.node("Clip", {"y"}, {"z"});
  setAttr(c2, "max", 2.0f);
  b.output("z");
  ir::Graph g;
  importOk(b, g);
  const ir::Node& n = *g.nodes()[0];
  ASSERT_EQ(n.inputs.size(), 3u);
  EXPECT_EQ(constFloats(n.inputs[1]), (std::vector<float>{-1.f}));
  EXPECT_EQ(constFloats(n.inputs[2]), (std::vector<float>{6.f}));
  EXPECT_TRUE(n.inputs[1]->constant->dims().empty());
  EXPECT_FALSE(n.has("min"));
  const ir::Node& m = *g.nodes()[1];
  ASSERT_EQ(m.inputs.size(), 3u);
  EXPECT_EQ(m.inputs[1], nullptr);
  EXPECT_EQ(constFloats(m.inputs[2]), (std::vector<float>{2.f}));
}

TEST(OnnxUpgrade, PadAttrsBecomeInputs) {
  OnnxModelBuilder b(10);
  b.input("x", TP::FLOAT, {1, 2, 3, 3});
  auto* p = b.node("Pad", {"x"}, {"y"});
  setAttr(p, "pads", std::vector<int64_t>{0, 0, 1, 2, 0, 0, 1, 2});
  setAttr(p, "value", 1.5f);
  setAttr(p, "mode", "constant");
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  const ir::Node& n = *g.nodes()[0];
  ASSERT_EQ(n.inputs.size(), 3u);
  EXPECT_EQ(constInts(n.inputs[1]), (std::vector<int64_t>{0, 0, 1, 2, 0, 0, 1, 2}));
  EXPECT_EQ(constFloats(n.inputs[2]), (std::vector<float>{1.5f}));
  EXPECT_EQ(n.s("mode", ""), "constant");
  EXPECT_FALSE(n.has("pads"));
  EXPECT_EQ(g.outputs[0]->shape, (Shape{1, 2, 5, 7}));
}

TEST(OnnxUpgrade, SliceAttrsBecomeInputs) {
  OnnxModelBuilder b(9);
  b.input("x", TP::FLOAT, {4, 10});
  auto* s = b.node("Slice", {"x"}, {"y"});
  setAttr(s, "starts", std::vector<int64_t>{1});
  setAttr(s, "ends", std::vector<int64_t>{8});
  setAttr(s, "axes", std::vector<int64_t>{1});
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  const ir::Node& n = *g.nodes()[0];
  ASSERT_EQ(n.inputs.size(), 4u);
  EXPECT_EQ(constInts(n.inputs[1]), (std::vector<int64_t>{1}));
  EXPECT_EQ(constInts(n.inputs[2]), (std::vector<int64_t>{8}));
  EXPECT_EQ(constInts(n.inputs[3]), (std::vector<int64_t>{1}));
  EXPECT_EQ(g.outputs[0]->shape, (Shape{4, 7}));
}

TEST(OnnxUpgrade, SplitForms) {
  // opset 11: `split` attribute; opset 13: equal split implied by the outputs.
  OnnxModelBuilder b11(11);
  b11.input("x", TP::FLOAT, {6, 2});
  setAttr(b11.node("Split", {"x"}, {"a", "b"}), "split", std::vector<int64_t>{2, 4});
  b11.output("a").output("b");
  ir::Graph g11;
  importOk(b11, g11);
  EXPECT_EQ(constInts(g11.nodes()[0]->inputs[1]), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(g11.outputs[1]->shape, (Shape{4, 2}));

  OnnxModelBuilder b13(13);
  b13.input("x", TP::FLOAT, {6, 2});
  b13.node("Split", {"x"}, {"a", "b", "c"});
  b13.output("a").output("b").output("c");
  ir::Graph g13;
  importOk(b13, g13);
  const ir::Node& n = *g13.nodes()[0];
  EXPECT_EQ(n.inputs.size(), 1u);
  EXPECT_EQ(n.i("num_outputs", 0), 3);
  EXPECT_EQ(g13.outputs[2]->shape, (Shape{2, 2}));
}

TEST(OnnxUpgrade, ReduceAxesAttrAndInputFormsMatch) {
  OnnxModelBuilder old(13);
  old.input("x", TP::FLOAT, {2, 3, 4});
  auto* r = old.node("ReduceMean", {"x"}, {"y"});
  setAttr(r, "axes", std::vector<int64_t>{1});
  setAttr(r, "keepdims", 0);
  old.output("y");
  OnnxModelBuilder cur(18);
  cur.input("x", TP::FLOAT, {2, 3, 4});
  cur.initializerInt64("axes", {1}, {1});
  setAttr(cur.node("ReduceMean", {"x", "axes"}, {"y"}), "keepdims", 0);
  cur.output("y");
  ir::Graph g1, g2;
  importOk(old, g1);
  importOk(cur, g2);
  for (ir::Graph* g : {&g1, &g2}) {
    const ir::Node& n = *g->nodes()[0];
    EXPECT_FALSE(n.has("axes"));
    EXPECT_EQ(constInts(n.input(1)), (std::vector<int64_t>{1}));
    EXPECT_EQ(n.i("keepdims", 1), 0);
    EXPECT_EQ(n.outputs[0]->shape, (Shape{2, 4}));
  }
}

TEST(OnnxUpgrade, ReduceSumAxesInputSince13) {
  OnnxModelBuilder b(12);
  b.input("x", TP::FLOAT, {2, 3});
  setAttr(b.node("ReduceSum", {"x"}, {"y"}), "axes", std::vector<int64_t>{-1});
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  EXPECT_EQ(constInts(g.nodes()[0]->input(1)), (std::vector<int64_t>{-1}));
  EXPECT_EQ(g.outputs[0]->shape, (Shape{2, 1}));
}

TEST(OnnxUpgrade, LegacySoftmaxOnLastAxisIsOneNode) {
  OnnxModelBuilder b(11);
  b.input("x", TP::FLOAT, {2, 5});
  b.node("Softmax", {"x"}, {"y"});  // default axis 1 == last
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  ASSERT_EQ(opsOf(g), (std::vector<std::string>{"Softmax"}));
  EXPECT_EQ(g.nodes()[0]->i("axis", 0), -1);
}

TEST(OnnxUpgrade, LegacySoftmaxFlattensToTwoD) {
  OnnxModelBuilder b(11);
  b.input("x", TP::FLOAT, {std::string("N"), 3, 4, 5});
  b.node("LogSoftmax", {"x"}, {"y"}, "sm");  // axis 1: normalize over 3*4*5 per row
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  ASSERT_EQ(opsOf(g), (std::vector<std::string>{"Flatten", "LogSoftmax", "Shape", "Reshape"}));
  EXPECT_EQ(g.nodes()[0]->i("axis", -7), 1);
  EXPECT_EQ(g.nodes()[1]->i("axis", -7), 1);
  EXPECT_EQ(g.nodes()[1]->outputs[0]->shape.size(), 2u);
  EXPECT_EQ(g.nodes()[1]->outputs[0]->shape[1].value, 60);
  const Shape& out = g.outputs[0]->shape;
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].symbol, "N");
  EXPECT_EQ(out[3].value, 5);
  EXPECT_EQ(g.outputs[0]->name, "y");
}

TEST(OnnxUpgrade, Softmax13KeepsAxis) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2, 3, 4});
  setAttr(b.node("Softmax", {"x"}, {"y"}), "axis", 1);
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  ASSERT_EQ(opsOf(g), (std::vector<std::string>{"Softmax"}));
  EXPECT_EQ(g.nodes()[0]->i("axis", -1), 1);
}

TEST(OnnxUpgrade, BatchNormLegacyAttrsDropped) {
  OnnxModelBuilder b(7);
  b.input("x", TP::FLOAT, {1, 2, 3, 3});
  for (const char* n : {"s", "bias", "mean", "var"}) b.initializer(n, {2}, {1.f, 1.f});
  auto* bn = b.node("BatchNormalization", {"x", "s", "bias", "mean", "var"}, {"y"});
  setAttr(bn, "spatial", 1);
  setAttr(bn, "epsilon", 1e-3f);
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  const ir::Node& n = *g.nodes()[0];
  EXPECT_FALSE(n.has("spatial"));
  EXPECT_FLOAT_EQ(n.f("epsilon", 0), 1e-3f);
  EXPECT_EQ(n.outputs.size(), 1u);
}

TEST(OnnxUpgrade, DropoutRatioAttrBecomesInput) {
  OnnxModelBuilder b(10);
  b.input("x", TP::FLOAT, {4});
  auto* d = b.node("Dropout", {"x"}, {"y"});
  setAttr(d, "ratio", 0.3f);
  setAttr(d, "is_test", 1);
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  const ir::Node& n = *g.nodes()[0];
  EXPECT_FALSE(n.has("is_test"));
  EXPECT_FALSE(n.has("ratio"));
  ASSERT_EQ(n.inputs.size(), 2u);
  EXPECT_EQ(constFloats(n.inputs[1]), (std::vector<float>{0.3f}));
}

TEST(OnnxUpgrade, GemmBroadcastAttrIgnored) {
  OnnxModelBuilder b(7);
  b.input("a", TP::FLOAT, {2, 3});
  b.initializer("w", {3, 4}, ramp(12));
  b.initializer("c", {4}, ramp(4));
  setAttr(b.node("Gemm", {"a", "w", "c"}, {"y"}), "broadcast", 1);
  b.output("y");
  ir::Graph g;
  importOk(b, g);
  EXPECT_FALSE(g.nodes()[0]->has("broadcast"));
  EXPECT_EQ(g.outputs[0]->shape, (Shape{2, 4}));
}

}  // namespace
}  // namespace kiln::test
