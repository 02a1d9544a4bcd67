// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: reference kernels
// against hand-computed losses (every reduction, weights, ignore_index,
// int32 / int64 targets, spatial dims, batch > 1), SCE against LogSoftmax.ref
// + NLL, and the schemas' errors.
#include <optional>

#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

ir::Tensor int32s(std::vector<int64_t> dims, std::vector<int32_t> values) {
  ir::Tensor t(DType::kINT32, std::move(dims));
  for (std::size_t i = 0; i < values.size(); ++i) t.mutableAs<int32_t>()[i] = values[i];
  return t;
}

OpSpec loss(const std::string& op, ir::Tensor x, ir::Tensor target, const std::string& reduction,
            std::optional<ir::Tensor> weight = std::nullopt) {
  OpSpec s;
  s.op = op;
  s.attrs["reduction"] = reduction;
  s.inputs = {dyn(std::move(x)), dyn(std::move(target))};
  if (weight) s.inputs.push_back(cst(*weight));
  return s;
}

const ir::Tensor& logProbs2x3() {  // N = 2, C = 3
  static const ir::Tensor t = floats({2, 3}, {-1.f, -2.f, -3.f, -0.5f, -1.5f, -2.5f});
  return t;
}

TEST(NllLossRef, ReductionsOn2D) {
  const char* op = "NegativeLogLikelihoodLoss";
  const ir::Tensor target = ints({2}, {0, 2});
  EXPECT_TRUE(equals(runTactic(loss(op, logProbs2x3(), target, "none"), op + std::string(".ref"))[0], {2}, {1.f, 2.5f}));
  EXPECT_TRUE(equals(runTactic(loss(op, logProbs2x3(), target, "sum"), op + std::string(".ref"))[0], {}, {3.5f}));
  EXPECT_TRUE(equals(runTactic(loss(op, logProbs2x3(), target, "mean"), op + std::string(".ref"))[0], {}, {1.75f}));
  // Weighted mean divides by the targets' weights: (1 * 1 + 3 * 2.5) / (1 + 3).
  const ir::Tensor w = floats({3}, {1, 2, 3});
  EXPECT_TRUE(equals(runTactic(loss(op, logProbs2x3(), target, "mean", w), op + std::string(".ref"))[0], {}, {8.5f / 4}));
  EXPECT_TRUE(equals(runTactic(loss(op, logProbs2x3(), target, "none", w), op + std::string(".ref"))[0], {2}, {1.f, 7.5f}));
}

TEST(NllLossRef, SpatialInt32TargetsAndIgnoreIndex) {
  // N = 2, C = 2, d1 = 3: input[n, c, d] = -(n * 10 + c * 3 + d + 1).
  ir::Tensor x(DType::kFLOAT, {2, 2, 3});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t d = 0; d < 3; ++d) x.mutableAs<float>()[(n * 2 + c) * 3 + d] = -static_cast<float>(n * 10 + c * 3 + d + 1);
  const ir::Tensor target = int32s({2, 3}, {0, 1, -1, 1, -1, 0});
  OpSpec s = loss("NegativeLogLikelihoodLoss", x, target, "none");
  s.attrs["ignore_index"] = int64_t{-1};
  // Kept: (0,0)->c0: 1; (0,1)->c1: 5; (1,0)->c1: 14; (1,2)->c0: 13.
  EXPECT_TRUE(equals(runTactic(s, "NegativeLogLikelihoodLoss.ref")[0], {2, 3}, {1, 5, 0, 14, 0, 13}));
  s.attrs["reduction"] = std::string("mean");
  EXPECT_TRUE(equals(runTactic(s, "NegativeLogLikelihoodLoss.ref")[0], {}, {33.f / 4}));
  // Every target ignored: mean is 0 / 0.
  s.inputs[1] = dyn(int32s({2, 3}, {-1, -1, -1, -1, -1, -1}));
  EXPECT_TRUE(std::isnan(runTactic(s, "NegativeLogLikelihoodLoss.ref")[0].as<float>()[0]));
}

TEST(NllLossRef, TargetOutOfRangeIsAnError) {
  OpSpec s = loss("NegativeLogLikelihoodLoss", logProbs2x3(), ints({2}, {0, 3}), "sum");
  EXPECT_TRUE(throwsWith([&] { runTactic(s, "NegativeLogLikelihoodLoss.ref"); },
                         "target 3 at position 1 is not a class index in [0, 3)"));
}

TEST(SoftmaxCrossEntropyRef, MatchesLogSoftmaxThenNll) {
  // N = 3, C = 4, d1 = 5, with weights and ignore_index 2.
  const ir::Tensor x = randomTensor({3, 4, 5}, 7, -3.f, 3.f);
  std::vector<int64_t> t(15);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int64_t>((i * 7) % 4);
  const ir::Tensor target = ints({3, 5}, t);
  const ir::Tensor w = floats({4}, {0.5f, 1.f, 2.f, 4.f});
  OpSpec ls;
  ls.op = "LogSoftmax";
  ls.attrs["axis"] = int64_t{1};
  ls.inputs = {dyn(x)};
  const ir::Tensor logProb = runTactic(ls, "LogSoftmax.ref")[0];
  for (const char* reduction : {"none", "sum", "mean"}) {
    OpSpec sce = loss("SoftmaxCrossEntropyLoss", x, target, reduction, w);
    sce.attrs["ignore_index"] = int64_t{2};
    sce.numOutputs = 2;
    OpSpec nll = loss("NegativeLogLikelihoodLoss", logProb, target, reduction, w);
    nll.attrs["ignore_index"] = int64_t{2};
    const auto got = runTactic(sce, "SoftmaxCrossEntropyLoss.ref");
    EXPECT_TRUE(near(got[0], runTactic(nll, "NegativeLogLikelihoodLoss.ref")[0], 1e-5f, 1e-5f)) << reduction;
    EXPECT_TRUE(near(got[1], logProb, 1e-5f, 1e-5f)) << reduction;
  }
  // Without the log_prob output and without weights.
  OpSpec sce = loss("SoftmaxCrossEntropyLoss", x, target, "sum");
  OpSpec nll = loss("NegativeLogLikelihoodLoss", logProb, target, "sum");
  EXPECT_TRUE(near(runTactic(sce, "SoftmaxCrossEntropyLoss.ref")[0], runTactic(nll, "NegativeLogLikelihoodLoss.ref")[0],
                   1e-4f, 1e-5f));
}

// Output shapes of a loss node with float scores, integer targets (of
// `targetType`) and optional float weights of the given shapes.
std::vector<ir::Shape> lossShapes(const std::string& op, ir::Shape x, ir::Shape target,
                                  std::map<std::string, ir::Attribute> attrs = {}, int numOutputs = 1,
                                  std::optional<ir::Shape> weight = std::nullopt, DType targetType = DType::kINT64) {
  ir::Graph g;
  std::vector<ir::Value*> ins{g.addValue("x", DType::kFLOAT, std::move(x)), g.addValue("t", targetType, std::move(target))};
  if (weight) ins.push_back(g.addValue("w", DType::kFLOAT, *weight));
  std::vector<ir::Value*> outs;
  for (int i = 0; i < numOutputs; ++i) outs.push_back(g.addValue("y" + std::to_string(i)));
  ir::Node* node = g.addNode(op, "loss", ins, outs);
  node->attrs = std::move(attrs);
  ir::inferNode(*node);
  std::vector<ir::Shape> result;
  for (ir::Value* o : outs) result.push_back(o->shape);
  return result;
}

TEST(LossSchema, ShapesAndErrors) {
  const ir::Dim n(std::string("n"));
  auto shapes = lossShapes("SoftmaxCrossEntropyLoss", {n, 4, 5, 6}, {n, 5, 6}, {{"reduction", std::string("none")}}, 2);
  EXPECT_EQ(ir::toString(shapes[0]), "[n,5,6]");
  EXPECT_EQ(ir::toString(shapes[1]), "[n,4,5,6]");
  EXPECT_EQ(ir::toString(lossShapes("NegativeLogLikelihoodLoss", {2, 3}, {2}, {}, 1, std::nullopt, DType::kINT32)[0]),
            "[]");
  const char* nll = "NegativeLogLikelihoodLoss";
  EXPECT_TRUE(throwsWith([&] { lossShapes(nll, {2, 3, 4}, {2}); },
                         "NegativeLogLikelihoodLoss node \"loss\": target has rank 1, expected 2"));
  EXPECT_TRUE(throwsWith([&] { lossShapes(nll, {2, 3, 4}, {2, 5}); }, "does not match input [2,3,4]"));
  EXPECT_TRUE(throwsWith([&] { lossShapes(nll, {2, 3}, {2}, {}, 1, ir::Shape{4}); },
                         "weight has 4 elements, input has 3 classes"));
  EXPECT_TRUE(throwsWith([&] { lossShapes(nll, {2, 3}, {2}, {{"reduction", std::string("avg")}}); },
                         "attribute 'reduction' is 'avg'; expected 'none', 'sum' or 'mean'"));
  EXPECT_TRUE(throwsWith([&] { lossShapes(nll, {2, 3}, {2}, {}, 1, std::nullopt, DType::kFLOAT); },
                         "target is float32; expected int32 or int64"));
  EXPECT_TRUE(throwsWith([&] { lossShapes(nll, {3}, {}); }, "input has rank 1, expected N x C x d1..dk"));
}

}  // namespace
}  // namespace kiln::test
