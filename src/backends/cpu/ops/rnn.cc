// Reference kernels of RNN, GRU and LSTM (ONNX semantics, every attribute:
// direction, activations with activation_alpha/beta, clip, sequence_lens,
// initial_h/initial_c, peepholes P, input_forget, linear_before_reset,
// layout). One batch row and one step at a time; scratch comes from the
// workspace (nothing is allocated in run). Schemas: ir/ops/rnn.cc.
#include <cmath>
#include <cstring>

#include "backends/cpu/ops/families.h"
#include "core/error.h"

namespace kiln::cpu {
namespace {

enum class RnnAct { kRelu, kTanh, kSigmoid, kAffine, kLeakyRelu, kThresholdedRelu, kScaledTanh, kHardSigmoid, kElu,
                    kSoftsign, kSoftplus };

struct RnnActivation {
  RnnAct kind = RnnAct::kTanh;
  float alpha = 0.f, beta = 0.f;
  float operator()(float x) const {
    switch (kind) {
      case RnnAct::kRelu: return x > 0.f ? x : 0.f;
      case RnnAct::kTanh: return std::tanh(x);
      case RnnAct::kSigmoid: return 1.f / (1.f + std::exp(-x));
      case RnnAct::kAffine: return alpha * x + beta;
      case RnnAct::kLeakyRelu: return x >= 0.f ? x : alpha * x;
      case RnnAct::kThresholdedRelu: return x > alpha ? x : 0.f;
      case RnnAct::kScaledTanh: return alpha * std::tanh(beta * x);
      case RnnAct::kHardSigmoid: return std::fmax(0.f, std::fmin(1.f, alpha * x + beta));
      case RnnAct::kElu: return x >= 0.f ? x : alpha * (std::exp(x) - 1.f);
      case RnnAct::kSoftsign: return x / (1.f + std::fabs(x));
      case RnnAct::kSoftplus: return std::log1p(std::exp(-std::fabs(x))) + std::fmax(x, 0.f);
    }
    return x;
  }
};

//! The activations of `n` for every direction: `perDir` each, the ONNX defaults
//! where the attribute is absent; alpha/beta are consumed in order by the
//! functions that take them (as ONNX Runtime reads them), defaults otherwise.
std::vector<RnnActivation> parseActivations(const ir::Node& n, int perDir, int dirs) {
  static const char* const kDefaults[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
  const char* const* defaults = kDefaults[perDir - 1];
  std::vector<std::string> names;
  if (n.has("activations")) {
    auto it = n.attrs.find("activations");
    if (auto* v = std::get_if<std::vector<std::string>>(&it->second)) names = *v;
  }
  if (names.empty())
    for (int d = 0; d < dirs; ++d)
      for (int k = 0; k < perDir; ++k) names.push_back(defaults[k]);
  if (static_cast<int>(names.size()) == perDir && dirs == 2) names.insert(names.end(), names.begin(), names.end());
  KILN_CHECK(static_cast<int>(names.size()) == perDir * dirs, n.describe(), ": 'activations' has ", names.size(),
             " entries; ", n.op, " needs ", perDir, " per direction");
  std::vector<float> alphas = n.floats("activation_alpha"), betas = n.floats("activation_beta");
  std::size_t ai = 0, bi = 0;
  std::vector<RnnActivation> out;
  for (const std::string& raw : names) {
    std::string name;
    for (char c : raw) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    RnnActivation a;
    float da = 0.f, db = 0.f;
    bool usesAlpha = true, usesBeta = false;
    if (name == "relu") a.kind = RnnAct::kRelu, usesAlpha = false;
    else if (name == "tanh") a.kind = RnnAct::kTanh, usesAlpha = false;
    else if (name == "sigmoid") a.kind = RnnAct::kSigmoid, usesAlpha = false;
    else if (name == "affine") a.kind = RnnAct::kAffine, da = 1.f, db = 0.f, usesBeta = true;
    else if (name == "leakyrelu") a.kind = RnnAct::kLeakyRelu, da = 0.01f;
    else if (name == "thresholdedrelu") a.kind = RnnAct::kThresholdedRelu, da = 1.f;
    else if (name == "scaledtanh") a.kind = RnnAct::kScaledTanh, da = 1.f, db = 1.f, usesBeta = true;
    else if (name == "hardsigmoid") a.kind = RnnAct::kHardSigmoid, da = 0.2f, db = 0.5f, usesBeta = true;
    else if (name == "elu") a.kind = RnnAct::kElu, da = 1.f;
    else if (name == "softsign") a.kind = RnnAct::kSoftsign, usesAlpha = false;
    else if (name == "softplus") a.kind = RnnAct::kSoftplus, usesAlpha = false;
    else fail(n.describe(), ": activation '", raw, "' is not one ONNX defines for ", n.op);
    a.alpha = usesAlpha && ai < alphas.size() ? alphas[ai++] : da;
    a.beta = usesBeta && bi < betas.size() ? betas[bi++] : db;
    out.push_back(a);
  }
  return out;
}

class RecurrentKernel final : public Kernel {
 public:
  explicit RecurrentKernel(const ir::Node& n) : where_(n.describe()) {
    gates_ = n.op == "RNN" ? 1 : n.op == "GRU" ? 3 : 4;
    lstm_ = n.op == "LSTM";
    gru_ = n.op == "GRU";
    std::string direction = n.s("direction", "forward");
    dirs_ = direction == "bidirectional" ? 2 : 1;
    reverseOnly_ = direction == "reverse";
    layout_ = n.i("layout", 0);
    hidden_ = n.has("hidden_size") ? n.i("hidden_size", 0) : n.inputs[2]->shape[2].value;
    KILN_CHECK(hidden_ > 0, where_, ": hidden_size is not known");
    clip_ = n.has("clip") ? n.f("clip", 0.f) : -1.f;
    linearBeforeReset_ = n.i("linear_before_reset", 0) != 0;
    inputForget_ = n.i("input_forget", 0) != 0;
    acts_ = parseActivations(n, lstm_ ? 3 : gru_ ? 2 : 1, static_cast<int>(dirs_));
    numInputs_ = n.inputs.size();
    numOutputs_ = n.outputs.size();
  }

  std::size_t workspaceBytes() const override {
    return static_cast<std::size_t>(2 * gates_ * hidden_ + 4 * hidden_) * sizeof(float);
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& X = in[0];
    const int64_t seq = layout_ ? X.dims[1] : X.dims[0], batch = layout_ ? X.dims[0] : X.dims[1];
    const int64_t isz = X.dims[2], H = hidden_, G = gates_;
    const float* x = X.as<const float>();
    const float* W = in[1].as<const float>();
    const float* R = in[2].as<const float>();
    // Trailing absent inputs and outputs are not there at all: count first.
    auto input = [&](std::size_t i) { return i < numInputs_ && in[i].data ? &in[i] : nullptr; };
    auto output = [&](std::size_t i) { return i < numOutputs_ && out[i].data ? out[i].as<float>() : nullptr; };
    auto floats = [&](std::size_t i) { return input(i) ? input(i)->as<const float>() : nullptr; };
    const float* B = floats(3);
    const TensorView* lens = input(4);
    const float* h0 = floats(5);
    const float* c0 = lstm_ ? floats(6) : nullptr;
    const float* P = lstm_ ? floats(7) : nullptr;
    float* Y = output(0);
    float* Yh = output(1);
    float* Yc = lstm_ ? output(2) : nullptr;
    if (Y) std::memset(Y, 0, static_cast<std::size_t>(out[0].numel()) * sizeof(float));  // steps past sequence_lens
    float* xg = static_cast<float*>(ctx.workspace);  // W x + Wb, per gate
    float* hg = xg + G * H;                          // R h + Rb, per gate
    float* h = hg + G * H;
    float* c = h + H;
    float* rh = c + H;   // GRU: r (.) h
    float* tmp = rh + H;
    auto clip = [&](float v) { return clip_ > 0.f ? std::fmax(-clip_, std::fmin(clip_, v)) : v; };
    auto stateAt = [&](int64_t d, int64_t b) { return layout_ ? (b * dirs_ + d) * H : (d * batch + b) * H; };
    for (int64_t d = 0; d < dirs_; ++d) {
      const bool reverse = reverseOnly_ || d == 1;
      const RnnActivation* act = &acts_[static_cast<std::size_t>(d) * (lstm_ ? 3 : gru_ ? 2 : 1)];
      const float* Wd = W + d * G * H * isz;
      const float* Rd = R + d * G * H * H;
      const float* Wb = B ? B + d * 2 * G * H : nullptr;
      const float* Rb = B ? Wb + G * H : nullptr;
      const float* Pd = P ? P + d * 3 * H : nullptr;
      for (int64_t b = 0; b < batch; ++b) {
        int64_t len = seq;
        if (lens) len = lens->dtype == DType::kINT64 ? lens->as<const int64_t>()[b] : lens->as<const int32_t>()[b];
        KILN_CHECK(len >= 0 && len <= seq, where_, ": sequence_lens[", b, "] is ", len, ", outside 0..", seq);
        for (int64_t k = 0; k < H; ++k) {
          h[k] = h0 ? h0[stateAt(d, b) + k] : 0.f;
          c[k] = c0 ? c0[stateAt(d, b) + k] : 0.f;
        }
        for (int64_t step = 0; step < len; ++step) {
          const int64_t t = reverse ? len - 1 - step : step;
          const float* xt = x + (layout_ ? (b * seq + t) : (t * batch + b)) * isz;
          for (int64_t g = 0; g < G * H; ++g) {
            float a = Wb ? Wb[g] : 0.f, r = Rb ? Rb[g] : 0.f;
            const float* wrow = Wd + g * isz;
            for (int64_t i = 0; i < isz; ++i) a += wrow[i] * xt[i];
            xg[g] = a;
            if (gru_ && g >= 2 * H && !linearBeforeReset_) continue;  // needs r (.) h first
            const float* rrow = Rd + g * H;
            for (int64_t i = 0; i < H; ++i) r += rrow[i] * h[i];
            hg[g] = r;
          }
          if (G == 1) {
            for (int64_t k = 0; k < H; ++k) h[k] = act[0](clip(xg[k] + hg[k]));
          } else if (gru_) {
            float* z = tmp;  // z, then r in rh
            for (int64_t k = 0; k < H; ++k) {
              z[k] = act[0](clip(xg[k] + hg[k]));
              rh[k] = act[0](clip(xg[H + k] + hg[H + k]));
            }
            for (int64_t k = 0; k < H; ++k) {
              float pre;
              if (linearBeforeReset_) {
                pre = xg[2 * H + k] + rh[k] * hg[2 * H + k];
              } else {
                const float* rrow = Rd + (2 * H + k) * H;
                float acc = Rb ? Rb[2 * H + k] : 0.f;
                for (int64_t i = 0; i < H; ++i) acc += rrow[i] * (rh[i] * h[i]);
                pre = xg[2 * H + k] + acc;
              }
              hg[2 * H + k] = act[1](clip(pre));  // the candidate
            }
            for (int64_t k = 0; k < H; ++k) h[k] = (1.f - z[k]) * hg[2 * H + k] + z[k] * h[k];
          } else {  // LSTM: gates i, o, f, c; peepholes i, o, f
            for (int64_t k = 0; k < H; ++k) {
              float i = act[0](clip(xg[k] + hg[k] + (Pd ? Pd[k] * c[k] : 0.f)));
              float f = inputForget_ ? 1.f - i : act[0](clip(xg[2 * H + k] + hg[2 * H + k] + (Pd ? Pd[2 * H + k] * c[k] : 0.f)));
              float cc = act[1](clip(xg[3 * H + k] + hg[3 * H + k]));
              c[k] = f * c[k] + i * cc;
              float o = act[0](clip(xg[H + k] + hg[H + k] + (Pd ? Pd[H + k] * c[k] : 0.f)));
              tmp[k] = o * act[2](c[k]);
            }
            std::memcpy(h, tmp, static_cast<std::size_t>(H) * sizeof(float));
          }
          if (Y) {
            float* yt = Y + (layout_ ? ((b * seq + t) * dirs_ + d) : ((t * dirs_ + d) * batch + b)) * H;
            std::memcpy(yt, h, static_cast<std::size_t>(H) * sizeof(float));
          }
        }
        if (Yh) std::memcpy(Yh + stateAt(d, b), h, static_cast<std::size_t>(H) * sizeof(float));
        if (Yc) std::memcpy(Yc + stateAt(d, b), c, static_cast<std::size_t>(H) * sizeof(float));
      }
    }
  }

 private:
  std::string where_;
  int64_t gates_ = 1, dirs_ = 1, layout_ = 0, hidden_ = 0;
  bool lstm_ = false, gru_ = false, reverseOnly_ = false, linearBeforeReset_ = false, inputForget_ = false;
  float clip_ = -1.f;
  std::vector<RnnActivation> acts_;
  std::size_t numInputs_ = 0, numOutputs_ = 0;
};

bool supportsRecurrent(const ir::Node& n) {
  for (int i : {0, 1, 2})
    if (!n.input(i) || n.input(i)->dtype != DType::kFLOAT) return false;
  for (int i : {3, 5, 6, 7})
    if (n.input(i) && n.input(i)->dtype != DType::kFLOAT) return false;
  bool hiddenKnown = n.has("hidden_size") || (n.input(2)->shape.size() == 3 && n.input(2)->shape[2].known());
  return hiddenKnown && n.input(0)->shape.size() == 3;
}

std::unique_ptr<Kernel> makeRecurrent(const ir::Node& n) { return std::make_unique<RecurrentKernel>(n); }

}  // namespace

void registerRnnKernels(TacticRegistry& r) {
  for (const char* op : {"RNN", "GRU", "LSTM"})
    r.add({std::string(op) + ".ref", op, 0, supportsRecurrent, makeRecurrent, nullptr});
}

}  // namespace kiln::cpu
