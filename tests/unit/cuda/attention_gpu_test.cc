// KilnAttention.flash (backends/cuda/ops/attention.cu) against a plain loop
// (attention_test_util.h: FP64 accumulation, the unfused graph's math: softmax(scale *
// Q K^T + mask) V, an all -inf row giving NaN) on the inputs rounded to the
// tested type. Shapes: ViT's 197 (not a multiple of the 64-row/64-key tiles),
// Sq != Sk, several key tiles, batch * heads 64 * 12, every tensor-core head
// size and the rows path's (odd, Dv != D), masks broadcast over batch / head /
// query dims, fully masked rows, no keys. Plus a CUDA-graph capture of the
// kernel and a network built for the GPU through the builder.
//
// Tolerance, relative to the element and to the output's scale (as
// precision_gpu_test.cc): FP32 1e-4; FP16 4e-3 (P is rounded to FP16 for the
// P V product, and y to FP16); BF16 1.6e-2 (the same in BF16's 8 bits).
// Each test starts with KILN_REQUIRE_GPU() and skips without a GPU.
#include <cmath>
#include <limits>
#include <sstream>

#include "builder/build_plan.h"
#include "kiln/kiln.h"
#include "plan/plan.h"
#include "unit/api/api_test_util.h"
#include "unit/cuda/attention_test_util.h"
#include "unit/cuda/gpu_test_util.h"

namespace kiln::test {
namespace {

using namespace attention_ref;  // NOLINT: the reference, the cases and the comparison

float tolerance(DType t) { return t == DType::kHALF ? 4e-3f : t == DType::kBF16 ? 1.6e-2f : 1e-4f; }

//! Every variant of the tactic (the staged tensor-core kernel with and without the
//! K/V prefetch, the pipelined one, the wide one, the resident one; FP32 and other head sizes ignore the attributes)
//! against the reference.
void expectMatches(const OpSpec& spec, DType type, const std::string& what) {
  const ir::Tensor want = reference(spec, scaleOf(spec));
  struct Variant {
    int64_t prefetch, pipelined, wide, resident;
    const char* name;
  };
  for (const Variant& v : {Variant{0, 0, 0, 0, ""}, Variant{1, 0, 0, 0, " (prefetch)"},
                           Variant{0, 1, 0, 0, " (pipelined)"}, Variant{0, 0, 1, 0, " (wide)"},
                           Variant{0, 0, 0, 1, " (resident)"}}) {
    OpSpec variant = spec;
    variant.attrs["kiln_attention_prefetch"] = v.prefetch;
    variant.attrs["kiln_attention_pipelined"] = v.pipelined;
    variant.attrs["kiln_attention_wide"] = v.wide;
    variant.attrs["kiln_attention_resident"] = v.resident;
    const std::string which = what + v.name;
    std::vector<ir::Tensor> got;
    try {
      got = runOnGpu(variant, "KilnAttention.flash");
    } catch (const Error& e) {
      ADD_FAILURE() << which << ": " << e.what();
      continue;
    }
    ASSERT_EQ(got.size(), 1u) << which;
    EXPECT_EQ(got[0].dtype(), type) << which;
    EXPECT_TRUE(close(got[0], want, tolerance(type))) << which;
  }
}

void expectCases(const std::vector<Case>& cases) {
  uint32_t seed = 11;
  for (const Case& c : cases)
    for (DType type : {DType::kFLOAT, DType::kHALF, DType::kBF16}) expectMatches(makeSpec(c, type, seed += 7), type, describe(c, type));
}

const DType kTypes[] = {DType::kFLOAT, DType::kHALF, DType::kBF16};

TEST(CudaAttention, UnmaskedTileEdgesAndSqNotSk) {
  KILN_REQUIRE_GPU();
  expectCases({
      {{2, 3, 197, 64}, {2, 3, 197, 64}, {2, 3, 197, 64}},  // ViT-B/16: 197 = 3 x 64 + 5
      {{3, 5, 64}, {3, 130, 64}, {3, 130, 64}},             // rank 3, few queries, 3 key tiles (last 2 keys)
      {{2, 70, 64}, {2, 9, 64}, {2, 9, 64}},                // more queries than keys, one partial key tile
      {{1, 2, 1, 64}, {1, 2, 1, 64}, {1, 2, 1, 64}},        // one query, one key
      {{1, 1, 65, 64}, {1, 1, 300, 64}, {1, 1, 300, 64}, {}, 0, 0, 0.6f},  // sharp softmax over 5 key tiles
  });
}

//! The wide kernel's (128-row tiles, bound checks on the last key and query
//! tiles only) edges, by every variant: lengths around its 128-row and 64-key
//! tiles, Sq != Sk, batch x heads > 1, D 32 and 64, with and without a mask
//! (a full [B, H, Sq, Sk] one: every score reads its own mask element).
TEST(CudaAttention, WideTileEdges) {
  KILN_REQUIRE_GPU();
  std::vector<Case> cases;
  for (int64_t d : {32, 64}) {
    for (int64_t n : {1, 7, 127, 128, 129, 197, 255}) {
      cases.push_back({{2, 3, n, d}, {2, 3, n, d}, {2, 3, n, d}});
      cases.push_back({{2, 3, n, d}, {2, 3, n, d}, {2, 3, n, d}, {2, 3, n, n}, -2.f, 2.f});
    }
    for (auto [sq, sk] : std::vector<std::pair<int64_t, int64_t>>{{129, 7}, {7, 129}, {255, 64}, {128, 65}}) {
      cases.push_back({{2, 2, sq, d}, {2, 2, sk, d}, {2, 2, sk, d}});
      cases.push_back({{2, 2, sq, d}, {2, 2, sk, d}, {2, 2, sk, d}, {2, 1, 1, sk}, -3.f, 3.f});
    }
  }
  expectCases(cases);
}

//! The pipelined and wide kernels run their last key tile in 16-key steps
//! (1 to 4 of them): key counts whose last tile ends at, or just past, each
//! step, with a per-key mask so that the trimmed tile's mask reads count too.
TEST(CudaAttention, TrimmedLastKeyTile) {
  KILN_REQUIRE_GPU();
  std::vector<Case> cases;
  for (int64_t d : {32, 64})
    for (int64_t sk : {80, 81, 96, 97, 112, 113, 128}) {
      cases.push_back({{2, 2, 70, d}, {2, 2, sk, d}, {2, 2, sk, d}});
      cases.push_back({{2, 2, 70, d}, {2, 2, sk, d}, {2, 2, sk, d}, {2, 1, 1, sk}, -3.f, 3.f});
    }
  expectCases(cases);
}

//! The resident kernel's edges, by every variant: query lengths around its
//! 16-row slices and its blocks of up to 16 slices (Sq 257: two blocks of 9
//! and 8), key lengths around its commit groups (64-key tiles 0, 1, 2, then
//! the rest: Sk 193 and 300 have a fourth and fifth tile) and 16-key steps,
//! and past its shared-memory cap (Sk 400 at D 64: the pipelined kernel),
//! with and without a per-row mask (the padding rows of the last slice read
//! row Sq - 1's mask on full key tiles).
TEST(CudaAttention, ResidentSlicesAndKeyGroups) {
  KILN_REQUIRE_GPU();
  std::vector<Case> cases;
  for (int64_t d : {32, 64}) {
    for (auto [sq, sk] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 1}, {5, 16}, {16, 17}, {17, 64}, {48, 65}, {70, 193}, {197, 197}, {257, 70}, {33, 300}, {20, 400}}) {
      cases.push_back({{2, 3, sq, d}, {2, 3, sk, d}, {2, 3, sk, d}});
      cases.push_back({{2, 3, sq, d}, {2, 3, sk, d}, {2, 3, sk, d}, {2, 3, sq, sk}, -2.f, 2.f});
    }
  }
  expectCases(cases);
}

TEST(CudaAttention, EveryHeadSize) {
  KILN_REQUIRE_GPU();
  std::vector<Case> cases;
  for (int64_t d : {32, 80, 96, 128}) cases.push_back({{2, 2, 67, d}, {2, 2, 45, d}, {2, 2, 45, d}});  // tensor cores
  for (auto [d, dv] : std::vector<std::pair<int64_t, int64_t>>{
           {72, 72}, {33, 33}, {1, 1}, {64, 40}, {16, 256}, {256, 256}, {512, 100}})  // the last two: 16, 8 keys a step
    cases.push_back({{2, 2, 67, d}, {2, 2, 45, d}, {2, 2, 45, dv}});  // the rows path
  expectCases(cases);
}

TEST(CudaAttention, MasksBroadcastByStrides) {
  KILN_REQUIRE_GPU();
  expectCases({
      {{2, 4, 128, 64}, {2, 4, 128, 64}, {2, 4, 128, 64}, {2, 1, 1, 128}, -3.f, 3.f},  // BERT's [B, 1, 1, Sk]
      {{2, 3, 197, 64}, {2, 3, 197, 64}, {2, 3, 197, 64}, {197, 197}, -2.f, 2.f},      // one [Sq, Sk]
      {{2, 3, 19, 32}, {2, 3, 70, 32}, {2, 3, 70, 32}, {1, 3, 19, 70}, -2.f, 2.f},     // per head
      {{2, 3, 19, 80}, {2, 3, 70, 80}, {2, 3, 70, 80}, {2, 3, 19, 70}, -2.f, 2.f},     // full
      {{2, 3, 19, 64}, {2, 3, 70, 64}, {2, 3, 70, 64}, {2, 1, 19, 1}, -2.f, 2.f},      // per batch and query row
      {{4, 9, 72}, {4, 13, 72}, {4, 13, 72}, {4, 1, 13}, -2.f, 2.f},                   // rank 3, rows path
      {{4, 9, 64}, {4, 13, 64}, {4, 13, 64}, {13}, -2.f, 2.f},
  });
}

TEST(CudaAttention, ManyBatchesAndHeads) {
  KILN_REQUIRE_GPU();
  expectCases({{{64, 12, 17, 64}, {64, 12, 17, 64}, {64, 12, 17, 64}, {64, 1, 1, 17}, -1.f, 1.f}});
}

TEST(CudaAttention, PaddingMasksAndFullyMaskedRows) {
  KILN_REQUIRE_GPU();
  for (DType type : kTypes) {
    // -10000 (BERT's) and -inf on padding keys; batch 2 masks every key: finite gives the uniform
    // average of V, -inf gives NaN (as the unfused Softmax does: 0 / 0).
    for (float masked : {-10000.f, kNegInf}) {
      Case c{{3, 2, 40, 64}, {3, 2, 100, 64}, {3, 2, 100, 64}};
      OpSpec s = makeSpec(c, type, 5);
      s.inputs.push_back(dyn(paddingMask(3, 100, {0, 37, 100}, masked).castTo(type)));
      expectMatches(s, type, describe(c, type) + " padding mask " + std::to_string(masked));
      Case r{{3, 2, 40, 72}, {3, 2, 100, 72}, {3, 2, 100, 72}};  // the rows path
      OpSpec sr = makeSpec(r, type, 6);
      sr.inputs.push_back(dyn(paddingMask(3, 100, {0, 37, 100}, masked).castTo(type)));
      expectMatches(sr, type, describe(r, type) + " padding mask " + std::to_string(masked));
    }
    // -inf in a first key tile only: the row's max comes from the second tile.
    Case c{{1, 1, 3, 64}, {1, 1, 90, 64}, {1, 1, 90, 64}};
    OpSpec s = makeSpec(c, type, 8);
    std::vector<float> m(3 * 90, 0.f);
    for (int64_t j = 0; j < 64; ++j) m[j] = kNegInf;         // row 0: keys 64.. only
    for (int64_t j = 0; j < 90; ++j) m[90 + j] = j == 89 ? 0.f : kNegInf;  // row 1: the last key only
    s.inputs.push_back(dyn(floats({3, 90}, m).castTo(type)));
    expectMatches(s, type, describe(c, type) + " -inf key tiles");
  }
}

TEST(CudaAttention, NoKeysGiveZeros) {
  KILN_REQUIRE_GPU();
  for (DType type : kTypes) {
    Case c{{2, 5, 64}, {2, 0, 64}, {2, 0, 64}};
    expectMatches(makeSpec(c, type, 3), type, describe(c, type));
  }
}

//! KilnAttention.flash's kernel run directly on `spec`: every view starts `offset`
//! elements into its buffer (1: only 2-byte aligned for FP16/BF16), and the
//! enqueue is captured into a CUDA graph and replayed when `capture`.
ir::Tensor runKernel(const OpSpec& spec, int64_t offset, bool capture) {
  BuiltGraph b = buildGraph(spec);
  const backends::DeviceTactic* t = cuda::backend().findTactic("KilnAttention.flash");
  if (!t) throw Error("no CUDA tactic KilnAttention.flash");
  auto kernel = t->create(*b.node);
  EXPECT_EQ(kernel->workspaceBytes(), 0u);
  const DType type = spec.inputs[0].value.dtype();
  const std::size_t es = dtypeSize(type);
  std::vector<std::shared_ptr<void>> keep;
  std::vector<backends::TensorView> in(spec.inputs.size()), out(1);
  for (std::size_t i = 0; i < spec.inputs.size(); ++i) {
    const ir::Tensor& host = spec.inputs[i].value;
    keep.push_back(cuda::backend().allocate(host.bytes() + offset * es));
    char* at = static_cast<char*>(keep.back().get()) + offset * es;
    EXPECT_EQ(cudaMemcpy(at, host.data(), host.bytes(), cudaMemcpyHostToDevice), cudaSuccess);
    in[i] = cpu::makeView(at, type, host.dims());
  }
  ir::Tensor got(type, ir::staticDims(b.node->outputs[0]->shape));
  keep.push_back(cuda::backend().allocate(got.bytes() + offset * es));
  char* y = static_cast<char*>(keep.back().get()) + offset * es;
  EXPECT_EQ(cudaMemset(y, 0xff, got.bytes()), cudaSuccess);  // NaN poison: every element must be written
  out[0] = cpu::makeView(y, type, got.dims());
  cudaStream_t stream = nullptr;
  EXPECT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  backends::DeviceLaunch launch{stream, nullptr, nullptr};  // no workspace: the kernel needs none
  if (capture) {
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    EXPECT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
    kernel->enqueue(launch, in.data(), out.data());
    EXPECT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
    EXPECT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    EXPECT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  } else {
    kernel->enqueue(launch, in.data(), out.data());
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  }
  cudaStreamDestroy(stream);
  EXPECT_EQ(cudaMemcpy(got.mutableData(), y, got.bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
  return got;
}

TEST(CudaAttention, EnqueueIsGraphCapturable) {
  KILN_REQUIRE_GPU();
  Case c{{2, 3, 50, 64}, {2, 3, 77, 64}, {2, 3, 77, 64}, {2, 1, 1, 77}, -2.f, 2.f};
  for (DType type : kTypes) {
    OpSpec spec = makeSpec(c, type, 21);
    EXPECT_TRUE(close(runKernel(spec, 0, true), reference(spec, scaleOf(spec)), tolerance(type)))
        << describe(c, type) << " (graph)";
  }
}

TEST(CudaAttention, MisalignedViewsTakeTheRowsPath) {
  KILN_REQUIRE_GPU();
  Case c{{2, 3, 50, 64}, {2, 3, 77, 64}, {2, 3, 77, 64}, {2, 1, 1, 77}, -2.f, 2.f};
  for (DType type : kTypes) {
    OpSpec spec = makeSpec(c, type, 23);
    EXPECT_TRUE(close(runKernel(spec, 1, false), reference(spec, scaleOf(spec)), tolerance(type)))
        << describe(c, type) << " (views one element off 16-byte alignment)";
  }
}

// A network with one KilnAttention layer (FP32 IO, a constant BERT-style mask)
// built for the GPU through buildPlan with kFP16 / kBF16 / neither, run through
// the public runtime with device buffers.
TEST(CudaAttention, NetworkBuiltForTheGpu) {
  KILN_REQUIRE_GPU();
  const Dims qd{2, 3, 45, 64}, kd{2, 3, 61, 64};
  for (DType precision : kTypes) {
    ir::Graph g;
    ir::Value* q = g.addValue("q", DType::kFLOAT, ir::shapeOf(qd));
    ir::Value* k = g.addValue("k", DType::kFLOAT, ir::shapeOf(kd));
    ir::Value* v = g.addValue("v", DType::kFLOAT, ir::shapeOf(kd));
    g.inputs = {q, k, v};
    ir::Tensor maskValues = paddingMask(2, 61, {0, 20}, -10000.f);
    ir::Value* mask = g.addConstant("mask", maskValues);
    ir::Value* y = g.addValue("y");
    ir::Node* node = g.addNode("KilnAttention", "attention", {q, k, v, mask}, {y});
    g.outputs = {y};
    ir::inferNode(*node);

    builder::BuildOptions o;
    o.device = "cuda";
    o.fp16 = precision == DType::kHALF;
    o.bf16 = precision == DType::kBF16;
    o.tf32 = false;
    std::vector<uint8_t> bytes;
    try {
      bytes = builder::buildPlan(g, o);
    } catch (const Error& e) {
      FAIL() << dataTypeName(precision) << ": " << e.what();
    }
    auto owner = std::make_shared<std::vector<uint8_t>>(bytes);
    plan::PlanContents p = plan::readPlan(owner->data(), owner->size(), owner);
    int attentions = 0;
    for (const auto& n : p.graph->nodes())
      if (n->op == "KilnAttention") {
        ++attentions;
        // FP32: the builder times the unfused KilnAttention.gemm against it and keeps the faster.
        EXPECT_TRUE(n->tactic == "KilnAttention.flash" ||
                    (precision == DType::kFLOAT && n->tactic == "KilnAttention.gemm"))
            << dataTypeName(precision) << ": " << n->tactic;
        EXPECT_EQ(n->outputs[0]->dtype, precision) << "the attention runs in the build's precision";
        // FP16/BF16: the builder timed the two tensor-core variants and left the winner's attribute.
        EXPECT_EQ(n->has("kiln_attention_prefetch"), precision != DType::kFLOAT) << dataTypeName(precision);
      }
    EXPECT_EQ(attentions, 1);

    RecordingLogger logger;
    std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
    std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(bytes.data(), bytes.size()));
    ASSERT_TRUE(engine) << logger.all();
    std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());
    ASSERT_TRUE(ctx) << logger.all();
    OpSpec spec;
    spec.inputs = {dyn(randomTensor(qd, 1, -2.f, 2.f)), dyn(randomTensor(kd, 2, -2.f, 2.f)),
                   dyn(randomTensor(kd, 3, -1.f, 1.f)), dyn(maskValues)};
    std::vector<std::shared_ptr<void>> keep;
    const char* names[] = {"q", "k", "v"};
    for (int i = 0; i < 3; ++i) {
      keep.push_back(upload(spec.inputs[i].value));
      ASSERT_TRUE(ctx->setTensorAddress(names[i], keep.back().get())) << logger.all();
    }
    ir::Tensor want = reference(spec, 1.f / 8.f);
    ir::Tensor got(DType::kFLOAT, want.dims());
    keep.push_back(cuda::backend().allocate(got.bytes()));
    ASSERT_TRUE(ctx->setTensorAddress("y", keep.back().get())) << logger.all();
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
    ASSERT_TRUE(ctx->enqueueV3(stream)) << logger.all();
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    cudaStreamDestroy(stream);
    ASSERT_EQ(cudaMemcpy(got.mutableData(), keep.back().get(), got.bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
    // The reference reads FP32 inputs; a reduced engine rounds them first, hence twice the kernel's tolerance.
    EXPECT_TRUE(close(got, want, precision == DType::kFLOAT ? 1e-4f : 2 * tolerance(precision)))
        << dataTypeName(precision) << " engine";
  }
}

}  // namespace
}  // namespace kiln::test
