// Broadcasting binary / variadic ops, comparisons, logic, Where and PRelu:
// schemas and reference kernels, checked against a plain numpy-style oracle.
#include <cmath>
#include <limits>

#include "eltwise_test_util.h"

namespace kiln::test {
namespace {

struct ShapePair {
  std::vector<int64_t> a, b;
};

// scalar, 1, prime, broadcasting both ways, NCHW op [C,1,1], row vector, outer product.
const std::vector<ShapePair> kShapes = {
    {{}, {}},         {{1}, {1}},          {{7}, {7}},          {{7}, {}},           {{}, {7}},
    {{1}, {5}},       {{2, 3, 1, 5}, {3, 4, 1}},  {{2, 3, 4, 5}, {3, 1, 1}}, {{6, 13}, {13}},
    {{6, 1}, {1, 13}}, {{5, 1, 3}, {1, 4, 1}}, {{2, 1, 3, 1}, {2, 4, 1, 5}}, {{1, 1, 1}, {3, 1, 2}}};

void checkFloatOp(const std::string& op, const std::function<float(float, float)>& f, float lo, float hi,
                  float tol, const Attrs& attrs = {}) {
  uint32_t seed = 1;
  for (const ShapePair& s : kShapes) {
    SCOPED_TRACE(op + " " + ir::toString(s.a) + " op " + ir::toString(s.b));
    ir::Tensor a = randomF(s.a, seed++, lo, hi), b = randomF(s.b, seed++, lo, hi);
    ir::Tensor out = run(op, {in(a), in(b)}, attrs);
    EXPECT_EQ(out.dims(), broadcastDims({s.a, s.b}));
    EXPECT_EQ(out.dtype(), DType::kFLOAT);
    expectClose(out, refBinary(a, b, f), tol);
  }
}

TEST(Binary, FloatArithmeticBroadcasts) {
  checkFloatOp("Add", [](float x, float y) { return x + y; }, -3, 3, 0);
  checkFloatOp("Sub", [](float x, float y) { return x - y; }, -3, 3, 0);
  checkFloatOp("Mul", [](float x, float y) { return x * y; }, -3, 3, 0);
  checkFloatOp("Div", [](float x, float y) { return x / y; }, 0.5f, 3, 0);
  checkFloatOp("Max", [](float x, float y) { return std::max(x, y); }, -3, 3, 0);
  checkFloatOp("Min", [](float x, float y) { return std::min(x, y); }, -3, 3, 0);
  checkFloatOp("Pow", [](float x, float y) { return std::pow(x, y); }, 0.1f, 3, 1e-6f);
  checkFloatOp("Mod", [](float x, float y) { return std::fmod(x, y); }, 0.5f, 9, 1e-6f, {{"fmod", int64_t{1}}});
}

TEST(Binary, LargeTensorsAreSplitAcrossThreads) {
  ThreadPool pool(4);
  for (const ShapePair& s : std::vector<ShapePair>{{{100003}, {100003}},
                                                   {{100003}, {}},
                                                   {{3, 257, 129}, {257, 1}},
                                                   {{4, 64, 33, 31}, {64, 1, 1}},
                                                   {{2, 500, 97}, {97}}}) {
    SCOPED_TRACE(ir::toString(s.a) + " op " + ir::toString(s.b));
    ir::Tensor a = randomF(s.a, 11), b = randomF(s.b, 12);
    expectClose(run("Add", {in(a), in(b)}, {}, &pool), refBinary(a, b, [](float x, float y) { return x + y; }), 0);
    // Swapped operand order takes the other broadcast path.
    expectClose(run("Sub", {in(b), in(a)}, {}, &pool), refBinary(b, a, [](float x, float y) { return x - y; }), 0);
  }
}

TEST(Binary, PowSquareIsExact) {
  ir::Tensor x = randomF({37}, 3);
  ir::Tensor out = run("Pow", {in(x), constant(F({2.f}, {}))});
  for (int i = 0; i < 37; ++i) EXPECT_EQ(out.as<float>()[i], x.as<float>()[i] * x.as<float>()[i]);
  // An integer exponent with a float base keeps the base's type.
  ir::Tensor cube = run("Pow", {in(F({2.f, -1.5f}, {2})), in(I64({3}, {1}))});
  EXPECT_EQ(cube.dtype(), DType::kFLOAT);
  expectClose(cube, {8.f, -3.375f});
}

TEST(Binary, Int64Math) {
  ir::Tensor a = I64({-7, 7, 9, std::numeric_limits<int64_t>::max(), 5, -8}, {6});
  ir::Tensor b = I64({2, -3, 0, 1, 5, 3}, {6});
  EXPECT_EQ(ints(run("Add", {in(a), in(b)})),
            (std::vector<int64_t>{-5, 4, 9, std::numeric_limits<int64_t>::min(), 10, -5}));  // wraps
  EXPECT_EQ(ints(run("Sub", {in(a), in(b)})), (std::vector<int64_t>{-9, 10, 9, std::numeric_limits<int64_t>::max() - 1, 0, -11}));
  EXPECT_EQ(ints(run("Mul", {in(a), in(b)})), (std::vector<int64_t>{-14, -21, 0, std::numeric_limits<int64_t>::max(), 25, -24}));
  // Truncating division; x / 0 is 0 instead of a trap.
  EXPECT_EQ(ints(run("Div", {in(a), in(b)})), (std::vector<int64_t>{-3, -2, 0, std::numeric_limits<int64_t>::max(), 1, -2}));
  // Python-style mod takes the divisor's sign, fmod the dividend's.
  EXPECT_EQ(ints(run("Mod", {in(a), in(b)})), (std::vector<int64_t>{1, -2, 0, 0, 0, 1}));
  EXPECT_EQ(ints(run("Mod", {in(a), in(b)}, {{"fmod", int64_t{1}}})), (std::vector<int64_t>{-1, 1, 0, 0, 0, -2}));
  EXPECT_EQ(ints(run("Max", {in(a), in(b)})), (std::vector<int64_t>{2, 7, 9, std::numeric_limits<int64_t>::max(), 5, 3}));
  EXPECT_EQ(ints(run("Min", {in(a), in(b)})), (std::vector<int64_t>{-7, -3, 0, 1, 5, -8}));
  EXPECT_EQ(ints(run("Pow", {in(I64({2, 3, 2, -1, 5}, {5})), in(I64({10, 0, -1, 3, 1}, {5}))})),
            (std::vector<int64_t>{1024, 1, 0, -1, 5}));
  // Broadcast with an int64 row vector: [2,3] + [3].
  ir::Tensor m = run("Add", {in(I64({1, 2, 3, 4, 5, 6}, {2, 3})), in(I64({10, 20, 30}, {3}))});
  EXPECT_EQ(m.dtype(), DType::kINT64);
  EXPECT_EQ(ints(m), (std::vector<int64_t>{11, 22, 33, 14, 25, 36}));
}

TEST(Binary, Int32Math) {
  ir::Tensor out = run("Mul", {in(I32({1, -2, 3, 4, 5, 6}, {3, 2})), in(I32({3, -1}, {2}))});
  EXPECT_EQ(out.dtype(), DType::kINT32);
  EXPECT_EQ(ints(out), (std::vector<int64_t>{3, 2, 9, -4, 15, -6}));
  EXPECT_EQ(ints(run("Div", {in(I32({-9, 9}, {2})), in(I32({4}, {}))})), (std::vector<int64_t>{-2, 2}));
}

TEST(Binary, FloatModFollowsFmodAttribute) {
  ir::Tensor a = F({-7.5f, 7.5f, -7.5f, 7.5f}, {4}), b = F({2.f, 2.f, -2.f, -2.f}, {4});
  expectClose(run("Mod", {in(a), in(b)}), {0.5f, 1.5f, -1.5f, -0.5f});
  expectClose(run("Mod", {in(a), in(b)}, {{"fmod", int64_t{1}}}), {-1.5f, 1.5f, -1.5f, 1.5f});
}

TEST(Binary, MaxMinPropagateNaN) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  ir::Tensor a = F({nan, 1.f, 3.f}, {3}), b = F({1.f, nan, 2.f}, {3});
  expectClose(run("Max", {in(a), in(b)}), {nan, nan, 3.f});
  expectClose(run("Min", {in(a), in(b)}), {nan, nan, 2.f});
}

TEST(Variadic, SumMeanMaxMinBroadcastOverAllInputs) {
  ir::Tensor a = randomF({2, 1, 3}, 1), b = randomF({4, 1}, 2), c = randomF({3}, 3);
  std::vector<int64_t> dims = {2, 4, 3};
  auto ref = [&](const std::function<float(float, float, float)>& f) {
    std::vector<float> r(24);
    forEachIndex(dims, [&](const std::vector<int64_t>& co, int64_t i) {
      r[i] = f(a.as<float>()[broadcastIndex(co, a.dims())], b.as<float>()[broadcastIndex(co, b.dims())],
               c.as<float>()[broadcastIndex(co, c.dims())]);
    });
    return r;
  };
  ir::Tensor sum = run("Sum", {in(a), in(b), in(c)});
  EXPECT_EQ(sum.dims(), dims);
  expectClose(sum, ref([](float x, float y, float z) { return x + y + z; }), 1e-6f);
  expectClose(run("Mean", {in(a), in(b), in(c)}), ref([](float x, float y, float z) { return (x + y + z) / 3; }), 1e-6f);
  expectClose(run("Max", {in(a), in(b), in(c)}), ref([](float x, float y, float z) { return std::max({x, y, z}); }), 0);
  expectClose(run("Min", {in(a), in(b), in(c)}), ref([](float x, float y, float z) { return std::min({x, y, z}); }), 0);
  // One input: the identity.
  ir::Tensor one = run("Sum", {in(a)});
  EXPECT_EQ(one.dims(), a.dims());
  expectClose(one, values(a), 0);
  EXPECT_EQ(ints(run("Max", {in(I64({1, 9}, {2})), in(I64({5}, {1})), in(I64({3, 2}, {2}))})),
            (std::vector<int64_t>{5, 9}));
}

TEST(Compare, BoolOutputsWithBroadcast) {
  ir::Tensor a = F({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3}), b = F({2.f, 5.f, 3.f}, {3});
  struct Case {
    const char* op;
    std::vector<int64_t> want;
  };
  for (const Case& c : {Case{"Equal", {0, 0, 1, 0, 1, 0}}, Case{"Less", {1, 1, 0, 0, 0, 0}},
                        Case{"LessOrEqual", {1, 1, 1, 0, 1, 0}}, Case{"Greater", {0, 0, 0, 1, 0, 1}},
                        Case{"GreaterOrEqual", {0, 0, 1, 1, 1, 1}}}) {
    SCOPED_TRACE(c.op);
    ir::Tensor out = run(c.op, {in(a), in(b)});
    EXPECT_EQ(out.dtype(), DType::kBOOL);
    EXPECT_EQ(out.dims(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(ints(out), c.want);
  }
  EXPECT_EQ(ints(run("Less", {in(I64({-5, 5, 0}, {3})), in(I64({0}, {}))})), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(ints(run("Equal", {in(I32({7, 8}, {2, 1})), in(I32({7, 8}, {1, 2}))})),
            (std::vector<int64_t>{1, 0, 0, 1}));
  EXPECT_EQ(ints(run("Equal", {in(B({1, 0, 1}, {3})), in(B({1}, {1}))})), (std::vector<int64_t>{1, 0, 1}));
}

TEST(Logic, TruthTablesWithBroadcast) {
  ir::Tensor a = B({0, 0, 1, 1}, {4, 1}), b = B({0, 1}, {2});
  EXPECT_EQ(ints(run("And", {in(a), in(b)})), (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 0, 1}));
  EXPECT_EQ(ints(run("Or", {in(a), in(b)})), (std::vector<int64_t>{0, 1, 0, 1, 1, 1, 1, 1}));
  EXPECT_EQ(ints(run("Xor", {in(a), in(b)})), (std::vector<int64_t>{0, 1, 0, 1, 1, 0, 1, 0}));
  EXPECT_EQ(run("Xor", {in(a), in(b)}).dtype(), DType::kBOOL);
}

TEST(Where, ThreeWayBroadcast) {
  ir::Tensor cond = B({1, 0, 1}, {3}), x = randomF({2, 1, 3}, 5), y = randomF({4, 1}, 6);
  ir::Tensor out = run("Where", {in(cond), in(x), in(y)});
  ASSERT_EQ(out.dims(), (std::vector<int64_t>{2, 4, 3}));
  std::vector<float> want(24);
  forEachIndex(out.dims(), [&](const std::vector<int64_t>& c, int64_t i) {
    want[i] = cond.as<uint8_t>()[broadcastIndex(c, cond.dims())] ? x.as<float>()[broadcastIndex(c, x.dims())]
                                                                 : y.as<float>()[broadcastIndex(c, y.dims())];
  });
  expectClose(out, want, 0);
  // int64 values, scalar condition.
  EXPECT_EQ(ints(run("Where", {in(B({0}, {})), in(I64({1, 2}, {2})), in(I64({7}, {1}))})),
            (std::vector<int64_t>{7, 7}));
  EXPECT_EQ(ints(run("Where", {in(B({1, 0}, {2, 1})), in(I64({1, 2}, {2})), in(I64({7}, {1}))})),
            (std::vector<int64_t>{1, 2, 7, 7}));
}

TEST(PRelu, SlopeBroadcastsToInput) {
  ir::Tensor x = randomF({2, 3, 4, 5}, 9), slope = F({0.1f, 0.2f, 0.3f}, {3, 1, 1});
  ir::Tensor out = run("PRelu", {in(x), constant(slope)});
  EXPECT_EQ(out.dims(), x.dims());
  expectClose(out, refBinary(x, slope, [](float v, float s) { return v < 0 ? s * v : v; }), 0);
  ir::Tensor scalar = run("PRelu", {in(x), constant(F({0.25f}, {1}))});
  expectClose(scalar, refBinary(x, F({0.25f}, {1}), [](float v, float s) { return v < 0 ? s * v : v; }), 0);
}

TEST(Binary, EmptyTensors) {
  ir::Tensor e(DType::kFLOAT, {0, 3});
  ir::Tensor sum = run("Add", {in(e), in(F({1.f, 2.f, 3.f}, {3}))});
  EXPECT_EQ(sum.dims(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(run("Sigmoid", {in(e)}).numel(), 0);
  EXPECT_EQ(run("Where", {in(B({1}, {1})), in(e), in(F({0.f}, {}))}).dims(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(run("Cast", {in(e)}, {{"to", int64_t{10}}}).dims(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(run("Sum", {in(e), in(e), in(F({1.f}, {1}))}).numel(), 0);
}

TEST(BinarySchema, KeepsSymbolicDims) {
  ir::Value out = inferOut("Add", {typed(DType::kFLOAT, {ir::Dim("N"), 3}), typed(DType::kFLOAT, {1, 3})});
  ASSERT_EQ(out.shape.size(), 2u);
  EXPECT_EQ(out.shape[0].symbol, "N");
  EXPECT_EQ(out.shape[1].value, 3);
  ir::Value cmp = inferOut("Less", {typed(DType::kINT64, {ir::Dim("N"), 1}), typed(DType::kINT64, {5})});
  EXPECT_EQ(cmp.dtype, DType::kBOOL);
  EXPECT_EQ(cmp.shape[1].value, 5);
  ir::Value w = inferOut("Where", {typed(DType::kBOOL, {ir::Dim("B"), 1, 1}), typed(DType::kINT32, {4, 1}),
                                   typed(DType::kINT32, {1, 6})});
  EXPECT_EQ(w.dtype, DType::kINT32);
  EXPECT_EQ(ir::toString(w.shape), "[B,4,6]");
}

TEST(BinarySchema, ErrorsNameTheNode) {
  expectSchemaError("Add", {typed(DType::kFLOAT, {2, 3}), typed(DType::kFLOAT, {4})}, {}, "cannot broadcast");
  expectSchemaError("Mul", {typed(DType::kFLOAT, {2, 3, 1, 5}), typed(DType::kFLOAT, {3, 4, 2})}, {},
                    "cannot broadcast");
  expectSchemaError("Sub", {typed(DType::kFLOAT, {2}), typed(DType::kINT64, {2})}, {}, "int64");
  expectSchemaError("And", {typed(DType::kFLOAT, {2}), typed(DType::kBOOL, {2})}, {}, "must be bool");
  expectSchemaError("Mod", {typed(DType::kINT64, {2}), typed(DType::kINT64, {2})}, {{"fmod", int64_t{2}}}, "fmod");
  expectSchemaError("Sum", {typed(DType::kFLOAT, {2}), typed(DType::kFLOAT, {3}), typed(DType::kFLOAT, {2})}, {},
                    "cannot broadcast");
  expectSchemaError("Where", {typed(DType::kFLOAT, {2}), typed(DType::kFLOAT, {2}), typed(DType::kFLOAT, {2})}, {},
                    "condition must be bool");
  expectSchemaError("PRelu", {typed(DType::kFLOAT, {2, 3, 4}), typed(DType::kFLOAT, {4, 1})}, {},
                    "does not broadcast");
  expectSchemaError("Add", {typed(DType::kFLOAT, {2})}, {}, "inputs");
}

}  // namespace
}  // namespace kiln::test
