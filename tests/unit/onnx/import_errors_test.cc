// Bad and unsupported models give ImportErrors that name the problem; nothing crashes.
#include <gtest/gtest.h>

#include <random>

#include "onnx/importer.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

using onnx::ErrorCode;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

//! A valid small model: Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> Softmax.
OnnxModelBuilder smallModel() {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {1, 2, 5, 5});
  b.initializer("w", {3, 2, 3, 3}, ramp(54, 0.01f));
  b.initializer("fc", {3, 4}, ramp(12));
  b.node("Conv", {"x", "w"}, {"c"}, "conv");
  b.node("Relu", {"c"}, {"r"}, "relu");
  b.node("GlobalAveragePool", {"r"}, {"p"}, "gap");
  b.node("Flatten", {"p"}, {"f"}, "flat");
  b.node("Gemm", {"f", "fc"}, {"g"}, "fc");
  b.node("Softmax", {"g"}, {"y"}, "softmax");
  b.output("y");
  return b;
}

TEST(OnnxErrors, SmallModelIsValid) {
  ir::Graph g;
  auto r = importBytes(smallModel().bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  EXPECT_EQ(g.outputs[0]->shape, (ir::Shape{1, 4}));
}

TEST(OnnxErrors, UnsupportedOpIsNamedWithOpset) {
  OnnxModelBuilder b(13);
  b.input("boxes", TP::FLOAT, {1, 4, 4}).input("scores", TP::FLOAT, {1, 1, 4});
  b.node("Relu", {"scores"}, {"s2"});
  b.node("StringNormalizer", {"boxes", "s2"}, {"sel"}, "foo");
  b.output("sel", TP::INT64);
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  ASSERT_EQ(r.errors.size(), 1u);
  const auto& e = r.errors[0];
  EXPECT_EQ(e.code, ErrorCode::kUNSUPPORTED_NODE);
  EXPECT_EQ(e.desc.rfind("node \"foo\" (StringNormalizer, opset 13): no importer for this op; a plugin can provide it", 0), 0u)
      << e.desc;
  EXPECT_EQ(e.node, 1);
  EXPECT_EQ(e.nodeName, "foo");
  EXPECT_EQ(e.nodeOperator, "StringNormalizer");
  EXPECT_FALSE(e.file.empty());
  EXPECT_GT(e.line, 0);
}

TEST(OnnxErrors, CustomDomainOpNamesOpAndDomain) {
  OnnxModelBuilder b(13);
  auto* o = b.model().add_opset_import();
  o->set_domain("com.example");
  o->set_version(1);
  b.input("x", TP::FLOAT, {2});
  b.node("FancyAct", {"x"}, {"y"}, "fancy")->set_domain("com.example");
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kUNSUPPORTED_NODE);
  EXPECT_TRUE(contains(r.errors[0].desc, "FancyAct")) << r.errors[0].desc;
  EXPECT_TRUE(contains(r.errors[0].desc, "com.example")) << r.errors[0].desc;
}

TEST(OnnxErrors, UnsupportedOpsetIsClear) {
  for (int64_t opset : {5, 23}) {
    OnnxModelBuilder b(opset);
    b.input("x", TP::FLOAT, {2});
    b.node("Relu", {"x"}, {"y"});
    b.output("y");
    ir::Graph g;
    auto r = importBytes(b.bytes(), g);
    ASSERT_FALSE(r.ok) << opset;
    EXPECT_EQ(r.errors[0].code, ErrorCode::kUNSUPPORTED_GRAPH);
    EXPECT_TRUE(contains(r.errors[0].desc, strCat("opset ", opset))) << r.errors[0].desc;
  }
}

TEST(OnnxErrors, OpNewerThanTheModelsOpset) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2});
  b.node("Gelu", {"x"}, {"y"});  // ai.onnx Gelu exists from opset 20
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kUNSUPPORTED_NODE);
  EXPECT_TRUE(contains(r.errors[0].desc, "opset 20")) << r.errors[0].desc;
}

TEST(OnnxErrors, EmptyBuffer) {
  ir::Graph g;
  auto r = onnx::importModel(nullptr, 0, "", g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kMODEL_DESERIALIZE_FAILED);
  std::string empty;
  r = importBytes(empty, g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kMODEL_DESERIALIZE_FAILED);
  EXPECT_TRUE(contains(r.errors[0].desc, "empty"));
}

TEST(OnnxErrors, MalformedBytes) {
  ir::Graph g;
  std::string junk = "this is not an onnx model \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
  auto r = importBytes(junk, g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kMODEL_DESERIALIZE_FAILED);
}

TEST(OnnxErrors, TruncatedModel) {
  std::string bytes = smallModel().bytes();
  ir::Graph g;
  auto r = importBytes(bytes.substr(0, bytes.size() - 7), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kMODEL_DESERIALIZE_FAILED) << errorText(r);
}

TEST(OnnxErrors, EveryPrefixFailsOrImportsWithoutCrashing) {
  std::string bytes = smallModel().bytes();
  int failures = 0;
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    ir::Graph g;
    auto r = importBytes(bytes.substr(0, n), g);
    if (!r.ok) {
      ++failures;
      EXPECT_FALSE(r.errors.empty());
      for (auto& e : r.errors) EXPECT_FALSE(e.desc.empty());
    }
  }
  EXPECT_EQ(failures, static_cast<int>(bytes.size()));  // no prefix is the whole model
}

TEST(OnnxErrors, RandomMutationsNeverCrash) {
  std::string bytes = smallModel().bytes();
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string m = bytes;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) m[rng() % m.size()] = static_cast<char>(rng() & 0xff);
    ir::Graph g;
    auto r = importBytes(m, g);
    EXPECT_EQ(r.ok, r.errors.empty());
    auto s = onnx::checkModelSupport(m.data(), m.size(), "");
    EXPECT_EQ(s.ok, s.errors.empty());
  }
}

TEST(OnnxErrors, RandomBytesNeverCrash) {
  std::mt19937 rng(99);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string m(1 + rng() % 200, '\0');
    for (char& c : m) c = static_cast<char>(rng() & 0xff);
    ir::Graph g;
    auto r = importBytes(m, g);
    EXPECT_FALSE(r.ok);  // random bytes are never a model with a graph of supported nodes
  }
}

TEST(OnnxErrors, MissingProducerNamesTheTensor) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2});
  b.node("Add", {"x", "ghost"}, {"y"}, "add1");
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kINVALID_GRAPH);
  EXPECT_TRUE(contains(r.errors[0].desc, "\"ghost\"")) << r.errors[0].desc;
  EXPECT_TRUE(contains(r.errors[0].desc, "add1")) << r.errors[0].desc;
  EXPECT_EQ(r.errors[0].node, 0);
}

TEST(OnnxErrors, DuplicateOutputNamesTheTensor) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2});
  b.node("Relu", {"x"}, {"t"}, "first");
  b.node("Sigmoid", {"x"}, {"t"}, "second");
  b.output("t");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kINVALID_GRAPH);
  EXPECT_TRUE(contains(r.errors[0].desc, "\"t\"")) << r.errors[0].desc;
}

TEST(OnnxErrors, OutputShadowingAnInputIsInvalid) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2});
  b.node("Relu", {"x"}, {"x"});
  b.output("x");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kINVALID_GRAPH);
}

TEST(OnnxErrors, MissingGraphOutput) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2});
  b.node("Relu", {"x"}, {"y"});
  b.output("nope");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kINVALID_GRAPH);
  EXPECT_TRUE(contains(r.errors[0].desc, "\"nope\""));
}

TEST(OnnxErrors, UnsupportedInputTypeIsRejectedByName) {
  OnnxModelBuilder b(13);
  b.input("xd", TP::COMPLEX64, {2});
  b.node("Relu", {"xd"}, {"y"});
  b.output("y", TP::COMPLEX64);
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kUNSUPPORTED_NODE_DATATYPE);
  EXPECT_TRUE(contains(r.errors[0].desc, "\"xd\"")) << r.errors[0].desc;
  EXPECT_TRUE(contains(r.errors[0].desc, "COMPLEX64")) << r.errors[0].desc;
}

TEST(OnnxErrors, InitializerWithTooLittleData) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {4});
  b.initializer("w", {1000000000, 1000}, {1.f, 2.f});  // huge shape, 2 values: rejected before allocating
  b.node("Add", {"x", "w"}, {"y"});
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kINVALID_VALUE);
  EXPECT_TRUE(contains(r.errors[0].desc, "\"w\"")) << r.errors[0].desc;
}

TEST(OnnxErrors, ShapeInferenceErrorsAreNodeErrors) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {1, 4, 5, 5});
  b.initializer("w", {3, 2, 3, 3}, ramp(54));  // 2 input channels, x has 4
  b.node("Conv", {"x", "w"}, {"y"}, "stem");
  b.output("y");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kINVALID_NODE);
  EXPECT_EQ(r.errors[0].nodeName, "stem");
  EXPECT_EQ(r.errors[0].nodeOperator, "Conv");
  EXPECT_TRUE(contains(r.errors[0].desc, "stem")) << r.errors[0].desc;
}

TEST(OnnxErrors, ExtraMatMulOrConvInputsAreNamed) {
  // Kiln's own MatMul / Conv take a fused bias and residual; an ONNX node with more inputs than ONNX
  // allows is an invalid node, not one whose extra inputs get added.
  struct Case {
    const char* op;
    std::vector<std::string> inputs;
    const char* want;
  };
  for (const Case& c : {Case{"MatMul", {"a", "b", "c"}, "has 3 inputs; ONNX MatMul takes 2"},
                        Case{"MatMul", {"a", "b", "c", "c"}, "has 4 inputs; ONNX MatMul takes 2"},
                        Case{"Conv", {"x", "w", "bias", "x"}, "has 4 inputs; ONNX Conv takes 2 or 3"}}) {
    SCOPED_TRACE(c.op);
    OnnxModelBuilder b(13);
    b.input("a", TP::FLOAT, {3, 4}).input("x", TP::FLOAT, {1, 2, 5, 5});
    b.initializer("b", {4, 3}, ramp(12));
    b.initializer("c", {3, 3}, ramp(9));
    b.initializer("w", {2, 2, 1, 1}, ramp(4));
    b.initializer("bias", {2}, ramp(2));
    b.node(c.op, c.inputs, {"y"}, "extra");
    b.output("y");
    ir::Graph g;
    auto r = importBytes(b.bytes(), g);
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.errors[0].code, ErrorCode::kINVALID_NODE);
    EXPECT_EQ(r.errors[0].nodeName, "extra");
    EXPECT_TRUE(contains(r.errors[0].desc, c.want)) << r.errors[0].desc;
  }
  // The ONNX forms still import.
  OnnxModelBuilder b(13);
  b.input("a", TP::FLOAT, {3, 4}).input("x", TP::FLOAT, {1, 2, 5, 5});
  b.initializer("b", {4, 3}, ramp(12));
  b.initializer("w", {2, 2, 1, 1}, ramp(4));
  b.initializer("bias", {2}, ramp(2));
  b.node("MatMul", {"a", "b"}, {"y"});
  b.node("Conv", {"x", "w", "bias"}, {"z"});
  b.output("y").output("z");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  EXPECT_TRUE(r.ok) << errorText(r);
}

TEST(OnnxErrors, BatchNormTrainingOutputsRejected) {
  OnnxModelBuilder b(9);
  b.input("x", TP::FLOAT, {1, 2, 3, 3});
  for (const char* n : {"s", "bias", "mean", "var"}) b.initializer(n, {2}, {1.f, 1.f});
  b.node("BatchNormalization", {"x", "s", "bias", "mean", "var"}, {"y", "rm"}, "bn");
  b.node("Relu", {"rm"}, {"z"});
  b.output("y").output("z");
  ir::Graph g;
  auto r = importBytes(b.bytes(), g);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kUNSUPPORTED_NODE);
  EXPECT_TRUE(contains(r.errors[0].desc, "training")) << r.errors[0].desc;
}

TEST(OnnxErrors, CheckModelSupportReportsEveryUnsupportedNode) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2});
  b.node("Relu", {"x"}, {"a"});
  b.node("RegexFullMatch", {"a"}, {"b"}, "regex");
  b.node("StringNormalizer", {"b"}, {"c"}, "strings");
  b.output("c");
  std::string bytes = b.bytes();
  auto r = onnx::checkModelSupport(bytes.data(), bytes.size(), "");
  ASSERT_FALSE(r.ok);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].nodeName, "regex");
  EXPECT_EQ(r.errors[0].node, 1);
  EXPECT_EQ(r.errors[1].nodeName, "strings");

  std::string good = smallModel().bytes();
  auto ok = onnx::checkModelSupport(good.data(), good.size(), "");
  EXPECT_TRUE(ok.ok) << errorText(ok);
}

}  // namespace
}  // namespace kiln::test
