// kiln_peak_flops: the machine's FP32 FMA peak, per ISA, for 1 and N threads.
//
// Each thread runs a loop of independent vector FMAs: enough accumulators (kAcc) to cover
// the FMA latency times the number of FMA ports (4 cycles x 2 ports = 8 in flight on recent
// x86), so the loop is bound by FMA throughput and nothing else. The AVX2 and AVX-512 bodies
// are compiled with target attributes (no -m flags for the whole file) and chosen by CPUID,
// so one binary measures what this CPU can run; the peak is that of the widest ISA CPUID
// reports. Each figure is the best of many short bursts (default 100 x 5 ms): other processes
// on a shared machine can only make a burst slower, and a short burst is more likely to run
// without being preempted than one long loop.
//
//   kiln_peak_flops [--threads=N] [--seconds=S]     prints one JSON object on stdout
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fma_loops.h"

namespace {

using Clock = std::chrono::steady_clock;
using kiln::bench::Isa;

volatile float gSink;  // keeps results alive

// GFLOP/s of `threads` threads each running `iters` iterations (2 flops per FMA lane). The
// threads are started first and released together by a spin barrier, and the time is from
// the first thread's start to the last one's end, so thread creation is not counted.
double measure(const Isa& isa, int threads, int64_t iters) {
  std::atomic<int> arrived{0};
  std::vector<Clock::time_point> start(threads), stop(threads);
  std::vector<float> out(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      arrived.fetch_add(1);
      while (arrived.load() < threads) {
      }
      start[t] = Clock::now();
      out[t] = isa.loop(iters);
      stop[t] = Clock::now();
    });
  for (auto& th : pool) th.join();
  double s = std::chrono::duration<double>(*std::max_element(stop.begin(), stop.end()) -
                                           *std::min_element(start.begin(), start.end()))
                 .count();
  for (float v : out) gSink = gSink + v;
  double flops = kiln::bench::loopFlops(isa, iters) * threads;
  return flops / s * 1e-9;
}

// Best of `repeats`, each sized to take about `seconds`.
double peak(const Isa& isa, int threads, double seconds, int repeats) {
  int64_t iters = 1 << 16;  // calibrate on one thread
  for (;;) {
    auto t0 = Clock::now();
    gSink = gSink + isa.loop(iters);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0.002 || iters > (int64_t{1} << 40)) {
      iters = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(iters) * seconds / s));
      break;
    }
    iters *= 4;
  }
  double best = 0;
  for (int r = 0; r < repeats; ++r) best = std::max(best, measure(isa, threads, iters));
  return best;
}

std::string cpuModel() {
  unsigned regs[12];
  for (unsigned i = 0; i < 3; ++i) __cpuid_count(0x80000002u + i, 0, regs[4 * i], regs[4 * i + 1], regs[4 * i + 2],
                                                 regs[4 * i + 3]);
  char text[49] = {};
  std::memcpy(text, regs, 48);
  std::string s(text);
  s.erase(0, s.find_first_not_of(' '));
  s.erase(s.find_last_not_of(' ') + 1);
  std::string out;
  for (char c : s) out += (c == '"' || c == '\\') ? ' ' : c;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  double seconds = 0.005;
  int repeats = 100;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--threads=", 0) == 0) threads = std::atoi(a.c_str() + 10);
    else if (a.rfind("--seconds=", 0) == 0) seconds = std::atof(a.c_str() + 10);
    else if (a.rfind("--repeats=", 0) == 0) repeats = std::atoi(a.c_str() + 10);
    else {
      std::fprintf(stderr, "usage: kiln_peak_flops [--threads=N] [--seconds=S] [--repeats=R]\n");
      return 2;
    }
  }
  if (threads < 1 || seconds <= 0 || repeats < 1) {
    std::fprintf(stderr, "kiln_peak_flops: --threads, --seconds and --repeats must be positive\n");
    return 2;
  }
  const std::vector<Isa> isas = kiln::bench::fmaIsas();
  std::printf("{\"cpu\": \"%s\", \"threads\": %d, \"isa\": {", cpuModel().c_str(), threads);
  const char* best = "none";
  double best1 = 0, bestN = 0;
  bool first = true;
  for (const Isa& isa : isas) {
    double one = peak(isa, 1, seconds, repeats);
    double all = threads == 1 ? one : peak(isa, threads, seconds, repeats);
    std::printf("%s\"%s\": {\"1\": %.2f, \"%d\": %.2f}", first ? "" : ", ", isa.name, one, threads, all);
    first = false;
    if (best1 == 0) {  // the widest ISA that CPUID reports is the roofline kernels aim at
      best1 = one;
      bestN = all;
      best = isa.name;
    }
  }
  std::printf("}, \"best_isa\": \"%s\", \"peak_gflops\": {\"1\": %.2f, \"%d\": %.2f}}\n", best, best1, threads, bestN);
  return 0;
}
