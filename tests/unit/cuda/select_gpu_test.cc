// The CUDA Where, Split, comparison, logic and Not tactics against the CPU
// reference kernels on edge shapes (scalars, odd sizes, broadcasting on every
// side, negative axes, batch > 1, empty tensors) and every supported dtype.
// Skipped, with the reason, where no GPU is present.
#include "unit/cuda/gpu_test_util.h"
#include "unit/cuda/select_test_util.h"

namespace kiln::test {
namespace {

using Dims = std::vector<int64_t>;

const std::vector<std::pair<Dims, Dims>>& broadcastPairs() {
  static const std::vector<std::pair<Dims, Dims>> pairs = {
      {{17}, {17}},       {{2, 3, 4}, {4}},   {{2, 1, 5}, {3, 1}},           {{}, {2, 3}},
      {{1}, {1031}},      {{0, 3}, {3}},      {{4, 1, 1, 3}, {1, 5, 7, 1}}, {{2, 1, 1, 128}, {2, 12, 128, 1}}};
  return pairs;
}

TEST(CudaLogical, ComparisonsMatchRef) {
  KILN_REQUIRE_GPU();
  for (const char* op : {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"})
    for (DType t : {DType::kFLOAT, DType::kINT32, DType::kINT64})
      for (const auto& [a, b] : broadcastPairs()) {
        OpSpec s;
        s.op = op;
        s.inputs = {dyn(smallInts(t, a, 1)), dyn(smallInts(t, b, 2))};
        expectMatchesRef(s, std::string(op) + ".cuda", 0, 0);
      }
  OpSpec e;  // Equal on bools
  e.op = "Equal";
  e.inputs = {dyn(randomBools({3, 5}, 1)), dyn(randomBools({5}, 2))};
  expectMatchesRef(e, "Equal.cuda", 0, 0);
}

TEST(CudaLogical, LargeInt64ComparesExactly) {
  KILN_REQUIRE_GPU();
  // Neighbours above 2^53 differ as int64 but not as float: the kernel must compare in int64.
  const int64_t big = (int64_t{1} << 53) + 1;
  OpSpec s;
  s.op = "Equal";
  s.inputs = {dyn(ints({3}, {big, big + 1, -big})), dyn(ints({3}, {big - 1, big + 1, -big}))};
  expectMatchesRef(s, "Equal.cuda", 0, 0);
  s.op = "Less";
  expectMatchesRef(s, "Less.cuda", 0, 0);
}

TEST(CudaLogical, LogicAndNotMatchRef) {
  KILN_REQUIRE_GPU();
  for (const char* op : {"And", "Or", "Xor"})
    for (const auto& [a, b] : broadcastPairs()) {
      OpSpec s;
      s.op = op;
      s.inputs = {dyn(randomBools(a, 3)), dyn(randomBools(b, 4))};
      expectMatchesRef(s, std::string(op) + ".cuda", 0, 0);
    }
  for (const Dims& d : std::vector<Dims>{{1}, {3, 5, 7}, {0, 2}, {1031}}) {
    OpSpec s;
    s.op = "Not";
    s.inputs = {dyn(randomBools(d, 5))};
    expectMatchesRef(s, "Not.cuda", 0, 0);
  }
}

TEST(CudaWhere, BroadcastingEveryOperandAndDtype) {
  KILN_REQUIRE_GPU();
  struct Case {
    Dims c, x, y;
  };
  const std::vector<Case> cases = {{{2, 3}, {2, 3}, {2, 3}},
                                   {{1, 4}, {3, 1}, {4}},
                                   {{}, {2, 5}, {}},
                                   {{2, 1, 1, 128}, {1}, {2, 12, 128, 128}},
                                   {{3, 1, 7}, {1, 5, 1}, {3, 5, 7}},
                                   {{1031}, {1031}, {1}},
                                   {{0, 3}, {3}, {1}}};
  for (DType t : {DType::kFLOAT, DType::kINT32, DType::kINT64, DType::kBOOL})
    for (const Case& k : cases) {
      OpSpec s;
      s.op = "Where";
      s.inputs = {dyn(randomBools(k.c, 1)), dyn(smallInts(t, k.x, 2)), dyn(smallInts(t, k.y, 3))};
      expectMatchesRef(s, "Where.cuda", 0, 0);
    }
  OpSpec half;  // a 2-byte element type (moved as bits)
  half.op = "Where";
  ir::Tensor x(DType::kHALF, {3, 4}), y(DType::kHALF, {4});
  for (int64_t i = 0; i < x.numel(); ++i) x.mutableAs<uint16_t>()[i] = static_cast<uint16_t>(0x3c00 + i);
  for (int64_t i = 0; i < y.numel(); ++i) y.mutableAs<uint16_t>()[i] = static_cast<uint16_t>(0xbc00 + i);
  half.inputs = {dyn(randomBools({3, 1}, 7)), dyn(x), dyn(y)};
  std::vector<ir::Tensor> got = runOnGpu(half, "Where.cuda");
  const uint8_t* c = half.inputs[0].value.as<uint8_t>();
  for (int64_t i = 0; i < 12; ++i)
    EXPECT_EQ(got[0].as<uint16_t>()[i], c[i / 4] ? x.as<uint16_t>()[i] : y.as<uint16_t>()[i % 4]) << i;
}

TEST(CudaSplit, AxesPartsAndBatch) {
  KILN_REQUIRE_GPU();
  struct Case {
    Dims in;
    int64_t axis;
    Dims parts;
  };
  for (const Case& k : std::vector<Case>{{{2, 8, 3, 3}, 1, {4, 4}},       // YOLO's C2f channel split, batch 2
                                         {{5, 7}, -1, {1, 2, 4}},
                                         {{3, 4, 5}, 0, {2, 1}},
                                         {{2, 6, 5}, -2, {0, 6}},           // an empty output
                                         {{4, 33, 17}, 2, {16, 1}},         // odd widths
                                         {{2, 6, 5, 32}, -1, {8, 16, 8}},   // channels-last: 16-byte words
                                         {{3, 40}, 1, Dims(20, 2)}}) {      // 20 outputs: two launches
    OpSpec s;
    s.op = "Split";
    s.attrs["axis"] = k.axis;
    s.inputs = {dyn(randomTensor(k.in, 4)), cst(ints({static_cast<int64_t>(k.parts.size())}, k.parts))};
    s.numOutputs = static_cast<int>(k.parts.size());
    expectMatchesRef(s, "Split.cuda", 0, 0);
  }
  OpSpec i64;  // another dtype, opset-18 num_outputs form
  i64.op = "Split";
  i64.attrs["axis"] = int64_t{0};
  i64.attrs["num_outputs"] = int64_t{3};
  i64.inputs = {dyn(smallInts(DType::kINT64, {7, 3}, 5))};
  i64.numOutputs = 3;
  expectMatchesRef(i64, "Split.cuda", 0, 0);
}

}  // namespace
}  // namespace kiln::test
