// If, Loop and Scan models through the public API: parse, build, serialize,
// deserialize, run, and compare with the values computed here by hand.
#include <gtest/gtest.h>

#include <map>

#include "unit/api/api_test_util.h"
#include "unit/onnx/control_flow_models.h"

namespace kiln::test {
namespace {

struct ModelRun {
  RecordingLogger logger;
  std::unique_ptr<ICudaEngine> engine;
  std::unique_ptr<IExecutionContext> ctx;
  std::map<std::string, std::vector<float>> outputs;
};

//! Builds `model` and runs it on `inputs` (name -> bytes); outputs are float.
void buildAndRun(const std::string& model, const std::map<std::string, std::vector<uint8_t>>& inputs, ModelRun& r,
                 int optLevel = 3) {
  std::unique_ptr<IBuilder> builder(createInferBuilder(r.logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
  std::unique_ptr<onnx::IParser> parser(onnx::createParser(*net, r.logger));
  ASSERT_TRUE(parser->parse(model.data(), model.size())) << (parser->getNbErrors() ? parser->getError(0)->desc() : "");
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  config->setBuilderOptimizationLevel(optLevel);
  std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  ASSERT_TRUE(plan) << r.logger.all();
  std::unique_ptr<IRuntime> runtime(createInferRuntime(r.logger));
  r.engine.reset(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  ASSERT_TRUE(r.engine) << r.logger.all();
  r.ctx.reset(r.engine->createExecutionContext());
  ASSERT_TRUE(r.ctx);
  for (int i = 0; i < r.engine->getNbIOTensors(); ++i) {
    const char* name = r.engine->getIOTensorName(i);
    if (r.engine->getTensorIOMode(name) == TensorIOMode::kINPUT) {
      ASSERT_TRUE(inputs.count(name)) << name;
      ASSERT_TRUE(r.ctx->setTensorAddress(name, const_cast<uint8_t*>(inputs.at(name).data())));
      continue;
    }
    Dims d = r.ctx->getTensorShape(name);
    int64_t n = 1;
    for (int k = 0; k < d.nbDims; ++k) n *= d.d[k];
    r.outputs[name].assign(static_cast<std::size_t>(n), -1.f);
    ASSERT_TRUE(r.ctx->setTensorAddress(name, r.outputs[name].data()));
  }
  ASSERT_TRUE(r.ctx->enqueueV3(nullptr)) << r.logger.all();
}

std::vector<uint8_t> bytesOf(const std::vector<float>& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  return {p, p + v.size() * sizeof(float)};
}

void expectNear(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << what << "[" << i << "]";
}

TEST(ControlFlowApi, IfTakesTheBranchItsConditionSays) {
  std::vector<float> x = {1.f, -2.f, 3.5f, 0.f, 7.f, -0.25f};
  for (bool c : {true, false}) {
    ModelRun r;
    const std::map<std::string, std::vector<uint8_t>> inputs{{"x", bytesOf(x)}, {"c", {static_cast<uint8_t>(c)}}};
    buildAndRun(ifModel(), inputs, r);  // the context keeps pointing at `inputs`
    if (HasFatalFailure()) return;
    std::vector<float> want;
    for (float v : x) want.push_back(c ? 3.f * v : 2.f * v - 1.f);
    expectNear(r.outputs["z"], want, c ? "then" : "else");
    // Both branches run with the same engine: flip the condition and run again.
    uint8_t flipped = !c;
    ASSERT_TRUE(r.ctx->setTensorAddress("c", &flipped));
    ASSERT_TRUE(r.ctx->enqueueV3(nullptr)) << r.logger.all();
    for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(r.outputs["z"][i], !c ? 3.f * x[i] : 2.f * x[i] - 1.f, 1e-5f);
  }
}

TEST(ControlFlowApi, LoopCarriesValuesAndStacksScanOutputs) {
  std::vector<float> x = {0.5f, -1.f, 2.f};
  for (int level : {0, 3}) {
    ModelRun r;
    buildAndRun(loopModel(), {{"x", bytesOf(x)}}, r, level);
    if (HasFatalFailure()) return;
    std::vector<float> accs, final;
    for (int k = 0; k < 4; ++k)
      for (float v : x) accs.push_back(v * static_cast<float>(k * (k + 1) / 2));
    for (float v : x) final.push_back(6.f * v);
    expectNear(r.outputs["acc_final"], final, "acc_final");
    expectNear(r.outputs["accs"], accs, "accs");
    Dims d = r.ctx->getTensorShape("accs");
    ASSERT_EQ(d.nbDims, 2);
    EXPECT_EQ(d.d[0], 4);
    EXPECT_EQ(d.d[1], 3);
  }
}

TEST(ControlFlowApi, ScanSlicesAlongAxesAndDirections) {
  std::vector<float> s0 = {1.f, -1.f};
  std::vector<float> xs = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};        // [3,2]
  std::vector<float> ys = {0.5f, 1.f, -1.f, 2.f, 0.25f, 3.f};    // [2,3]
  ModelRun r;
  buildAndRun(scanModel(), {{"s0", bytesOf(s0)}, {"xs", bytesOf(xs)}, {"ys", bytesOf(ys)}}, r);
  if (HasFatalFailure()) return;
  const float scale[2] = {0.5f, -2.f};
  std::vector<float> s = s0, outs(6);
  for (int t = 0; t < 3; ++t) {
    int yt = 2 - t;  // ys is scanned in reverse along axis 1
    for (int j = 0; j < 2; ++j) {
      s[j] += xs[t * 2 + j] * ys[j * 3 + yt] * scale[j];
      outs[j * 3 + t] = s[j];  // scan_output_axes = 1: outs is [2,3]
    }
  }
  expectNear(r.outputs["s_final"], s, "s_final");
  expectNear(r.outputs["outs"], outs, "outs");
}

TEST(ControlFlowApi, Opset8ScanRunsPerBatchItem) {
  std::vector<float> s0 = {1.f, 2.f, -1.f, 0.5f};                                        // [2,2]
  std::vector<float> xs = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f, -1.f, -2.f, 0.f, 7.f, 8.f, 9.f};  // [2,3,2]
  ModelRun r;
  const std::map<std::string, std::vector<uint8_t>> inputs{{"s0", bytesOf(s0)}, {"xs", bytesOf(xs)}};
  buildAndRun(scan8Model(), inputs, r);
  if (HasFatalFailure()) return;
  std::vector<float> fin(4), outs(12);
  for (int b = 0; b < 2; ++b) {
    float s[2] = {s0[b * 2], s0[b * 2 + 1]};
    for (int t = 0; t < 3; ++t) {
      int xt = 2 - t;  // directions [1]: reverse
      for (int j = 0; j < 2; ++j) {
        s[j] += xs[(b * 3 + xt) * 2 + j];
        outs[(b * 3 + t) * 2 + j] = s[j];
      }
    }
    fin[b * 2] = s[0];
    fin[b * 2 + 1] = s[1];
  }
  expectNear(r.outputs["s_final"], fin, "s_final");
  expectNear(r.outputs["outs"], outs, "outs");
}

TEST(ControlFlowApi, DataDependentTripCountIsABuildErrorNamingTheNode) {
  // The trip count is a network input: the scan output's length depends on data.
  ::onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(loopModel()));
  auto* g = m.mutable_graph();
  g->mutable_initializer()->DeleteSubrange(0, 1);  // "M"
  auto* in = g->add_input();
  in->set_name("M");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(TP::INT64);
  in->mutable_type()->mutable_tensor_type()->mutable_shape();
  std::string model = m.SerializeAsString();
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
  std::unique_ptr<onnx::IParser> parser(onnx::createParser(*net, logger));
  ASSERT_TRUE(parser->parse(model.data(), model.size())) << (parser->getNbErrors() ? parser->getError(0)->desc() : "");
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  EXPECT_FALSE(plan);
  EXPECT_TRUE(logger.saw("Loop node \"loop\"")) << logger.all();
  EXPECT_TRUE(logger.saw("trip count")) << logger.all();
}

}  // namespace
}  // namespace kiln::test
