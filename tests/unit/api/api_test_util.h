// Shared pieces of the API tests: a logger that records what it is told, and
// a small network built with the layer API whose output the test computes by hand.
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace kiln::test {

class RecordingLogger : public ILogger {
 public:
  void log(Severity s, const char* msg) noexcept override {
    std::lock_guard<std::mutex> lock(mu);
    if (s <= Severity::kWARNING) messages.push_back(msg);
  }
  bool saw(const std::string& needle) const {
    std::lock_guard<std::mutex> lock(mu);
    return std::any_of(messages.begin(), messages.end(), [&](const std::string& m) { return m.find(needle) != std::string::npos; });
  }
  std::string all() const {
    std::lock_guard<std::mutex> lock(mu);
    std::string out;
    for (auto& m : messages) out += m + "\n";
    return out;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu);
    messages.clear();
  }
  mutable std::mutex mu;
  std::vector<std::string> messages;
};

inline std::vector<float> wave(std::size_t n, float scale, float phase = 0.f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37f * static_cast<float>(i) + phase);
  return v;
}

//! input [B,C,H,W] -> conv K 3x3 pad 1 stride 1 (+bias) -> relu -> maxpool 2x2 s2
//! -> shuffle to [B, K*H/2*W/2] -> matmul W [F, N] -> softmax over N. Output "probs".
struct SmallNet {
  int B = 2, C = 3, H = 6, W = 6, K = 4, N = 5;
  std::vector<float> convW, convB, fcW;
  SmallNet() : convW(wave(4 * 3 * 9, 0.4f)), convB(wave(4, 0.1f, 1.f)), fcW(wave(4 * 3 * 3 * 5, 0.3f, 2.f)) {}
  int features() const { return K * (H / 2) * (W / 2); }

  void define(INetworkDefinition& net) const {
    ITensor* in = net.addInput("input", DataType::kFLOAT, Dims4(B, C, H, W));
    auto* conv = net.addConvolutionNd(*in, K, DimsHW(3, 3), Weights{DataType::kFLOAT, convW.data(), (int64_t)convW.size()},
                                      Weights{DataType::kFLOAT, convB.data(), K});
    conv->setPaddingNd(DimsHW(1, 1));
    auto* relu = net.addActivation(*conv->getOutput(0), ActivationType::kRELU);
    auto* pool = net.addPoolingNd(*relu->getOutput(0), PoolingType::kMAX, DimsHW(2, 2));
    pool->setStrideNd(DimsHW(2, 2));
    auto* flat = net.addShuffle(*pool->getOutput(0));
    flat->setReshapeDimensions(Dims2(B, features()));
    auto* w = net.addConstant(Dims2(features(), N), Weights{DataType::kFLOAT, fcW.data(), (int64_t)fcW.size()});
    auto* mm = net.addMatrixMultiply(*flat->getOutput(0), MatrixOperation::kNONE, *w->getOutput(0), MatrixOperation::kNONE);
    auto* sm = net.addSoftMax(*mm->getOutput(0));
    sm->setAxes(1u << 1);
    sm->getOutput(0)->setName("probs");
    net.markOutput(*sm->getOutput(0));
  }

  //! The same computation in plain loops.
  std::vector<float> reference(const std::vector<float>& x) const {
    int Ho = H / 2, Wo = W / 2;
    std::vector<float> pooled(B * K * Ho * Wo, -INFINITY);
    for (int b = 0; b < B; ++b)
      for (int k = 0; k < K; ++k)
        for (int i = 0; i < H; ++i)
          for (int j = 0; j < W; ++j) {
            float acc = convB[k];
            for (int c = 0; c < C; ++c)
              for (int di = -1; di <= 1; ++di)
                for (int dj = -1; dj <= 1; ++dj) {
                  int ii = i + di, jj = j + dj;
                  if (ii < 0 || jj < 0 || ii >= H || jj >= W) continue;
                  acc += x[((b * C + c) * H + ii) * W + jj] * convW[((k * C + c) * 3 + di + 1) * 3 + dj + 1];
                }
            acc = std::max(acc, 0.f);
            float& p = pooled[((b * K + k) * Ho + i / 2) * Wo + j / 2];
            p = std::max(p, acc);
          }
    std::vector<float> out(B * N);
    for (int b = 0; b < B; ++b) {
      float mx = -INFINITY;
      for (int n = 0; n < N; ++n) {
        float acc = 0;
        for (int f = 0; f < features(); ++f) acc += pooled[b * features() + f] * fcW[f * N + n];
        out[b * N + n] = acc;
        mx = std::max(mx, acc);
      }
      float sum = 0;
      for (int n = 0; n < N; ++n) sum += (out[b * N + n] = std::exp(out[b * N + n] - mx));
      for (int n = 0; n < N; ++n) out[b * N + n] /= sum;
    }
    return out;
  }
};

//! Builds `net` into a plan; null on failure.
inline std::unique_ptr<IHostMemory> buildPlan(ILogger& logger, const SmallNet& def, bool onednn = true) {
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(1u << static_cast<int>(NetworkDefinitionCreationFlag::kEXPLICIT_BATCH)));
  def.define(*net);
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  if (!onednn) config->setTacticSources(config->getTacticSources() & ~(1u << static_cast<int>(TacticSource::kONEDNN)));
  return std::unique_ptr<IHostMemory>(builder->buildSerializedNetwork(*net, *config));
}

}  // namespace kiln::test
