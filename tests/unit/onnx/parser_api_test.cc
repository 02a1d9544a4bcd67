// The public kiln::onnx::IParser: parse, parseFromFile, supportsModel, errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include <unistd.h>

#include "kiln/kiln.h"
#include "kiln/onnx_parser.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

struct RecordingLogger : ILogger {
  void log(Severity s, const char* msg) noexcept override {
    if (s <= Severity::kERROR) errors.push_back(msg);
  }
  std::vector<std::string> errors;
};

class OnnxParserApi : public ::testing::Test {
 protected:
  void SetUp() override {
    builder_.reset(createInferBuilder(logger_));
    ASSERT_TRUE(builder_);
    network_.reset(builder_->createNetworkV2(0));
    ASSERT_TRUE(network_);
    parser_.reset(onnx::createParser(*network_, logger_));
    ASSERT_TRUE(parser_);
  }

  RecordingLogger logger_;
  std::unique_ptr<IBuilder> builder_;
  std::unique_ptr<INetworkDefinition> network_;
  std::unique_ptr<onnx::IParser> parser_;
};

std::string reluModel() {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {std::string("batch"), 4});
  b.initializer("bias", {4}, {1.f, 2.f, 3.f, 4.f});
  b.node("Add", {"x", "bias"}, {"a"}, "add");
  b.node("Relu", {"a"}, {"y"}, "relu");
  b.output("y");
  return b.bytes();
}

TEST_F(OnnxParserApi, ParseFillsTheNetwork) {
  std::string bytes = reluModel();
  ASSERT_TRUE(parser_->parse(bytes.data(), bytes.size()));
  EXPECT_EQ(parser_->getNbErrors(), 0);
  ASSERT_EQ(network_->getNbInputs(), 1);
  EXPECT_STREQ(network_->getInput(0)->getName(), "x");
  Dims d = network_->getInput(0)->getDimensions();
  ASSERT_EQ(d.nbDims, 2);
  EXPECT_EQ(d.d[0], -1);
  EXPECT_EQ(d.d[1], 4);
  ASSERT_EQ(network_->getNbOutputs(), 1);
  EXPECT_STREQ(network_->getOutput(0)->getName(), "y");
  EXPECT_EQ(network_->getNbLayers(), 2);
  EXPECT_TRUE(logger_.errors.empty());
}

TEST_F(OnnxParserApi, ErrorsAreKeptAndLogged) {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2});
  b.node("StringNormalizer", {"x"}, {"y"}, "foo");
  b.output("y");
  std::string bytes = b.bytes();
  EXPECT_FALSE(parser_->parse(bytes.data(), bytes.size()));
  ASSERT_EQ(parser_->getNbErrors(), 1);
  const onnx::IParserError* e = parser_->getError(0);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), onnx::ErrorCode::kUNSUPPORTED_NODE);
  EXPECT_EQ(std::string(e->desc()).rfind("node \"foo\" (StringNormalizer, opset 13): no importer for this op", 0), 0u)
      << e->desc();
  EXPECT_STREQ(e->nodeName(), "foo");
  EXPECT_STREQ(e->nodeOperator(), "StringNormalizer");
  EXPECT_EQ(e->node(), 0);
  EXPECT_GT(e->line(), 0);
  EXPECT_EQ(parser_->getError(1), nullptr);
  EXPECT_EQ(parser_->getError(-1), nullptr);
  ASSERT_EQ(logger_.errors.size(), 1u);
  EXPECT_NE(logger_.errors[0].find("StringNormalizer"), std::string::npos);
  parser_->clearErrors();
  EXPECT_EQ(parser_->getNbErrors(), 0);
}

TEST_F(OnnxParserApi, GarbageNeverThrows) {
  std::string junk(100, '\xff');
  EXPECT_FALSE(parser_->parse(junk.data(), junk.size()));
  EXPECT_FALSE(parser_->parse(nullptr, 0));
  EXPECT_EQ(parser_->getNbErrors(), 2);
  EXPECT_EQ(parser_->getError(0)->code(), onnx::ErrorCode::kMODEL_DESERIALIZE_FAILED);
}

TEST_F(OnnxParserApi, SupportsModelAndOperator) {
  std::string bytes = reluModel();
  EXPECT_TRUE(parser_->supportsModel(bytes.data(), bytes.size()));
  EXPECT_EQ(network_->getNbLayers(), 0);  // the network is not touched
  EXPECT_TRUE(parser_->supportsOperator("Conv"));
  EXPECT_TRUE(parser_->supportsOperator("Upsample"));
  EXPECT_FALSE(parser_->supportsOperator("StringNormalizer"));
  EXPECT_FALSE(parser_->supportsOperator(nullptr));
}

TEST_F(OnnxParserApi, ParseFromFileWithExternalData) {
  fs::path dir = fs::temp_directory_path() / strCat("kiln_parser_api_", ::getpid());
  fs::create_directories(dir);
  std::vector<float> w = {1.f, 2.f, 3.f, 4.f};
  std::ofstream(dir / "model.weights", std::ios::binary)
      .write(reinterpret_cast<const char*>(w.data()), static_cast<std::streamsize>(w.size() * 4));
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {4});
  TP* t = b.initializer("w", {4}, {});
  t->clear_raw_data();
  t->set_data_location(TP::EXTERNAL);
  auto* loc = t->add_external_data();
  loc->set_key("location");
  loc->set_value("model.weights");
  b.node("Mul", {"x", "w"}, {"y"});
  b.output("y");
  std::ofstream(dir / "model.onnx", std::ios::binary) << b.bytes();

  EXPECT_TRUE(parser_->parseFromFile((dir / "model.onnx").c_str(), 0)) << (parser_->getNbErrors() ? parser_->getError(0)->desc() : "");
  EXPECT_EQ(network_->getNbOutputs(), 1);
  fs::remove_all(dir);
}

TEST_F(OnnxParserApi, ParseFromMissingFileNamesThePath) {
  EXPECT_FALSE(parser_->parseFromFile("/nonexistent/dir/model.onnx", 0));
  ASSERT_EQ(parser_->getNbErrors(), 1);
  EXPECT_NE(std::string(parser_->getError(0)->desc()).find("/nonexistent/dir/model.onnx"), std::string::npos);
  EXPECT_FALSE(parser_->parseFromFile(nullptr, 0));
}

TEST_F(OnnxParserApi, ParseFromFileMatchesParseAndRefusesWhatIsNoModel) {
  // The file is mapped, not read: the network must be the one parse() makes of the same bytes.
  fs::path dir = fs::temp_directory_path() / strCat("kiln_parser_file_", ::getpid());
  fs::create_directories(dir);
  const std::string bytes = reluModel();
  std::ofstream(dir / "relu.onnx", std::ios::binary) << bytes;
  ASSERT_TRUE(parser_->parseFromFile((dir / "relu.onnx").c_str(), 0));
  ASSERT_EQ(network_->getNbLayers(), 2);
  EXPECT_STREQ(network_->getLayer(1)->getName(), "relu");
  EXPECT_STREQ(network_->getInput(0)->getName(), "x");

  std::unique_ptr<INetworkDefinition> other(builder_->createNetworkV2(0));
  std::unique_ptr<onnx::IParser> parser(onnx::createParser(*other, logger_));
  std::ofstream(dir / "empty.onnx", std::ios::binary).flush();
  EXPECT_FALSE(parser->parseFromFile((dir / "empty.onnx").c_str(), 0));  // an empty file is no model
  EXPECT_GE(parser->getNbErrors(), 1);
  parser->clearErrors();
  EXPECT_FALSE(parser->parseFromFile(dir.c_str(), 0));  // a directory
  ASSERT_EQ(parser->getNbErrors(), 1);
  EXPECT_NE(std::string(parser->getError(0)->desc()).find("not a regular file"), std::string::npos)
      << parser->getError(0)->desc();
  parser->clearErrors();
  std::ofstream(dir / "cut.onnx", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_FALSE(parser->parseFromFile((dir / "cut.onnx").c_str(), 0));  // truncated protobuf
  EXPECT_GE(parser->getNbErrors(), 1);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kiln::test
