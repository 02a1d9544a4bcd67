// A dynamic-shape engine at its opt shapes makes the choices that a static
// engine built for exactly those shapes makes (issue #5: the two run within
// 10% at opt): given one timing cache, the same tactics, the same prepacked
// oneDNN weight formats and the same oneDNN layout chains. And a dynamic
// engine whose oneDNN convolutions pass a blocked layout between them
// computes what Kiln's own kernels compute, at widths other than opt too.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "backends/cpu/kernel.h"
#include "builder/build_plan.h"
#include "builder/timing_cache.h"
#include "ir/op_schema.h"
#include "plan/plan.h"
#include "runtime/engine.h"

namespace kiln::test {
namespace {

ir::Tensor randomTensor(std::vector<int64_t> dims, uint32_t seed) {
  ir::Tensor t(DType::kFLOAT, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutableAs<float>()[i] = dist(rng);
  return t;
}

// x[1,16,8,width] -> conv a -> conv b -> conv c (output), 3x3 with padding:
// a's and b's outputs feed only oneDNN convolutions when all choose oneDNN.
std::unique_ptr<ir::Graph> convChain(ir::Dim width) {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* v = g->addValue("x", DType::kFLOAT, ir::Shape{1, 16, 8, width});
  g->inputs.push_back(v);
  for (int i = 0; i < 3; ++i) {
    const std::string name(1, static_cast<char>('a' + i));
    ir::Value* y = g->addValue(name + "_out");
    ir::Node* conv = g->addNode(
        "Conv", name,
        {v, g->addConstant(name + "_w", randomTensor({16, 16, 3, 3}, 1 + i)), g->addConstant(name + "_b", randomTensor({16}, 7 + i))},
        {y});
    conv->attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
    ir::inferNode(*conv);
    v = y;
  }
  g->outputs.push_back(v);
  return g;
}

std::vector<int64_t> dims(int64_t w) { return {1, 16, 8, w}; }

// The cache with every Conv entry saying Conv.onednn, so that chains form
// whatever the (noisy) timing said.
builder::TimingCache onednnEverywhere(const builder::TimingCache& timed) {
  std::string text = timed.serialize();
  for (const cpu::Tactic* t : cpu::tactics().forOp("Conv")) {
    const std::string from = "\"tactic\": \"" + t->name + "\"", to = "\"tactic\": \"Conv.onednn\"";
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  }
  return builder::TimingCache::deserialize(text);
}

std::map<std::string, const ir::Node*> byName(const plan::PlanContents& p) {
  std::map<std::string, const ir::Node*> out;
  for (const ir::Node* n : p.graph->nodeList()) out[n->name] = n;
  return out;
}

builder::BuildOptions options(builder::TimingCache* cache) {
  builder::BuildOptions o;
  o.threads = 1;
  o.timingIterations = 1;
  o.timingCache = cache;
  return o;
}

builder::BuildOptions dynamicOptions(builder::TimingCache* cache) {
  builder::BuildOptions o = options(cache);
  builder::ProfileShape x;
  x.input = "x";
  x.min = dims(5);
  x.opt = dims(40);
  x.max = dims(64);
  o.profiles = {{x}};
  return o;
}

TEST(DynamicAtOpt, ChoosesWhatAStaticEngineAtOptChooses) {
  if (!cpu::tactics().find("Conv.onednn")) GTEST_SKIP() << "built without oneDNN";
  builder::TimingCache timed;
  builder::buildPlan(*convChain(40), options(&timed));
  builder::TimingCache cache = onednnEverywhere(timed);

  builder::BuildStats ss, ds;
  const std::vector<uint8_t> sp = builder::buildPlan(*convChain(40), options(&cache), &ss);
  const std::vector<uint8_t> dp = builder::buildPlan(*convChain(ir::Dim("width")), dynamicOptions(&cache), &ds);
  // Timed on the same node signatures at opt (layout proposals included): all cache hits.
  EXPECT_EQ(ds.timedLayers, 0);
  EXPECT_EQ(ds.cachedLayers, ss.cachedLayers);
  EXPECT_EQ(ss.cachedLayers, 3);

  const plan::PlanContents s = plan::readPlan(sp.data(), sp.size(), nullptr);
  const plan::PlanContents d = plan::readPlan(dp.data(), dp.size(), nullptr);
  auto sn = byName(s), dn = byName(d);
  EXPECT_FALSE(ir::isStatic(dn.at("a")->inputs[0]->shape));  // the engine is a dynamic one
  EXPECT_TRUE(sn.at("a")->has("kiln_onednn_dst_tag")) << "the static engine chains a -> b";
  for (const char* name : {"a", "b", "c"}) {
    const ir::Node& st = *sn.at(name);
    const ir::Node& dy = *dn.at(name);
    EXPECT_EQ(dy.tactic, "Conv.onednn") << name;
    EXPECT_EQ(dy.tactic, st.tactic) << name;
    EXPECT_EQ(dy.ints("kiln_onednn_wdesc"), st.ints("kiln_onednn_wdesc")) << name << ": weight format";
    for (const char* tag : {"kiln_onednn_src_tag", "kiln_onednn_dst_tag", "kiln_onednn_res_tag"}) {
      EXPECT_EQ(dy.has(tag), st.has(tag)) << name << " " << tag;
      EXPECT_EQ(dy.i(tag, -1), st.i(tag, -1)) << name << " " << tag;
    }
  }
}

std::vector<float> run(const std::vector<uint8_t>& planBytes, int64_t width, const std::vector<float>& x) {
  auto engine = runtime::Engine::load(planBytes.data(), planBytes.size());
  runtime::ExecutionContext ctx(engine, 1);
  const int in = engine->findIO("x"), out = engine->findIO("c_out");
  ctx.setInputShape(in, dims(width));
  std::vector<float> y(static_cast<std::size_t>(16 * 8 * width), -7.f);
  ctx.setAddress(in, const_cast<float*>(x.data()));
  ctx.setAddress(out, y.data());
  ctx.execute();
  return y;
}

TEST(DynamicAtOpt, ChainedOnednnLayersComputeTheSameAtEveryWidth) {
  if (!cpu::tactics().find("Conv.onednn")) GTEST_SKIP() << "built without oneDNN";
  builder::TimingCache timed;
  builder::buildPlan(*convChain(40), options(&timed));
  builder::TimingCache cache = onednnEverywhere(timed);
  const std::vector<uint8_t> dp = builder::buildPlan(*convChain(ir::Dim("width")), dynamicOptions(&cache));
  const plan::PlanContents d = plan::readPlan(dp.data(), dp.size(), nullptr);
  ASSERT_TRUE(byName(d).at("b")->has("kiln_onednn_src_tag")) << "no chain to test";

  auto engine = runtime::Engine::load(dp.data(), dp.size());
  runtime::ExecutionContext ctx(engine, 1);
  const int in = engine->findIO("x"), out = engine->findIO("c_out");
  // One context through widths in and out of the order they were built at: min, odd, prime, opt, max, back.
  for (int64_t w : {40, 5, 17, 63, 64, 40, 17}) {
    std::vector<float> x(static_cast<std::size_t>(16 * 8 * w));
    std::mt19937 rng(static_cast<uint32_t>(w));
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    for (float& v : x) v = dist(rng);
    builder::BuildOptions plain;
    plain.threads = 1;
    plain.timingIterations = 0;  // each Conv takes the highest-priority tactic: Kiln's own
    plain.onednnTactics = false;
    const std::vector<float> want = run(builder::buildPlan(*convChain(w), plain), w, x);
    std::vector<float> y(want.size(), -7.f);
    ctx.setInputShape(in, dims(w));
    ctx.setAddress(in, x.data());
    ctx.setAddress(out, y.data());
    ctx.execute();
    for (std::size_t k = 0; k < y.size(); ++k)
      ASSERT_NEAR(y[k], want[k], 1e-3f + 1e-4f * std::abs(want[k])) << "width " << w << " element " << k;
  }
}

TEST(DynamicShapeChange, GoingBackToARecentWidthResolvesNothingAndComputesTheSame) {
  builder::BuildOptions o;
  o.threads = 1;
  o.timingIterations = 0;
  builder::ProfileShape x;
  x.input = "x";
  x.min = dims(1);
  x.opt = dims(20);
  x.max = dims(64);
  o.profiles = {{x}};
  const std::vector<uint8_t> plan = builder::buildPlan(*convChain(ir::Dim("width")), o);
  auto engine = runtime::Engine::load(plan.data(), plan.size());
  runtime::ExecutionContext ctx(engine, 1);
  const int in = engine->findIO("x"), out = engine->findIO("c_out");
  auto at = [&](int64_t w) {
    std::vector<float> input(static_cast<std::size_t>(16 * 8 * w));
    for (std::size_t k = 0; k < input.size(); ++k) input[k] = static_cast<float>((k * 7 + w) % 13) * 0.1f - 0.6f;
    return input;
  };
  long expectFull = 0;
  std::vector<int64_t> seen;
  // Back and forth between two widths, then more widths than the memo holds, then back to the first.
  for (int64_t w : {20, 13, 20, 13, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20}) {
    if (std::find(seen.begin(), seen.end(), w) == seen.end()) ++expectFull;
    if (w == 20 && seen.size() > 8) ++expectFull;  // evicted by the eight after it
    seen.push_back(w);
    const std::vector<float> input = at(w);
    std::vector<float> y(static_cast<std::size_t>(16 * 8 * w), -7.f);
    ctx.setInputShape(in, dims(w));
    ctx.setAddress(in, const_cast<float*>(input.data()));
    ctx.setAddress(out, y.data());
    ctx.execute();
    EXPECT_EQ(ctx.fullResolves(), expectFull) << "after width " << w;
    EXPECT_EQ(y, run(plan, w, input)) << "width " << w;  // a fresh context at that width
  }
}

}  // namespace
}  // namespace kiln::test
