#include <gtest/gtest.h>

#include "ir/op_schema.h"
#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::opList;
using testing::randomTensor;

bool run(ir::Graph& g, bool enabled = true) {
  PassContext ctx;
  ctx.patchifyConv = enabled;
  return patchifyConv(g, ctx);
}

ir::Value* patchConv(Net& n, ir::Value* x, int64_t m, int64_t c, int64_t kh, int64_t kw, bool bias) {
  std::vector<ir::Value*> in = {x, n.constant("w", randomTensor({m, c, kh, kw}, 7))};
  if (bias) in.push_back(n.constant("b", randomTensor({m}, 8)));
  return n.node("Conv", in, {{"kernel_shape", std::vector<int64_t>{kh, kw}}, {"strides", std::vector<int64_t>{kh, kw}}},
                "conv");
}

TEST(PatchifyConv, ViTPatchEmbeddingStraightToTokens) {
  // ViT: Conv 4x4 stride 4 -> Reshape [N, M, Ho*Wo] -> Transpose(0,2,1) -> tokens [N, Ho*Wo, M]; batch 2, 3 channels.
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {2, 3, 12, 8});
    ir::Value* y = patchConv(n, x, 5, 3, 4, 4, true);
    ir::Value* flat = n.node("Reshape", {y, n.ints("flat", {2, 5, 6})});
    n.output(n.node("Transpose", {flat}, {{"perm", std::vector<int64_t>{0, 2, 1}}}, "tokens"));
    return std::move(n.g);
  };
  auto g = testing::checkSameOutputs(build, [](ir::Graph& g) { EXPECT_TRUE(run(g)); },
                                     {{"x", randomTensor({2, 3, 12, 8}, 1)}});
  EXPECT_EQ(opList(*g), (std::vector<std::string>{"Reshape", "Transpose", "Reshape", "MatMul", "Add"}));
  EXPECT_EQ(g->outputs[0]->name, "tokens");  // the graph output keeps its name
}

TEST(PatchifyConv, OtherReadersGetTheNchwOutputBack) {
  // Non-square kernel, no bias, the output read by a Relu: the MatMul's rows go back to [N, M, Ho, Wo].
  auto build = [] {
    Net n;
    ir::Value* x = n.input("x", {3, 2, 6, 9});
    n.output(n.node("Relu", {patchConv(n, x, 4, 2, 2, 3, false)}, {}, "y"));
    return std::move(n.g);
  };
  auto g = testing::checkSameOutputs(build, [](ir::Graph& g) { EXPECT_TRUE(run(g)); },
                                     {{"x", randomTensor({3, 2, 6, 9}, 2)}});
  EXPECT_EQ(opList(*g),
            (std::vector<std::string>{"Reshape", "Transpose", "Reshape", "MatMul", "Reshape", "Transpose", "Relu"}));
}

TEST(PatchifyConv, LeavesOverlappingPaddedGroupedAndRaggedConvs) {
  struct Case {
    std::map<std::string, ir::Attribute> attrs;
    std::vector<int64_t> x;
    int64_t group;
    const char* why;
  };
  const std::vector<Case> cases = {
      {{{"strides", std::vector<int64_t>{2, 2}}}, {1, 2, 8, 8}, 1, "stride below the kernel: patches overlap"},
      {{{"strides", std::vector<int64_t>{4, 4}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}}, {1, 2, 8, 8}, 1, "padded"},
      {{{"strides", std::vector<int64_t>{4, 4}}}, {1, 2, 9, 8}, 1, "H not a multiple of the kernel"},
      {{{"strides", std::vector<int64_t>{4, 4}}}, {1, 2, 8, 8}, 2, "grouped"},
      {{{"strides", std::vector<int64_t>{4, 4}}, {"dilations", std::vector<int64_t>{2, 2}}}, {1, 2, 16, 16}, 1,
       "dilated"},
  };
  for (const Case& c : cases) {
    Net n;
    ir::Value* x = n.input("x", c.x);
    std::map<std::string, ir::Attribute> attrs = c.attrs;
    attrs["group"] = c.group;
    n.output(n.node("Conv", {x, n.constant("w", randomTensor({4, 2 / c.group, 4, 4}, 3))}, attrs));
    EXPECT_FALSE(run(*n.g)) << c.why;
    EXPECT_EQ(opList(*n.g), std::vector<std::string>{"Conv"}) << c.why;
  }
  // A 1x1 Conv (kernel == stride == 1) is left to the Conv tactics, and the pass can be turned off.
  Net one;
  one.output(patchConv(one, one.input("x", {1, 3, 4, 4}), 2, 3, 1, 1, false));
  EXPECT_FALSE(run(*one.g));
  Net off;
  off.output(patchConv(off, off.input("x", {1, 3, 8, 8}), 2, 3, 4, 4, false));
  EXPECT_FALSE(run(*off.g, false));
}

TEST(PatchifyConv, DynamicBatchKeepsItsDim) {
  // N dynamic: the Reshapes copy dim 0 (shape value 0), so one graph serves every batch.
  Net n;
  ir::Value* x = n.g->addValue("x", DType::kFLOAT, ir::Shape{ir::Dim(std::string("N")), 3, 8, 8});
  n.g->inputs.push_back(x);
  n.output(patchConv(n, x, 6, 3, 4, 4, true));
  EXPECT_TRUE(run(*n.g));
  n.g->topoSort();
  ir::inferGraph(*n.g);
  const ir::Shape& y = n.g->outputs[0]->shape;
  ASSERT_EQ(y.size(), 4u);
  EXPECT_FALSE(y[0].known());
  EXPECT_EQ(y[1].value, 6);
  EXPECT_EQ(y[2].value, 2);
  EXPECT_EQ(y[3].value, 2);
}

}  // namespace
}  // namespace kiln::passes
