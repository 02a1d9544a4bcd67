// IParser::supportsModelV2 and its subgraph queries (TensorRT 10's
// getNbSubgraphs / isSubgraphSupported / getSubgraphNodes): a model Kiln
// imports is one supported subgraph; an op without an importer, or one whose
// importer refuses its attributes, cuts the graph into supported and
// unsupported runs with the right node indices; malformed bytes give false,
// an error and no subgraphs; queries out of range are errors, not crashes.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "kiln/kiln.h"
#include "kiln/onnx_parser.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

struct QuietLogger : ILogger {
  void log(Severity s, const char* msg) noexcept override {
    if (s <= Severity::kERROR) errors.push_back(msg);
  }
  std::vector<std::string> errors;
};

class SubgraphSupport : public ::testing::Test {
 protected:
  void SetUp() override {
    builder_.reset(createInferBuilder(logger_));
    network_.reset(builder_->createNetworkV2(0));
    parser_.reset(onnx::createParser(*network_, logger_));
    ASSERT_TRUE(parser_);
  }
  std::vector<int64_t> nodesOf(int64_t i) {
    int64_t n = -1;
    int64_t* p = parser_->getSubgraphNodes(i, n);
    EXPECT_TRUE(p);
    return p ? std::vector<int64_t>(p, p + n) : std::vector<int64_t>{};
  }

  QuietLogger logger_;
  std::unique_ptr<IBuilder> builder_;
  std::unique_ptr<INetworkDefinition> network_;
  std::unique_ptr<onnx::IParser> parser_;
};

TEST_F(SubgraphSupport, SupportedModelIsOneSupportedSubgraph) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2, 4});
  b.node("Relu", {"x"}, {"a"});
  b.node("Sigmoid", {"a"}, {"b"});
  b.node("Add", {"a", "b"}, {"y"});
  b.output("y");
  std::string bytes = b.bytes();
  EXPECT_EQ(parser_->getNbSubgraphs(), 0);  // nothing asked yet
  ASSERT_TRUE(parser_->supportsModelV2(bytes.data(), bytes.size()));
  EXPECT_EQ(parser_->getNbErrors(), 0);
  ASSERT_EQ(parser_->getNbSubgraphs(), 1);
  EXPECT_TRUE(parser_->isSubgraphSupported(0));
  EXPECT_EQ(nodesOf(0), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(network_->getNbLayers(), 0);  // the network is not touched
  EXPECT_TRUE(parser_->supportsModel(bytes.data(), bytes.size()));  // the deprecated form still answers
}

TEST_F(SubgraphSupport, UnsupportedOpInTheMiddleMakesThreeSubgraphs) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2, 4});
  b.node("Relu", {"x"}, {"a"}, "first");
  b.node("StringNormalizer", {"a"}, {"b"}, "strings");
  b.node("Sigmoid", {"b"}, {"c"}, "after");
  b.node("Neg", {"c"}, {"y"}, "last");
  b.output("y");
  std::string bytes = b.bytes();
  EXPECT_FALSE(parser_->supportsModelV2(bytes.data(), bytes.size()));
  ASSERT_EQ(parser_->getNbSubgraphs(), 3);
  EXPECT_TRUE(parser_->isSubgraphSupported(0));
  EXPECT_FALSE(parser_->isSubgraphSupported(1));
  EXPECT_TRUE(parser_->isSubgraphSupported(2));
  EXPECT_EQ(nodesOf(0), (std::vector<int64_t>{0}));
  EXPECT_EQ(nodesOf(1), (std::vector<int64_t>{1}));
  EXPECT_EQ(nodesOf(2), (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(parser_->getNbErrors(), 1);
  const onnx::IParserError* e = parser_->getError(0);
  EXPECT_EQ(e->node(), 1);
  EXPECT_STREQ(e->nodeName(), "strings");
  EXPECT_STREQ(e->nodeOperator(), "StringNormalizer");
  EXPECT_EQ(e->code(), onnx::ErrorCode::kUNSUPPORTED_NODE);
  EXPECT_EQ(network_->getNbLayers(), 0);

  // TensorRT's deprecated supportsModel with a SubGraphCollection_t: the same runs.
  onnx::SubGraphCollection_t collection{{{99}, true}};  // cleared first
  EXPECT_FALSE(parser_->supportsModel(bytes.data(), bytes.size(), collection));
  ASSERT_EQ(collection.size(), 3u);
  EXPECT_EQ(collection[0], (onnx::SubGraph_t{{0}, true}));
  EXPECT_EQ(collection[1], (onnx::SubGraph_t{{1}, false}));
  EXPECT_EQ(collection[2], (onnx::SubGraph_t{{2, 3}, true}));
}

TEST_F(SubgraphSupport, RefusedAttributeAndIndependentBranches) {
  // Node 1's importer exists but refuses string tokens; node 2 and 3 do not
  // depend on it and are imported for real; node 4 reads node 1's output.
  OnnxModelBuilder b(13);
  b.input("x", TP::INT64, {6});
  b.input("f", TP::FLOAT, {3});
  b.node("Neg", {"x"}, {"a"}, "neg");
  auto* t = b.node("TfIdfVectorizer", {"a"}, {"v"}, "tfidf");
  setAttr(t, "mode", "TF");
  setAttr(t, "min_gram_length", 1);
  setAttr(t, "max_gram_length", 1);
  setAttr(t, "max_skip_count", 0);
  setAttr(t, "ngram_counts", std::vector<int64_t>{0});
  setAttr(t, "ngram_indexes", std::vector<int64_t>{0});
  auto* strs = t->add_attribute();
  strs->set_name("pool_strings");
  strs->set_type(::onnx::AttributeProto::STRINGS);
  strs->add_strings("hello");
  b.node("Relu", {"f"}, {"r"}, "relu");
  b.node("Abs", {"r"}, {"y"}, "abs");
  b.node("Sigmoid", {"v"}, {"z"}, "sig");
  b.output("y");
  b.output("z");
  std::string bytes = b.bytes();
  EXPECT_FALSE(parser_->supportsModelV2(bytes.data(), bytes.size()));
  ASSERT_EQ(parser_->getNbSubgraphs(), 3);
  EXPECT_EQ(nodesOf(0), (std::vector<int64_t>{0}));
  EXPECT_FALSE(parser_->isSubgraphSupported(1));
  EXPECT_EQ(nodesOf(1), (std::vector<int64_t>{1}));
  EXPECT_TRUE(parser_->isSubgraphSupported(2));
  EXPECT_EQ(nodesOf(2), (std::vector<int64_t>{2, 3, 4}));
  ASSERT_EQ(parser_->getNbErrors(), 1);
  EXPECT_EQ(parser_->getError(0)->code(), onnx::ErrorCode::kUNSUPPORTED_NODE_ATTR);
  EXPECT_EQ(parser_->getError(0)->node(), 1);
  EXPECT_NE(std::string(parser_->getError(0)->desc()).find("pool_strings"), std::string::npos);

  // A second call replaces the first one's answer.
  OnnxModelBuilder ok(13);
  ok.input("x", TP::FLOAT, {2});
  ok.node("Relu", {"x"}, {"y"});
  ok.output("y");
  std::string okBytes = ok.bytes();
  parser_->clearErrors();
  EXPECT_TRUE(parser_->supportsModelV2(okBytes.data(), okBytes.size()));
  EXPECT_EQ(parser_->getNbSubgraphs(), 1);
}

TEST_F(SubgraphSupport, MalformedBytesAndBadIndices) {
  std::string junk(64, '\xff');
  EXPECT_FALSE(parser_->supportsModelV2(junk.data(), junk.size()));
  ASSERT_EQ(parser_->getNbErrors(), 1);
  EXPECT_EQ(parser_->getError(0)->code(), onnx::ErrorCode::kMODEL_DESERIALIZE_FAILED);
  EXPECT_EQ(parser_->getNbSubgraphs(), 0);
  EXPECT_FALSE(parser_->isSubgraphSupported(0));
  int64_t len = 7;
  EXPECT_EQ(parser_->getSubgraphNodes(-1, len), nullptr);
  EXPECT_EQ(len, 0);
  ASSERT_EQ(parser_->getNbErrors(), 3);
  EXPECT_NE(std::string(parser_->getError(2)->desc()).find("subgraph index -1 is out of range"), std::string::npos)
      << parser_->getError(2)->desc();
  EXPECT_EQ(parser_->getError(2)->code(), onnx::ErrorCode::kINVALID_VALUE);
  EXPECT_FALSE(parser_->supportsModelV2(nullptr, 0));
}

}  // namespace
}  // namespace kiln::test
