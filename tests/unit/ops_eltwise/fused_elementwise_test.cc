// KilnFusedElementwise: its schema, and its kernel against the unfused chain
// of standalone ops run step by step (the results must be bit-identical).
#include <cmath>

#include "backends/cpu/activation.h"
#include "eltwise_test_util.h"

namespace kiln::test {
namespace {

struct Step {
  std::string op;
  int64_t operand = -1;
  bool swapped = false;
  float alpha = 0.f, beta = 0.f;
};

Attrs fusedAttrs(const std::vector<Step>& steps) {
  std::vector<std::string> ops;
  std::vector<int64_t> operands, swapped;
  std::vector<float> alphas, betas;
  for (const Step& s : steps) {
    ops.push_back(s.op);
    operands.push_back(s.operand);
    swapped.push_back(s.swapped ? 1 : 0);
    alphas.push_back(s.alpha);
    betas.push_back(s.beta);
  }
  return {{"ops", ops}, {"operands", operands}, {"swapped", swapped}, {"alphas", alphas}, {"betas", betas}};
}

//! The chain as separate standard ops, one node at a time.
ir::Tensor unfused(const std::vector<ir::Tensor>& inputs, const std::vector<Step>& steps, ThreadPool* pool) {
  ir::Tensor acc = inputs[0];
  for (const Step& s : steps) {
    if (s.operand >= 0) {
      const ir::Tensor& b = inputs[s.operand];
      acc = s.swapped ? run(s.op, {in(b), in(acc)}, {}, pool) : run(s.op, {in(acc), in(b)}, {}, pool);
    } else if (s.op == "LeakyRelu") {
      acc = run(s.op, {in(acc)}, {{"alpha", s.alpha}}, pool);
    } else if (s.op == "HardSigmoid") {
      acc = run(s.op, {in(acc)}, {{"alpha", s.alpha}, {"beta", s.beta}}, pool);
    } else if (s.op == "GeluTanh") {
      acc = run("Gelu", {in(acc)}, {{"approximate", std::string("tanh")}}, pool);
    } else if (s.op == "Clip") {
      acc = run(s.op, {in(acc), constant(F({s.alpha}, {})), constant(F({s.beta}, {}))}, {}, pool);
    } else if (s.op == "Silu") {  // not an ONNX op: Sigmoid and Mul in a graph, activation.h's kSilu when fused
      acc = acc.castTo(DType::kFLOAT);  // a private copy (tensor copies share storage)
      for (int64_t i = 0; i < acc.numel(); ++i)
        acc.mutableAs<float>()[i] = cpu::applyActivation(cpu::ActKind::kSilu, acc.as<float>()[i], 0.f, 0.f);
    } else {
      acc = run(s.op, {in(acc)}, {}, pool);
    }
  }
  return acc;
}

void expectFusedEqualsUnfused(const std::vector<ir::Tensor>& inputs, const std::vector<Step>& steps,
                              ThreadPool* pool = nullptr) {
  std::vector<Arg> args;
  for (const ir::Tensor& t : inputs) args.push_back(in(t));
  ir::Tensor fused = run("KilnFusedElementwise", args, fusedAttrs(steps), pool);
  ir::Tensor ref = unfused(inputs, steps, pool);
  ASSERT_EQ(fused.dims(), ref.dims());
  ASSERT_EQ(fused.dtype(), DType::kFLOAT);
  for (int64_t i = 0; i < ref.numel(); ++i) {
    float f = fused.as<float>()[i], r = ref.as<float>()[i];
    if (std::isnan(r) && std::isnan(f)) continue;
    ASSERT_EQ(f, r) << "element " << i;
  }
}

TEST(FusedElementwise, AddMulSigmoidSubFromTheLeft) {
  // x + b (per channel) -> * c (per column) -> Sigmoid -> d - acc.
  std::vector<ir::Tensor> xs = {randomF({2, 3, 4, 5}, 1), randomF({3, 1, 1}, 2), randomF({5}, 3), F({0.75f}, {})};
  std::vector<Step> steps = {{"Add", 1}, {"Mul", 2}, {"Sigmoid"}, {"Sub", 3, true}};
  expectFusedEqualsUnfused(xs, steps);
  // Spot-check one element by hand so the test cannot pass with both sides wrong the same way.
  ir::Tensor out = run("KilnFusedElementwise", {in(xs[0]), in(xs[1]), in(xs[2]), in(xs[3])}, fusedAttrs(steps));
  int64_t i = ((1 * 3 + 2) * 4 + 3) * 5 + 4;  // [1,2,3,4]
  float v = (xs[0].as<float>()[i] + xs[1].as<float>()[2]) * xs[2].as<float>()[4];
  EXPECT_NEAR(out.as<float>()[i], 0.75f - 1.f / (1.f + std::exp(-v)), 1e-6f);
}

TEST(FusedElementwise, EveryStepKindMatchesItsStandaloneOp) {
  std::vector<ir::Tensor> xs = {randomF({3, 7, 11}, 4), randomF({11}, 5, 0.5f, 2.f), randomF({3, 1, 1}, 6),
                                F({2.f}, {})};
  const std::vector<std::vector<Step>> chains = {
      {{"Relu"}, {"Add", 1}, {"Tanh"}},
      {{"LeakyRelu", -1, false, 0.2f}, {"Mul", 2}, {"HardSigmoid", -1, false, 0.3f, 0.4f}},
      {{"Clip", -1, false, -0.5f, 0.7f}, {"HardSwish"}, {"Gelu"}, {"GeluTanh"}},
      {{"Softplus"}, {"Silu"}, {"Exp"}, {"Log"}, {"Sqrt"}},
      {{"Abs"}, {"Neg"}, {"Reciprocal"}, {"Erf"}, {"Sigmoid"}},
      {{"Div", 1}, {"Div", 1, true}, {"Sub", 2}, {"Sub", 2, true}},
      {{"Pow", 3}, {"Abs"}, {"Pow", 1}, {"Pow", 3, true}},
      {{"Max", 2}, {"Min", 1}, {"Max", 1, true}, {"Min", 2, true}},
      {{"Mul", 0}, {"Add", 0, true}},  // the first input again as an operand
  };
  for (std::size_t c = 0; c < chains.size(); ++c) {
    SCOPED_TRACE("chain " + std::to_string(c));
    expectFusedEqualsUnfused(xs, chains[c]);
  }
}

TEST(FusedElementwise, FirstInputBroadcastsToTheOutput) {
  std::vector<ir::Tensor> xs = {randomF({5}, 7), randomF({2, 3, 5}, 8), randomF({3, 1}, 9)};
  expectFusedEqualsUnfused(xs, {{"Mul", 1}, {"Add", 2, true}, {"Relu"}});
  // Input 0 a scalar, broadcast to a row vector output.
  expectFusedEqualsUnfused({F({1.5f}, {1}), randomF({1, 9}, 10)}, {{"Sub", 1}, {"Sigmoid"}});
  // Single element everywhere.
  expectFusedEqualsUnfused({F({0.3f}, {}), F({2.f}, {1})}, {{"Mul", 1}, {"Tanh"}});
}

TEST(FusedElementwise, LargeTensorsAcrossThreads) {
  ThreadPool pool(4);
  std::vector<ir::Tensor> xs = {randomF({4, 1000, 33}, 11), randomF({33}, 12), randomF({1000, 1}, 13)};
  expectFusedEqualsUnfused(xs, {{"Add", 1}, {"Mul", 2}, {"Gelu"}, {"Sub", 1, true}}, &pool);
  std::vector<ir::Tensor> flat = {randomF({200003}, 14), randomF({200003}, 15)};
  expectFusedEqualsUnfused(flat, {{"Mul", 1}, {"Sigmoid"}, {"Add", 0}}, &pool);
}

TEST(FusedElementwiseSchema, ShapeAndErrors) {
  Attrs good = fusedAttrs({{"Add", 1}, {"Relu"}});
  ir::Value v = inferOut("KilnFusedElementwise", {typed(DType::kFLOAT, {ir::Dim("N"), 1, 4}),
                                                  typed(DType::kFLOAT, {3, 1})},
                         good);
  EXPECT_EQ(ir::toString(v.shape), "[N,3,4]");
  EXPECT_EQ(v.dtype, DType::kFLOAT);
  // The device precision pass retypes the node: FP16/BF16 in, the same type out.
  for (DType t : {DType::kHALF, DType::kBF16})
    EXPECT_EQ(inferOut("KilnFusedElementwise", {typed(t, {2, 3}), typed(t, {3})}, good).dtype, t);
  // swapped / alphas / betas may be left out.
  Attrs minimal = {{"ops", std::vector<std::string>{"Add", "Relu"}}, {"operands", std::vector<int64_t>{1, -1}}};
  EXPECT_EQ(ir::toString(inferOut("KilnFusedElementwise", {typed(DType::kFLOAT, {2}), typed(DType::kFLOAT, {2})},
                                  minimal).shape),
            "[2]");
  std::vector<Arg> two = {typed(DType::kFLOAT, {2, 3}), typed(DType::kFLOAT, {3})};

  Attrs shortOperands = good;
  shortOperands["operands"] = std::vector<int64_t>{1};
  expectSchemaError("KilnFusedElementwise", two, shortOperands, "'operands' has 1 entries for 2 ops");
  Attrs shortAlphas = good;
  shortAlphas["alphas"] = std::vector<float>{0.f, 0.f, 0.f};
  expectSchemaError("KilnFusedElementwise", two, shortAlphas, "'alphas' has 3 entries");
  expectSchemaError("KilnFusedElementwise", two, fusedAttrs({{"Add", 1}, {"Softmax"}}), "'Softmax'");
  expectSchemaError("KilnFusedElementwise", two, fusedAttrs({{"Add", 2}}), "out of range");
  expectSchemaError("KilnFusedElementwise", two, fusedAttrs({{"Relu", 1}}), "unary");
  expectSchemaError("KilnFusedElementwise", two, fusedAttrs({{"Relu", -1, true}}), "swapped");
  expectSchemaError("KilnFusedElementwise", two, {{"ops", std::vector<std::string>{"Relu"}}}, "'operands'");
  expectSchemaError("KilnFusedElementwise", two, fusedAttrs({}), "no steps");
  expectSchemaError("KilnFusedElementwise", {typed(DType::kFLOAT, {2, 3}), typed(DType::kINT64, {3})},
                    fusedAttrs({{"Add", 1}}), "share one type");
  expectSchemaError("KilnFusedElementwise", {typed(DType::kINT32, {2, 3}), typed(DType::kINT32, {3})},
                    fusedAttrs({{"Add", 1}}), "only float32, float16 and bfloat16");
  expectSchemaError("KilnFusedElementwise", {typed(DType::kHALF, {2, 3}), typed(DType::kFLOAT, {3})},
                    fusedAttrs({{"Add", 1}}), "share one type");
  expectSchemaError("KilnFusedElementwise", {typed(DType::kFLOAT, {2, 3}), typed(DType::kFLOAT, {4})},
                    fusedAttrs({{"Add", 1}}), "cannot broadcast");
}

}  // namespace
}  // namespace kiln::test
