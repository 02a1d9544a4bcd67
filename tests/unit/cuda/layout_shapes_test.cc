// Host arithmetic of Transpose.tiled (backends/cuda/ops/layout.h): which perms
// are batched 2-D transposes, and the [batch, rows, cols] view of the input,
// replayed on the host against the CPU's Transpose.ref (runs without a GPU).
#include <gtest/gtest.h>

#include "backends/cuda/ops/layout.h"
#include "ir/ops/spatial.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::cuda {
namespace {

TEST(LayoutShapes, BatchedSplitRecognisesTheLayoutPerms) {
  BatchedSplit s;
  ASSERT_TRUE(batchedSplit({0, 2, 3, 1}, &s));  // NCHW -> NHWC
  EXPECT_EQ(s.b, 1);
  EXPECT_EQ(s.m, 2);
  ASSERT_TRUE(batchedSplit({0, 3, 1, 2}, &s));  // NHWC -> NCHW
  EXPECT_EQ(s.b, 1);
  EXPECT_EQ(s.m, 3);
  ASSERT_TRUE(batchedSplit({1, 0}, &s));
  EXPECT_EQ(s.b, 0);
  EXPECT_EQ(s.m, 1);
  ASSERT_TRUE(batchedSplit({0, 1, 3, 4, 2}, &s));
  EXPECT_EQ(s.b, 2);
  EXPECT_EQ(s.m, 3);
  EXPECT_TRUE(batchedSplit(ir::channelsLastPerm(5), &s));
  EXPECT_TRUE(batchedSplit(ir::channelsFirstPerm(5), &s));
  EXPECT_FALSE(batchedSplit({0, 1, 2, 3}, &s));  // identity
  EXPECT_FALSE(batchedSplit({0, 2, 1, 3}, &s));  // the innermost axis stays: not a 2-D transpose
  EXPECT_FALSE(batchedSplit({2, 0, 3, 1}, &s));
  EXPECT_FALSE(batchedSplit({}, &s));
}

//! y[b][j][i] = x[b][i][j] over the batched view: the kernel's index map, on the host.
std::vector<float> replay(const std::vector<float>& x, const Batched2d& t) {
  std::vector<float> y(x.size());
  for (int64_t b = 0; b < t.batch; ++b)
    for (int64_t i = 0; i < t.rows; ++i)
      for (int64_t j = 0; j < t.cols; ++j) y[(b * t.cols + j) * t.rows + i] = x[(b * t.rows + i) * t.cols + j];
  return y;
}

TEST(LayoutShapes, BatchedViewReplaysTransposeRef) {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{2, 3, 5, 7}, {0, 2, 3, 1}}, {{2, 5, 7, 3}, {0, 3, 1, 2}}, {{6, 11}, {1, 0}},
      {{2, 3, 4, 5, 3}, {0, 1, 3, 4, 2}}, {{1, 1, 9, 1}, {0, 2, 3, 1}}};
  for (const auto& [dims, perm] : cases) {
    BatchedSplit s;
    ASSERT_TRUE(batchedSplit(perm, &s));
    const Batched2d t = batched2d(s, dims.data(), static_cast<int>(dims.size()));
    test::OpSpec spec;
    spec.op = "Transpose";
    spec.attrs["perm"] = perm;
    ir::Tensor x = test::randomTensor(dims, 3);
    spec.inputs = {test::dyn(x)};
    const std::vector<float> want = test::runTactic(spec, "Transpose.ref")[0].toFloat();
    EXPECT_EQ(replay(x.toFloat(), t), want) << ir::toString(dims) << " perm " << ir::toString(perm);
  }
}

}  // namespace
}  // namespace kiln::cuda
