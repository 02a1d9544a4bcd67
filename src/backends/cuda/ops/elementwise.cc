// Unary ops and activations, and broadcasting binary ops, FP32/FP16/BF16 (elementwise.cu; FP32 math).
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
  UnaryKernel(UnaryParams p, kernels::Elem elem) : p_(p), elem_(elem) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    kernels::unary(in[0].data, out[0].data, out[0].numel(), p_, elem_, streamOf(launch));
  }

 private:
  UnaryParams p_;
  kernels::Elem elem_;
};

class BinaryKernel final : public backends::DeviceKernel {
 public:
  BinaryKernel(Binary op, UnaryParams then, kernels::Elem elem) : op_(op), then_(then), elem_(elem) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    // Host arithmetic per run (shapes may change within a profile); no allocation beyond the vectors.
    kernels::BroadcastShape s = broadcastShape(in[0].shape(), in[1].shape(), out[0].shape());
    collapseBroadcast(s);
    kernels::binary(in[0].data, in[1].data, out[0].data, s, op_, then_, elem_, streamOf(launch));
  }

 private:
  Binary op_;
  UnaryParams then_;
  kernels::Elem elem_;
};

bool supportsUnary(const ir::Node& n) {
  UnaryParams p;
  kernels::Elem e;
  return uniformFloat(n, &e) && n.outputs.size() == 1 && unaryParams(n.op, n, false, &p);
}

std::unique_ptr<backends::DeviceKernel> createUnary(const ir::Node& n) {
  UnaryParams p;
  kernels::Elem e;
  KILN_CHECK(unaryParams(n.op, n, false, &p) && uniformFloat(n, &e), n.describe(),
             ": not supported by the CUDA unary kernel");
  return std::make_unique<UnaryKernel>(p, e);
}

bool supportsBinary(const ir::Node& n) {
  UnaryParams then;
  kernels::Elem e;
  return uniformFloat(n, &e) && n.inputs.size() == 2 && n.inputs[0] && n.inputs[1] && n.outputs.size() == 1 &&
         n.outputs[0]->shape.size() <= kernels::kMaxRank && unaryParams(n.s("kiln_act", ""), n, true, &then);
}

std::unique_ptr<backends::DeviceKernel> createBinary(const ir::Node& n) {
  UnaryParams then;
  kernels::Elem e;
  KILN_CHECK(unaryParams(n.s("kiln_act", ""), n, true, &then), n.describe(), ": unsupported fused activation");
  KILN_CHECK(uniformFloat(n, &e), n.describe(), ": inputs and output must share one of FP32/FP16/BF16");
  return std::make_unique<BinaryKernel>(binaryOps().at(n.op), then, e);
}

}  // namespace

void registerElementwiseTactics(TacticList& out) {
  for (const auto& [op, kind] : unaryOps()) out.push_back({op + ".cuda", op, 0, supportsUnary, createUnary});
  for (const auto& [op, kind] : binaryOps()) out.push_back({op + ".cuda", op, 0, supportsBinary, createBinary});
}

}  // namespace kiln::cuda
