// Whole-model imports: nodes, shapes, inputs/outputs, constants.
#include <gtest/gtest.h>

#include "onnx/importer.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

using ir::Dim;
using ir::Shape;

TEST(OnnxImport, ConvReluPoolGemm) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {1, 3, 8, 8});
  b.initializer("w", {4, 3, 3, 3}, ramp(108, 0.01f));
  b.initializer("b", {4}, {0.1f, 0.2f, 0.3f, 0.4f});
  b.initializer("fc_w", {10, 64}, ramp(640, 0.001f));
  b.initializer("fc_b", {10}, ramp(10));
  auto* conv = b.node("Conv", {"x", "w", "b"}, {"c"}, "conv1");
  setAttr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  setAttr(conv, "kernel_shape", std::vector<int64_t>{3, 3});
  b.node("Relu", {"c"}, {"r"}, "relu1");
  auto* pool = b.node("MaxPool", {"r"}, {"p"}, "pool1");
  setAttr(pool, "kernel_shape", std::vector<int64_t>{2, 2});
  setAttr(pool, "strides", std::vector<int64_t>{2, 2});
  auto* flat = b.node("Flatten", {"p"}, {"f"}, "flatten");
  setAttr(flat, "axis", 1);
  auto* gemm = b.node("Gemm", {"f", "fc_w", "fc_b"}, {"y"}, "fc");
  setAttr(gemm, "transB", 1);
  b.output("y");

  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Conv", "Relu", "MaxPool", "Flatten", "Gemm"}));
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0]->name, "x");
  EXPECT_EQ(g.inputs[0]->dtype, DType::kFLOAT);
  EXPECT_EQ(g.inputs[0]->shape, (Shape{1, 3, 8, 8}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0]->name, "y");
  EXPECT_EQ(g.outputs[0]->shape, (Shape{1, 10}));

  const ir::Node* c = g.nodes()[0].get();
  EXPECT_EQ(c->name, "conv1");
  EXPECT_EQ(c->ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  ASSERT_EQ(c->inputs.size(), 3u);
  ASSERT_TRUE(c->inputs[1]->isConstant());
  EXPECT_EQ(c->inputs[1]->constant->dims(), (std::vector<int64_t>{4, 3, 3, 3}));
  EXPECT_FLOAT_EQ(c->inputs[1]->constant->as<float>()[5], 0.05f);
  EXPECT_EQ(c->outputs[0]->shape, (Shape{1, 4, 8, 8}));
  EXPECT_EQ(g.nodes()[2]->outputs[0]->shape, (Shape{1, 4, 4, 4}));
  EXPECT_EQ(g.nodes()[4]->i("transB", 0), 1);
}

TEST(OnnxImport, SymbolicDimsSurvive) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {std::string("batch"), 3, 16, std::string("width")});
  b.input("u", TP::FLOAT, {kUnknownDim, 2});
  b.node("Relu", {"x"}, {"y"});
  b.node("Relu", {"u"}, {"v"});
  b.output("y").output("v");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  ASSERT_EQ(g.inputs.size(), 2u);
  const Shape& s = g.inputs[0]->shape;
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].symbol, "batch");
  EXPECT_FALSE(s[0].known());
  EXPECT_EQ(s[3].symbol, "width");
  EXPECT_EQ(s[2].value, 16);
  EXPECT_EQ(g.outputs[0]->shape[3].symbol, "width");
  EXPECT_FALSE(g.inputs[1]->shape[0].known());
  EXPECT_TRUE(g.inputs[1]->shape[0].symbol.empty());
}

TEST(OnnxImport, DtypesOfInputs) {
  OnnxModelBuilder b(13);
  b.input("a", TP::INT64, {2}).input("h", TP::FLOAT16, {2}).input("m", TP::BOOL, {2});
  b.node("Identity", {"a"}, {"a2"});
  b.node("Identity", {"h"}, {"h2"});
  b.node("Not", {"m"}, {"m2"});
  b.output("a2", TP::INT64).output("h2", TP::FLOAT16).output("m2", TP::BOOL);
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  EXPECT_EQ(g.outputs[0]->dtype, DType::kINT64);
  EXPECT_EQ(g.outputs[1]->dtype, DType::kHALF);
  EXPECT_EQ(g.outputs[2]->dtype, DType::kBOOL);
}

TEST(OnnxImport, ConstantNodesBecomeConstants) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2, 3});
  auto* c1 = b.node("Constant", {}, {"k"}, "const_tensor");
  setAttr(c1, "value", floatTensor("", {3}, {1.f, 2.f, 3.f}));
  auto* c2 = b.node("Constant", {}, {"s"}, "const_float");
  setAttr(c2, "value_float", 0.5f);
  auto* c3 = b.node("Constant", {}, {"shape"});
  setAttr(c3, "value_ints", std::vector<int64_t>{3, 2});
  b.node("Add", {"x", "k"}, {"a"});
  b.node("Mul", {"a", "s"}, {"m"});
  b.node("Reshape", {"m", "shape"}, {"y"});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Add", "Mul", "Reshape"}));
  const ir::Value* k = g.nodes()[0]->inputs[1];
  ASSERT_TRUE(k->isConstant());
  EXPECT_EQ(k->name, "k");
  EXPECT_EQ(k->constant->toFloat(), (std::vector<float>{1.f, 2.f, 3.f}));
  const ir::Value* s = g.nodes()[1]->inputs[1];
  ASSERT_TRUE(s->isConstant());
  EXPECT_TRUE(s->constant->dims().empty());
  EXPECT_FLOAT_EQ(s->constant->as<float>()[0], 0.5f);
  const ir::Value* shape = g.nodes()[2]->inputs[1];
  ASSERT_TRUE(shape->isConstant());
  EXPECT_EQ(shape->dtype, DType::kINT64);
  EXPECT_EQ(shape->constant->toInt64(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(g.outputs[0]->shape, (Shape{3, 2}));
}

TEST(OnnxImport, InitializerListedAsInputIsAConstant) {
  OnnxModelBuilder b(9);
  b.input("x", TP::FLOAT, {2});
  b.input("w", TP::FLOAT, {2});  // IR version 3 models list initializers as inputs
  b.initializer("w", {2}, {1.f, 2.f});
  b.node("Add", {"x", "w"}, {"y"});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0]->name, "x");
  EXPECT_TRUE(g.nodes()[0]->inputs[1]->isConstant());
}

TEST(OnnxImport, TypedFieldInitializers) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT16, {2});
  TP h;  // float16 bits live in int32_data
  h.set_name("h");
  h.set_data_type(TP::FLOAT16);
  h.add_dims(2);
  h.add_int32_data(floatToHalf(1.5f));
  h.add_int32_data(floatToHalf(-2.0f));
  b.initializer(h);
  TP f;  // float_data instead of raw_data
  f.set_name("f");
  f.set_data_type(TP::FLOAT);
  f.add_dims(3);
  for (float v : {1.f, 2.f, 3.f}) f.add_float_data(v);
  b.initializer(f);
  TP i8;
  i8.set_name("i8");
  i8.set_data_type(TP::INT8);
  i8.add_dims(2);
  i8.add_int32_data(-5);
  i8.add_int32_data(7);
  b.initializer(i8);
  TP d;  // DOUBLE weights stay float64
  d.set_name("d");
  d.set_data_type(TP::DOUBLE);
  d.add_dims(2);
  d.add_double_data(0.25);
  d.add_double_data(-3.0);
  b.initializer(d);
  b.node("Add", {"x", "h"}, {"y"});
  b.node("Identity", {"f"}, {"fy"});
  b.node("Identity", {"i8"}, {"iy"});
  b.node("Identity", {"d"}, {"dy"});
  b.output("y", TP::FLOAT16).output("fy").output("iy", TP::INT8).output("dy");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Tensor& ht = *g.findValue("h")->constant;
  EXPECT_EQ(ht.dtype(), DType::kHALF);
  EXPECT_EQ(ht.toFloat(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(g.findValue("f")->constant->toFloat(), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(g.findValue("i8")->constant->toInt64(), (std::vector<int64_t>{-5, 7}));
  EXPECT_EQ(g.findValue("d")->constant->dtype(), DType::kDOUBLE);
  EXPECT_EQ(g.findValue("d")->constant->toFloat(), (std::vector<float>{0.25f, -3.0f}));
}

TEST(OnnxImport, UnnamedNodesGetOpAndIndexNames) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2});
  b.node("Relu", {"x"}, {"a"});
  b.node("Sigmoid", {"a"}, {"y"});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  EXPECT_EQ(g.nodes()[0]->name, "Relu_0");
  EXPECT_EQ(g.nodes()[1]->name, "Sigmoid_1");
}

TEST(OnnxImport, NodesOutOfOrderAreSorted) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2});
  b.node("Sigmoid", {"a"}, {"y"}, "second");
  b.node("Relu", {"x"}, {"a"}, "first");
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Relu", "Sigmoid"}));
}

TEST(OnnxImport, AbsentOptionalInputsAndOutputs) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {1, 1, 2, 2});
  b.initializer("scales", {4}, {1.f, 1.f, 2.f, 2.f});
  auto* rs = b.node("Resize", {"x", "", "scales"}, {"y"}, "up");
  setAttr(rs, "mode", "nearest");
  b.node("Dropout", {"y"}, {"z", ""}, "drop");
  b.output("z");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Node* resize = g.nodes()[0].get();
  ASSERT_EQ(resize->inputs.size(), 3u);
  EXPECT_EQ(resize->inputs[1], nullptr);
  EXPECT_EQ(resize->outputs[0]->shape, (Shape{1, 1, 4, 4}));
  EXPECT_EQ(g.nodes()[1]->outputs.size(), 1u);  // the unnamed mask output is dropped
}

TEST(OnnxImport, OutputSymbolsComeFromTheModel) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {kUnknownDim, 4});
  b.node("Relu", {"x"}, {"y"});
  b.output("y", TP::FLOAT, {std::string("N"), 4});
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  EXPECT_EQ(g.outputs[0]->shape[0].symbol, "N");
}

TEST(OnnxImport, GraphOutputMayBeAnInput) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2});
  b.output("x");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0], g.inputs[0]);
}

TEST(OnnxImport, OperatorSupportTable) {
  for (const char* op : {"Conv", "Gemm", "Upsample", "Constant", "Softmax", "ReduceSum", "Squeeze", "Trilu", "If",
                         "Loop", "Scan"})
    EXPECT_TRUE(onnx::isOperatorSupported(op)) << op;
  for (const char* op : {"SequenceEmpty", "StringNormalizer", "", "conv"})
    EXPECT_FALSE(onnx::isOperatorSupported(op)) << op;
}

}  // namespace
}  // namespace kiln::test
