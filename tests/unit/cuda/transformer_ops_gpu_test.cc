// The fast paths of a transformer's non-GEMM layers on the GPU (transpose.cu's
// row copies and tiles, elementwise.cu's vectors and periodic operands,
// norm.cu's warp-per-row LayerNorm, gather's wide words), each against the CPU
// reference kernel in FP32, FP16 and BF16, with the pointers 16-byte aligned
// (the vector paths) and 2 or 4 bytes off (the scalar paths), on shapes with
// odd sizes (vector + scalar tail), broadcasting and batch > 1.
// FP16/BF16: the inputs are rounded to the type first, the reference runs in
// FP32 on the rounded values; data movement must then be exact, arithmetic
// within |got - want| <= rtol * (|want| + max|want|).
#include <cmath>
#include <cstring>

#include "unit/cuda/gpu_test_util.h"

namespace kiln::test {
namespace {

using Dims = std::vector<int64_t>;

const DType kTypes[] = {DType::kFLOAT, DType::kHALF, DType::kBF16};
//! Pointer offsets: 0 (256-byte aligned: the vector paths), then one and three
//! elements of `t` (aligned for the element, not for a 16-byte vector).
std::vector<std::size_t> offsetsFor(DType t) {
  const std::size_t e = dtypeSize(t);
  return {0, e, 3 * e};
}

float toleranceOf(DType t) { return t == DType::kHALF ? 4e-3f : t == DType::kBF16 ? 1.6e-2f : 1e-5f; }

std::string describe(const OpSpec& s, DType t, std::size_t offset) {
  std::string out = s.op + " in " + dataTypeName(t) + " at offset " + std::to_string(offset) + ", inputs";
  for (const OpInput& in : s.inputs) out += " " + (in.absent ? std::string("none") : ir::toString(in.value.dims()));
  return out;
}

::testing::AssertionResult closeEnough(const ir::Tensor& got, const ir::Tensor& want, float rtol) {
  if (got.dims() != want.dims())
    return ::testing::AssertionFailure() << "shape " << ir::toString(got.dims()) << ", want " << ir::toString(want.dims());
  const std::vector<float> g = got.toFloat(), w = want.toFloat();
  float scale = 0.f;
  for (float v : w) scale = std::max(scale, std::fabs(v));
  for (std::size_t i = 0; i < g.size(); ++i) {
    const float err = std::fabs(g[i] - w[i]);
    if (!(err <= rtol * (std::fabs(w[i]) + scale)))  // NaN (an element never written) fails
      return ::testing::AssertionFailure() << "element " << i << ": got " << g[i] << ", want " << w[i];
  }
  return ::testing::AssertionSuccess();
}

//! `tactic` on `spec` with its FP32 inputs (but those in `keep`) in type `t`, at pointer offset `offset`,
//! against `<op>.ref` in FP32 on the rounded inputs; rtol 0: bit-exact.
void expectTyped(const OpSpec& spec, const std::string& tactic, DType t, std::size_t offset, float rtol,
                 std::initializer_list<std::size_t> keep = {}) {
  OpSpec rounded = spec, converted = spec;
  for (std::size_t i = 0; i < spec.inputs.size(); ++i) {
    if (spec.inputs[i].absent || spec.inputs[i].value.dtype() != DType::kFLOAT) continue;
    if (std::find(keep.begin(), keep.end(), i) != keep.end()) continue;
    rounded.inputs[i].value = spec.inputs[i].value.castTo(t).castTo(DType::kFLOAT);
    converted.inputs[i].value = spec.inputs[i].value.castTo(t);
  }
  const std::string what = tactic + ": " + describe(spec, t, offset);
  std::vector<ir::Tensor> want, got;
  try {
    want = runTactic(rounded, spec.op + ".ref");
    got = runOnGpu(converted, tactic, offset);
  } catch (const Error& e) {
    ADD_FAILURE() << what << ": " << e.what();
    return;
  }
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (rtol == 0.f) EXPECT_TRUE(near(got[i].castTo(DType::kFLOAT), want[i], 0, 0)) << what;
    else EXPECT_TRUE(closeEnough(got[i], want[i], rtol)) << what;
  }
}

TEST(CudaTransformerKernels, TransposeRowsTilesAndCopies) {
  KILN_REQUIRE_GPU();
  struct Case {
    Dims dims, perm;
  };
  for (const Case& c : std::vector<Case>{
           {{2, 7, 3, 64}, {0, 2, 1, 3}},             // heads split (rows of 64: 16-byte words)
           {{3, 5, 40}, {1, 0, 2}},                   // [S, B, D] <-> [B, S, D]
           {{1, 5, 4, 3, 24}, {3, 1, 2, 0, 4}},       // ViT's q/k/v split through size-1 axes
           {{3, 5, 7}, {1, 0, 2}},                    // rows of 7: no vector divides them
           {{2, 3, 37, 65}, {0, 1, 3, 2}},            // K^T: partial tiles both ways
           {{2, 5, 7, 3}, {0, 2, 3, 1}},              // NCHW -> NHWC, 3 channels: the walk
           {{2, 7, 3, 5}, {0, 3, 1, 2}},              // NHWC -> NCHW: the walk
           {{2, 20, 5, 7}, {0, 2, 3, 1}},             // NCHW -> NHWC: tiles
           {{2, 5, 7, 20}, {0, 3, 1, 2}},             // NHWC -> NCHW: tiles
           {{17, 4, 19}, {}},                         // reversed, tiled
           {{67, 130}, {1, 0}},                       // more than one tile, odd
           {{3, 4, 5}, {}},                           // reversed axes: the walk
           {{2, 1, 4}, {1, 0, 2}},                    // a copy after collapsing
           {{2, 3, 2, 3, 2, 3, 2, 3}, {7, 6, 5, 4, 3, 2, 1, 0}},  // rank 8
           {{2, 197, 12, 64}, {0, 2, 1, 3}},          // ViT-B's heads at batch 2
           {{2, 12, 197, 64}, {0, 1, 3, 2}},          // and its K^T
       }) {
    OpSpec s;
    s.op = "Transpose";
    if (!c.perm.empty()) s.attrs["perm"] = c.perm;
    s.inputs = {dyn(randomTensor(c.dims, 3))};
    for (DType t : kTypes)
      for (std::size_t offset : offsetsFor(t)) expectTyped(s, "Transpose.cuda", t, offset, 0.f);
  }
}

TEST(CudaTransformerKernels, UnaryVectorAndTail) {
  KILN_REQUIRE_GPU();
  for (const char* op : {"Gelu", "Relu", "Sigmoid", "Tanh"})
    for (const Dims& dims : std::vector<Dims>{{1}, {7}, {2, 3, 64}, {3, 1031}, {(1 << 20) + 7}}) {
      // the last: more elements than one grid of the scalar path covers (its grid-stride loop)
      OpSpec s;
      s.op = op;
      s.inputs = {dyn(randomTensor(dims, 5, -3.f, 3.f))};
      for (DType t : kTypes)
        for (std::size_t offset : offsetsFor(t)) expectTyped(s, std::string(op) + ".cuda", t, offset, toleranceOf(t));
    }
}

TEST(CudaTransformerKernels, BinaryPeriodicAndWalkedOperands) {
  KILN_REQUIRE_GPU();
  const std::vector<std::pair<Dims, Dims>> shapes = {
      {{2, 5, 64}, {2, 5, 64}},    // same shape, whole vectors
      {{3, 67}, {3, 67}},          // same shape, a scalar tail
      {{2, 5, 64}, {1}},           // times a scalar (attention's scale)
      {{1}, {3, 67}},              // the scalar first
      {{4, 5, 24}, {24}},          // a bias row, whole vectors
      {{4, 5, 12}, {12}},          // a bias row of 12: FP16 vectors (8) don't divide it, FP32 (4) do
      {{4, 7, 33}, {1, 7, 33}},    // a positional table [1, S, D]
      {{2, 3, 16}, {2, 1, 16}},    // broadcast in the middle: the index walk
      {{2, 1, 5}, {3, 1}},         // both broadcast: the index walk
      {{2, 12, 8, 8}, {2, 1, 1, 8}},  // BERT's mask over the scores: the walk, collapsed to rank 3
      {{2, 3, 4, 5}, {1, 3, 1, 1}},   // a channel scale: the walk, collapsed
      {{2048, 520}, {520}},        // more than one grid of the scalar path (offset runs)
  };
  for (const char* op : {"Add", "Mul", "Sub", "Div"})
    for (const auto& [a, b] : shapes) {
      OpSpec s;
      s.op = op;
      s.inputs = {dyn(randomTensor(a, 1)), dyn(randomTensor(b, 2, 0.5f, 2.f))};
      for (DType t : kTypes)
        for (std::size_t offset : offsetsFor(t)) expectTyped(s, std::string(op) + ".cuda", t, offset, toleranceOf(t));
    }
}

TEST(CudaTransformerKernels, LayerNormWarpAndBlockRows) {
  KILN_REQUIRE_GPU();
  // 768 (BERT/ViT), 1024 (the warp kernel's longest), 1025 (the block kernel), odd, tiny; batch > 1.
  for (const Dims& dims : std::vector<Dims>{{2, 3, 768}, {5, 1024}, {2, 1025}, {7, 33}, {3, 1}, {4, 8}, {1, 200}})
    for (bool bias : {true, false}) {
      OpSpec s;
      s.op = "LayerNormalization";
      s.attrs["axis"] = int64_t{-1};
      s.attrs["epsilon"] = 1e-5f;
      const Dims norm = {dims.back()};
      s.inputs = {dyn(randomTensor(dims, 1, -2.f, 3.f)), cst(randomTensor(norm, 2))};
      if (bias) s.inputs.push_back(cst(randomTensor(norm, 3)));
      for (DType t : kTypes)
        for (std::size_t offset : offsetsFor(t))
          expectTyped(s, "LayerNormalization.cuda", t, offset, t == DType::kFLOAT ? 1e-4f : toleranceOf(t));
    }
}

TEST(CudaTransformerKernels, GatherWideSlices) {
  KILN_REQUIRE_GPU();
  struct Case {
    Dims data, indexDims;
    std::vector<int64_t> indices;
    int64_t axis;
  };
  for (const Case& c : std::vector<Case>{
           {{3, 5, 64}, {}, {1}, 0},              // q/k/v split: one index, wide slices
           {{3, 5, 7}, {}, {-1}, 0},              // odd slices
           {{4, 6, 16}, {2, 2}, {0, 3, -2, 1}, 1},  // an embedding lookup, batch > 1
           {{5, 9}, {3}, {4, 0, 8}, 1},           // slices of one element
       }) {
    OpSpec s;
    s.op = "Gather";
    s.attrs["axis"] = c.axis;
    s.inputs = {dyn(randomTensor(c.data, 4)), cst(ints(c.indexDims, c.indices))};
    // The int64 indices share the offset, so it stays a multiple of 8 (8: 8-byte words, not 16).
    for (DType t : kTypes)
      for (std::size_t offset : {0, 8}) expectTyped(s, "Gather.cuda", t, offset, 0.f);
  }
}

// Cast moves 4 elements per access where both pointers allow (castVecKernel):
// the engine's FP32 <-> FP16/BF16 IO casts and integer casts, aligned (the
// vector path, its tail) and 8 bytes off (the scalar path), bit-exact against
// the host conversion.
TEST(CudaTransformerKernels, CastVectorAndScalarPaths) {
  KILN_REQUIRE_GPU();
  auto onnxCode = [](DType t) -> int64_t {
    switch (t) {
      case DType::kFLOAT: return 1;
      case DType::kINT32: return 6;
      case DType::kINT64: return 7;
      case DType::kHALF: return 10;
      default: return 16;  // BF16
    }
  };
  const std::vector<std::pair<DType, DType>> pairs = {
      {DType::kFLOAT, DType::kHALF}, {DType::kFLOAT, DType::kBF16}, {DType::kHALF, DType::kFLOAT},
      {DType::kBF16, DType::kFLOAT}, {DType::kINT64, DType::kFLOAT}, {DType::kFLOAT, DType::kINT32}};
  for (const auto& [from, to] : pairs)
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{4099}})
      for (std::size_t offset : {0, 8}) {
        ir::Tensor values = randomTensor({n}, 9, -300.f, 300.f);
        OpSpec s;
        s.op = "Cast";
        s.attrs["to"] = onnxCode(to);
        s.inputs = {dyn(values.castTo(from))};
        const ir::Tensor want = s.inputs[0].value.castTo(to);
        const std::string what = std::string("Cast ") + dataTypeName(from) + " -> " + dataTypeName(to) + " of " +
                                 std::to_string(n) + " at offset " + std::to_string(offset);
        std::vector<ir::Tensor> got;
        try {
          got = runOnGpu(s, "Cast.cuda", offset);
        } catch (const Error& e) {
          ADD_FAILURE() << what << ": " << e.what();
          continue;
        }
        ASSERT_EQ(got.size(), 1u) << what;
        ASSERT_EQ(got[0].dtype(), to) << what;
        EXPECT_EQ(std::memcmp(got[0].data(), want.data(), want.bytes()), 0) << what;
      }
}

//! One op of `op` on `inputs` through its CPU reference kernel.
ir::Tensor reference(const std::string& op, std::vector<OpInput> inputs,
                     std::map<std::string, ir::Attribute> attrs = {}) {
  OpSpec s;
  s.op = op;
  s.inputs = std::move(inputs);
  s.attrs = std::move(attrs);
  return runTactic(s, op + ".ref")[0];
}

// The fused residual (MatMul's 4th input, device builds: cuBLASLt's C with
// beta 1) with and without the bias epilogue and each kind of activation
// (cuBLASLt's ReLU / tanh-GELU epilogues, erf-GELU as a pass after), against
// MatMul, Add (bias), Add (residual) and the activation, each through its .ref.
TEST(CudaTransformerKernels, MatMulResidualBiasActivation) {
  KILN_REQUIRE_GPU();
  struct Case {
    Dims a, b;
    bool bias;
    std::string act;
    bool tanhEpilogue = false;  //!< the variant attribute kiln_gelu_tanh_epilogue (FP16/BF16 only; FP32 keeps erf)
  };
  for (const Case& c : std::vector<Case>{
           {{2, 7, 24}, {24, 16}, true, ""},          // BERT's dense + residual: batch folded into M
           {{2, 7, 24}, {24, 16}, false, ""},
           {{3, 5, 40}, {40, 24}, true, "Relu"},
           {{3, 5, 40}, {40, 24}, true, "GeluTanh"},
           {{3, 5, 40}, {40, 24}, true, "Gelu"},      // no epilogue: the erf pass after
           {{3, 5, 40}, {40, 24}, true, "Gelu", true},    // erf Gelu as the tanh epilogue, checked against erf
           {{2, 9, 33}, {33, 17}, false, "Gelu", true},   // odd sizes, no bias: the GELU (not GELU_BIAS) epilogue
           {{2, 3, 9, 8}, {2, 3, 8, 9}, false, ""},  // batched B (strided), odd sizes
       }) {
    const ir::Tensor a = randomTensor(c.a, 1), b = randomTensor(c.b, 2), bias = randomTensor({c.b.back()}, 3);
    Dims y = c.a;
    y.back() = c.b.back();
    const ir::Tensor r = randomTensor(y, 4);
    const bool weight = c.b.size() == 2;
    for (DType t : kTypes) {
      auto in = [&](const ir::Tensor& v) { return t == DType::kFLOAT ? v : v.castTo(t).castTo(DType::kFLOAT); };
      ir::Tensor want = reference("MatMul", {dyn(in(a)), dyn(in(b))});
      if (c.bias) want = reference("Add", {dyn(want), dyn(in(bias))});
      want = reference("Add", {dyn(want), dyn(in(r))});
      if (c.act == "GeluTanh") want = reference("Gelu", {dyn(want)}, {{"approximate", std::string("tanh")}});
      else if (!c.act.empty()) want = reference(c.act, {dyn(want)});
      OpSpec mm;
      mm.op = "MatMul";
      auto typed = [&](const ir::Tensor& v) { return v.castTo(t); };
      mm.inputs = {dyn(typed(a)), weight ? cst(typed(b)) : dyn(typed(b)), c.bias ? cst(typed(bias)) : none(),
                   dyn(typed(r))};
      if (!c.act.empty()) mm.attrs["kiln_act"] = c.act;
      if (c.tanhEpilogue) mm.attrs["kiln_gelu_tanh_epilogue"] = int64_t{1};
      const std::string what = "MatMul " + ir::toString(c.a) + " x " + ir::toString(c.b) + (c.bias ? " + bias" : "") +
                               " + residual, act '" + c.act + "'" +
                               (c.tanhEpilogue ? " (tanh epilogue)" : "") + " in " + dataTypeName(t);
      std::vector<ir::Tensor> got;
      try {
        got = runOnGpu(mm, "MatMul.cublaslt");
      } catch (const Error& e) {
        ADD_FAILURE() << what << ": " << e.what();
        continue;
      }
      ASSERT_EQ(got.size(), 1u) << what;
      // FP32 may run in TF32 only where the node says kiln_tf32 (it doesn't here): FP32 tolerance.
      EXPECT_TRUE(closeEnough(got[0], want, t == DType::kFLOAT ? 1e-5f : toleranceOf(t))) << what;
    }
  }
}

}  // namespace
}  // namespace kiln::test
