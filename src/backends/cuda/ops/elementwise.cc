// Unary ops and activations, and broadcasting binary ops, FP32 (kernels.cu).
// The fused activation of a binary node (kiln_act) is applied in the same pass.
#include <cmath>
#include <limits>
#include <map>

#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"

namespace kiln::cuda {
namespace {

using kernels::Binary;
using kernels::Unary;
using kernels::UnaryParams;

const std::map<std::string, Unary>& unaryOps() {
  static const std::map<std::string, Unary> ops = {
      {"Relu", Unary::kRelu},         {"LeakyRelu", Unary::kLeakyRelu},
      {"Sigmoid", Unary::kSigmoid},   {"Tanh", Unary::kTanh},       {"Gelu", Unary::kGeluErf},
      {"Erf", Unary::kErf},           {"Exp", Unary::kExp},         {"Log", Unary::kLog},
      {"Sqrt", Unary::kSqrt},         {"Reciprocal", Unary::kReciprocal}, {"Neg", Unary::kNeg},
      {"Abs", Unary::kAbs},           {"Clip", Unary::kClip},       {"HardSigmoid", Unary::kHardSigmoid},
      {"HardSwish", Unary::kHardSwish}, {"Softplus", Unary::kSoftplus}};
  return ops;
}

const std::map<std::string, Binary>& binaryOps() {
  static const std::map<std::string, Binary> ops = {{"Add", Binary::kAdd}, {"Sub", Binary::kSub},
                                                    {"Mul", Binary::kMul}, {"Div", Binary::kDiv},
                                                    {"Max", Binary::kMax}, {"Min", Binary::kMin},
                                                    {"Pow", Binary::kPow}};
  return ops;
}

}  // namespace

//! The unary parameters of a unary node (attributes and constant Clip bounds)
//! or of a fused `kiln_act`; false when the CUDA kernels lack it.
bool unaryParams(const std::string& op, const ir::Node& node, bool fused, UnaryParams* p) {
  static const std::map<std::string, Unary> fusedActs = {
      {"", Unary::kIdentity},         {"Relu", Unary::kRelu},         {"LeakyRelu", Unary::kLeakyRelu},
      {"Sigmoid", Unary::kSigmoid},   {"Tanh", Unary::kTanh},         {"Clip", Unary::kClip},
      {"HardSigmoid", Unary::kHardSigmoid}, {"HardSwish", Unary::kHardSwish}, {"Gelu", Unary::kGeluErf},
      {"GeluTanh", Unary::kGeluTanh}, {"Silu", Unary::kSilu},         {"Softplus", Unary::kSoftplus}};
  const auto& table = fused ? fusedActs : unaryOps();
  auto it = table.find(op);
  if (it == table.end()) return false;
  p->op = it->second;
  if (fused) {
    p->alpha = node.f("kiln_act_alpha", 0.f);
    p->beta = node.f("kiln_act_beta", 0.f);
    return true;
  }
  if (p->op == Unary::kLeakyRelu) p->alpha = node.f("alpha", 0.01f);
  if (p->op == Unary::kHardSigmoid) p->alpha = node.f("alpha", 0.2f), p->beta = node.f("beta", 0.5f);
  if (p->op == Unary::kGeluErf) {
    std::string approx = node.s("approximate", "none");
    if (approx == "tanh") p->op = Unary::kGeluTanh;
    else if (approx != "none") return false;
  }
  if (p->op == Unary::kClip) {
    const float inf = std::numeric_limits<float>::infinity();
    return constantScalar(node, 1, -inf, &p->alpha) && constantScalar(node, 2, inf, &p->beta);
  }
  return true;
}

namespace {

class UnaryKernel final : public backends::DeviceKernel {
 public:
  explicit UnaryKernel(UnaryParams p) : p_(p) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    kernels::unary(in[0].as<const float>(), out[0].as<float>(), out[0].numel(), p_, streamOf(launch));
  }

 private:
  UnaryParams p_;
};

class BinaryKernel final : public backends::DeviceKernel {
 public:
  BinaryKernel(Binary op, UnaryParams then) : op_(op), then_(then) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    // Host arithmetic per run (shapes may change within a profile); no allocation beyond the vectors.
    kernels::BroadcastShape s = broadcastShape(in[0].shape(), in[1].shape(), out[0].shape());
    kernels::binary(in[0].as<const float>(), in[1].as<const float>(), out[0].as<float>(), s, op_, then_,
                    streamOf(launch));
  }

 private:
  Binary op_;
  UnaryParams then_;
};

bool supportsUnary(const ir::Node& n) {
  UnaryParams p;
  return allFloat(n) && n.outputs.size() == 1 && unaryParams(n.op, n, false, &p);
}

std::unique_ptr<backends::DeviceKernel> createUnary(const ir::Node& n) {
  UnaryParams p;
  KILN_CHECK(unaryParams(n.op, n, false, &p), n.describe(), ": not supported by the CUDA unary kernel");
  return std::make_unique<UnaryKernel>(p);
}

bool supportsBinary(const ir::Node& n) {
  UnaryParams then;
  return allFloat(n) && n.inputs.size() == 2 && n.inputs[0] && n.inputs[1] && n.outputs.size() == 1 &&
         n.outputs[0]->shape.size() <= kernels::kMaxRank && unaryParams(n.s("kiln_act", ""), n, true, &then);
}

std::unique_ptr<backends::DeviceKernel> createBinary(const ir::Node& n) {
  UnaryParams then;
  KILN_CHECK(unaryParams(n.s("kiln_act", ""), n, true, &then), n.describe(), ": unsupported fused activation");
  return std::make_unique<BinaryKernel>(binaryOps().at(n.op), then);
}

}  // namespace

void registerElementwiseTactics(TacticList& out) {
  for (const auto& [op, kind] : unaryOps()) out.push_back({op + ".cuda", op, 0, supportsUnary, createUnary});
  for (const auto& [op, kind] : binaryOps()) out.push_back({op + ".cuda", op, 0, supportsBinary, createBinary});
}

}  // namespace kiln::cuda
