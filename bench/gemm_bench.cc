// kiln_gemm_bench: GFLOP/s of Kiln's packed SGEMM (ukernels/gemm.h) against oneDNN's matmul,
// FP32 and BF16, on the transformer GEMM shapes (issue #6): M = 128 (BERT), 197 (ViT-B/16) and
// 197 x 8 (batch 8) rows; K x N in {768x2304, 768x3072, 3072x768, 768x768}. B is prepacked as the
// builder does (Kiln's panels / oneDNN's chosen format, converted to bf16 for BF16); A is f32 and
// read as the tactics read it (the BF16 tactics convert it to bf16 in each run, and so does this).
//
// Each figure is the median of --reps samples; a sample times as many calls as fill ~--sample-ms
// milliseconds ("best" is the fastest sample: what a quiet machine would show). The implementations alternate sample by sample (interleaved), so a burst of load
// from other processes on a shared machine hits all of them alike. % of peak is against the FP32
// FMA peak (measured here like kiln_peak_flops: the best of short bursts of independent FMAs,
// one thread, times the thread count). A BF16 GEMM that reaches 2x FP32 reads 200%.
//
//   kiln_gemm_bench [--threads=1,2] [--reps=7] [--sample-ms=30] [--shapes=M:K:N,...] [--only=kiln,kiln_fp16,onednn,...]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/precision.h"
#include "backends/cpu/ukernels/gemm.h"
#include "backends/cpu/ukernels/gemm_fp16.h"
#include "core/thread_pool.h"
#include "fma_loops.h"

#if KILN_HAVE_ONEDNN
#include <omp.h>

#include <dnnl.hpp>
#endif

namespace {

using Clock = std::chrono::steady_clock;
namespace gemm = kiln::cpu::gemm;

struct Shape {
  int64_t m, k, n;
};

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// One thread's FP32 FMA peak in GFLOP/s: 16 independent zmm FMA chains (see peak_flops.cc).
// The FMA peak of one thread with the widest ISA this CPU runs (fma_loops.h): the best of 40 bursts.
double fmaPeakGflops() {
  const kiln::bench::Isa isa = kiln::bench::fmaIsas().front();
  constexpr int64_t kIters = 200000;
  double best = 0;
  for (int burst = 0; burst < 40; ++burst) {
    const auto t0 = Clock::now();
    volatile float sink = isa.loop(kIters);
    (void)sink;
    best = std::max(best, kiln::bench::loopFlops(isa, kIters) / seconds(t0, Clock::now()) / 1e9);
  }
  return best;
}

std::vector<float> randomFloats(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// One implementation at one shape and thread count: call() runs one GEMM.
struct Impl {
  std::string name;
  std::function<void()> call;
  std::vector<double> samples;  // GFLOP/s
};

double sample(Impl& impl, double flops, double sampleMs) {
  impl.call();  // warm
  int calls = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (int i = 0; i < calls; ++i) impl.call();
    const double s = seconds(t0, Clock::now());
    if (s * 1e3 >= sampleMs || calls >= 1 << 20) return flops * calls / s / 1e9;
    calls = std::max(calls * 2, static_cast<int>(calls * sampleMs / std::max(s * 1e3, 1e-3)));
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t p = 0;
  while (p <= s.size()) {
    const std::size_t q = std::min(s.find(sep, p), s.size());
    if (q > p) out.push_back(s.substr(p, q - p));
    p = q + 1;
  }
  return out;
}

#if KILN_HAVE_ONEDNN
// oneDNN's matmul as the tactics make it: weights in the format it picks (reordered once),
// for bf16 also A reordered from f32 on every call.
struct OnednnGemm {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  dnnl::matmul prim;
  dnnl::reorder srcIn;
  dnnl::memory user, src, wei, dst;
  bool bf16 = false;

  OnednnGemm(const Shape& s, bool bf, const float* a, const float* b, float* c) : bf16(bf) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const dt t = bf16 ? dt::bf16 : dt::f32;
    dnnl::memory::desc sd({s.m, s.k}, t, tag::ab), wd({s.k, s.n}, t, tag::any), dd({s.m, s.n}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(sd, wd, dd), eng);  // oneDNN 2.x API
    prim = dnnl::matmul(pd);
    user = dnnl::memory({{s.m, s.k}, dt::f32, tag::ab}, eng, const_cast<float*>(a));
    src = bf16 ? dnnl::memory(pd.src_desc(), eng) : user;
    if (bf16) srcIn = dnnl::reorder(user, src);
    dnnl::memory bPlain({{s.k, s.n}, dt::f32, tag::ab}, eng, const_cast<float*>(b));
    wei = dnnl::memory(pd.weights_desc(), eng);
    dnnl::reorder(bPlain, wei).execute(stream, bPlain, wei);
    dst = dnnl::memory(pd.dst_desc(), eng, c);
    stream.wait();
  }
  void operator()() {
    if (bf16) srcIn.execute(stream, user, src);
    prim.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    stream.wait();
  }
};
#endif

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> threadCounts = {1, 2};
  int reps = 7;
  double sampleMs = 30;
  std::vector<Shape> shapes;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* key) -> const char* {
      const std::size_t n = std::strlen(key);
      return arg.compare(0, n, key) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--threads=")) {
      threadCounts.clear();
      for (const std::string& t : split(v, ',')) threadCounts.push_back(std::stoi(t));
    } else if (const char* v = value("--reps=")) {
      reps = std::stoi(v);
    } else if (const char* v = value("--sample-ms=")) {
      sampleMs = std::stod(v);
    } else if (const char* v = value("--shapes=")) {
      for (const std::string& s : split(v, ',')) {
        const std::vector<std::string> d = split(s, ':');
        if (d.size() != 3) {
          std::fprintf(stderr, "--shapes: expected M:K:N, got '%s'\n", s.c_str());
          return 2;
        }
        shapes.push_back({std::stoll(d[0]), std::stoll(d[1]), std::stoll(d[2])});
      }
    } else if (const char* v = value("--only=")) {
      only = split(v, ',');
    } else {
      std::fprintf(stderr, "usage: %s [--threads=1,2] [--reps=N] [--sample-ms=MS] [--shapes=M:K:N,...] [--only=...]\n",
                   argv[0]);
      return 2;
    }
  }
  if (shapes.empty())
    for (int64_t m : {128, 197, 197 * 8})
      for (auto [k, n] : {std::pair<int64_t, int64_t>{768, 2304}, {768, 3072}, {3072, 768}, {768, 768}})
        shapes.push_back({m, k, n});
  auto wanted = [&](const std::string& name) { return only.empty() || std::find(only.begin(), only.end(), name) != only.end(); };

  const double peak1 = fmaPeakGflops();
  const gemm::Ukernels& uk = gemm::hostUkernels();
  std::printf("FP32 FMA peak, 1 thread: %.1f GFLOP/s; Kiln kernels: %s (nr %d, kc %d), bf16: %s\n", peak1, uk.isa,
              uk.nr, uk.kc,
              kiln::cpu::hostSupportsBF16Tactics() ? "oneDNN" : "none (no AVX512_BF16)");
  std::printf("%-16s %3s  %-14s %9s %7s %9s\n", "M x K x N", "thr", "impl", "GFLOP/s", "%peak", "best");
  for (int threads : threadCounts) {
    kiln::ThreadPool pool(threads);
#if KILN_HAVE_ONEDNN
    omp_set_num_threads(threads);
#endif
    for (const Shape& s : shapes) {
      const std::vector<float> a = randomFloats(s.m * s.k, 1), b = randomFloats(s.k * s.n, 2),
                               bias = randomFloats(s.n, 3);
      std::vector<float> c(s.m * s.n);
      std::vector<Impl> impls;
      // Kiln FP32: B packed once (as at build time), A in place, bias in the epilogue.
      std::vector<float> packed(gemm::packedBSize(s.k, s.n, uk.nr));
      gemm::packB(b.data(), s.n, 1, s.k, 0, s.n, uk.nr, 1.f, packed.data());
      gemm::Problem p;
      p.m = s.m;
      p.n = s.n;
      p.k = s.k;
      p.a = {a.data(), s.k, 1, false};
      p.b = packed.data();
      p.c = c.data();
      p.ldc = s.n;
      p.ep.colBias = bias.data();
      if (wanted("kiln")) impls.push_back({"kiln_fp32", [&] { gemm::run(uk, pool, p); }, {}});
      // Variants of Kiln's kernels, only when asked for (--only=kiln_6row,kiln_kc128,...): the
      // 6 x 32 tile alone, and other K blocks, measured interleaved with the others.
      gemm::Ukernels uk6 = uk, ukKc = uk;
      uk6.kernel2x = nullptr;
      if (!only.empty() && wanted("kiln_6row")) impls.push_back({"kiln_6row", [&] { gemm::run(uk6, pool, p); }, {}});
      for (int kc : {128, 192, 384, 512, 768, 3072})
        if (!only.empty() && wanted("kiln_kc" + std::to_string(kc)))
          impls.push_back({"kiln_kc" + std::to_string(kc), [&, kc] {
                             ukKc.kc = kc;
                             gemm::run(ukKc, pool, p);
                           }, {}});
      // Kiln FP16 (AVX512-FP16 CPUs): B packed to fp16 once, A converted to fp16 on every call (as
      // the tactic does), f32 C; % of peak is still against the FP32 FMA peak (2x FP32 reads 200%).
      std::vector<uint16_t> packed16;
      std::vector<uint32_t> a16;
      if (kiln::cpu::gemm16::hostSupportsFP16() && wanted("kiln_fp16")) {
        packed16.resize(kiln::cpu::gemm16::packedBSize(s.k, s.n));
        a16.resize(s.m * s.k);
        kiln::cpu::gemm16::packB(b.data(), s.n, 1, s.k, s.n, packed16.data());
        impls.push_back({"kiln_fp16", [&] {
                           kiln::cpu::gemm16::convertA(pool, a.data(), s.k, 1, s.m, s.k, a16.data());
                           kiln::cpu::gemm16::run(pool, s.m, s.n, s.k, a16.data(), packed16.data(), c.data(), s.n, p.ep);
                         }, {}});
      }
#if KILN_HAVE_ONEDNN
      OnednnGemm dnnF32(s, false, a.data(), b.data(), c.data());
      if (wanted("onednn")) impls.push_back({"onednn_fp32", [&] { dnnF32(); }, {}});
      std::unique_ptr<OnednnGemm> dnnBf16;
      if (kiln::cpu::hostSupportsBF16Tactics() && wanted("onednn_bf16")) {  // AVX512_BF16 CPUs only
        dnnBf16 = std::make_unique<OnednnGemm>(s, true, a.data(), b.data(), c.data());
        impls.push_back({"onednn_bf16", [&] { (*dnnBf16)(); }, {}});
      }
#endif
      const double flops = 2.0 * s.m * s.k * s.n;
      for (int r = 0; r < reps; ++r)
        for (Impl& impl : impls) impl.samples.push_back(sample(impl, flops, sampleMs));
      char shape[48];
      std::snprintf(shape, sizeof shape, "%lldx%lldx%lld", static_cast<long long>(s.m), static_cast<long long>(s.k),
                    static_cast<long long>(s.n));
      for (const Impl& impl : impls) {
        const double g = median(impl.samples);
        const double best = *std::max_element(impl.samples.begin(), impl.samples.end());
        std::printf("%-16s %3d  %-14s %9.1f %6.1f%% %9.1f\n", shape, threads, impl.name.c_str(), g,
                    100.0 * g / (peak1 * threads), best);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
