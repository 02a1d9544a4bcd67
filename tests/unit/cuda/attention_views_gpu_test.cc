// KilnAttention.flash reading Q, K, V and writing y through views
// (ir/ops/attention_view.h) in the layouts of ops_nn/attention_views_util.h
// (BERT's [B,S,H,D], torch MHA's packed [S,B,3,H,D] with selects, torchvision
// ViT's [B,S,3,H,D], a rank-3 seq-first packed form), every kernel variant, FP32 /
// FP16 / BF16, against the CPU reference on the same (rounded) numbers laid out
// contiguously; and KilnAttention.gemm (FP32, TF32 off and on, each batch form)
// on the same layouts.
// Paths: tensor cores (D 32/64/80/128), rows (D 72, odd D, Dv != D, FP32),
// and the rows fallback when the buffers start one element off 16-byte alignment.
// Tolerances as attention_gpu_test.cc. Each test starts with KILN_REQUIRE_GPU().
#include <sstream>

#include "unit/cuda/gpu_test_util.h"
#include "unit/ops_nn/attention_views_util.h"

namespace kiln::test {
namespace {

using namespace attention_views;  // NOLINT: the layouts' helpers

float tolerance(DType t) { return t == DType::kHALF ? 4e-3f : t == DType::kBF16 ? 1.6e-2f : 1e-4f; }

//! `got` against `want` within rtol of the element and of the output's scale.
::testing::AssertionResult close(const ir::Tensor& got, const ir::Tensor& want, float rtol) {
  if (got.dims() != want.dims())
    return ::testing::AssertionFailure() << "shape " << ir::toString(got.dims()) << ", want " << ir::toString(want.dims());
  const std::vector<float> g = got.toFloat(), w = want.toFloat();
  float scale = 0.f;
  for (float x : w) scale = std::max(scale, std::fabs(x));
  int64_t bad = 0, first = -1;
  for (std::size_t i = 0; i < g.size(); ++i)
    if (!(std::fabs(g[i] - w[i]) <= rtol * (std::fabs(w[i]) + scale)) && bad++ == 0) first = static_cast<int64_t>(i);
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << g.size() << " elements off; first at " << first << ": got "
                                       << g[first] << ", want " << w[first];
}

//! `misaligned`: every buffer starts one element past 16-byte alignment.
void expectCase(const Case& c, uint32_t seed, bool misaligned = false) {
  for (DType type : {DType::kFLOAT, DType::kHALF, DType::kBF16}) {
    const std::size_t offset = misaligned ? dtypeSize(type) : 0;
    std::ostringstream what;
    what << dataTypeName(type) << " layout " << static_cast<int>(c.layout) << " lead " << ir::toString(c.lead) << " Sq "
         << c.sq << " Sk " << c.sk << " D " << c.d << " Dv " << c.dv << " offset " << offset;
    const Specs s = makeSpecs(c, seed, type);
    const ir::Tensor want = runTactic(s.contiguous, "KilnAttention.ref")[0];
    // The staged kernel with and without the prefetch, then the pipelined one (variant 2), the wide one (3) and
    // the resident one (4).
    for (int64_t variantIndex : {0, 1, 2, 3, 4}) {
      OpSpec variant = s.viewed;
      variant.attrs["kiln_attention_prefetch"] = int64_t{variantIndex == 1};
      variant.attrs["kiln_attention_pipelined"] = int64_t{variantIndex == 2};
      variant.attrs["kiln_attention_wide"] = int64_t{variantIndex == 3};
      variant.attrs["kiln_attention_resident"] = int64_t{variantIndex == 4};
      const char* name = variantIndex == 1   ? " (prefetch)"
                         : variantIndex == 2 ? " (pipelined)"
                         : variantIndex == 3 ? " (wide)"
                         : variantIndex == 4 ? " (resident)"
                                             : "";
      std::vector<ir::Tensor> got;
      try {
        got = runOnGpu(variant, "KilnAttention.flash", offset);
      } catch (const Error& e) {
        ADD_FAILURE() << what.str() << name << ": " << e.what();
        continue;
      }
      ASSERT_EQ(got.size(), 1u) << what.str();
      ASSERT_EQ(got[0].dims(), viewDims(c, 3)) << what.str();
      EXPECT_EQ(got[0].dtype(), type) << what.str();
      EXPECT_TRUE(close(unview(c, got[0]), want, tolerance(type))) << what.str() << name;
    }
  }
}

TEST(CudaAttentionViews, BertLayout) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 3;
  for (const Case& c : std::vector<Case>{
           {Layout::kBert, {2, 12}, 128, 128, 64, 64, {2, 1, 1, 128}},  // BERT-base, padding mask
           {Layout::kBert, {3, 5}, 7, 197, 32, 32, {}},                 // odd H, Sq != Sk, 4 key tiles
           {Layout::kBert, {1, 1}, 1, 1, 80, 80, {}},
           {Layout::kBert, {2, 3}, 70, 9, 128, 128, {2, 3, 70, 9}},
           {Layout::kBert, {2, 3}, 19, 45, 72, 72, {2, 1, 1, 45}},  // rows path
           {Layout::kBert, {3, 2}, 13, 29, 13, 7, {}},              // rows path, odd D, Dv != D
       })
    expectCase(c, seed += 10);
}

TEST(CudaAttentionViews, PackedQkvLayouts) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 5;
  for (const Case& c : std::vector<Case>{
           {Layout::kPacked, {1, 12}, 197, 197, 64, 64, {}},   // ViT-B/16, batch 1
           {Layout::kPacked, {8, 12}, 197, 197, 64, 64, {}},   // ViT-B/16, batch 8
           {Layout::kPackedBatchFirst, {8, 12}, 197, 197, 64, 64, {}},  // torchvision's [B, S, 3, H, D]
           {Layout::kPacked, {2, 3}, 7, 7, 32, 32, {7, 7}},
           {Layout::kPacked, {4, 1}, 1, 1, 64, 64, {}},
           {Layout::kPacked, {2, 3}, 67, 67, 33, 33, {2, 1, 1, 67}},  // rows path
           {Layout::kSeqFirst3, {6}, 11, 11, 64, 64, {6, 11, 11}},
           {Layout::kSeqFirst3, {5}, 130, 130, 80, 80, {}},
           {Layout::kSeqFirst3, {3}, 9, 9, 5, 5, {}},
       })
    expectCase(c, seed += 10);
}

TEST(CudaAttentionViews, UnalignedBuffersTakeTheRowsPath) {
  KILN_REQUIRE_GPU();
  // One element past 16-byte alignment: the tensor-core kernel's 16-byte loads are off, the rows path serves.
  expectCase({Layout::kPacked, {2, 3}, 70, 70, 64, 64, {2, 1, 1, 70}}, 7, true);
  expectCase({Layout::kBert, {2, 3}, 19, 45, 64, 64, {}}, 8, true);
}

//! KilnAttention.gemm (FP32) on the views: TF32 off (1e-5) and on (3e-3: attention_gemm_gpu_test.cc says
//! why), each batch form (0 the default, 1 pointer arrays, 2 strided products per batch or head index).
void expectGemmCase(const Case& c, uint32_t seed, bool misaligned = false) {
  const std::size_t offset = misaligned ? sizeof(float) : 0;
  const Specs s = makeSpecs(c, seed, DType::kFLOAT);
  const ir::Tensor want = runTactic(s.contiguous, "KilnAttention.ref")[0];
  for (int64_t tf32 : {0, 1})
    for (int64_t form : {0, 1, 2}) {
      std::ostringstream what;
      what << "layout " << static_cast<int>(c.layout) << " lead " << ir::toString(c.lead) << " Sq " << c.sq << " Sk "
           << c.sk << " D " << c.d << " Dv " << c.dv << " offset " << offset << (tf32 ? " TF32" : " FP32")
           << ", batch form " << form;
      OpSpec variant = s.viewed;
      variant.attrs["kiln_tf32"] = tf32;
      variant.attrs["kiln_attention_gemm_batch"] = form;
      std::vector<ir::Tensor> got;
      try {
        got = runOnGpu(variant, "KilnAttention.gemm", offset);
      } catch (const Error& e) {
        ADD_FAILURE() << what.str() << ": " << e.what();
        continue;
      }
      ASSERT_EQ(got.size(), 1u) << what.str();
      ASSERT_EQ(got[0].dims(), viewDims(c, 3)) << what.str();
      EXPECT_TRUE(close(unview(c, got[0]), want, tf32 ? 3e-3f : 1e-5f)) << what.str();
    }
}

TEST(CudaAttentionViews, GemmTacticReadsTheViews) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 9;
  for (const Case& c : std::vector<Case>{
           {Layout::kPackedBatchFirst, {8, 12}, 197, 197, 64, 64, {}},  // ViT-B/16, batch 8
           {Layout::kPackedBatchFirst, {1, 12}, 197, 197, 64, 64, {}},  // batch 1: one stride
           {Layout::kPackedBatchFirst, {3, 2}, 7, 7, 32, 32, {3, 1, 1, 7}},
           {Layout::kPacked, {2, 3}, 197, 197, 64, 64, {197, 197}},     // torch MHA's [S, B, 3, H, D]
           {Layout::kPacked, {4, 1}, 1, 1, 64, 64, {}},
           {Layout::kBert, {2, 12}, 128, 128, 64, 64, {2, 1, 1, 128}},  // BERT-base, padding mask
           {Layout::kBert, {3, 5}, 7, 197, 32, 32, {}},                 // Sq != Sk, odd H
           {Layout::kBert, {5, 3}, 19, 45, 72, 72, {5, 3, 19, 45}},     // more batches than heads
           {Layout::kBert, {3, 2}, 13, 29, 13, 7, {}},                  // odd D, Dv != D
           {Layout::kSeqFirst3, {6}, 11, 11, 64, 64, {6, 11, 11}},      // rank 3
           {Layout::kSeqFirst3, {3}, 9, 9, 5, 5, {}},
       })
    expectGemmCase(c, seed += 10);
  expectGemmCase({Layout::kPackedBatchFirst, {2, 3}, 70, 70, 64, 64, {2, 1, 1, 70}}, 7, true);  // 4 bytes off
}

}  // namespace
}  // namespace kiln::test
