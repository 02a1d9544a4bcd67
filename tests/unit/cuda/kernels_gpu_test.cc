// Each CUDA tactic against the CPU reference kernel on edge shapes (1, odd,
// prime, larger than a block, broadcast, padded, strided, grouped, batch > 1).
// Skipped, with the reason, where no GPU is present: these have not run yet.
#include "unit/cuda/gpu_test_util.h"

namespace kiln::test {
namespace {

using Dims = std::vector<int64_t>;

OpSpec unarySpec(const std::string& op, std::vector<int64_t> dims, uint32_t seed) {
  OpSpec s;
  s.op = op;
  s.inputs.push_back(dyn(randomTensor(std::move(dims), seed, -3.f, 3.f)));
  return s;
}

TEST(CudaElementwise, UnaryOpsMatchRef) {
  KILN_REQUIRE_GPU();
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "Gelu", "Erf", "Exp", "Neg", "Abs", "LeakyRelu", "HardSwish"})
    for (auto dims : std::vector<std::vector<int64_t>>{{1}, {3, 5, 7}, {2, 1031}, {0, 4}})
      expectMatchesRef(unarySpec(op, dims, 7), std::string(op) + ".cuda");
}

TEST(CudaElementwise, ClipWithConstantBounds) {
  KILN_REQUIRE_GPU();
  OpSpec s = unarySpec("Clip", {4, 33}, 3);
  s.inputs.push_back(cst(floats({}, {-0.5f})));
  s.inputs.push_back(cst(floats({}, {1.25f})));
  expectMatchesRef(s, "Clip.cuda");
  s.inputs[1] = none();  // only a max
  expectMatchesRef(s, "Clip.cuda");
}

TEST(CudaElementwise, BinaryBroadcasting) {
  KILN_REQUIRE_GPU();
  const std::vector<std::pair<Dims, Dims>> shapes = {
      {{17}, {17}}, {{2, 3, 4}, {4}}, {{2, 1, 5}, {3, 1}}, {{1}, {2, 3}}, {{4, 1, 1, 3}, {1, 5, 7, 1}}, {{0, 3}, {3}}};
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"})
    for (const auto& [a, b] : shapes) {
      OpSpec s;
      s.op = op;
      s.inputs = {dyn(randomTensor(a, 1)), dyn(randomTensor(b, 2, 0.5f, 2.f))};
      expectMatchesRef(s, std::string(op) + ".cuda");
    }
}

TEST(CudaSoftmax, AxesAndLongRows) {
  KILN_REQUIRE_GPU();
  for (auto [dims, axis] : std::vector<std::pair<std::vector<int64_t>, int64_t>>{
           {{3, 7}, -1}, {{2, 5, 3}, 1}, {{2, 1000}, 1}, {{1}, 0}, {{4, 3, 2}, 0}}) {
    OpSpec s = unarySpec("Softmax", dims, 5);
    s.attrs["axis"] = axis;
    expectMatchesRef(s, "Softmax.cuda", 1e-5f, 1e-4f);
  }
}

TEST(CudaPool, MaxAndAverageWithPadsStridesCeil) {
  KILN_REQUIRE_GPU();
  for (const char* op : {"MaxPool", "AveragePool"}) {
    OpSpec s = unarySpec(op, {2, 3, 9, 9}, 4);
    s.attrs["kernel_shape"] = std::vector<int64_t>{3, 3};
    s.attrs["strides"] = std::vector<int64_t>{2, 2};
    s.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
    expectMatchesRef(s, std::string(op) + ".cuda");
    s.attrs["ceil_mode"] = int64_t{1};
    s.inputs[0] = dyn(randomTensor({1, 2, 10, 7}, 9));
    expectMatchesRef(s, std::string(op) + ".cuda");
    if (std::string(op) == "AveragePool") {
      s.attrs["count_include_pad"] = int64_t{1};
      expectMatchesRef(s, "AveragePool.cuda");
    }
  }
  OpSpec g = unarySpec("GlobalAveragePool", {2, 5, 7, 7}, 6);
  expectMatchesRef(g, "GlobalAveragePool.cuda");
  g.inputs[0] = dyn(randomTensor({1, 3, 33, 31}, 8));
  expectMatchesRef(g, "GlobalAveragePool.cuda");
}

TEST(CudaTensor, TransposeConcatReshape) {
  KILN_REQUIRE_GPU();
  OpSpec t = unarySpec("Transpose", {2, 3, 4, 5}, 1);
  t.attrs["perm"] = std::vector<int64_t>{2, 0, 3, 1};
  expectMatchesRef(t, "Transpose.cuda", 0, 0);
  t.attrs.erase("perm");  // reversed axes
  expectMatchesRef(t, "Transpose.cuda", 0, 0);

  OpSpec c;
  c.op = "Concat";
  c.attrs["axis"] = int64_t{1};
  c.inputs = {dyn(randomTensor({2, 3, 4}, 1)), dyn(randomTensor({2, 1, 4}, 2)), dyn(randomTensor({2, 5, 4}, 3))};
  expectMatchesRef(c, "Concat.cuda", 0, 0);
  c.attrs["axis"] = int64_t{-1};
  c.inputs = {dyn(randomTensor({3, 2}, 1)), dyn(randomTensor({3, 7}, 2))};
  expectMatchesRef(c, "Concat.cuda", 0, 0);

  // Channels-last concats (16-byte words: 8 and 16 FP16 channels per pixel), and 18 inputs
  // of odd widths: more than one launch's kMaxRowPieces, 4-byte words.
  c.inputs = {dyn(randomTensor({2, 5, 7, 8}, 1).castTo(DType::kHALF)),
              dyn(randomTensor({2, 5, 7, 16}, 2).castTo(DType::kHALF))};
  expectMatchesRef(c, "Concat.cuda", 0, 0);
  c.inputs.clear();
  for (uint32_t i = 0; i < 18; ++i) c.inputs.push_back(dyn(randomTensor({3, 1 + int64_t(i % 4)}, 10 + i)));
  expectMatchesRef(c, "Concat.cuda", 0, 0);
  c.attrs["axis"] = int64_t{0};  // whole-tensor pieces: one row
  c.inputs = {dyn(randomTensor({1, 3}, 1)), dyn(randomTensor({4, 3}, 2))};
  expectMatchesRef(c, "Concat.cuda", 0, 0);

  OpSpec r;
  r.op = "Reshape";
  r.inputs = {dyn(randomTensor({2, 3, 4}, 1)), cst(ints({2}, {4, 6}))};
  expectMatchesRef(r, "Reshape.cuda", 0, 0);
}

TEST(CudaGemm, MatMulShapes) {
  KILN_REQUIRE_GPU();
  for (const auto& [a, b] : std::vector<std::pair<Dims, Dims>>{{{3, 5}, {5, 7}},
                                                                {{1, 1}, {1, 1}},
                                                                {{2, 3, 5}, {5, 4}},
                                                                {{2, 3, 5}, {2, 5, 4}},
                                                                {{1, 3, 5}, {4, 5, 2}},
                                                                {{65, 129}, {129, 33}}}) {
    OpSpec s;
    s.op = "MatMul";
    s.inputs = {dyn(randomTensor(a, 1)), dyn(randomTensor(b, 2))};
    expectMatchesRef(s, "MatMul.cublaslt", 1e-4f, 1e-3f);
  }
}

TEST(CudaGemm, GemmTransposesBiasAndEpilogues) {
  KILN_REQUIRE_GPU();
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (const char* act : {"", "Relu"}) {
        OpSpec s;
        s.op = "Gemm";
        s.attrs["transA"] = int64_t{ta};
        s.attrs["transB"] = int64_t{tb};
        s.attrs["alpha"] = 0.75f;
        if (*act) s.attrs["kiln_act"] = std::string(act);
        const int64_t m = 5, k = 7, n = 3;
        s.inputs = {dyn(randomTensor(ta ? Dims{k, m} : Dims{m, k}, 1)), cst(randomTensor(tb ? Dims{n, k} : Dims{k, n}, 2)),
                    cst(randomTensor({n}, 3))};
        expectMatchesRef(s, "Gemm.cublaslt", 1e-4f, 1e-3f);
      }
  OpSpec full;  // a full C with beta
  full.op = "Gemm";
  full.attrs["beta"] = 0.5f;
  full.inputs = {dyn(randomTensor({4, 6}, 1)), cst(randomTensor({6, 9}, 2)), cst(randomTensor({4, 9}, 3))};
  expectMatchesRef(full, "Gemm.cublaslt", 1e-4f, 1e-3f);
}

TEST(CudaConv, BiasActivationResidualGroupsStrides) {
  KILN_REQUIRE_GPU();
  const std::vector<ConvCase> cases = {
      {{1, 3, 8, 8}, {4, 3, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, false, "Relu"},      // cuDNN fused path
      {{2, 3, 9, 7}, {5, 3, 3, 3}, {0, 0, 0, 0}, {2, 2}, {1, 1}, 1, false, false, ""},         // strided, no bias
      {{1, 4, 11, 11}, {6, 2, 3, 3}, {2, 2, 2, 2}, {1, 1}, {2, 2}, 2, true, true, "Sigmoid"},  // groups, dilation, residual
      {{2, 8, 5, 5}, {8, 1, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 8, true, true, "Relu"},       // depthwise + residual
      {{2, 16, 10, 9}, {24, 16, 1, 1}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 1, true, true, "Silu"},    // 1x1, SiLU epilogue
      {{1, 5, 9, 9}, {7, 5, 3, 3}, {0, 0, 1, 1}, {2, 2}, {1, 1}, 1, true, false, "Tanh"},      // asymmetric padding
  };
  for (const ConvCase& c : cases)
    for (const char* tactic : {"Conv.cudnn", "Conv.cudnn_graph"}) {
      if (c.pads[0] != c.pads[2] && std::string(tactic) == "Conv.cudnn") continue;  // the legacy API pads symmetrically
      const OpSpec s = convSpec(c);
      expectMatchesRef(s, tactic, 1e-4f, 1e-3f);
    }
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(CudaTransformerOps, GatherLayerNormCastReduce) {
  KILN_REQUIRE_GPU();
  for (int64_t axis : {0, 1, -1}) {
    OpSpec g;
    g.op = "Gather";
    g.attrs["axis"] = axis;
    g.inputs = {dyn(randomTensor({5, 4, 3}, 1)), cst(ints({2, 3}, {0, -1, 2, 1, 2, 0}))};
    expectMatchesRef(g, "Gather.cuda", 0, 0);
  }
  for (auto [dims, axis] : std::vector<std::pair<Dims, int64_t>>{{{2, 7, 33}, -1}, {{3, 4, 5}, 1}, {{1, 1000}, -1}}) {
    OpSpec ln;
    ln.op = "LayerNormalization";
    ln.attrs["axis"] = axis;
    ln.attrs["epsilon"] = 1e-5f;
    Dims norm(dims.begin() + (axis < 0 ? axis + dims.size() : axis), dims.end());
    ln.inputs = {dyn(randomTensor(dims, 1)), cst(randomTensor(norm, 2)), cst(randomTensor(norm, 3))};
    expectMatchesRef(ln, "LayerNormalization.cuda", 1e-4f, 1e-4f);
  }
  OpSpec c;
  c.op = "Cast";
  c.attrs["to"] = int64_t{1};  // FLOAT
  c.inputs = {dyn(ints({2, 5}, {0, 1, -3, 7, 1, 0, 0, 1, 2, 9}))};
  expectMatchesRef(c, "Cast.cuda", 0, 0);
  for (const Dims& axes : std::vector<Dims>{{1}, {-1}, {1, 2}, {0}}) {
    OpSpec r;
    r.op = "ReduceMean";
    r.attrs["keepdims"] = int64_t{0};
    r.inputs = {dyn(randomTensor({3, 4, 5}, 4)), cst(ints({int64_t(axes.size())}, axes))};
    expectMatchesRef(r, "ReduceMean.cuda", 1e-5f, 1e-4f);
  }
}

TEST(CudaGemm, ActivationWithoutAnEpilogueRunsAfter) {
  KILN_REQUIRE_GPU();
  OpSpec s;
  s.op = "MatMul";
  s.attrs["kiln_act"] = std::string("Gelu");  // erf GELU: cuBLASLt's epilogue is the tanh form
  s.inputs = {dyn(randomTensor({2, 3, 8}, 1)), cst(randomTensor({8, 5}, 2)), cst(randomTensor({5}, 3))};
  expectMatchesRef(s, "MatMul.cublaslt", 1e-4f, 1e-3f);
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(CudaResize, NearestModes) {
  KILN_REQUIRE_GPU();
  for (const char* coord : {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn"})
    for (const char* nearest : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
      OpSpec s;
      s.op = "Resize";
      s.attrs["mode"] = std::string("nearest");
      s.attrs["coordinate_transformation_mode"] = std::string(coord);
      s.attrs["nearest_mode"] = std::string(nearest);
      s.inputs = {dyn(randomTensor({2, 3, 5, 7}, 1)), none(), cst(floats({4}, {1, 1, 1.5f, 0.6f}))};
      expectMatchesRef(s, "Resize.cuda", 0, 0);
      s.inputs = {dyn(randomTensor({1, 2, 4, 4}, 2)), none(), none(), cst(ints({4}, {1, 2, 9, 13}))};
      expectMatchesRef(s, "Resize.cuda", 0, 0);
      // Trailing axes of scale 1 (NHWC channels) are copied a word at a time:
      // 24 floats (16-byte words), 3 floats (4-byte words), and two such axes.
      s.inputs = {dyn(randomTensor({2, 5, 7, 24}, 3)), none(), cst(floats({4}, {1, 1.5f, 0.6f, 1}))};
      expectMatchesRef(s, "Resize.cuda", 0, 0);
      s.inputs = {dyn(randomTensor({2, 3, 5, 3}, 4)), none(), none(), cst(ints({4}, {2, 6, 10, 3}))};
      expectMatchesRef(s, "Resize.cuda", 0, 0);
      s.inputs = {dyn(randomTensor({3, 4, 2, 6}, 5)), none(), cst(floats({4}, {1, 2, 1, 1}))};
      expectMatchesRef(s, "Resize.cuda", 0, 0);
    }
}

// KilnReformat (a layout Transpose and a float Cast in one pass) against the CPU
// reference, bit for bit: each plan kind (the image planes, tiles, rows, the walk,
// the identity order's cast) between FP32, FP16 and BF16.
TEST(CudaReformat, EveryPlanKindAndTypePair) {
  KILN_REQUIRE_GPU();
  struct Case {
    std::vector<int64_t> dims, perm;
  };
  const std::vector<Case> cases = {
      {{2, 3, 37, 29}, {0, 2, 3, 1}},  // NCHW -> NHWC, 3 channels: kPlanes, a partial run
      {{2, 20, 5, 7}, {0, 2, 3, 1}},   // NCHW -> NHWC: tiles
      {{2, 5, 7, 20}, {0, 3, 1, 2}},   // NHWC -> NCHW: tiles
      {{2, 7, 3, 64}, {0, 2, 1, 3}},   // rows
      {{3, 4, 5}, {2, 1, 0}},          // the walk
      {{2, 3, 4}, {0, 1, 2}},          // identity: a cast
  };
  const DType types[] = {DType::kFLOAT, DType::kHALF, DType::kBF16};
  for (const Case& c : cases)
    for (DType from : types)
      for (DType to : types) {
        OpSpec s;
        s.op = "KilnReformat";
        s.attrs["perm"] = c.perm;
        s.attrs["to"] = static_cast<int64_t>(to);
        s.inputs = {dyn(randomTensor(c.dims, 7).castTo(from))};
        SCOPED_TRACE(ir::toString(c.dims) + " " + dataTypeName(from) + " -> " + dataTypeName(to));
        expectMatchesRef(s, "KilnReformat.cuda", 0, 0);
      }
}

}  // namespace
}  // namespace kiln::test
