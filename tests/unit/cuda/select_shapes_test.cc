// Host arithmetic of the CUDA Where and Split tactics, checked without a GPU:
// whereKernel's index walk (whereOffsets) and Split's 2-D copies are replayed
// on the host and compared with the CPU reference kernels.
#include <gtest/gtest.h>

#include <cstring>

#include "backends/cuda/backend.h"
#include "backends/cuda/ops/split.h"
#include "backends/cuda/ops/where_kernels.h"
#include "unit/cuda/select_test_util.h"

namespace kiln::test {
namespace {

using Dims = std::vector<int64_t>;

TEST(CudaSelectShapes, WhereOffsetsReproduceTheReference) {
  struct Case {
    Dims c, x, y;
  };
  for (const Case& k : std::vector<Case>{{{2, 3}, {2, 3}, {2, 3}},
                                         {{1, 4}, {3, 1}, {4}},
                                         {{}, {2, 5}, {}},
                                         {{2, 1, 1, 128}, {1}, {2, 12, 128, 128}},  // BERT's mask shape
                                         {{3, 1, 7}, {1, 5, 1}, {3, 5, 7}},
                                         {{0, 3}, {3}, {1}}}) {
    OpSpec s;
    s.op = "Where";
    s.inputs = {dyn(randomBools(k.c, 1)), dyn(randomTensor(k.x, 2)), dyn(randomTensor(k.y, 3))};
    ir::Tensor want = runTactic(s, "Where.ref")[0];
    cuda::kernels::WhereShape ws = cuda::kernels::whereShape(k.c, k.x, k.y, want.dims());
    const uint8_t* c = s.inputs[0].value.as<uint8_t>();
    const float *x = s.inputs[1].value.as<float>(), *y = s.inputs[2].value.as<float>();
    std::vector<float> got(want.numel());
    for (int64_t i = 0; i < want.numel(); ++i) {
      int64_t ic, ix, iy;
      cuda::kernels::whereOffsets(ws, i, &ic, &ix, &iy);
      got[i] = c[ic] ? x[ix] : y[iy];
    }
    EXPECT_TRUE(near(ir::Tensor::fromFloat(got, want.dims()), want, 0, 0))
        << ir::toString(k.c) << " ? " << ir::toString(k.x) << " : " << ir::toString(k.y);
  }
}

TEST(CudaSelectShapes, WhereRefusesOperandsThatDoNotBroadcast) {
  EXPECT_THROW(cuda::kernels::whereShape({3}, {4}, {4}, {4}), Error);
  EXPECT_THROW(cuda::kernels::whereShape({2, 4}, {4}, {4}, {4}), Error);
  EXPECT_THROW(cuda::kernels::whereShape({1}, {1}, Dims(9, 1), Dims(9, 1)), Error);
}

TEST(CudaSelectShapes, SplitCopiesReproduceTheReference) {
  struct Case {
    Dims in;
    int64_t axis;
    Dims parts;
  };
  for (const Case& k : std::vector<Case>{{{2, 8, 3, 3}, 1, {4, 4}},
                                         {{5, 7}, -1, {1, 2, 4}},
                                         {{3, 4, 5}, 0, {2, 1}},
                                         {{2, 6, 5}, -2, {0, 6}},
                                         {{7}, 0, {3, 4}}}) {
    OpSpec s;
    s.op = "Split";
    s.attrs["axis"] = k.axis;
    s.inputs = {dyn(randomTensor(k.in, 4)), cst(ints({static_cast<int64_t>(k.parts.size())}, k.parts))};
    s.numOutputs = static_cast<int>(k.parts.size());
    std::vector<ir::Tensor> want = runTactic(s, "Split.ref");
    std::vector<cuda::SplitCopy> copies = cuda::splitCopies(k.in, k.axis, k.parts, sizeof(float));
    ASSERT_EQ(copies.size(), want.size());
    const auto* src = static_cast<const uint8_t*>(s.inputs[0].value.data());
    for (std::size_t i = 0; i < copies.size(); ++i) {
      const cuda::SplitCopy& c = copies[i];
      ASSERT_EQ(c.widthBytes * c.rows, want[i].bytes()) << "output " << i;
      std::vector<float> got(want[i].numel());
      auto* dst = reinterpret_cast<uint8_t*>(got.data());
      for (std::size_t r = 0; r < c.rows; ++r)  // cudaMemcpy2D's rows, dense destination
        std::memcpy(dst + r * c.widthBytes, src + c.srcOffsetBytes + r * c.srcPitchBytes, c.widthBytes);
      EXPECT_TRUE(near(ir::Tensor::fromFloat(got, want[i].dims()), want[i], 0, 0))
          << ir::toString(k.in) << " axis " << k.axis << " output " << i;
    }
  }
}

TEST(CudaSelectShapes, SplitRefusesBadAxisAndParts) {
  EXPECT_THROW(cuda::splitCopies({2, 3}, 2, {1, 1}, 4), Error);
  EXPECT_THROW(cuda::splitCopies({2, 3}, -3, {1, 1}, 4), Error);
  EXPECT_THROW(cuda::splitCopies({2, 3}, 1, {1, 1}, 4), Error);  // sums to 2, not 3
}

bool cudaSupports(const OpSpec& spec, const std::string& tactic) {
  const backends::DeviceTactic* t = cuda::backend().findTactic(tactic);
  if (!t) throw Error("no CUDA tactic " + tactic);
  return t->supports(*buildGraph(spec).node);
}

OpSpec binarySpec(const std::string& op, ir::Tensor a, ir::Tensor b) {
  OpSpec s;
  s.op = op;
  s.inputs = {dyn(std::move(a)), dyn(std::move(b))};
  return s;
}

TEST(CudaSelectShapes, TacticsTakeTheirDtypesOnly) {
  for (DType t : {DType::kFLOAT, DType::kINT32, DType::kINT64})
    EXPECT_TRUE(cudaSupports(binarySpec("Less", smallInts(t, {2, 3}, 1), smallInts(t, {3}, 2)), "Less.cuda"));
  EXPECT_TRUE(cudaSupports(binarySpec("Equal", randomBools({4}, 1), randomBools({4}, 2)), "Equal.cuda"));
  EXPECT_FALSE(cudaSupports(binarySpec("Less", randomBools({4}, 1), randomBools({4}, 2)), "Less.cuda"));
  ir::Tensor h(DType::kHALF, {4});  // no FP16 comparison on the device yet (the launcher has it; no test)
  std::memset(h.mutableData(), 0, h.bytes());
  EXPECT_FALSE(cudaSupports(binarySpec("Less", h, h), "Less.cuda"));
  EXPECT_TRUE(cudaSupports(binarySpec("And", randomBools({2, 1}, 1), randomBools({3}, 2)), "And.cuda"));
  OpSpec w;
  w.op = "Where";
  w.inputs = {dyn(randomBools({3}, 1)), dyn(smallInts(DType::kINT64, {3}, 2)), dyn(smallInts(DType::kINT64, {1}, 3))};
  EXPECT_TRUE(cudaSupports(w, "Where.cuda"));
  OpSpec sp;
  sp.op = "Split";
  sp.attrs["axis"] = int64_t{-1};
  sp.inputs = {dyn(randomTensor({2, 6}, 1)), cst(ints({2}, {2, 4}))};
  sp.numOutputs = 2;
  EXPECT_TRUE(cudaSupports(sp, "Split.cuda"));
}

}  // namespace
}  // namespace kiln::test
