// Microbenchmark of the flash-attention kernels (issue #7) at ViT-B/16 b64 and BERT-base b32 FP16 shapes,
// Q/K/V read through the packed QKV projection's strided views ([B, S, 3, H, D]), y written [B, S, H, D].
// Build (from the tree root): nvcc -O3 -std=c++17 -arch=sm_90 -I include -I src bench/cuda/attention_micro.cu -o micro
// Run: ./micro [--once]   (--once: one launch per variant after warm-up, for ncu)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/ops/attention_pipelined.cu"
#include "backends/cuda/ops/attention_resident.cu"
#include "backends/cuda/ops/attention_wide.cu"

using namespace kiln::cuda::kernels;

#define CK(x)                                                                              \
  do {                                                                                     \
    cudaError_t e_ = (x);                                                                  \
    if (e_ != cudaSuccess) {                                                               \
      std::printf("CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__, #x); \
      std::exit(1);                                                                        \
    }                                                                                      \
  } while (0)

// attentionLaunch's resident grid (attention.cc, not linked here): balanced blocks of at most 16 slices.
AttentionLaunch attentionLaunchResidentForMicro(const AttentionShape& s) {
  AttentionLaunch l;
  l.path = AttentionPath::kTensorCore;
  l.resident = true;
  const int64_t slices = (s.sq + 15) / 16, most = 4 * kAttentionResidentWarps;
  const int64_t perEntry = (slices + most - 1) / most;
  l.residentSlices = static_cast<int32_t>((slices + perEntry - 1) / perEntry);
  l.rowTiles = perEntry;
  l.threads = 32 * kAttentionResidentWarps;
  l.sharedBytes = static_cast<int32_t>(attentionResidentSharedBytes(s));
  l.blocks = s.batch * l.rowTiles;
  return l;
}

struct Problem {
  const char* name;
  int B, H, S, D;
  bool mask;
};

template <int W, int MinB, int StepKeys = 64, bool PrefetchQ = false>
void launchResidentCfg(const __half* q, const __half* k, const __half* v, const __half* m, __half* y,
                       const AttentionShape& s, float scale, int slicesPerBlock, cudaStream_t st) {
  auto kernel = m ? attentionResidentKernel<__half, 64, true, W, MinB, StepKeys, PrefetchQ>
                  : attentionResidentKernel<__half, 64, false, W, MinB, StepKeys, PrefetchQ>;
  const int smem = static_cast<int>(attentionResidentSharedBytes(s)) + (PrefetchQ ? W * 16 * 72 * 2 : 0);
  static bool set[2] = {false, false};
  if (!set[m != nullptr]) {
    CK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 160 * 1024));
    set[m != nullptr] = true;
  }
  const int64_t slices = (s.sq + 15) / 16;
  const int64_t rowTiles = (slices + slicesPerBlock - 1) / slicesPerBlock;
  kernel<<<static_cast<unsigned>(s.batch * rowTiles), 32 * W, smem, st>>>(q, k, v, m, y, s, scale * kLog2e, rowTiles,
                                                                         slicesPerBlock);
}

int main(int argc, char** argv) {
  const bool once = argc > 1 && std::strcmp(argv[1], "--once") == 0;
  Problem probs[] = {{"vit_b64", 64, 12, 197, 64, false}, {"bert_b32", 32, 12, 128, 64, true}};
  std::mt19937 rng(123);
  for (const Problem& p : probs) {
    const int64_t rowQKV = 3LL * p.H * p.D, rowY = 1LL * p.H * p.D;
    const int64_t nQKV = 1LL * p.B * p.S * rowQKV, nY = 1LL * p.B * p.S * rowY;
    AttentionShape s;
    s.batch = 1LL * p.B * p.H;
    s.inner = p.H;
    s.sq = s.sk = p.S;
    s.d = s.dv = p.D;
    auto view = [&](int64_t off, int64_t rowStride, int64_t S) {
      AttentionOperand o;
      o.offset = off;
      o.rowStride = rowStride;
      o.innerStride = p.D;
      o.outerStride = S * rowStride;
      return o;
    };
    s.q = view(0, rowQKV, p.S);
    s.k = view(rowY, rowQKV, p.S);
    s.v = view(2 * rowY, rowQKV, p.S);
    s.y = view(0, rowY, p.S);
    const float scale = 1.f / std::sqrt(static_cast<float>(p.D));
    constexpr int kSets = 3;  // rotated input sets: 3 x the QKV output is past the 60 MB L2
    std::vector<__half> hq(nQKV);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<__half*> dq(kSets);
    for (int i = 0; i < kSets; ++i) {
      for (auto& x : hq) x = __float2half(nd(rng));
      CK(cudaMalloc(&dq[i], nQKV * 2));
      CK(cudaMemcpy(dq[i], hq.data(), nQKV * 2, cudaMemcpyHostToDevice));
    }
    // hq holds set kSets - 1 now: the reference uses that set.
    std::vector<__half> hm;
    __half* dm = nullptr;
    if (p.mask) {  // BERT's [B, 1, 1, S] padding mask: entry b keeps its first S - 7 b % S keys (0), the rest -10000
      s.hasMask = true;
      s.maskOuterStride = p.S;
      s.maskInnerStride = 0;
      s.maskRowStride = 0;
      s.maskColStride = 1;
      hm.resize(1LL * p.B * p.S);
      for (int b = 0; b < p.B; ++b)
        for (int j = 0; j < p.S; ++j) hm[b * p.S + j] = __float2half(j < p.S - (7 * b) % p.S ? 0.f : -10000.f);
      CK(cudaMalloc(&dm, hm.size() * 2));
      CK(cudaMemcpy(dm, hm.data(), hm.size() * 2, cudaMemcpyHostToDevice));
    }
    __half* dy;
    CK(cudaMalloc(&dy, nY * 2));
    cudaStream_t st;
    CK(cudaStreamCreate(&st));

    struct Cfg {
      const char* name;
      int kind;  // 0 pipelined, 1 wide, 2 resident(W, minB, slices)
      int w, minb, slices;
    };
    const int sl = (p.S + 15) / 16;
    std::vector<Cfg> cfgs = {{"pipelined", 0, 4, 3, 0},        {"wide", 1, 8, 2, 0},
                             {"res_w4_all", 2, 4, 3, sl},       {"res_w4_half", 2, 4, 3, (sl + 1) / 2},
                             {"res_w4_4", 2, 4, 3, 4},          {"res_w8_all", 2, 8, 2, sl},
                             {"res_w7_half", 2, 7, 2, (sl + 1) / 2}, {"res_w4_8", 2, 4, 3, 8},
                             {"res_w2_all", 2, 2, 6, sl},       {"res_w4m4_all", 2, 4, 4, sl},
                             {"res_w4_all_k32", 3, 4, 3, sl},   {"res_w4m1_all", 4, 4, 1, sl},
                             {"res_w4_prod", 5, 4, 3, 0},      {"res_w4_qpf", 6, 4, 3, sl},
                             {"res_w4_qpf_half", 6, 4, 3, (sl + 1) / 2}};
    auto run = [&](const Cfg& c, int set) {
      const __half* q = dq[set];
      if (c.kind == 0 || c.kind == 1) {
        AttentionLaunch l;
        l.path = AttentionPath::kTensorCore;
        l.rowTiles = c.kind == 0 ? (p.S + 63) / 64 : (p.S + 127) / 128;
        l.threads = c.kind == 0 ? 128 : 256;
        l.blocks = s.batch * l.rowTiles;
        if (c.kind == 0) attentionPipelined(q, q, q, dm, dy, s, scale, Elem::kHalf, l, st);
        else attentionWide(q, q, q, dm, dy, s, scale, Elem::kHalf, l, st);
      } else if (c.kind == 3) {
        launchResidentCfg<4, 3, 32>(q, q, q, dm, dy, s, scale, sl, st);
      } else if (c.kind == 4) {
        launchResidentCfg<4, 1>(q, q, q, dm, dy, s, scale, sl, st);
      } else if (c.kind == 6) {
        launchResidentCfg<4, 3, 64, true>(q, q, q, dm, dy, s, scale, std::min(c.slices, sl), st);
      } else if (c.kind == 5) {  // the production launch (attentionLaunch's grid)
        AttentionLaunch l = attentionLaunchResidentForMicro(s);
        attentionResident(q, q, q, dm, dy, s, scale, Elem::kHalf, l, st);
      } else {
        const int slices = std::min(c.slices, sl);
        if (c.w == 4 && c.minb == 3) launchResidentCfg<4, 3>(q, q, q, dm, dy, s, scale, slices, st);
        else if (c.w == 4) launchResidentCfg<4, 4>(q, q, q, dm, dy, s, scale, slices, st);
        else if (c.w == 8) launchResidentCfg<8, 2>(q, q, q, dm, dy, s, scale, slices, st);
        else if (c.w == 7) launchResidentCfg<7, 2>(q, q, q, dm, dy, s, scale, slices, st);
        else launchResidentCfg<2, 6>(q, q, q, dm, dy, s, scale, slices, st);
      }
      CK(cudaGetLastError());
    };
    // FP64 reference for a few entries (set kSets - 1).
    const int entries[] = {0, static_cast<int>(s.batch / 2 + 5), static_cast<int>(s.batch - 1)};
    std::vector<std::vector<double>> ref;
    for (int e : entries) {
      const int b = e / p.H, h = e % p.H;
      std::vector<double> out(1LL * p.S * p.D);
      for (int i = 0; i < p.S; ++i) {
        std::vector<double> sc(p.S);
        double mx = -1e300;
        for (int j = 0; j < p.S; ++j) {
          double d = 0;
          for (int x = 0; x < p.D; ++x)
            d += double(__half2float(hq[(1LL * b * p.S + i) * rowQKV + h * p.D + x])) *
                 double(__half2float(hq[(1LL * b * p.S + j) * rowQKV + rowY + h * p.D + x]));
          d *= scale;
          if (p.mask) d += __half2float(hm[b * p.S + j]);
          sc[j] = d;
          mx = std::max(mx, d);
        }
        double sum = 0;
        for (int j = 0; j < p.S; ++j) sum += (sc[j] = std::exp(sc[j] - mx));
        for (int x = 0; x < p.D; ++x) {
          double a = 0;
          for (int j = 0; j < p.S; ++j)
            a += sc[j] * double(__half2float(hq[(1LL * b * p.S + j) * rowQKV + 2 * rowY + h * p.D + x]));
          out[i * p.D + x] = a / sum;
        }
      }
      ref.push_back(out);
    }
    std::vector<__half> hy(nY);
    const double flop = 4.0 * s.batch * p.S * p.S * p.D;
    std::printf("== %s (B %d H %d S %d D %d mask %d): %.2f GFLOP\n", p.name, p.B, p.H, p.S, p.D, p.mask, flop / 1e9);
    const char* only = std::getenv("MICRO_ONLY");  // comma-separated config names (ncu runs)
    for (const Cfg& c : cfgs) {
      if (only && !std::strstr(only, (std::string(",") + c.name + ",").c_str())) continue;
      // Correctness: poison, run on the last set, compare to the FP64 reference (every element of the entries).
      CK(cudaMemset(dy, 0xff, nY * 2));
      run(c, kSets - 1);
      CK(cudaStreamSynchronize(st));
      CK(cudaMemcpy(hy.data(), dy, nY * 2, cudaMemcpyDeviceToHost));
      double num = 0, den = 0;
      bool nan = false;
      for (std::size_t ei = 0; ei < ref.size(); ++ei) {
        const int b = entries[ei] / p.H, h = entries[ei] % p.H;
        for (int i = 0; i < p.S; ++i)
          for (int x = 0; x < p.D; ++x) {
            const double g = __half2float(hy[(1LL * b * p.S + i) * rowY + h * p.D + x]);
            if (!std::isfinite(g)) nan = true;
            const double r = ref[ei][i * p.D + x];
            num += (g - r) * (g - r);
            den += r * r;
          }
      }
      size_t nonfinite = 0;
      for (std::size_t i = 0; i < hy.size(); ++i)
        if (!std::isfinite(__half2float(hy[i]))) ++nonfinite;
      if (once) {
        for (int i = 0; i < 3; ++i) run(c, i % kSets);
        CK(cudaStreamSynchronize(st));
        std::printf("%-14s once  relerr %.2e nonfinite %zu\n", c.name, std::sqrt(num / den), nonfinite);
        continue;
      }
      cudaEvent_t e0, e1;
      CK(cudaEventCreate(&e0));
      CK(cudaEventCreate(&e1));
      for (int i = 0; i < 30; ++i) run(c, i % kSets);
      std::vector<float> rot, warm;
      for (int rep = 0; rep < 9; ++rep) {
        CK(cudaEventRecord(e0, st));
        for (int i = 0; i < 60; ++i) run(c, i % kSets);
        CK(cudaEventRecord(e1, st));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        rot.push_back(ms * 1000 / 60);
        CK(cudaEventRecord(e0, st));
        for (int i = 0; i < 60; ++i) run(c, 0);
        CK(cudaEventRecord(e1, st));
        CK(cudaEventSynchronize(e1));
        CK(cudaEventElapsedTime(&ms, e0, e1));
        warm.push_back(ms * 1000 / 60);
      }
      std::sort(rot.begin(), rot.end());
      std::sort(warm.begin(), warm.end());
      std::printf("%-14s rotated %7.2f us (min %7.2f)  warm %7.2f us  %6.1f TFLOP/s  relerr %.2e%s nonfinite %zu\n",
                  c.name, rot[4], rot[0], warm[4], flop / (rot[4] * 1e-6) / 1e12, std::sqrt(num / den),
                  nan ? " NAN" : "", nonfinite);
    }
    for (auto* x : dq) CK(cudaFree(x));
    CK(cudaFree(dy));
    if (dm) CK(cudaFree(dm));
    CK(cudaStreamDestroy(st));
  }
  return 0;
}
