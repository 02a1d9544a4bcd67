// Importers of the extra nn ops that rewrite their node: GroupNormalization
// < 21 (per-group scale / bias repeated per channel), GridSample < 20 (mode
// names), QuantizeLinear's output_dtype (becomes a zero point of the scale's
// shape; saturate stays; int4 is refused).
#include <gtest/gtest.h>

#include "onnx/importer.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

const ir::Node* findOp(const ir::Graph& g, const std::string& op) {
  for (const auto& n : g.nodes())
    if (n->op == op) return n.get();
  return nullptr;
}

TEST(OnnxNnImport, GroupNorm18RepeatsPerGroupParameters) {
  OnnxModelBuilder b(18);
  b.input("x", TP::FLOAT, {2, 4, 3});
  b.initializer("scale", {2}, {1.f, 2.f});
  b.initializer("bias", {2}, {-1.f, 5.f});
  setAttr(b.node("GroupNormalization", {"x", "scale", "bias"}, {"y"}, "gn"), "num_groups", int64_t{2});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Node* n = findOp(g, "GroupNormalization");
  ASSERT_TRUE(n);
  ASSERT_TRUE(n->inputs[1]->isConstant() && n->inputs[2]->isConstant());
  EXPECT_EQ(n->inputs[1]->constant->toFloat(), (std::vector<float>{1, 1, 2, 2}));
  EXPECT_EQ(n->inputs[2]->constant->toFloat(), (std::vector<float>{-1, -1, 5, 5}));
  EXPECT_EQ(g.outputs[0]->shape, (ir::Shape{2, 4, 3}));
}

TEST(OnnxNnImport, GroupNorm18NeedsConstantParameters) {
  OnnxModelBuilder b(18);
  b.input("x", TP::FLOAT, {2, 4, 3}).input("scale", TP::FLOAT, {2});
  b.initializer("bias", {2}, {0.f, 0.f});
  setAttr(b.node("GroupNormalization", {"x", "scale", "bias"}, {"y"}, "gn"), "num_groups", int64_t{2});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(errorText(r).find("GroupNormalization needs a constant scale (one value per group)"), std::string::npos)
      << errorText(r);
}

TEST(OnnxNnImport, GridSample16ModeNames) {
  for (const char* mode : {"bicubic", "bilinear", ""}) {
    OnnxModelBuilder b(16);
    b.input("x", TP::FLOAT, {1, 2, 4, 4}).input("grid", TP::FLOAT, {1, 3, 5, 2});
    auto* n = b.node("GridSample", {"x", "grid"}, {"y"}, "gs");
    if (*mode) setAttr(n, "mode", mode);
    b.output("y");
    ir::Graph g;
    auto r = importBytes(b.bytes(), g);
    ASSERT_TRUE(r.ok) << errorText(r);
    const ir::Node* gs = findOp(g, "GridSample");
    ASSERT_TRUE(gs);
    EXPECT_EQ(gs->s("mode", "?"), std::string(mode) == "bicubic" ? "cubic" : "linear") << mode;
    EXPECT_EQ(g.outputs[0]->shape, (ir::Shape{1, 2, 3, 5}));
  }
}

TEST(OnnxNnImport, QuantizeOutputDtypeBecomesZeroPoint) {
  OnnxModelBuilder b(21);
  b.input("x", TP::FLOAT, {3});
  b.initializer("s", {}, {0.5f});
  setAttr(b.node("QuantizeLinear", {"x", "s"}, {"y"}, "q"), "output_dtype", int64_t{TP::INT8});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Node* q = findOp(g, "QuantizeLinear");
  ASSERT_TRUE(q && q->inputs.size() == 3 && q->inputs[2]->isConstant());
  EXPECT_EQ(q->inputs[2]->dtype, DType::kINT8);
  EXPECT_EQ(q->inputs[2]->constant->toInt64(), (std::vector<int64_t>{0}));
  EXPECT_FALSE(q->has("output_dtype"));
  EXPECT_EQ(g.outputs[0]->dtype, DType::kINT8);
  // A zero point of another type than output_dtype is an error.
  OnnxModelBuilder bad(21);
  bad.input("x", TP::FLOAT, {3}).input("zp", TP::UINT8, {});
  bad.initializer("s", {}, {0.5f});
  setAttr(bad.node("QuantizeLinear", {"x", "s", "zp"}, {"y"}, "q"), "output_dtype", int64_t{TP::INT8});
  bad.output("y");
  ir::Graph g2;
  r = importBytes(bad.bytes(), g2);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(errorText(r).find("output_dtype INT8 differs from the zero point's type uint8"), std::string::npos)
      << errorText(r);
}

TEST(OnnxNnImport, QuantizeOutputDtypeBlockedFloat8AndInt4) {
  // Blocked scale [3, 2], output_dtype INT16, no zero point: zeros of the scale's shape.
  OnnxModelBuilder b(21);
  b.input("x", TP::FLOAT, {3, 4});
  b.initializer("s", {3, 2}, {1, 2, 3, 4, 5, 6});
  auto* n = b.node("QuantizeLinear", {"x", "s"}, {"y"}, "q");
  setAttr(n, "output_dtype", int64_t{TP::INT16});
  setAttr(n, "axis", int64_t{1});
  setAttr(n, "block_size", int64_t{2});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Node* q = findOp(g, "QuantizeLinear");
  ASSERT_TRUE(q && q->inputs.size() == 3 && q->inputs[2]->isConstant());
  EXPECT_EQ(q->inputs[2]->dtype, DType::kINT16);
  EXPECT_EQ(q->inputs[2]->constant->toInt64(), (std::vector<int64_t>(6, 0)));
  EXPECT_EQ(q->inputs[2]->shape, (ir::Shape{3, 2}));
  EXPECT_EQ(g.outputs[0]->dtype, DType::kINT16);
  // float8 output (FLOAT8E5M2 = 19; the onnx.proto built here predates it): the zero
  // point is float8, `saturate` reaches the IR node.
  OnnxModelBuilder f(21);
  f.input("x", TP::FLOAT, {3});
  f.initializer("s", {}, {0.5f});
  auto* fq = f.node("QuantizeLinear", {"x", "s"}, {"y"}, "q");
  setAttr(fq, "output_dtype", int64_t{19});
  setAttr(fq, "saturate", int64_t{0});
  f.output("y");
  ir::Graph g2;
  r = importBytes(f.bytes(), g2);
  ASSERT_TRUE(r.ok) << errorText(r);
  q = findOp(g2, "QuantizeLinear");
  ASSERT_TRUE(q && q->inputs.size() == 3);
  EXPECT_EQ(q->inputs[2]->dtype, DType::kFP8E5M2);
  EXPECT_EQ(q->i("saturate", 1), 0);
  EXPECT_EQ(g2.outputs[0]->dtype, DType::kFP8E5M2);
  // INT4 (22) has no Kiln type.
  OnnxModelBuilder i4(21);
  i4.input("x", TP::FLOAT, {3});
  i4.initializer("s", {}, {0.5f});
  setAttr(i4.node("QuantizeLinear", {"x", "s"}, {"y"}, "q"), "output_dtype", int64_t{22});
  i4.output("y");
  ir::Graph g3;
  r = importBytes(i4.bytes(), g3);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(errorText(r).find("attribute 'output_dtype': data type INT4 is not supported"), std::string::npos)
      << errorText(r);
}

}  // namespace
}  // namespace kiln::test
