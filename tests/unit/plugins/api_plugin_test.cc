// INetworkDefinition::addPluginV3 with the test plugins (test_plugins.h):
// shapes through IExprBuilder and shape inputs, workspace, several outputs,
// plan round trip, errors, and execution contexts running one plugin at once.
#include <thread>

#include "unit/plugins/plugin_test_util.h"
#include "unit/plugins/test_plugins.h"

namespace kiln::test {
namespace {

class AddPluginV3 : public PluginTest {
 protected:
  void SetUp() override {
    PluginTest::SetUp();
    builder_.reset(createInferBuilder(logger_));
    network_.reset(builder_->createNetworkV2(0));
  }
  std::unique_ptr<IBuilder> builder_;
  std::unique_ptr<INetworkDefinition> network_;
};

std::vector<int64_t> dimsOf(ITensor* t) {
  Dims d = t->getDimensions();
  return std::vector<int64_t>(d.d, d.d + d.nbDims);
}

//! a [3, 4], b [2, 4] -> TestPair(scale 2.5) -> "scaled" [3, 4], "joined" [5, 4].
IPluginV3Layer* addPair(INetworkDefinition& net, DataType type = DataType::kFLOAT) {
  ITensor* ins[] = {net.addInput("a", type, Dims2(3, 4)), net.addInput("b", type, Dims2(2, 4))};
  TestPair plugin(2.5f);
  IPluginV3Layer* layer = net.addPluginV3(ins, 2, nullptr, 0, plugin);
  if (!layer) return nullptr;
  layer->getOutput(0)->setName("scaled");
  layer->getOutput(1)->setName("joined");
  net.markOutput(*layer->getOutput(0));
  net.markOutput(*layer->getOutput(1));
  return layer;
}

TEST_F(AddPluginV3, ShapesComeFromThePluginsExpressions) {
  IPluginV3Layer* layer = addPair(*network_);
  ASSERT_NE(layer, nullptr) << logger_.all();
  EXPECT_EQ(layer->getType(), LayerType::kPLUGIN_V3);
  EXPECT_STREQ(layer->getOpType(), "KilnPlugin");
  EXPECT_EQ(layer->getNbInputs(), 2);
  ASSERT_EQ(layer->getNbOutputs(), 2);
  EXPECT_EQ(dimsOf(layer->getOutput(0)), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(dimsOf(layer->getOutput(1)), (std::vector<int64_t>{5, 4}));  // kSUM of the leading dims
  EXPECT_STREQ(static_cast<IPluginV3OneCore*>(layer->getPlugin().getCapabilityInterface(PluginCapabilityType::kCORE))
                   ->getPluginName(),
               "TestPair");
}

TEST_F(AddPluginV3, BuildsRunsAndRoundTrips) {
  ASSERT_NE(addPair(*network_), nullptr) << logger_.all();
  auto plan = buildNetwork(*builder_, *network_);
  ASSERT_NE(plan, nullptr) << logger_.all();
  std::vector<float> a = wave(12, 1.f), b = wave(8, 2.f, 0.5f), scaled(12), joined(20);
  for (int round = 0; round < 2; ++round) {
    std::fill(scaled.begin(), scaled.end(), 0.f);
    std::fill(joined.begin(), joined.end(), 0.f);
    ASSERT_TRUE(runPlan(logger_, plan->data(), plan->size(),
                        {{"a", a.data()}, {"b", b.data()}, {"scaled", scaled.data()}, {"joined", joined.data()}}))
        << logger_.all();
    for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(scaled[i], 2.5f * a[i]);  // the field survived the plan
    for (int i = 0; i < 12; ++i) EXPECT_EQ(joined[i], a[i]);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(joined[12 + i], b[i]);
    // Round 2 runs an engine re-serialized from a loaded one.
    std::unique_ptr<IRuntime> runtime(createInferRuntime(logger_));
    std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
    ASSERT_NE(engine, nullptr);
    plan.reset(engine->serialize());
    ASSERT_NE(plan, nullptr);
  }
}

TEST_F(AddPluginV3, ShapeInputsGiveTheirValues) {
  ITensor* x = network_->addInput("x", DataType::kFLOAT, Dims2(3, 4));
  int64_t target[] = {6, 2};
  ITensor* shape = network_->addConstant(Dims{1, {2}}, Weights{DataType::kINT64, target, 2})->getOutput(0);
  TestReshapeTo plugin;
  IPluginV3Layer* layer = network_->addPluginV3(&x, 1, &shape, 1, plugin);
  ASSERT_NE(layer, nullptr) << logger_.all();
  EXPECT_EQ(layer->getNbInputs(), 2);
  EXPECT_EQ(dimsOf(layer->getOutput(0)), (std::vector<int64_t>{6, 2}));
  layer->getOutput(0)->setName("y");
  network_->markOutput(*layer->getOutput(0));
  auto plan = buildNetwork(*builder_, *network_);
  ASSERT_NE(plan, nullptr) << logger_.all();
  std::vector<float> in = wave(12, 1.f), out(12, 0.f);
  ASSERT_TRUE(runPlan(logger_, plan->data(), plan->size(), {{"x", in.data()}, {"y", out.data()}})) << logger_.all();
  EXPECT_EQ(out, in);
}

class Unregistered : public TestPair {
 public:
  const char* getPluginName() const override { return "NobodyMadeMe"; }
  IPluginV3* clone() override { return new Unregistered(); }
};

TEST_F(AddPluginV3, APluginWithoutARegisteredCreatorIsRefused) {
  ITensor* ins[] = {network_->addInput("a", DataType::kFLOAT, Dims2(3, 4)),
                    network_->addInput("b", DataType::kFLOAT, Dims2(2, 4))};
  Unregistered plugin;
  EXPECT_EQ(network_->addPluginV3(ins, 2, nullptr, 0, plugin), nullptr);
  EXPECT_TRUE(logger_.saw("plugin \"NobodyMadeMe\" (version \"1\", namespace \"\") has no registered creator"))
      << logger_.all();
  EXPECT_EQ(network_->getNbLayers(), 0);
}

TEST_F(AddPluginV3, PluginExceptionsAndBadArgumentsAreLoggedErrors) {
  ITensor* x = network_->addInput("x", DataType::kFLOAT, Dims2(3, 4));
  int32_t one = 1;
  PluginField f("throwInShapes", &one, PluginFieldType::kINT32, 1);
  PluginFieldCollection fc{1, &f};
  TestFieldEcho plugin(&fc);
  EXPECT_EQ(network_->addPluginV3(&x, 1, nullptr, 0, plugin), nullptr);
  EXPECT_TRUE(logger_.saw("getOutputShapes threw: shapes exploded")) << logger_.all();
  EXPECT_EQ(network_->getNbLayers(), 0);  // nothing half-added

  TestPair pair;
  EXPECT_EQ(network_->addPluginV3(&x, 1, nullptr, 0, pair), nullptr);  // TestPair wants 2 inputs
  EXPECT_TRUE(logger_.saw("getOutputShapes failed (status -1)")) << logger_.all();
  EXPECT_EQ(network_->addPluginV3(nullptr, 2, nullptr, 0, pair), nullptr);
  ITensor* nulls[] = {x, nullptr};
  EXPECT_EQ(network_->addPluginV3(nulls, 2, nullptr, 0, pair), nullptr);
  EXPECT_TRUE(logger_.saw("input 1 is null")) << logger_.all();
}

TEST_F(AddPluginV3, AFormatThePluginRefusesFailsTheBuildClearly) {
  ASSERT_NE(addPair(*network_, DataType::kINT32), nullptr) << logger_.all();
  EXPECT_EQ(buildNetwork(*builder_, *network_), nullptr);
  EXPECT_TRUE(logger_.saw("does not support input 0 as int32 in linear format")) << logger_.all();
}

TEST_F(AddPluginV3, ContextsRunningAtOnceEachGetTheirOwnPlugin) {
  ASSERT_NE(addPair(*network_), nullptr) << logger_.all();
  auto plan = buildNetwork(*builder_, *network_);
  ASSERT_NE(plan, nullptr) << logger_.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger_));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  ASSERT_NE(engine, nullptr) << logger_.all();
  std::atomic<int> failures{0};
  auto work = [&](float seed) {
    std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());
    std::vector<float> a = wave(12, seed), b = wave(8, seed, 1.f), scaled(12), joined(20);
    ctx->setTensorAddress("a", a.data());
    ctx->setTensorAddress("b", b.data());
    ctx->setTensorAddress("scaled", scaled.data());
    ctx->setTensorAddress("joined", joined.data());
    for (int it = 0; it < 300; ++it) {
      if (!ctx->enqueueV3(nullptr)) ++failures;
      for (int i = 0; i < 12; ++i) failures += scaled[i] != 2.5f * a[i];
      for (int i = 0; i < 8; ++i) failures += joined[12 + i] != b[i];
    }
  };
  std::thread t1(work, 1.f), t2(work, 2.f), t3(work, 3.f);
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(failures.load(), 0) << logger_.all();
}

}  // namespace
}  // namespace kiln::test
