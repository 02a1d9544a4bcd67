// KilnAttention.gemm (backends/cuda/ops/attention_gemm.cc: the unfused attention
// on cuBLASLt and a softmax kernel) against attention_test_util.h's FP64
// reference, FP32 only (supports() declines FP16/BF16), with TF32 off and on,
// and each batch form (kiln_attention_gemm_batch: the default, pointer arrays,
// strided products): odd Sq/Sk (1, 7, 197), Sq != Sk, rank 3 and 4, batch x
// heads up to 768, head sizes 1 to 512 and Dv != D, every softmax row form,
// broadcast masks, padding masks with fully masked rows (-inf: NaN), no keys,
// unaligned buffers, and a CUDA-graph capture replayed on new inputs. The
// views (packed QKV, head split) are attention_views_gpu_test.cc's.
// Each test starts with KILN_REQUIRE_GPU() and skips without a GPU.
#include <string>
#include <vector>

#include "unit/cuda/attention_test_util.h"
#include "unit/cuda/gpu_test_util.h"

namespace kiln::test {
namespace {

using namespace attention_ref;  // NOLINT: the reference, the cases and the comparison

//! The products' inputs rounded to TF32 (10-bit mantissa: Q, K, then P, V): a simulation of these
//! cases with truncated inputs stays within 1.8e-3 of the output's range (the sharpest: scale
//! 0.6 over 300 keys), 1e-3 typically; exact FP32 within 1e-6.
constexpr float kGemmTf32Tolerance = 3e-3f, kGemmFp32Tolerance = 1e-5f;

//! KilnAttention.gemm on FP32 `spec` against the reference, TF32 off and on, each batch form
//! (attribute kiln_attention_gemm_batch: 0 the default, 1 pointer arrays, 2 strided products);
//! `exact`: the exact-FP32 tolerance; `offset`: bytes past 256-byte alignment of every buffer.
void expectGemmMatches(const OpSpec& spec, const std::string& what, float exact = kGemmFp32Tolerance,
                       std::size_t offset = 0) {
  const ir::Tensor want = reference(spec, scaleOf(spec));
  for (int64_t tf32 : {0, 1})
    for (int64_t form : {0, 1, 2}) {
      OpSpec variant = spec;
      variant.attrs["kiln_tf32"] = tf32;
      variant.attrs["kiln_attention_gemm_batch"] = form;
      const std::string which = what + (tf32 ? " TF32" : " FP32") + ", batch form " + std::to_string(form);
      std::vector<ir::Tensor> got;
      try {
        got = runOnGpu(variant, "KilnAttention.gemm", offset);
      } catch (const Error& e) {
        ADD_FAILURE() << which << ": " << e.what();
        continue;
      }
      ASSERT_EQ(got.size(), 1u) << which;
      EXPECT_EQ(got[0].dtype(), DType::kFLOAT) << which;
      EXPECT_TRUE(close(got[0], want, tf32 ? kGemmTf32Tolerance : exact)) << which;
    }
}

void expectGemmCases(const std::vector<Case>& cases) {
  uint32_t seed = 101;
  for (const Case& c : cases) expectGemmMatches(makeSpec(c, DType::kFLOAT, seed += 7), describe(c, DType::kFLOAT));
}

TEST(CudaAttentionGemm, OddLengthsRanksAndHeadSizes) {
  KILN_REQUIRE_GPU();
  expectGemmCases({
      {{2, 3, 197, 64}, {2, 3, 197, 64}, {2, 3, 197, 64}},  // ViT-B/16's 197
      {{2, 3, 7, 64}, {2, 3, 7, 64}, {2, 3, 7, 64}},
      {{1, 2, 1, 64}, {1, 2, 1, 64}, {1, 2, 1, 64}},        // one query, one key
      {{3, 5, 64}, {3, 130, 64}, {3, 130, 64}},             // rank 3, Sq != Sk
      {{2, 70, 64}, {2, 9, 64}, {2, 9, 64}},
      {{5, 1, 32}, {5, 197, 32}, {5, 197, 32}},             // rank 3, one query row each
      {{2, 2, 67, 72}, {2, 2, 45, 72}, {2, 2, 45, 40}},     // Dv != D
      {{2, 3, 13, 13}, {2, 3, 29, 13}, {2, 3, 29, 7}},      // odd D and Dv
      {{2, 2, 9, 1}, {2, 2, 11, 1}, {2, 2, 11, 1}},         // D = 1
      {{1, 2, 19, 512}, {1, 2, 23, 512}, {1, 2, 23, 256}},  // the largest head sizes
      {{1, 1, 65, 64}, {1, 1, 300, 64}, {1, 1, 300, 64}, {}, 0, 0, 0.6f},  // sharp softmax, 300 keys
  });
}

//! The softmax's forms: rows in registers (up to 32 x 32 keys, by powers of two) and, past 1024 keys, in passes.
TEST(CudaAttentionGemm, SoftmaxRowLengths) {
  KILN_REQUIRE_GPU();
  std::vector<Case> cases;
  for (int64_t sk : {31, 33, 64, 65, 255, 257, 512, 600, 1024, 1025, 1500})
    cases.push_back({{2, 3, 5, 32}, {2, 3, sk, 32}, {2, 3, sk, 32}, {2, 1, 1, sk}, -2.f, 2.f});
  expectGemmCases(cases);
}

TEST(CudaAttentionGemm, MasksBroadcastByStrides) {
  KILN_REQUIRE_GPU();
  expectGemmCases({
      {{2, 4, 128, 64}, {2, 4, 128, 64}, {2, 4, 128, 64}, {2, 1, 1, 128}, -3.f, 3.f},  // BERT's [B, 1, 1, Sk]
      {{2, 3, 197, 64}, {2, 3, 197, 64}, {2, 3, 197, 64}, {197, 197}, -2.f, 2.f},      // one [Sq, Sk]
      {{2, 3, 19, 32}, {2, 3, 70, 32}, {2, 3, 70, 32}, {1, 3, 19, 70}, -2.f, 2.f},     // per head
      {{2, 3, 19, 80}, {2, 3, 70, 80}, {2, 3, 70, 80}, {2, 3, 19, 70}, -2.f, 2.f},     // full
      {{2, 3, 19, 64}, {2, 3, 70, 64}, {2, 3, 70, 64}, {2, 1, 19, 1}, -2.f, 2.f},      // per batch and query row
      {{4, 9, 72}, {4, 13, 72}, {4, 13, 72}, {4, 1, 13}, -2.f, 2.f},                   // rank 3
      {{4, 9, 64}, {4, 13, 64}, {4, 13, 64}, {13}, -2.f, 2.f},
      {{64, 12, 17, 64}, {64, 12, 17, 64}, {64, 12, 17, 64}, {64, 1, 1, 17}, -1.f, 1.f},  // batch x heads 768
  });
}

TEST(CudaAttentionGemm, PaddingMasksAndFullyMaskedRows) {
  KILN_REQUIRE_GPU();
  // -10000 on every key of batch 2's rows: each masked score is rounded to FP32 at 10000 (ulp 1e-3), where the
  // product's last bits and the reference's may round apart (simulated: up to 7.7e-5 of the range): 2e-4.
  // -inf on every key: NaN, as the unfused Softmax.
  for (float masked : {-10000.f, kNegInf}) {
    Case c{{3, 2, 40, 64}, {3, 2, 100, 64}, {3, 2, 100, 64}};
    OpSpec s = makeSpec(c, DType::kFLOAT, 5);
    s.inputs.push_back(dyn(paddingMask(3, 100, {0, 37, 100}, masked)));
    expectGemmMatches(s, describe(c, DType::kFLOAT) + " padding mask " + std::to_string(masked),
                      masked == kNegInf ? kGemmFp32Tolerance : 2e-4f);
  }
  Case c{{1, 1, 3, 64}, {1, 1, 90, 64}, {1, 1, 90, 64}};
  OpSpec s = makeSpec(c, DType::kFLOAT, 8);
  std::vector<float> m(3 * 90, 0.f);
  for (int64_t j = 0; j < 64; ++j) m[j] = kNegInf;                        // row 0: keys 64.. only
  for (int64_t j = 0; j < 90; ++j) m[90 + j] = j == 89 ? 0.f : kNegInf;  // row 1: the last key only
  for (int64_t j = 0; j < 90; ++j) m[180 + j] = kNegInf;                 // row 2: none: NaN
  s.inputs.push_back(dyn(floats({3, 90}, m)));
  expectGemmMatches(s, describe(c, DType::kFLOAT) + " -inf keys");
}

TEST(CudaAttentionGemm, NoKeysGiveZerosAndNoQueriesNothing) {
  KILN_REQUIRE_GPU();
  expectGemmCases({{{2, 5, 64}, {2, 0, 64}, {2, 0, 64}}, {{2, 3, 0, 64}, {2, 3, 4, 64}, {2, 3, 4, 64}}});
}

//! Buffers 4 bytes past 256-byte alignment: cuBLASLt is told so and picks algorithms that allow it.
TEST(CudaAttentionGemm, UnalignedBuffers) {
  KILN_REQUIRE_GPU();
  Case c{{2, 3, 50, 64}, {2, 3, 77, 64}, {2, 3, 77, 64}, {2, 1, 1, 77}, -2.f, 2.f};
  expectGemmMatches(makeSpec(c, DType::kFLOAT, 31), describe(c, DType::kFLOAT) + " 4 bytes off", kGemmFp32Tolerance,
                    4);
}

//! Whether cuBLASLt has pointer-array algorithms here for ViT-B/16's products: a failure says the
//! tactic runs its strided products instead (slower, as many products as min(batch, heads)).
TEST(CudaAttentionGemm, PointerArraysHaveAnAlgorithm) {
  KILN_REQUIRE_GPU();
  Case c{{8, 12, 197, 64}, {8, 12, 197, 64}, {8, 12, 197, 64}};
  OpSpec s = makeSpec(c, DType::kFLOAT, 41);
  s.attrs["kiln_attention_gemm_batch"] = int64_t{1};
  for (int64_t tf32 : {0, 1}) {
    s.attrs["kiln_tf32"] = tf32;
    try {
      EXPECT_TRUE(close(runOnGpu(s, "KilnAttention.gemm")[0], reference(s, scaleOf(s)),
                        tf32 ? kGemmTf32Tolerance : kGemmFp32Tolerance));
    } catch (const Error& e) {
      ADD_FAILURE() << (tf32 ? "TF32" : "FP32") << ": " << e.what();
    }
  }
}

//! KilnAttention.gemm's kernel on `first` (enqueued once, then captured into a CUDA graph), and the
//! graph's replay after `second`'s inputs (same shapes) are copied into the same buffers.
std::vector<ir::Tensor> runGemmCaptured(const OpSpec& first, const OpSpec& second) {
  const backends::DeviceTactic* t = cuda::backend().findTactic("KilnAttention.gemm");
  if (!t) throw Error("no CUDA tactic KilnAttention.gemm");
  BuiltGraph b = buildGraph(first);
  auto kernel = t->create(*b.node);
  std::vector<std::shared_ptr<void>> keep;
  std::vector<backends::TensorView> in(first.inputs.size()), out(1);
  for (std::size_t i = 0; i < first.inputs.size(); ++i) {
    keep.push_back(upload(first.inputs[i].value));
    in[i] = cpu::makeView(keep.back().get(), DType::kFLOAT, first.inputs[i].value.dims());
  }
  // Two tensors of their own: copies of one ir::Tensor share its storage.
  std::vector<ir::Tensor> got;
  for (int i = 0; i < 2; ++i) got.emplace_back(DType::kFLOAT, ir::staticDims(b.node->outputs[0]->shape));
  keep.push_back(cuda::backend().allocate(got[0].bytes()));
  out[0] = cpu::makeView(keep.back().get(), DType::kFLOAT, got[0].dims());
  std::shared_ptr<void> workspace = cuda::backend().allocate(kernel->workspaceBytes());
  std::shared_ptr<void> libs = cuda::backend().createLibraries();
  cudaStream_t stream = nullptr;
  EXPECT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  backends::DeviceLaunch launch{stream, workspace.get(), libs.get()};
  kernel->enqueue(launch, in.data(), out.data());  // first run outside the capture (the descriptors' cache)
  cuda::backend().synchronize(stream);
  EXPECT_EQ(cudaMemcpy(got[0].mutableData(), out[0].data, got[0].bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(cudaMemset(out[0].data, 0xff, got[1].bytes()), cudaSuccess);  // NaN poison for the replay

  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  EXPECT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  kernel->enqueue(launch, in.data(), out.data());
  EXPECT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
  EXPECT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  for (std::size_t i = 0; i < second.inputs.size(); ++i)
    EXPECT_EQ(cudaMemcpy(const_cast<void*>(in[i].data), second.inputs[i].value.data(), second.inputs[i].value.bytes(),
                         cudaMemcpyHostToDevice),
              cudaSuccess);
  for (int replay = 0; replay < 2; ++replay) EXPECT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  EXPECT_EQ(cudaMemcpy(got[1].mutableData(), out[0].data, got[1].bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
  return got;
}

TEST(CudaAttentionGemm, EnqueueIsGraphCapturable) {
  KILN_REQUIRE_GPU();
  Case c{{2, 3, 50, 64}, {2, 3, 77, 64}, {2, 3, 77, 64}, {2, 1, 1, 77}, -2.f, 2.f};
  for (int64_t form : {1, 2}) {  // the pointer arrays (filled on the device in the graph), the strided products
    OpSpec first = makeSpec(c, DType::kFLOAT, 51), second = makeSpec(c, DType::kFLOAT, 61);
    first.attrs["kiln_attention_gemm_batch"] = second.attrs["kiln_attention_gemm_batch"] = form;
    std::vector<ir::Tensor> got;
    try {
      got = runGemmCaptured(first, second);
    } catch (const Error& e) {
      ADD_FAILURE() << "batch form " << form << ": " << e.what();
      continue;
    }
    EXPECT_TRUE(close(got[0], reference(first, scaleOf(first)), kGemmFp32Tolerance)) << "batch form " << form;
    EXPECT_TRUE(close(got[1], reference(second, scaleOf(second)), kGemmFp32Tolerance))
        << "batch form " << form << " (graph replay on new inputs)";
  }
}

}  // namespace
}  // namespace kiln::test
