// Issue #5's two dynamic-shape figures, measured side by side in one run:
//  1. the cost of changing the input shape between calls: setInputShape +
//     executeV2 alternating between opt-4 and opt+4 (every call a change,
//     both widths run before), against the same calls at an unchanged width
//     opt (overhead = ratio - 1) and against contexts that stay at opt-4 and
//     opt+4 (the same work, no change); also setInputShape alone, and the
//     first call at widths never run before;
//  2. a dynamic engine (widths min..max) at its opt width against a static
//     engine built for exactly that width.
// Usage: kiln_dynamic_shapes model.onnx input min opt max [runs] [threads] [share_timing_cache]
//   e.g. kiln_dynamic_shapes examples/ocr_dynamic_width/crnn_dynamic_width.onnx input 32 448 1024
// Only the last dimension of `input` varies. Prints one JSON object.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace {

class QuietLogger : public kiln::ILogger {
  void log(Severity s, const char* msg) noexcept override {
    if (s <= Severity::kWARNING) std::cerr << msg << "\n";
  }
} logger;

struct Engine {
  std::unique_ptr<kiln::IRuntime> runtime;
  std::unique_ptr<kiln::ICudaEngine> engine;
};

//! `cache`: the timing cache to use and fill (made here when null and `share`).
Engine build(const char* model, const std::string& input, kiln::Dims lo, kiln::Dims opt, kiln::Dims hi, int threads,
             bool share, std::unique_ptr<kiln::ITimingCache>& cache) {
  std::unique_ptr<kiln::IBuilder> b(kiln::createInferBuilder(logger));
  std::unique_ptr<kiln::INetworkDefinition> net(b->createNetworkV2(0));
  std::unique_ptr<kiln::onnx::IParser> parser(kiln::onnx::createParser(*net, logger));
  if (!parser->parseFromFile(model, 1)) std::exit(1);
  std::unique_ptr<kiln::IBuilderConfig> cfg(b->createBuilderConfig());
  cfg->setNbThreads(threads);
  if (share) {
    if (!cache) cache.reset(cfg->createTimingCache(nullptr, 0));
    cfg->setTimingCache(*cache, false);
  }
  kiln::IOptimizationProfile* p = b->createOptimizationProfile();
  p->setDimensions(input.c_str(), kiln::OptProfileSelector::kMIN, lo);
  p->setDimensions(input.c_str(), kiln::OptProfileSelector::kOPT, opt);
  p->setDimensions(input.c_str(), kiln::OptProfileSelector::kMAX, hi);
  cfg->addOptimizationProfile(p);
  std::unique_ptr<kiln::IHostMemory> plan(b->buildSerializedNetwork(*net, *cfg));
  if (!plan) std::exit(1);
  Engine e;
  e.runtime.reset(kiln::createInferRuntime(logger));
  e.engine.reset(e.runtime->deserializeCudaEngine(plan->data(), plan->size()));
  if (!e.engine) std::exit(1);
  return e;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

//! A context with every IO tensor bound to a buffer big enough for the max shape.
struct Bound {
  std::unique_ptr<kiln::IExecutionContext> ctx;
  std::vector<std::vector<float>> buffers;
  std::vector<void*> bindings;
};

Bound bindAll(kiln::ICudaEngine& e, const std::string& input, kiln::Dims maxDims, int threads) {
  Bound b;
  b.ctx.reset(e.createExecutionContext());
  b.ctx->setNbThreads(threads);
  b.ctx->setInputShape(input.c_str(), maxDims);
  for (int i = 0; i < e.getNbIOTensors(); ++i) {
    kiln::Dims d = b.ctx->getTensorShape(e.getIOTensorName(i));
    int64_t n = 1;
    for (int k = 0; k < d.nbDims; ++k) n *= d.d[k];
    b.buffers.emplace_back(static_cast<std::size_t>(n) + 16, 0.5f);
    b.bindings.push_back(b.buffers.back().data());
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: " << argv[0] << " model.onnx input min opt max [runs] [threads] [share_timing_cache=1]\n";
    return 2;
  }
  const char* model = argv[1];
  std::string input = argv[2];
  int64_t lo = std::stoll(argv[3]), opt = std::stoll(argv[4]), hi = std::stoll(argv[5]);
  int runs = argc > 6 ? std::stoi(argv[6]) : 60, threads = argc > 7 ? std::stoi(argv[7]) : 0;
  auto withWidth = [](int64_t w) { return kiln::Dims4(1, 3, 32, w); };

  // By default both engines share one timing cache (the static one fills it):
  // both then run the tactics timed at opt, and the figure measures what
  // dynamic shapes cost, not which tactic won a noisy timing race.
  const bool share = argc > 8 ? std::stoi(argv[8]) != 0 : true;
  std::unique_ptr<kiln::ITimingCache> cache;
  Engine fixed = build(model, input, withWidth(opt), withWidth(opt), withWidth(opt), threads, share, cache);
  Engine dynamic = build(model, input, withWidth(lo), withWidth(opt), withWidth(hi), threads, share, cache);
  Bound d = bindAll(*dynamic.engine, input, withWidth(hi), threads);
  Bound s = bindAll(*fixed.engine, input, withWidth(opt), threads);

  auto timeCall = [](auto&& fn) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  // Two more contexts of the dynamic engine, each staying at one of the
  // widths the changing series alternates between: the same work without
  // the shape change.
  Bound lo4 = bindAll(*dynamic.engine, input, withWidth(hi), threads);
  Bound hi4 = bindAll(*dynamic.engine, input, withWidth(hi), threads);
  lo4.ctx->setInputShape(input.c_str(), withWidth(opt - 4));
  hi4.ctx->setInputShape(input.c_str(), withWidth(opt + 4));
  std::vector<double> same, sameWidths, changing, dynOpt, staticOpt, reshapeOnly, firstCall;
  auto run = [&](Bound& b, int64_t w) {
    b.ctx->setInputShape(input.c_str(), withWidth(w));
    b.ctx->executeV2(b.bindings.data());
  };
  for (int i = 0; i < 5; ++i) {  // warm-up: every width the timed loop uses
    for (int64_t w : {opt - 4, opt + 4, opt}) run(d, w);
    run(lo4, opt - 4);
    run(hi4, opt + 4);
    s.ctx->executeV2(s.bindings.data());
  }
  // Each timed call follows an untimed call of the same engine and context
  // (steady state: one engine serving calls, its weights and arena in cache,
  // not cold after the other engine ran). The series interleave in a random
  // order per iteration so that machine noise hits them alike.
  int64_t next = opt - 4;  // the changing series alternates opt-4 / opt+4: every call a change, mean width opt
  bool lowNext = true;
  std::vector<std::function<void()>> series = {
      [&] {
        run(d, opt);
        same.push_back(timeCall([&] { run(d, opt); }));  // unchanged: nothing to re-resolve
      },
      [&] {
        Bound& b = lowNext ? lo4 : hi4;
        const int64_t w = lowNext ? opt - 4 : opt + 4;
        run(b, w);
        sameWidths.push_back(timeCall([&] { run(b, w); }));
        lowNext = !lowNext;
      },
      [&] {
        const int64_t before = next == opt - 4 ? opt + 4 : opt - 4;
        run(d, before);
        changing.push_back(timeCall([&] { run(d, next); }));
        next = before;
      },
      [&] {
        run(d, opt);
        // The host-side part of a shape change alone: resolving every value's shape.
        reshapeOnly.push_back(timeCall([&] { d.ctx->setInputShape(input.c_str(), withWidth(opt - 4)); }));
        run(d, opt);
        dynOpt.push_back(timeCall([&] { d.ctx->executeV2(d.bindings.data()); }));
      },
      [&] {
        s.ctx->executeV2(s.bindings.data());
        staticOpt.push_back(timeCall([&] { s.ctx->executeV2(s.bindings.data()); }));
      },
  };
  std::vector<std::size_t> order(series.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::mt19937 rng(5);
  for (int i = 0; i < runs; ++i) {
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t k : order) series[k]();
  }
  // The first call at widths never run before: what a shape change costs when
  // the oneDNN layers have no primitive for it yet.
  for (int64_t k = 0; k < 9; ++k)
    firstCall.push_back(timeCall([&] {
      d.ctx->setInputShape(input.c_str(), withWidth(opt + 8 + 2 * k));
      d.ctx->executeV2(d.bindings.data());
    }));
  double mSame = median(same), mSameWidths = median(sameWidths), mChanging = median(changing), mDyn = median(dynOpt),
         mStatic = median(staticOpt);
  std::printf(
      "{\"model\": \"%s\", \"opt_width\": %lld, \"runs\": %d, \"threads\": %d, \"shared_timing_cache\": %d,\n"
      " \"unchanged_shape_ms\": %.4f, \"changing_shape_ms\": %.4f, \"shape_change_overhead\": %.4f,\n"
      " \"unchanged_same_widths_ms\": %.4f, \"overhead_vs_same_widths\": %.4f,\n"
      " \"set_input_shape_only_ms\": %.4f, \"first_call_at_new_width_ms\": %.4f,\n"
      " \"dynamic_at_opt_ms\": %.4f, \"static_ms\": %.4f, \"dynamic_vs_static\": %.4f}\n",
      model, static_cast<long long>(opt), runs, threads, share ? 1 : 0, mSame, mChanging, mChanging / mSame - 1.0,
      mSameWidths, mChanging / mSameWidths - 1.0,
      median(reshapeOnly), median(firstCall), mDyn, mStatic, mDyn / mStatic);
  return 0;
}
