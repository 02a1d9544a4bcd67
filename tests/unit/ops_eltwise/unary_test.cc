// Unary math, activations, Not, IsNaN/IsInf and Clip: schemas and reference
// kernels against formulas written out here with <cmath>.
#include <cmath>
#include <limits>

#include "backends/cpu/activation.h"
#include "eltwise_test_util.h"

namespace kiln::test {
namespace {

struct UnaryCase {
  const char* op;
  std::function<float(float)> f;
  float lo, hi;
  Attrs attrs = {};
};

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double softplus(double x) { return std::log1p(std::exp(x)); }

std::vector<UnaryCase> cases() {
  return {
      {"Relu", [](float x) { return x > 0 ? x : 0.f; }, -3, 3},
      {"Sigmoid", [](float x) { return static_cast<float>(sigmoid(x)); }, -8, 8},
      {"Tanh", [](float x) { return static_cast<float>(std::tanh(static_cast<double>(x))); }, -4, 4},
      {"Exp", [](float x) { return static_cast<float>(std::exp(static_cast<double>(x))); }, -5, 5},
      {"Log", [](float x) { return static_cast<float>(std::log(static_cast<double>(x))); }, 0.01f, 10},
      {"Sqrt", [](float x) { return static_cast<float>(std::sqrt(static_cast<double>(x))); }, 0, 10},
      {"Erf", [](float x) { return static_cast<float>(std::erf(static_cast<double>(x))); }, -3, 3},
      {"Abs", [](float x) { return x < 0 ? -x : x; }, -3, 3},
      {"Neg", [](float x) { return -x; }, -3, 3},
      {"Reciprocal", [](float x) { return 1.f / x; }, 0.5f, 4},
      {"Floor", [](float x) { return std::floor(x); }, -5, 5},
      {"Ceil", [](float x) { return std::ceil(x); }, -5, 5},
      {"Sign", [](float x) { return x > 0 ? 1.f : (x < 0 ? -1.f : 0.f); }, -3, 3},
      {"Sin", [](float x) { return static_cast<float>(std::sin(static_cast<double>(x))); }, -6, 6},
      {"Cos", [](float x) { return static_cast<float>(std::cos(static_cast<double>(x))); }, -6, 6},
      {"Tan", [](float x) { return static_cast<float>(std::tan(static_cast<double>(x))); }, -1, 1},
      {"Atan", [](float x) { return static_cast<float>(std::atan(static_cast<double>(x))); }, -4, 4},
      {"Asin", [](float x) { return static_cast<float>(std::asin(static_cast<double>(x))); }, -0.99f, 0.99f},
      {"Sinh", [](float x) { return static_cast<float>(std::sinh(static_cast<double>(x))); }, -3, 3},
      {"Softplus", [](float x) { return static_cast<float>(softplus(x)); }, -10, 10},
      {"Softsign", [](float x) { return x / (1 + std::fabs(x)); }, -5, 5},
      {"Elu", [](float x) { return x >= 0 ? x : static_cast<float>(0.5 * (std::exp(double(x)) - 1)); }, -4, 4,
       {{"alpha", 0.5f}}},
      {"Selu",
       [](float x) {
         double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
         return static_cast<float>(x > 0 ? g * x : g * (a * std::exp(double(x)) - a));
       },
       -4, 4},
      {"Celu", [](float x) { return static_cast<float>(std::max(0.0, double(x)) + std::min(0.0, 2 * (std::exp(x / 2.0) - 1))); },
       -4, 4, {{"alpha", 2.f}}},
      {"ThresholdedRelu", [](float x) { return x > 0.5f ? x : 0.f; }, -2, 2, {{"alpha", 0.5f}}},
      {"LeakyRelu", [](float x) { return x >= 0 ? x : 0.01f * x; }, -3, 3},
      {"LeakyRelu", [](float x) { return x >= 0 ? x : 0.3f * x; }, -3, 3, {{"alpha", 0.3f}}},
      {"HardSigmoid", [](float x) { return std::max(0.f, std::min(1.f, 0.2f * x + 0.5f)); }, -5, 5},
      {"HardSigmoid", [](float x) { return std::max(0.f, std::min(1.f, 0.3f * x + 0.4f)); }, -5, 5,
       {{"alpha", 0.3f}, {"beta", 0.4f}}},
      {"HardSwish", [](float x) { return x * std::max(0.f, std::min(1.f, x / 6 + 0.5f)); }, -5, 5},
      {"Gelu", [](float x) { return static_cast<float>(0.5 * x * (1 + std::erf(x / std::sqrt(2.0)))); }, -4, 4},
      {"Gelu",
       [](float x) {
         double inner = std::sqrt(2 / M_PI) * (x + 0.044715 * double(x) * x * x);
         return static_cast<float>(0.5 * x * (1 + std::tanh(inner)));
       },
       -4, 4, {{"approximate", std::string("tanh")}}},
      {"Mish", [](float x) { return static_cast<float>(x * std::tanh(softplus(x))); }, -5, 5},
  };
}

TEST(Unary, FloatOpsMatchFormulas) {
  uint32_t seed = 100;
  for (const UnaryCase& c : cases()) {
    for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{{}, {1}, {13}, {3, 1, 7, 5}}) {
      SCOPED_TRACE(std::string(c.op) + " " + ir::toString(dims));
      ir::Tensor x = randomF(dims, seed++, c.lo, c.hi);
      ir::Tensor out = run(c.op, {in(x)}, c.attrs);
      EXPECT_EQ(out.dims(), dims);
      EXPECT_EQ(out.dtype(), DType::kFLOAT);
      std::vector<float> want;
      for (float v : values(x)) want.push_back(c.f(v));
      expectClose(out, want, 2e-6f);
    }
  }
}

TEST(Unary, RoundHalvesToEven) {
  expectClose(run("Round", {in(F({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, -2.6f}, {7}))}),
              {0.f, 2.f, 2.f, -0.f, -2.f, 2.f, -3.f}, 0);
}

TEST(Unary, ActivationsAgreeWithTheSharedHelper) {
  // Standalone activations must be bit-identical to what Conv/Gemm fuse (activation.h).
  ir::Tensor x = randomF({257}, 7, -6, 6);
  struct A {
    const char* op;
    cpu::ActKind kind;
    float alpha, beta;
    Attrs attrs;
  };
  for (const A& a : {A{"Relu", cpu::ActKind::kRelu, 0, 0, {}}, A{"Sigmoid", cpu::ActKind::kSigmoid, 0, 0, {}},
                     A{"Tanh", cpu::ActKind::kTanh, 0, 0, {}}, A{"LeakyRelu", cpu::ActKind::kLeakyRelu, 0.01f, 0, {}},
                     A{"HardSigmoid", cpu::ActKind::kHardSigmoid, 0.2f, 0.5f, {}},
                     A{"HardSwish", cpu::ActKind::kHardSwish, 0, 0, {}}, A{"Gelu", cpu::ActKind::kGelu, 0, 0, {}},
                     A{"Gelu", cpu::ActKind::kGeluTanh, 0, 0, {{"approximate", std::string("tanh")}}},
                     A{"Softplus", cpu::ActKind::kSoftplus, 0, 0, {}}}) {
    SCOPED_TRACE(a.op);
    ir::Tensor out = run(a.op, {in(x)}, a.attrs);
    for (int i = 0; i < 257; ++i)
      ASSERT_EQ(out.as<float>()[i], cpu::applyActivation(a.kind, x.as<float>()[i], a.alpha, a.beta)) << i;
  }
}

TEST(Unary, LargeTensorUsesThreads) {
  ThreadPool pool(3);
  ir::Tensor x = randomF({5, 40009}, 8, -5, 5);
  ir::Tensor out = run("Sigmoid", {in(x)}, {}, &pool);
  std::vector<float> want;
  for (float v : values(x)) want.push_back(static_cast<float>(sigmoid(v)));
  expectClose(out, want, 2e-6f);
}

TEST(Unary, IntegerForms) {
  ir::Tensor a = I64({-5, 0, 7, std::numeric_limits<int64_t>::min()}, {4});
  EXPECT_EQ(ints(run("Relu", {in(a)})), (std::vector<int64_t>{0, 0, 7, 0}));
  EXPECT_EQ(ints(run("Abs", {in(a)})), (std::vector<int64_t>{5, 0, 7, std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(ints(run("Neg", {in(a)})), (std::vector<int64_t>{5, 0, -7, std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(ints(run("Sign", {in(a)})), (std::vector<int64_t>{-1, 0, 1, -1}));
  ir::Tensor b = run("Abs", {in(I32({-3, 4}, {2}))});
  EXPECT_EQ(b.dtype(), DType::kINT32);
  EXPECT_EQ(ints(b), (std::vector<int64_t>{3, 4}));
}

TEST(Unary, BoolOutputs) {
  ir::Tensor n = run("Not", {in(B({1, 0, 0}, {3}))});
  EXPECT_EQ(n.dtype(), DType::kBOOL);
  EXPECT_EQ(ints(n), (std::vector<int64_t>{0, 1, 1}));
  float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  ir::Tensor x = F({1.f, nan, inf, -inf}, {2, 2});
  ir::Tensor isnan = run("IsNaN", {in(x)});
  EXPECT_EQ(isnan.dtype(), DType::kBOOL);
  EXPECT_EQ(ints(isnan), (std::vector<int64_t>{0, 1, 0, 0}));
  EXPECT_EQ(ints(run("IsInf", {in(x)})), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(ints(run("IsInf", {in(x)}, {{"detect_negative", int64_t{0}}})), (std::vector<int64_t>{0, 0, 1, 0}));
  EXPECT_EQ(ints(run("IsInf", {in(x)}, {{"detect_positive", int64_t{0}}})), (std::vector<int64_t>{0, 0, 0, 1}));
}

TEST(Clip, OptionalMinMaxInputs) {
  ir::Tensor x = F({-3.f, -1.f, 0.f, 2.f, 5.f}, {5});
  expectClose(run("Clip", {in(x), constant(F({-1.5f}, {})), constant(F({2.5f}, {}))}), {-1.5f, -1.f, 0.f, 2.f, 2.5f}, 0);
  expectClose(run("Clip", {in(x), absent(), constant(F({1.f}, {}))}), {-3.f, -1.f, 0.f, 1.f, 1.f}, 0);
  expectClose(run("Clip", {in(x), constant(F({0.f}, {}))}), {0.f, 0.f, 0.f, 2.f, 5.f}, 0);
  expectClose(run("Clip", {in(x)}), values(x), 0);
  // min > max: everything becomes max (ONNX).
  expectClose(run("Clip", {in(x), constant(F({3.f}, {})), constant(F({1.f}, {}))}), {1.f, 1.f, 1.f, 1.f, 1.f}, 0);
  // Bounds computed at run time (not constants) are read from the inputs.
  expectClose(run("Clip", {in(x), in(F({-2.f}, {1})), in(F({4.f}, {1}))}), {-2.f, -1.f, 0.f, 2.f, 4.f}, 0);
  EXPECT_EQ(ints(run("Clip", {in(I64({-9, 3, 9}, {3})), constant(I64({-4}, {})), absent()})),
            (std::vector<int64_t>{-4, 3, 9}));
}

TEST(UnarySchema, TypesAndErrors) {
  ir::Value out = inferOut("Exp", {typed(DType::kFLOAT, {ir::Dim("N"), 4})});
  EXPECT_EQ(ir::toString(out.shape), "[N,4]");
  EXPECT_EQ(inferOut("IsNaN", {typed(DType::kFLOAT, {3})}).dtype, DType::kBOOL);
  expectSchemaError("Exp", {typed(DType::kINT64, {3})}, {}, "floating-point");
  expectSchemaError("Not", {typed(DType::kFLOAT, {3})}, {}, "bool");
  expectSchemaError("Gelu", {typed(DType::kFLOAT, {3})}, {{"approximate", std::string("fast")}}, "approximate");
  expectSchemaError("Clip", {typed(DType::kFLOAT, {3}), typed(DType::kFLOAT, {2})}, {}, "min must be a scalar");
  expectSchemaError("Clip", {typed(DType::kFLOAT, {3}), typed(DType::kINT64, {})}, {}, "int64");
}

}  // namespace
}  // namespace kiln::test
