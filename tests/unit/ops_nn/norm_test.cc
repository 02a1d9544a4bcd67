// BatchNormalization, LayerNormalization, Softmax, LogSoftmax: reference
// kernels against hand-computed values, and their schemas.
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

TEST(BatchNormRef, HandValues) {
  OpSpec s;
  s.op = "BatchNormalization";
  s.attrs["epsilon"] = 0.f;
  // Channel 0 holds [1, 2], channel 1 holds [3, 4].
  s.inputs = {dyn(floats({1, 2, 2, 1}, {1, 2, 3, 4})), cst(floats({2}, {1, 2})), cst(floats({2}, {0, 1})),
              cst(floats({2}, {1, 3})), cst(floats({2}, {4, 1}))};
  // ch0: (x - 1) / 2 * 1 + 0; ch1: (x - 3) / 1 * 2 + 1.
  EXPECT_TRUE(equals(runTactic(s, "BatchNormalization.ref")[0], {1, 2, 2, 1}, {0, 0.5f, 1, 3}));
  // Rank 2 (N x C) works too.
  s.inputs[0] = dyn(floats({2, 2}, {1, 3, 2, 4}));
  EXPECT_TRUE(equals(runTactic(s, "BatchNormalization.ref")[0], {2, 2}, {0, 1, 0.5f, 3}));
}

TEST(BatchNormSchema, Errors) {
  EXPECT_TRUE(throwsWith([] { inferShapes({"BatchNormalization", {}, {{1, 3, 4, 4}, {3}, {3}, {4}, {3}}}, "bn"); },
                         "BatchNormalization node \"bn\": mean has [4] elements, expected 3"));
  EXPECT_TRUE(throwsWith(
      [] { inferShapes({"BatchNormalization", {{"training_mode", int64_t{1}}}, {{1, 3}, {3}, {3}, {3}, {3}}}, "bn"); },
      "training_mode is not supported"));
}

TEST(LayerNormRef, HandValuesWithStatistics) {
  OpSpec s;
  s.op = "LayerNormalization";
  s.numOutputs = 3;
  s.inputs = {dyn(floats({2, 3}, {1, 2, 3, 2, 2, 2})), cst(floats({3}, {1, 2, 3})), cst(floats({3}, {0, 0, 1}))};
  auto y = runTactic(s, "LayerNormalization.ref");
  const float inv = 1.f / std::sqrt(2.f / 3.f + 1e-5f);
  EXPECT_TRUE(equals(y[0], {2, 3}, {-inv, 0, 3 * inv + 1, 0, 0, 1}));
  EXPECT_TRUE(equals(y[1], {2, 1}, {2, 2}));
  EXPECT_TRUE(equals(y[2], {2, 1}, {inv, 1.f / std::sqrt(1e-5f)}, 1e-2f));
}

TEST(LayerNormRef, AxisAndBroadcastScale) {
  // axis 1 of [2, 2, 2]: each batch's 4 values are normalized together; the
  // scale [2, 1] broadcasts over the last axis.
  OpSpec s;
  s.op = "LayerNormalization";
  s.attrs["axis"] = int64_t{1};
  s.attrs["epsilon"] = 0.f;
  s.inputs = {dyn(floats({2, 2, 2}, {0, 2, 4, 6, 1, 1, 3, 3})), cst(floats({2, 1}, {2, 1}))};
  auto y = runTactic(s, "LayerNormalization.ref");
  // Batch 0: mean 3, var 5 -> (x - 3) / sqrt(5); batch 1: mean 2, var 1.
  const float r = 1.f / std::sqrt(5.f);
  EXPECT_TRUE(equals(y[0], {2, 2, 2}, {-6 * r, -2 * r, 1 * r, 3 * r, -2, -2, 1, 1}));
}

TEST(LayerNormSchema, ShapesAndErrors) {
  auto shapes = inferShapes({"LayerNormalization", {{"axis", int64_t{-2}}},
                             {{ir::Dim(std::string("b")), 5, 8}, {5, 8}, {8}}, {}, 3});
  EXPECT_EQ(ir::toString(shapes[0]), "[b,5,8]");
  EXPECT_EQ(ir::toString(shapes[1]), "[b,1,1]");
  EXPECT_EQ(ir::toString(shapes[2]), "[b,1,1]");
  EXPECT_TRUE(throwsWith([] { inferShapes({"LayerNormalization", {}, {{2, 8}, {7}}}, "ln"); },
                         "LayerNormalization node \"ln\": scale [7] does not broadcast"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"LayerNormalization", {{"axis", int64_t{2}}}, {{2, 8}, {8}}}, "ln"); },
                         "axis 2 is out of range"));
}

TEST(SoftmaxRef, HandValues) {
  OpSpec s;
  s.op = "Softmax";
  s.inputs = {dyn(floats({3}, {1, 2, 3}))};
  EXPECT_TRUE(equals(runTactic(s, "Softmax.ref")[0], {3}, {0.09003057f, 0.24472847f, 0.66524096f}, 1e-6f));
  s.op = "LogSoftmax";
  EXPECT_TRUE(equals(runTactic(s, "LogSoftmax.ref")[0], {3}, {-2.40760596f, -1.40760596f, -0.40760596f}, 1e-6f));
  // Large values do not overflow (the maximum is subtracted first).
  s.op = "Softmax";
  s.inputs = {dyn(floats({2}, {1000, 1000}))};
  EXPECT_TRUE(equals(runTactic(s, "Softmax.ref")[0], {2}, {0.5f, 0.5f}));
}

TEST(SoftmaxRef, InnerAxis) {
  // axis 0 of a 2 x 3 tensor: softmax down each column.
  OpSpec s;
  s.op = "Softmax";
  s.attrs["axis"] = int64_t{0};
  s.inputs = {dyn(floats({2, 3}, {0, 1, 5, 0, 2, 5}))};
  const float a = 1.f / (1.f + std::exp(1.f));
  EXPECT_TRUE(equals(runTactic(s, "Softmax.ref")[0], {2, 3}, {0.5f, a, 0.5f, 0.5f, 1 - a, 0.5f}, 1e-6f));
  s.op = "LogSoftmax";
  EXPECT_TRUE(equals(runTactic(s, "LogSoftmax.ref")[0], {2, 3},
                     {std::log(0.5f), std::log(a), std::log(0.5f), std::log(0.5f), std::log(1 - a), std::log(0.5f)},
                     1e-6f));
}

TEST(SoftmaxSchema, Errors) {
  EXPECT_TRUE(throwsWith([] { inferShapes({"Softmax", {{"axis", int64_t{3}}}, {{2, 3}}}, "sm"); },
                         "Softmax node \"sm\": axis 3 is out of range for rank 2"));
  EXPECT_EQ(ir::toString(inferShapes({"Softmax", {}, {{ir::Dim(std::string("b")), 12, 128, 128}}})[0]), "[b,12,128,128]");
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(NormVec, LayerNormAgreesWithTheReference) {
  // Odd and vector-sized rows, with and without bias, a broadcast scale (the
  // reference row), mean / inv-std outputs, axis over two dims, batch > 1.
  uint32_t seed = 40;
  struct Case {
    std::vector<int64_t> dims, scaleDims;
    int64_t axis;
    bool bias;
  };
  for (const Case& c : {Case{{2, 5, 768}, {768}, -1, true}, Case{{3, 17}, {17}, -1, false}, Case{{1, 1}, {1}, -1, true},
                        Case{{4, 3, 7}, {3, 7}, 1, true}, Case{{2, 6, 33}, {33}, 2, true}, Case{{2, 4, 8}, {1, 8}, 1, true}}) {
    SCOPED_TRACE(ir::toString(c.dims));
    OpSpec s;
    s.op = "LayerNormalization";
    s.attrs["axis"] = c.axis;
    s.numOutputs = 3;
    s.inputs = {dyn(randomTensor(c.dims, seed++, -4.f, 6.f)), cst(randomTensor(c.scaleDims, seed++, -2.f, 2.f))};
    if (c.bias) s.inputs.push_back(cst(randomTensor(c.scaleDims, seed++)));
    EXPECT_EQ(compareWithRef(s, 3e-6f, 3e-6f), 1);
  }
}

TEST(NormVec, SoftmaxAgreesWithTheReference) {
  uint32_t seed = 70;
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{
             {1, 12, 128, 128}, {112, 1, 37}, {5, 1}, {3, 17}, {2, 3, 16}, {1, 1000}}) {
      SCOPED_TRACE(std::string(op) + " " + ir::toString(dims));
      OpSpec s;
      s.op = op;
      s.inputs = {dyn(randomTensor(dims, seed++, -15.f, 15.f))};
      // Log-probabilities near 0 are differences of O(max |x|) values: absolute tolerance.
      const bool log = std::string(op) == "LogSoftmax";
      EXPECT_EQ(compareWithRef(s, log ? 4e-6f : 1e-7f, 2e-6f), 1);
    }
    // Not over the last axis: the vector tactic declines.
    OpSpec inner;
    inner.op = op;
    inner.attrs["axis"] = int64_t{0};
    inner.inputs = {dyn(randomTensor({4, 3}, seed++))};
    EXPECT_EQ(compareWithRef(inner), 0);
  }
  // -inf entries give 0 probability; a row of one value gives 1.
  OpSpec s;
  s.op = "Softmax";
  s.inputs = {dyn(floats({2, 3}, {1.f, -std::numeric_limits<float>::infinity(), 2.f, 4.f, 4.f, 4.f}))};
  auto y = runTactic(s, "Softmax.vec");
  const float a = 1.f / (1.f + std::exp(1.f));
  EXPECT_TRUE(equals(y[0], {2, 3}, {a, 0.f, 1 - a, 1.f / 3, 1.f / 3, 1.f / 3}, 1e-7f));
}

}  // namespace
}  // namespace kiln::test
