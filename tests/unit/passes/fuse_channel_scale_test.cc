#include <gtest/gtest.h>

#include "ir/op_schema.h"
#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::opList;
using testing::randomTensor;

bool run(ir::Graph& g, bool cpu = true) {
  PassContext ctx;
  ctx.cpuFusions = cpu;
  return fuseChannelScale(g, ctx);
}

//! A squeeze-excitation gate: x [N, C, H, W] * sigmoid(pool(x)) [N, C, 1, 1], then a 1x1 Conv to k channels.
struct SeBlock {
  std::vector<int64_t> x;
  int64_t k;
  std::map<std::string, ir::Attribute> convAttrs;
  bool scaleFirst = false;  //!< Mul(scale, x) rather than Mul(x, scale)
  bool bias = true;
};

ir::Value* seBlock(Net& n, ir::Value* x, const SeBlock& b) {
  ir::Value* gate = n.node("Sigmoid", {n.node("GlobalAveragePool", {x})});
  ir::Value* scaled = b.scaleFirst ? n.node("Mul", {gate, x}) : n.node("Mul", {x, gate});
  std::vector<ir::Value*> in = {scaled, n.constant("w", randomTensor({b.k, b.x[1], 1, 1}, 5))};
  if (b.bias) in.push_back(n.constant("b", randomTensor({b.k}, 6)));
  return n.node("Conv", in, b.convAttrs, "proj");
}

TEST(FuseChannelScale, SqueezeExcitationBeforeAPointwiseConv) {
  for (bool scaleFirst : {false, true})
    for (bool bias : {true, false}) {
      const SeBlock b{{2, 6, 8, 9}, 5, {}, scaleFirst, bias};
      auto build = [&] {
        Net n;
        n.output(seBlock(n, n.input("x", b.x), b));
        return std::move(n.g);
      };
      auto g = testing::checkSameOutputs(build, [](ir::Graph& g) { EXPECT_TRUE(run(g)); },
                                         {{"x", randomTensor(b.x, 1)}});
      EXPECT_EQ(opList(*g), (std::vector<std::string>{"GlobalAveragePool", "Sigmoid", "KilnScaledConv"}));
      EXPECT_EQ(g->outputs[0]->name, "proj");
    }
}

TEST(FuseChannelScale, LeavesWhatTheScaledGemmCannotTakeOrWouldNotWin) {
  using V = std::vector<int64_t>;
  const std::vector<std::pair<SeBlock, const char*>> cases = {
      {{{1, 4, 8, 8}, 3, {{"strides", V{2, 2}}}}, "strided"},
      {{{1, 4, 8, 8}, 3, {{"kernel_shape", V{1, 1}}, {"pads", V{1, 1, 1, 1}}}}, "padded"},
      {{{1, 4, 3, 3}, 8, {}}, "plane 9 < 8 x 8 outputs: oneDNN after the Mul wins there"},
  };
  for (const auto& [b, why] : cases) {
    Net n;
    n.output(seBlock(n, n.input("x", b.x), b));
    EXPECT_FALSE(run(*n.g)) << why;
    EXPECT_EQ(opList(*n.g), (std::vector<std::string>{"GlobalAveragePool", "Sigmoid", "Mul", "Conv"})) << why;
  }
  {  // a 3x3 Conv
    Net n;
    ir::Value* x = n.input("x", {1, 4, 8, 8});
    ir::Value* gate = n.node("Sigmoid", {n.node("GlobalAveragePool", {x})});
    n.output(n.node("Conv", {n.node("Mul", {x, gate}), n.constant("w", randomTensor({3, 4, 3, 3}, 2))}));
    EXPECT_FALSE(run(*n.g));
  }
  {  // the scaled value has a second reader
    Net n;
    ir::Value* x = n.input("x", {1, 4, 8, 8});
    ir::Value* gate = n.node("Sigmoid", {n.node("GlobalAveragePool", {x})});
    ir::Value* scaled = n.node("Mul", {x, gate});
    n.output(n.node("Conv", {scaled, n.constant("w", randomTensor({3, 4, 1, 1}, 2))}));
    n.output(n.node("Relu", {scaled}));
    EXPECT_FALSE(run(*n.g));
  }
  {  // a constant scale (fold_batchnorm's business), and a device build
    Net n;
    ir::Value* x = n.input("x", {1, 4, 8, 8});
    ir::Value* s = n.constant("s", randomTensor({1, 4, 1, 1}, 3));
    n.output(n.node("Conv", {n.node("Mul", {x, s}), n.constant("w", randomTensor({3, 4, 1, 1}, 2))}));
    EXPECT_FALSE(run(*n.g));
    Net d;
    const SeBlock b{{1, 4, 8, 8}, 3, {}};
    d.output(seBlock(d, d.input("x", b.x), b));
    EXPECT_FALSE(run(*d.g, false));
  }
}

}  // namespace
}  // namespace kiln::passes
