// The ONNX parser's plugin fallback, end to end with the example library:
// custom_swish.onnx (examples/plugins/make_model.py) fails to parse without
// the library, and with it parses, builds, runs right and round-trips as a plan.
#include <cmath>

#include "ir/plugin.h"
#include "onnx/importer.h"
#include "plugins/plugin_fields.h"
#include "unit/onnx/onnx_model_builder.h"
#include "unit/plugins/plugin_test_util.h"

namespace kiln::test {
namespace {

class OnnxPlugins : public PluginTest {
 protected:
  void SetUp() override {
    PluginTest::SetUp();
    builder_.reset(createInferBuilder(logger_));
    network_.reset(builder_->createNetworkV2(0));
    parser_.reset(onnx::createParser(*network_, logger_));
  }
  bool parseModel(const std::string& bytes) { return parser_->parse(bytes.data(), bytes.size()); }
  std::string errors() const {
    std::string s;
    for (int i = 0; i < parser_->getNbErrors(); ++i) s += std::string(parser_->getError(i)->desc()) + "\n";
    return s;
  }

  std::unique_ptr<IBuilder> builder_;
  std::unique_ptr<INetworkDefinition> network_;
  std::unique_ptr<onnx::IParser> parser_;
};

const std::string kSwishModel = "examples/plugins/custom_swish.onnx";

//! The model's function: y = s * sigmoid(1.5 s) + 0.5 with s = 2x.
std::vector<float> swishReference(const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    float s = 2.f * x[i];
    y[i] = s / (1.f + std::exp(-1.5f * s)) + 0.5f;
  }
  return y;
}

TEST_F(OnnxPlugins, WithoutTheLibraryTheErrorNamesTheOpAndSaysAPluginCanProvideIt) {
  std::string bytes = readFile(sourcePath(kSwishModel));
  ASSERT_FALSE(bytes.empty()) << "missing " << kSwishModel;
  EXPECT_FALSE(parser_->supportsOperator("CustomSwish"));
  ASSERT_FALSE(parseModel(bytes));
  ASSERT_EQ(parser_->getNbErrors(), 1);
  const onnx::IParserError* e = parser_->getError(0);
  EXPECT_EQ(e->code(), onnx::ErrorCode::kUNSUPPORTED_NODE);
  EXPECT_STREQ(e->nodeName(), "swish");
  EXPECT_STREQ(e->nodeOperator(), "CustomSwish");
  std::string desc = e->desc();
  EXPECT_NE(desc.find("node \"swish\" (CustomSwish, domain kiln.examples)"), std::string::npos) << desc;
  EXPECT_NE(desc.find("a plugin can provide it, but no plugin \"CustomSwish\" (version \"1\", namespace \"\") is registered"),
            std::string::npos) << desc;
  EXPECT_NE(desc.find("--plugins=lib.so"), std::string::npos) << desc;
}

TEST_F(OnnxPlugins, WithTheLibraryTheModelRunsRightAndThePlanRoundTrips) {
  ASSERT_NE(load(examplePluginLib()), nullptr) << logger_.all();
  EXPECT_TRUE(parser_->supportsOperator("CustomSwish"));
  ASSERT_TRUE(parseModel(readFile(sourcePath(kSwishModel)))) << errors();
  ASSERT_EQ(network_->getNbLayers(), 3);
  EXPECT_STREQ(network_->getLayer(1)->getOpType(), "KilnPlugin");
  EXPECT_EQ(network_->getLayer(1)->getType(), LayerType::kPLUGIN_V3);
  Dims d = network_->getOutput(0)->getDimensions();
  ASSERT_EQ(d.nbDims, 4);
  EXPECT_EQ(d.d[3], 5);

  auto plan = buildNetwork(*builder_, *network_);
  ASSERT_NE(plan, nullptr) << logger_.all();
  std::vector<float> x(2 * 3 * 4 * 5), y(x.size(), -1.f);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.07f * static_cast<float>(i) - 4.f;
  ASSERT_TRUE(runPlan(logger_, plan->data(), plan->size(), {{"x", x.data()}, {"y", y.data()}})) << logger_.all();
  std::vector<float> ref = swishReference(x);
  for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], 1e-5f) << "at " << i;

  // The plan holds the plugin as (name, version, namespace, fields): a second
  // engine re-creates it from the registry, and an engine re-serialized
  // from it is the same plan.
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger_));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  ASSERT_NE(engine, nullptr) << logger_.all();
  std::unique_ptr<IHostMemory> again(engine->serialize());
  ASSERT_NE(again, nullptr);
  std::vector<float> y2(x.size(), -1.f);
  ASSERT_TRUE(runPlan(logger_, again->data(), again->size(), {{"x", x.data()}, {"y", y2.data()}})) << logger_.all();
  EXPECT_EQ(y, y2);
}

TEST_F(OnnxPlugins, APlanNeedingAnUnregisteredPluginFailsToLoadNamingIt) {
  PluginLibraryHandle lib = load(examplePluginLib());
  ASSERT_NE(lib, nullptr) << logger_.all();
  ASSERT_TRUE(parseModel(readFile(sourcePath(kSwishModel)))) << errors();
  auto plan = buildNetwork(*builder_, *network_);
  ASSERT_NE(plan, nullptr) << logger_.all();
  unload(lib);

  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger_));
  EXPECT_EQ(runtime->deserializeCudaEngine(plan->data(), plan->size()), nullptr);
  EXPECT_TRUE(logger_.saw("KilnPlugin node \"swish\": plugin \"CustomSwish\" (version \"1\", namespace \"\") is not registered"))
      << logger_.all();

  ASSERT_NE(load(examplePluginLib()), nullptr) << logger_.all();
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  EXPECT_NE(engine, nullptr) << logger_.all();
}

TEST_F(OnnxPlugins, APlanCanCarryItsPluginLibrary) {
  PluginLibraryHandle lib = load(examplePluginLib());
  ASSERT_NE(lib, nullptr) << logger_.all();
  ASSERT_TRUE(parseModel(readFile(sourcePath(kSwishModel)))) << errors();
  std::unique_ptr<IBuilderConfig> config(builder_->createBuilderConfig());
  const std::string path = examplePluginLib();
  const char* paths[] = {path.c_str()};
  config->setPluginsToSerialize(paths, 1);
  ASSERT_EQ(config->getNbPluginsToSerialize(), 1);
  EXPECT_EQ(std::string(config->getPluginToSerialize(0)), path);
  std::unique_ptr<IHostMemory> plan(builder_->buildSerializedNetwork(*network_, *config));
  ASSERT_NE(plan, nullptr) << logger_.all();
  unload(lib);

  // As in TensorRT, a runtime loads a plan's host code only when allowed to.
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger_));
  EXPECT_FALSE(runtime->getEngineHostCodeAllowed());
  EXPECT_EQ(runtime->deserializeCudaEngine(plan->data(), plan->size()), nullptr);
  EXPECT_TRUE(logger_.saw("the plan embeds the plugin library 'libkiln_example_plugins.so' for plugin \"CustomSwish\""))
      << logger_.all();
  EXPECT_TRUE(logger_.saw("setEngineHostCodeAllowed(true)")) << logger_.all();
  EXPECT_EQ(getPluginRegistry()->getCreator("CustomSwish", "1", ""), nullptr);

  runtime->setEngineHostCodeAllowed(true);
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  ASSERT_NE(engine, nullptr) << logger_.all();
  std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());
  std::vector<float> x(2 * 3 * 4 * 5), y(x.size(), -1.f);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.05f * static_cast<float>(i) - 3.f;
  ctx->setTensorAddress("x", x.data());
  ctx->setTensorAddress("y", y.data());
  ASSERT_TRUE(ctx->enqueueV3(nullptr)) << logger_.all();
  std::vector<float> ref = swishReference(x);
  for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], 1e-5f) << "at " << i;
  // The library stays loaded while the runtime, the engine or a context lives.
  EXPECT_NE(getPluginRegistry()->getCreator("CustomSwish", "1", ""), nullptr);
  runtime.reset();
  engine.reset();
  EXPECT_NE(getPluginRegistry()->getCreator("CustomSwish", "1", ""), nullptr);
  ctx.reset();
  EXPECT_EQ(getPluginRegistry()->getCreator("CustomSwish", "1", ""), nullptr);
}

TEST_F(OnnxPlugins, ACreatorThatThrowsIsAParseErrorNotACrash) {
  ASSERT_NE(load(badPluginLib("throwing_creator")), nullptr) << logger_.all();
  OnnxModelBuilder b(17);
  b.input("x", TP::FLOAT, {4});
  b.node("ThrowingOp", {"x"}, {"y"}, "thrower");
  b.output("y");
  ASSERT_FALSE(parseModel(b.bytes()));
  ASSERT_EQ(parser_->getNbErrors(), 1);
  EXPECT_STREQ(parser_->getError(0)->nodeName(), "thrower");
  std::string desc = parser_->getError(0)->desc();
  EXPECT_NE(desc.find("node \"thrower\" (ThrowingOp, opset 17): plugin \"ThrowingOp\""), std::string::npos) << desc;
  EXPECT_NE(desc.find("createPlugin threw: boom in createPlugin"), std::string::npos) << desc;
}

TEST_F(OnnxPlugins, PluginVersionAndNamespaceAttributesPickTheCreator) {
  ASSERT_NE(load(examplePluginLib()), nullptr) << logger_.all();
  OnnxModelBuilder b(17);
  b.input("x", TP::FLOAT, {4});
  auto* n = b.node("CustomSwish", {"x"}, {"y"}, "swish2");
  setAttr(n, "plugin_version", "2");
  b.output("y");
  ASSERT_FALSE(parseModel(b.bytes()));
  EXPECT_NE(errors().find("no plugin \"CustomSwish\" (version \"2\", namespace \"\") is registered"), std::string::npos)
      << errors();

  OnnxModelBuilder e(17);
  e.input("x", TP::FLOAT, {4});
  n = e.node("TestFieldEcho", {"x"}, {"y"}, "echo");
  setAttr(n, "plugin_version", "2");
  setAttr(n, "plugin_namespace", "test.ns");
  e.output("y");
  parser_->clearErrors();
  EXPECT_TRUE(parseModel(e.bytes())) << errors();
}

TEST_F(OnnxPlugins, AttributesBecomeFieldsAsTensorRTConvertsThem) {
  OnnxModelBuilder b(17);
  b.input("x", TP::FLOAT, {3});
  auto* n = b.node("TestFieldEcho", {"x"}, {"y"}, "echo");
  setAttr(n, "plugin_version", "2");
  setAttr(n, "plugin_namespace", "test.ns");
  setAttr(n, "count", int64_t{7});
  setAttr(n, "alpha", 0.25f);
  setAttr(n, "mode", "nearest");
  setAttr(n, "sizes", std::vector<int64_t>{1, -2, 3});
  setAttr(n, "gains", std::vector<float>{0.5f, 1.5f});
  setAttr(n, "table", int64Tensor("t", {2}, {10, 20}));
  b.output("y");
  ir::Graph g;
  onnx::ImportResult r = importBytes(b.bytes(), g);
  ASSERT_TRUE(r.ok) << errorText(r);
  ASSERT_EQ(g.nodes().size(), 1u);
  const ir::Node& node = *g.nodes()[0];
  EXPECT_EQ(node.op, "KilnPlugin");
  EXPECT_EQ(node.s(ir::plugin_attr::kName, ""), "TestFieldEcho");
  EXPECT_EQ(node.s(ir::plugin_attr::kVersion, ""), "2");
  EXPECT_EQ(node.s(ir::plugin_attr::kNamespace, ""), "test.ns");

  plugins::PluginFields fields;
  fields.readFrom(node);
  const PluginFieldCollection* fc = fields.collection();
  ASSERT_EQ(fc->nbFields, 6);  // plugin_version and plugin_namespace are not fields
  auto field = [&](const char* name) -> const PluginField& {
    for (int32_t i = 0; i < fc->nbFields; ++i)
      if (std::string(fc->fields[i].name) == name) return fc->fields[i];
    ADD_FAILURE() << "no field " << name;
    return fc->fields[0];
  };
  EXPECT_EQ(field("count").type, PluginFieldType::kINT32);
  EXPECT_EQ(*static_cast<const int32_t*>(field("count").data), 7);
  EXPECT_EQ(field("alpha").type, PluginFieldType::kFLOAT32);
  EXPECT_EQ(*static_cast<const float*>(field("alpha").data), 0.25f);
  EXPECT_EQ(field("mode").type, PluginFieldType::kCHAR);
  EXPECT_EQ(field("mode").length, 7);
  EXPECT_STREQ(static_cast<const char*>(field("mode").data), "nearest");  // terminated, as plugins expect
  EXPECT_EQ(field("sizes").type, PluginFieldType::kINT32);
  ASSERT_EQ(field("sizes").length, 3);
  EXPECT_EQ(static_cast<const int32_t*>(field("sizes").data)[1], -2);
  EXPECT_EQ(field("gains").type, PluginFieldType::kFLOAT32);
  EXPECT_EQ(static_cast<const float*>(field("gains").data)[1], 1.5f);
  EXPECT_EQ(field("table").type, PluginFieldType::kINT64);
  EXPECT_EQ(static_cast<const int64_t*>(field("table").data)[1], 20);
}

TEST_F(OnnxPlugins, IntAttributesThatDoNotFitInt32AreRefused) {
  OnnxModelBuilder b(17);
  b.input("x", TP::FLOAT, {3});
  auto* n = b.node("TestFieldEcho", {"x"}, {"y"}, "echo");
  setAttr(n, "plugin_version", "2");
  setAttr(n, "plugin_namespace", "test.ns");
  setAttr(n, "big", int64_t{1} << 40);
  b.output("y");
  ASSERT_FALSE(parseModel(b.bytes()));
  EXPECT_NE(errors().find("attribute 'big' holds 1099511627776, which does not fit the int32 plugin field"),
            std::string::npos) << errors();
}

TEST_F(OnnxPlugins, ACreatorReturningNullIsAParseError) {
  OnnxModelBuilder b(17);
  b.input("x", TP::FLOAT, {3});
  auto* n = b.node("TestFieldEcho", {"x"}, {"y"}, "echo");
  setAttr(n, "plugin_version", "2");
  setAttr(n, "plugin_namespace", "test.ns");
  setAttr(n, "fail", int64_t{1});
  b.output("y");
  ASSERT_FALSE(parseModel(b.bytes()));
  EXPECT_NE(errors().find("its creator's createPlugin returned no plugin"), std::string::npos) << errors();
}

}  // namespace
}  // namespace kiln::test
