// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (ONNX reference
// semantics): scores viewed as N x C x D (D = product of d1..dk, 1 for 2-D
// input), targets as N x D. A target equal to ignore_index contributes 0 to
// the loss and 0 to the 'mean' denominator; the denominator is the sum of the
// targets' class weights (their count without weights).
//
// SoftmaxCrossEntropyLoss takes log-softmax over C first; it is computed per
// (n, d) column, so no workspace is needed, and written to log_prob when that
// output is used. Losses are scalar-per-target work: one sequential pass,
// sums in double so the result does not depend on a thread split.
#include <cmath>
#include <limits>

#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/nn_util.h"

namespace kiln::cpu {
namespace {

enum class Reduction { kNone, kSum, kMean };

template <bool kSoftmax>
class LossRef final : public Kernel {
 public:
  explicit LossRef(const ir::Node& node)
      : who_(node.describe()),
        hasIgnore_(node.has("ignore_index")),
        ignore_(node.i("ignore_index", 0)),
        hasWeight_(node.inputs.size() > 2 && node.inputs[2] != nullptr),
        hasLogProb_(node.outputs.size() > 1 && node.outputs[1] != nullptr) {
    const std::string r = node.s("reduction", "mean");
    reduction_ = r == "none" ? Reduction::kNone : r == "sum" ? Reduction::kSum : Reduction::kMean;
  }

  void run(const ExecContext&, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const int64_t n = x.dims[0], c = x.dims[1], d = x.numel() / std::max<int64_t>(1, n * c);
    const float* xd = x.as<const float>();
    const float* weight = hasWeight_ ? in[2].as<const float>() : nullptr;
    const bool target64 = in[1].dtype == DType::kINT64;
    float* loss = out[0].as<float>();
    float* logProb = hasLogProb_ ? out[1].as<float>() : nullptr;
    double total = 0.0, denominator = 0.0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t j = 0; j < d; ++j) {
        const float* col = xd + b * c * d + j;  // C values, d apart
        float logSumExp = 0.f;
        if (kSoftmax) {
          float mx = -std::numeric_limits<float>::infinity();
          for (int64_t k = 0; k < c; ++k) mx = std::max(mx, col[k * d]);
          double sum = 0.0;
          for (int64_t k = 0; k < c; ++k) sum += std::exp(static_cast<double>(col[k * d] - mx));
          logSumExp = mx + static_cast<float>(std::log(sum));
          if (logProb)
            for (int64_t k = 0; k < c; ++k) logProb[b * c * d + j + k * d] = col[k * d] - logSumExp;
        }
        const int64_t i = b * d + j;
        const int64_t t = target64 ? in[1].as<const int64_t>()[i] : in[1].as<const int32_t>()[i];
        float value = 0.f, w = 0.f;
        if (!(hasIgnore_ && t == ignore_)) {
          KILN_CHECK(t >= 0 && t < c, who_, ": target ", t, " at position ", i, " is not a class index in [0, ", c,
                     ")", hasIgnore_ ? strCat(" nor ignore_index ", ignore_) : std::string());
          w = weight ? weight[t] : 1.f;
          value = -(col[t * d] - logSumExp) * w;
        }
        if (reduction_ == Reduction::kNone) loss[i] = value;
        total += value;
        denominator += w;
      }
    if (reduction_ == Reduction::kSum) loss[0] = static_cast<float>(total);
    // 0 / 0 (every target ignored) is NaN, as in ONNX's reference.
    if (reduction_ == Reduction::kMean) loss[0] = static_cast<float>(total / denominator);
  }

 private:
  std::string who_;
  bool hasIgnore_;
  int64_t ignore_;
  bool hasWeight_, hasLogProb_;
  Reduction reduction_;
};

bool supportsLoss(const ir::Node& node) {
  return node.inputs[0] && node.inputs[0]->dtype == DType::kFLOAT && node.inputs[0]->shape.size() <= kMaxRank;
}

template <typename K>
std::unique_ptr<Kernel> make(const ir::Node& n) {
  return std::make_unique<K>(n);
}

}  // namespace

void registerLossKernels(TacticRegistry& r) {
  r.add({"NegativeLogLikelihoodLoss.ref", "NegativeLogLikelihoodLoss", 0, supportsLoss, make<LossRef<false>>,
         nullptr});
  r.add({"SoftmaxCrossEntropyLoss.ref", "SoftmaxCrossEntropyLoss", 0, supportsLoss, make<LossRef<true>>, nullptr});
}

}  // namespace kiln::cpu
