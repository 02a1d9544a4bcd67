// Host-side logic of the CUDA backend, checked without a GPU: the parameter
// structs the kernels get are replayed here with the kernels' own index
// formulas on the host and compared with the CPU reference kernels; the
// cuBLASLt column-major mapping is replayed with a column-major GEMM.
#include <gtest/gtest.h>

#include "backends/cuda/backend.h"
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using Dims = std::vector<int64_t>;
using cuda::kernels::BroadcastShape;

OpSpec unarySpecFor(const std::string& op) {
  OpSpec s;
  s.op = op;
  s.inputs = {dyn(randomTensor({3, 4}, 1))};
  return s;
}

//! binaryBroadcastKernel's indexing, on the host: output i reads a[ia], b[ib].
std::vector<float> replayBroadcastAdd(const BroadcastShape& s, const float* a, const float* b) {
  int64_t n = 1;
  for (int d = 0; d < s.rank; ++d) n *= s.dims[d];
  std::vector<float> y(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i, ia = 0, ib = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      int64_t c = rest % s.dims[d];
      rest /= s.dims[d];
      ia += c * s.aStrides[d];
      ib += c * s.bStrides[d];
    }
    y[i] = a[ia] + b[ib];
  }
  return y;
}

TEST(CudaLaunchShapes, BroadcastStridesReproduceTheReference) {
  for (const auto& [a, b] : std::vector<std::pair<Dims, Dims>>{
           {{2, 3, 4}, {4}}, {{2, 1, 5}, {3, 1}}, {{1}, {2, 3}}, {{4, 1, 1, 3}, {1, 5, 7, 1}}, {{6}, {6}}, {{}, {3}}}) {
    OpSpec s;
    s.op = "Add";
    s.inputs = {dyn(randomTensor(a, 1)), dyn(randomTensor(b, 2))};
    ir::Tensor want = runTactic(s, "Add.ref")[0];
    BroadcastShape bs = cuda::broadcastShape(a, b, want.dims());
    EXPECT_EQ(bs.sameShape, a == b && a == want.dims());
    std::vector<float> got = replayBroadcastAdd(bs, s.inputs[0].value.as<float>(), s.inputs[1].value.as<float>());
    EXPECT_TRUE(near(ir::Tensor::fromFloat(got, want.dims()), want, 0, 0)) << ir::toString(a) << " + " << ir::toString(b);
  }
}

TEST(CudaLaunchShapes, BroadcastPeriodsReproduceTheReference) {
  struct Case {
    Dims a, b;
    int64_t aPeriod, bPeriod;  //!< 0: the operand needs the index walk
  };
  for (const Case& c : std::vector<Case>{
           {{2, 3, 4}, {2, 3, 4}, 24, 24},      // same shape
           {{2, 3, 4}, {1}, 24, 1},             // a scalar
           {{}, {2, 3}, 1, 6},                  // a rank-0 scalar first
           {{2, 3, 4}, {4}, 24, 4},             // a bias row
           {{5, 7, 6}, {1, 7, 6}, 210, 42},     // a positional table
           {{5, 7, 6}, {7, 1}, 210, 0},         // broadcast along the last axis: walked
           {{2, 1, 5}, {3, 1}, 0, 0},           // both broadcast
           {{4, 1, 3}, {4, 5, 3}, 0, 60},       // broadcast in the middle
           {{1, 1, 3}, {2, 1, 1, 3}, 3, 6},     // size-1 axes everywhere
       }) {
    OpSpec s;
    s.op = "Add";
    s.inputs = {dyn(randomTensor(c.a, 1)), dyn(randomTensor(c.b, 2))};
    ir::Tensor want = runTactic(s, "Add.ref")[0];
    BroadcastShape bs = cuda::broadcastShape(c.a, c.b, want.dims());
    const std::string what = ir::toString(c.a) + " + " + ir::toString(c.b);
    EXPECT_EQ(bs.aPeriod, c.aPeriod) << what;
    EXPECT_EQ(bs.bPeriod, c.bPeriod) << what;
    if (bs.aPeriod == 0 || bs.bPeriod == 0) continue;
    // binaryPeriodicKernel's indexing, on the host: y[i] = a[i % aPeriod] + b[i % bPeriod].
    const float *a = s.inputs[0].value.as<float>(), *b = s.inputs[1].value.as<float>();
    std::vector<float> got(static_cast<std::size_t>(want.numel()));
    for (int64_t i = 0; i < want.numel(); ++i) got[i] = a[i % bs.aPeriod] + b[i % bs.bPeriod];
    EXPECT_TRUE(near(ir::Tensor::fromFloat(got, want.dims()), want, 0, 0)) << what;
  }
}

TEST(CudaLaunchShapes, CollapsedBroadcastWalksTheSameElements) {
  struct Case {
    Dims a, b;
    int32_t rank;  //!< after collapsing
  };
  for (const Case& c : std::vector<Case>{
           {{2, 12, 8, 8}, {2, 1, 1, 8}, 3},   // BERT's additive mask over the scores
           {{2, 3, 4, 5}, {2, 3, 4, 5}, 1},    // same shape: one dim
           {{2, 3, 4, 5}, {1, 3, 1, 1}, 3},    // a channel scale (NCHW)
           {{2, 1, 5}, {3, 1}, 3},
           {{4, 1, 1, 3}, {1, 5, 7, 1}, 3},    // [4, 35, 3]: a walks 4 and 3, b the 35
           {{1, 1}, {1}, 1},                   // one element
           {{}, {}, 1},
           {{6, 1, 7}, {1, 1, 7}, 2},
       }) {
    OpSpec s;
    s.op = "Add";
    s.inputs = {dyn(randomTensor(c.a, 1)), dyn(randomTensor(c.b, 2))};
    ir::Tensor want = runTactic(s, "Add.ref")[0];
    BroadcastShape bs = cuda::broadcastShape(c.a, c.b, want.dims());
    const int64_t aPeriod = bs.aPeriod, bPeriod = bs.bPeriod;
    cuda::collapseBroadcast(bs);
    const std::string what = ir::toString(c.a) + " + " + ir::toString(c.b);
    EXPECT_EQ(bs.rank, c.rank) << what;
    EXPECT_EQ(bs.aPeriod, aPeriod) << what;
    EXPECT_EQ(bs.bPeriod, bPeriod) << what;
    std::vector<float> got = replayBroadcastAdd(bs, s.inputs[0].value.as<float>(), s.inputs[1].value.as<float>());
    EXPECT_TRUE(near(ir::Tensor::fromFloat(got, want.dims()), want, 0, 0)) << what;
  }
}

TEST(CudaLaunchShapes, BroadcastRefusesMismatchAndHighRank) {
  EXPECT_THROW(cuda::broadcastShape({3}, {4}, {4}), Error);
  EXPECT_THROW(cuda::broadcastShape(Dims(9, 1), {1}, Dims(9, 1)), Error);
}

TEST(CudaLaunchShapes, TransposeStridesReproduceTheReference) {
  for (const Dims& perm : std::vector<Dims>{{2, 0, 3, 1}, {0, 1, 2, 3}, {3, 2, 1, 0}, {}}) {
    OpSpec s;
    s.op = "Transpose";
    if (!perm.empty()) s.attrs["perm"] = perm;
    s.inputs = {dyn(randomTensor({2, 3, 4, 5}, 1))};
    ir::Tensor want = runTactic(s, "Transpose.ref")[0];
    cuda::kernels::TransposeShape t = cuda::transposeShape({2, 3, 4, 5}, perm);
    std::vector<float> got(want.numel());
    const float* x = s.inputs[0].value.as<float>();
    for (int64_t i = 0; i < want.numel(); ++i) {  // transposeKernel's indexing
      int64_t rest = i, src = 0;
      for (int d = t.rank - 1; d >= 0; --d) {
        src += rest % t.dims[d] * t.inStrides[d];
        rest /= t.dims[d];
      }
      got[i] = x[src];
    }
    EXPECT_TRUE(near(ir::Tensor::fromFloat(got, want.dims()), want, 0, 0)) << ir::toString(perm);
  }
  EXPECT_THROW(cuda::transposeShape({2, 3}, {0, 0}), Error);
  EXPECT_THROW(cuda::transposeShape({2, 3}, {1}), Error);
}

TEST(CudaLaunchShapes, SoftmaxSplit) {
  cuda::SoftmaxSplit s = cuda::softmaxSplit({2, 5, 3, 4}, 1);
  EXPECT_EQ(s.outer, 2);
  EXPECT_EQ(s.axis, 5);
  EXPECT_EQ(s.inner, 12);
  s = cuda::softmaxSplit({2, 5, 3, 4}, -1);
  EXPECT_EQ(s.outer, 30);
  EXPECT_EQ(s.axis, 4);
  EXPECT_EQ(s.inner, 1);
  EXPECT_THROW(cuda::softmaxSplit({2, 5}, 2), Error);
}

TEST(CudaLaunchShapes, PoolParamsFromAttributes) {
  OpSpec s;
  s.op = "AveragePool";
  s.attrs["kernel_shape"] = Dims{3, 2};
  s.attrs["strides"] = Dims{2, 1};
  s.attrs["pads"] = Dims{1, 0, 1, 1};
  s.attrs["ceil_mode"] = int64_t{1};
  s.attrs["count_include_pad"] = int64_t{1};
  s.inputs = {dyn(randomTensor({2, 3, 10, 7}, 1))};
  BuiltGraph b = buildGraph(s);
  Dims y = ir::staticDims(b.node->outputs[0]->shape);
  ir::WindowAttrs attrs = ir::readWindowAttrs(*b.node, 2);
  cuda::kernels::Pool2d p = cuda::pool2dParams(*b.node, attrs, {2, 3, 10, 7}, y);
  EXPECT_EQ(p.oh, y[2]);
  EXPECT_EQ(p.ow, y[3]);
  EXPECT_EQ(p.kh, 3);
  EXPECT_EQ(p.kw, 2);
  EXPECT_EQ(p.sh, 2);
  EXPECT_EQ(p.padTop, 1);
  EXPECT_EQ(p.padLeft, 0);
  EXPECT_GE(p.padBottom, 1);  // ceil_mode may add to the explicit end pad
  EXPECT_FALSE(p.max);
  EXPECT_TRUE(p.countIncludePad);
  try {
    cuda::pool2dParams(*b.node, attrs, {2, 3, 10, 7}, {2, 3, 1, 1});
    FAIL() << "a wrong output shape was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("disagrees with the computed"), std::string::npos) << e.what();
  }
}

TEST(CudaLaunchShapes, MatMulBatchMapping) {
  cuda::GemmShape g;
  ASSERT_TRUE(cuda::matmulShape({2, 3, 5}, {5, 4}, &g));  // batch folded into M
  EXPECT_EQ(g.m, 6);
  EXPECT_EQ(g.batch, 1);
  ASSERT_TRUE(cuda::matmulShape({2, 3, 5}, {2, 5, 4}, &g));
  EXPECT_EQ(g.batch, 2);
  EXPECT_EQ(g.strideA, 15);
  EXPECT_EQ(g.strideB, 20);
  EXPECT_EQ(g.strideY, 12);
  ASSERT_TRUE(cuda::matmulShape({1, 3, 5}, {4, 5, 2}, &g));  // A broadcast over B's batch
  EXPECT_EQ(g.batch, 4);
  EXPECT_EQ(g.strideA, 0);
  EXPECT_FALSE(cuda::matmulShape({2, 1, 3, 5}, {1, 4, 5, 2}, &g));  // partial broadcast: declined
  EXPECT_FALSE(cuda::matmulShape({3, 5}, {4, 2}, &g));              // K mismatch
  EXPECT_FALSE(cuda::matmulShape({5}, {5, 2}, &g));                 // rank 1: declined
}

//! Column-major C[rows x cols] = op(A) op(B), as cuBLASLt computes it.
std::vector<float> colMajorGemm(const cuda::LtProblem& p, int64_t k, const float* first, const float* second) {
  auto at = [](const cuda::LtOperand& o, const float* d, int64_t r, int64_t c) {
    return o.transpose ? d[c + r * o.ld] : d[r + c * o.ld];  // element (r, c) of op(stored)
  };
  std::vector<float> y(p.rowsY * p.colsY);
  for (int64_t c = 0; c < p.colsY; ++c)
    for (int64_t r = 0; r < p.rowsY; ++r) {
      float acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += at(p.first, first, r, i) * at(p.second, second, i, c);
      y[r + c * p.ldY] = acc;
    }
  return y;
}

TEST(CudaLaunchShapes, CublasLtColumnMajorMappingMatchesGemmRef) {
  const int64_t m = 5, k = 7, n = 3;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      OpSpec s;
      s.op = "Gemm";
      s.attrs["transA"] = int64_t{ta};
      s.attrs["transB"] = int64_t{tb};
      Dims a = ta ? Dims{k, m} : Dims{m, k}, b = tb ? Dims{n, k} : Dims{k, n};
      s.inputs = {dyn(randomTensor(a, 1)), dyn(randomTensor(b, 2))};
      ir::Tensor want = runTactic(s, "Gemm.ref")[0];
      cuda::GemmShape g = cuda::gemmShape(a, b, ta, tb);
      cuda::LtProblem p = cuda::columnMajorProblem(g);
      EXPECT_EQ(p.first.rows * p.first.cols, n * k);
      // cuBLASLt's first operand is B, its second A; Y^T column-major is Y row-major.
      std::vector<float> y = colMajorGemm(p, g.k, s.inputs[1].value.as<float>(), s.inputs[0].value.as<float>());
      EXPECT_TRUE(near(ir::Tensor::fromFloat(y, {m, n}), want, 1e-5f, 1e-5f)) << "transA=" << ta << " transB=" << tb;
    }
  EXPECT_THROW(cuda::gemmShape({5, 7}, {6, 3}, false, false), Error);
}

//! Nearest Resize cases: coordinate mode, nearest mode, input dims, scales (or empty) and sizes (or empty).
struct ResizeCase {
  std::string coord, nearest;
  Dims x;
  std::vector<float> scales;
  Dims sizes;
};

std::vector<ResizeCase> resizeCases() {
  return {{"half_pixel", "round_prefer_floor", {2, 3, 4, 4}, {1, 1, 2, 2}, {}},
          {"asymmetric", "floor", {1, 2, 5, 3}, {1, 1, 1.7f, 2.5f}, {}},
          {"align_corners", "round_prefer_ceil", {1, 1, 7, 5}, {}, {1, 1, 3, 11}},
          {"pytorch_half_pixel", "ceil", {2, 1, 6, 1}, {1, 1, 0.5f, 3}, {}},
          {"tf_half_pixel_for_nn", "round_prefer_floor", {1, 3, 3, 8}, {}, {1, 3, 9, 3}}};
}

OpSpec resizeSpec(const ResizeCase& c) {
  OpSpec s;
  s.op = "Resize";
  s.attrs["mode"] = std::string("nearest");
  s.attrs["coordinate_transformation_mode"] = c.coord;
  s.attrs["nearest_mode"] = c.nearest;
  s.inputs = {dyn(randomTensor(c.x, 1)), none()};
  if (!c.scales.empty()) s.inputs.push_back(cst(floats({int64_t(c.scales.size())}, c.scales)));
  else s.inputs.insert(s.inputs.end(), {none(), cst(ints({int64_t(c.sizes.size())}, c.sizes))});
  return s;
}

TEST(CudaLaunchShapes, ResizeNearestIndicesReproduceTheReference) {
  for (const ResizeCase& c : resizeCases()) {
    OpSpec s = resizeSpec(c);
    ir::Tensor want = runTactic(s, "Resize.ref")[0];
    BuiltGraph b = buildGraph(s);
    cuda::ResizeConfig config;
    ASSERT_TRUE(cuda::resizeConfig(*b.node, &config)) << c.coord;
    cuda::kernels::ResizeParams p = cuda::resizeParams(config, c.x, want.dims());
    std::vector<float> got(want.numel());
    const float* x = s.inputs[0].value.as<float>();
    for (int64_t i = 0; i < want.numel(); ++i) {  // resizeNearestKernel's loop, on the host
      int64_t rest = i, src = 0, stride = 1;
      for (int d = p.rank - 1; d >= 0; --d) {
        src += cuda::kernels::resizeNearestIndex(p, d, rest % p.outDims[d]) * stride;
        rest /= p.outDims[d];
        stride *= p.inDims[d];
      }
      got[i] = x[src];
    }
    EXPECT_TRUE(near(ir::Tensor::fromFloat(got, want.dims()), want, 0, 0)) << c.coord << " / " << c.nearest;
  }
}

TEST(CudaLaunchShapes, ResizeDeclinesWhatTheKernelLacks) {
  OpSpec s = resizeSpec(resizeCases()[0]);
  s.attrs["mode"] = std::string("linear");
  cuda::ResizeConfig c;
  EXPECT_FALSE(cuda::resizeConfig(*buildGraph(s).node, &c));
  s = resizeSpec(resizeCases()[0]);
  s.attrs["coordinate_transformation_mode"] = std::string("half_pixel_symmetric");
  EXPECT_FALSE(cuda::resizeConfig(*buildGraph(s).node, &c));
}

TEST(CudaLaunchShapes, UnaryParamsFromNodes) {
  using cuda::kernels::Unary;
  cuda::kernels::UnaryParams p;
  OpSpec clip = unarySpecFor("Clip");
  clip.inputs.push_back(cst(floats({}, {-0.5f})));
  clip.inputs.push_back(cst(floats({}, {2.f})));
  BuiltGraph b = buildGraph(clip);
  ASSERT_TRUE(cuda::unaryParams("Clip", *b.node, false, &p));
  EXPECT_EQ(p.op, Unary::kClip);
  EXPECT_EQ(p.alpha, -0.5f);
  EXPECT_EQ(p.beta, 2.f);
  clip.inputs[1] = dyn(floats({}, {0.f}));  // a computed bound: the CUDA kernel takes constants only
  EXPECT_FALSE(cuda::unaryParams("Clip", *buildGraph(clip).node, false, &p));

  OpSpec gelu = unarySpecFor("Gelu");
  gelu.attrs["approximate"] = std::string("tanh");
  ASSERT_TRUE(cuda::unaryParams("Gelu", *buildGraph(gelu).node, false, &p));
  EXPECT_EQ(p.op, Unary::kGeluTanh);
  OpSpec leaky = unarySpecFor("LeakyRelu");
  ASSERT_TRUE(cuda::unaryParams("LeakyRelu", *buildGraph(leaky).node, false, &p));
  EXPECT_EQ(p.alpha, 0.01f);  // ONNX's default

  // Fused activations (kiln_act) carry their parameters in kiln_act_alpha/beta.
  OpSpec conv = unarySpecFor("Relu");
  conv.attrs["kiln_act_alpha"] = 0.f;
  conv.attrs["kiln_act_beta"] = 6.f;
  ASSERT_TRUE(cuda::unaryParams("Clip", *buildGraph(conv).node, true, &p));
  EXPECT_EQ(p.op, Unary::kClip);
  EXPECT_EQ(p.beta, 6.f);
  ASSERT_TRUE(cuda::unaryParams("", *buildGraph(conv).node, true, &p));
  EXPECT_EQ(p.op, Unary::kIdentity);
  EXPECT_FALSE(cuda::unaryParams("Mish", *buildGraph(conv).node, true, &p));
}

TEST(CudaBackend, RegistryWithoutAGpu) {
  // The backend and its tactics exist without a device; only running needs one.
  const backends::DeviceBackend& b = cuda::backend();
  EXPECT_STREQ(b.device(), "cuda");
  for (const char* op : {"MatMul", "Gemm", "Conv", "Relu", "Add", "Softmax", "MaxPool", "GlobalAveragePool",
                         "Transpose", "Concat", "Reshape", "Flatten", "Gather", "LayerNormalization", "Cast",
                         "ReduceMean", "Resize"})
    EXPECT_FALSE(b.tacticsFor(op).empty()) << op;
  EXPECT_TRUE(b.tacticsFor("NoSuchOp").empty());
  ASSERT_NE(b.findTactic("MatMul.cublaslt"), nullptr);
  EXPECT_EQ(b.findTactic("MatMul.cublaslt")->op, "MatMul");
  // FP32 only so far: an int32 Add is declined.
  OpSpec s;
  s.op = "Add";
  ir::Tensor i32(DType::kINT32, {3});
  s.inputs = {dyn(i32), dyn(i32)};
  EXPECT_FALSE(b.findTactic("Add.cuda")->supports(*buildGraph(s).node));
  const backends::HostDevice& host = b.host();
  if (!host.available) {
    EXPECT_FALSE(host.unavailable.empty());
    std::cout << "[ info ] no GPU here: " << host.unavailable << "\n";
  } else {
    EXPECT_EQ(host.target.arch.rfind("sm_", 0), 0u);
  }
}

}  // namespace
}  // namespace kiln::test
