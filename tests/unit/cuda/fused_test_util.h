// What the NVRTC chain tests share (fused_codegen_test.cc on the host,
// fused_elementwise_gpu_test.cc on the GPU): every step kind, and a chain's
// steps as KilnFusedElementwise's attributes.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "backends/cuda/ops/fused_codegen.h"
#include "ir/graph.h"

namespace kiln::test::fused_chain {

inline constexpr const char* kUnaryOps[] = {"Relu",      "Sigmoid", "Tanh",     "Exp",      "Log",  "Sqrt",
                                            "Abs",       "Neg",     "Reciprocal", "Erf",    "LeakyRelu", "HardSigmoid",
                                            "HardSwish", "Gelu",    "GeluTanh", "Softplus", "Silu", "Clip"};
inline constexpr const char* kBinaryOps[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"};

//! The node attributes ops / operands / swapped / alphas / betas of `steps` (ir/ops/kiln.cc's contract).
inline std::map<std::string, ir::Attribute> chainAttributes(const std::vector<cuda::fused::Step>& steps) {
  std::vector<std::string> ops;
  std::vector<int64_t> operands, swapped;
  std::vector<float> alphas, betas;
  for (const cuda::fused::Step& s : steps) {
    ops.push_back(s.op);
    operands.push_back(s.operand);
    swapped.push_back(s.swapped ? 1 : 0);
    alphas.push_back(s.alpha);
    betas.push_back(s.beta);
  }
  return {{"ops", ops}, {"operands", operands}, {"swapped", swapped}, {"alphas", alphas}, {"betas", betas}};
}

}  // namespace kiln::test::fused_chain
