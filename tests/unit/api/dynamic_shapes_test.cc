// Dynamic shapes through the API: one engine, a range of widths per profile,
// a shape chosen per call, checked against a reference computed by hand.
#include <gtest/gtest.h>

#include <array>

#include "unit/api/api_test_util.h"

namespace kiln::test {
namespace {

constexpr int C = 2, H = 5, K = 3;

//! input [1, C, H, W] (W dynamic) -> conv K 3x3 pad 1 -> relu -> mean over H -> "features" [1, K, W]
void define(INetworkDefinition& net, const std::vector<float>& w, const std::vector<float>& b) {
  ITensor* in = net.addInput("image", DataType::kFLOAT, Dims4(1, C, H, -1));
  auto* conv = net.addConvolutionNd(*in, K, DimsHW(3, 3), Weights{DataType::kFLOAT, w.data(), (int64_t)w.size()},
                                    Weights{DataType::kFLOAT, b.data(), K});
  conv->setPaddingNd(DimsHW(1, 1));
  auto* relu = net.addActivation(*conv->getOutput(0), ActivationType::kRELU);
  auto* mean = net.addReduce(*relu->getOutput(0), ReduceOperation::kAVG, 1u << 2, false);
  mean->getOutput(0)->setName("features");
  net.markOutput(*mean->getOutput(0));
}

std::vector<float> reference(const std::vector<float>& x, int W, const std::vector<float>& w, const std::vector<float>& b) {
  std::vector<float> out(K * W, 0.f);
  for (int k = 0; k < K; ++k)
    for (int i = 0; i < H; ++i)
      for (int j = 0; j < W; ++j) {
        float acc = b[k];
        for (int c = 0; c < C; ++c)
          for (int di = -1; di <= 1; ++di)
            for (int dj = -1; dj <= 1; ++dj) {
              int ii = i + di, jj = j + dj;
              if (ii < 0 || jj < 0 || ii >= H || jj >= W) continue;
              acc += x[(c * H + ii) * W + jj] * w[((k * C + c) * 3 + di + 1) * 3 + dj + 1];
            }
        out[k * W + j] += std::max(acc, 0.f) / H;
      }
  return out;
}

struct DynamicEngine {
  RecordingLogger logger;
  std::vector<float> w = wave(K * C * 9, 0.5f), b = wave(K, 0.2f, 1.f);
  std::unique_ptr<IRuntime> runtime;
  std::unique_ptr<ICudaEngine> engine;
  //! One profile per (min, opt, max) width triple.
  explicit DynamicEngine(std::vector<std::array<int, 3>> widths) {
    std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
    std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
    define(*net, w, b);
    std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
    for (auto [lo, opt, hi] : widths) {
      IOptimizationProfile* p = builder->createOptimizationProfile();
      p->setDimensions("image", OptProfileSelector::kMIN, Dims4(1, C, H, lo));
      p->setDimensions("image", OptProfileSelector::kOPT, Dims4(1, C, H, opt));
      p->setDimensions("image", OptProfileSelector::kMAX, Dims4(1, C, H, hi));
      config->addOptimizationProfile(p);
    }
    std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
    if (!plan) return;
    runtime.reset(createInferRuntime(logger));
    engine.reset(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  }
  //! Runs at width W and checks the output against the reference.
  void expectRunMatches(IExecutionContext& ctx, int W) {
    ASSERT_TRUE(ctx.setInputShape("image", Dims4(1, C, H, W))) << logger.all();
    Dims out = ctx.getTensorShape("features");
    ASSERT_EQ(out.nbDims, 3);
    EXPECT_EQ(out.d[2], W);
    auto x = wave(C * H * W, 1.f, 0.1f * W);
    std::vector<float> y(K * W, -7.f);
    ASSERT_TRUE(ctx.setTensorAddress("image", x.data()));
    ASSERT_TRUE(ctx.setTensorAddress("features", y.data()));
    ASSERT_TRUE(ctx.enqueueV3(nullptr)) << logger.all();
    auto want = reference(x, W, w, b);
    for (int i = 0; i < K * W; ++i) ASSERT_NEAR(y[i], want[i], 1e-5f) << "width " << W << " index " << i;
  }
};

TEST(DynamicShapes, OneEngineRunsEveryWidthOfItsProfile) {
  DynamicEngine d(std::vector<std::array<int, 3>>{{4, 16, 32}});
  ASSERT_TRUE(d.engine) << d.logger.all();
  Dims in = d.engine->getTensorShape("image");
  EXPECT_EQ(in.d[3], -1);
  EXPECT_EQ(d.engine->getNbOptimizationProfiles(), 1);
  EXPECT_EQ(d.engine->getProfileShape("image", 0, OptProfileSelector::kMAX).d[3], 32);
  std::unique_ptr<IExecutionContext> ctx(d.engine->createExecutionContext());
  EXPECT_FALSE(ctx->allInputDimensionsSpecified());
  const char* missing[2] = {};
  EXPECT_EQ(ctx->inferShapes(2, missing), 1);
  EXPECT_STREQ(missing[0], "image");
  for (int W : {16, 4, 13, 32, 5}) d.expectRunMatches(*ctx, W);
}

TEST(DynamicShapes, ShapeOutsideTheProfileIsAnErrorAndTheContextStaysUsable) {
  DynamicEngine d(std::vector<std::array<int, 3>>{{4, 16, 32}});
  ASSERT_TRUE(d.engine) << d.logger.all();
  std::unique_ptr<IExecutionContext> ctx(d.engine->createExecutionContext());
  std::vector<float> x(C * H * 8), y(K * 8);
  ctx->setTensorAddress("image", x.data());
  ctx->setTensorAddress("features", y.data());
  EXPECT_FALSE(ctx->enqueueV3(nullptr));  // no shape set yet
  EXPECT_TRUE(d.logger.saw("setInputShape")) << d.logger.all();
  d.expectRunMatches(*ctx, 8);
  EXPECT_FALSE(ctx->setInputShape("image", Dims4(1, C, H, 33)));
  EXPECT_TRUE(d.logger.saw("outside optimization profile 0")) << d.logger.all();
  EXPECT_FALSE(ctx->setInputShape("image", Dims4(1, C, H, 3)));
  EXPECT_FALSE(ctx->setInputShape("image", Dims3(1, C, H)));
  EXPECT_TRUE(d.logger.saw("rank 3"));
  EXPECT_FALSE(ctx->setInputShape("image", Dims4(1, C, H, -2)));
  EXPECT_TRUE(d.logger.saw("negative"));
  EXPECT_FALSE(ctx->setInputShape("image", Dims4(1, C + 1, H, 8)));
  EXPECT_TRUE(d.logger.saw("fixed"));
  EXPECT_EQ(ctx->getTensorShape("features").d[2], 8);  // the last good shape is still in force
  d.expectRunMatches(*ctx, 11);
}

TEST(DynamicShapes, TwoProfiles) {
  DynamicEngine d(std::vector<std::array<int, 3>>{{4, 8, 16}, {17, 40, 64}});
  ASSERT_TRUE(d.engine) << d.logger.all();
  EXPECT_EQ(d.engine->getNbOptimizationProfiles(), 2);
  std::unique_ptr<IExecutionContext> ctx(d.engine->createExecutionContext());
  EXPECT_FALSE(ctx->setInputShape("image", Dims4(1, C, H, 40)));  // profile 0 stops at 16
  d.expectRunMatches(*ctx, 10);
  ASSERT_TRUE(ctx->setOptimizationProfileAsync(1, nullptr));
  EXPECT_EQ(ctx->getOptimizationProfile(), 1);
  d.expectRunMatches(*ctx, 64);
  d.expectRunMatches(*ctx, 17);
  EXPECT_FALSE(ctx->setOptimizationProfileAsync(2, nullptr));
  // A second context on the other profile runs beside the first.
  std::unique_ptr<IExecutionContext> other(d.engine->createExecutionContext());
  d.expectRunMatches(*other, 4);
  d.expectRunMatches(*ctx, 33);
}

class GrowingAllocator : public IOutputAllocator {
 public:
  void* reallocateOutputAsync(const char* name, void* current, uint64_t size, uint64_t alignment, void*) override {
    EXPECT_STREQ(name, "features");
    EXPECT_EQ(alignment % 64, 0u);
    requests.push_back(size);
    if (size > buffer.size() * sizeof(float)) buffer.assign(size / sizeof(float) + 16, 0.f);
    return buffer.data();
  }
  void notifyShape(const char* name, const Dims& dims) noexcept override { shapes.push_back(dims.d[2]); }
  std::vector<float> buffer;
  std::vector<uint64_t> requests;
  std::vector<int64_t> shapes;
};

TEST(DynamicShapes, OutputAllocatorSeesEachRunsSize) {
  DynamicEngine d(std::vector<std::array<int, 3>>{{4, 16, 32}});
  ASSERT_TRUE(d.engine) << d.logger.all();
  std::unique_ptr<IExecutionContext> ctx(d.engine->createExecutionContext());
  GrowingAllocator alloc;
  EXPECT_FALSE(ctx->setOutputAllocator("image", &alloc));  // inputs have no allocator
  ASSERT_TRUE(ctx->setOutputAllocator("features", &alloc));
  EXPECT_EQ(ctx->getOutputAllocator("features"), &alloc);
  for (int W : {8, 20}) {
    auto x = wave(C * H * W, 1.f, 0.3f);
    ASSERT_TRUE(ctx->setInputShape("image", Dims4(1, C, H, W)));
    ASSERT_TRUE(ctx->setTensorAddress("image", x.data()));
    ASSERT_TRUE(ctx->enqueueV3(nullptr)) << d.logger.all();
    auto want = reference(x, W, d.w, d.b);
    for (int i = 0; i < K * W; ++i) ASSERT_NEAR(alloc.buffer[i], want[i], 1e-5f);
  }
  EXPECT_EQ(alloc.requests, (std::vector<uint64_t>{K * 8 * 4, K * 20 * 4}));
  EXPECT_EQ(alloc.shapes, (std::vector<int64_t>{8, 20}));
}

TEST(DynamicShapes, ProfileErrorsAtBuildTime) {
  RecordingLogger logger;
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
  std::vector<float> w(K * C * 9, 0.1f), b(K, 0.f);
  define(*net, w, b);
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  IOptimizationProfile* p = builder->createOptimizationProfile();
  p->setDimensions("image", OptProfileSelector::kMIN, Dims4(1, C, H, 4));
  p->setDimensions("image", OptProfileSelector::kOPT, Dims4(1, C, H, 8));
  p->setDimensions("image", OptProfileSelector::kMAX, Dims4(1, C + 1, H, 8));  // channel dim is fixed
  config->addOptimizationProfile(p);
  EXPECT_EQ(builder->buildSerializedNetwork(*net, *config), nullptr);
  EXPECT_TRUE(logger.saw("fixes it at")) << logger.all();
}

}  // namespace
}  // namespace kiln::test
