// The AVX512_BF16 micro-kernels (ukernels/gemm_bf16.h) against the
// definition: packing (row-major B, transposed B, scaled), row conversion and
// the kMR x 32 tiles, on sizes that leave every tail (odd K, N past a panel,
// M past a tile). Skipped on CPUs without AVX512_BF16.
//
// Tolerance: the reference is computed in double from the inputs rounded to
// bf16 as the kernel rounds them (nearest even), so only the kernel's f32
// sums differ: |got - want| <= 1e-5 * sum_k |a_ik b_kj|.
#include <cmath>
#include <cstring>

#include "backends/cpu/ukernels/gemm_bf16.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

namespace bf = cpu::gemmbf16;

#define SKIP_WITHOUT_BF16() \
  if (!bf::hostSupportsBF16()) GTEST_SKIP() << "this CPU has no AVX512_BF16"

float roundBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&x, &u, sizeof u);
  return x;
}

struct Case {
  int64_t m, n, k;
  bool transB = false;  // B(k, n) = b[n * K + k]: how attention packs K^T
  float scale = 1.f;
};

void checkCase(const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << c.m << "x" << c.n << "x" << c.k << (c.transB ? " transB" : "") << " scale "
                                    << c.scale);
  const int64_t lda = c.k + 5;  // A rows with a stride of their own
  const ir::Tensor at = randomTensor({std::max<int64_t>(c.m * lda, 1)}, seed, -3.f, 3.f);
  const ir::Tensor bt = randomTensor({std::max<int64_t>(c.k * c.n, 1)}, seed + 1);
  const float* a = at.as<float>();
  const float* b = bt.as<float>();
  const int64_t rsb = c.transB ? 1 : c.n, csb = c.transB ? c.k : 1;
  const int64_t aw = bf::pairs(c.k) + 1;  // converted rows with padding between them
  std::vector<uint32_t> ap(std::max<int64_t>(c.m * aw, 1)), bp(std::max<int64_t>(bf::packedBWords(c.k, c.n), 1));
  bf::convertRows(a, lda, c.m, c.k, ap.data(), aw);
  bf::packB(b, rsb, csb, c.k, c.n, c.scale, bp.data());
  const int64_t ldc = c.n + 3;
  std::vector<float> got(std::max<int64_t>(c.m * ldc, 1), NAN);
  bf::compute(c.m, c.n, c.k, ap.data(), aw, bp.data(), got.data(), ldc);
  int bad = 0;
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double acc = 0, mag = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        const double p = double(roundBf16(a[i * lda + kk])) * roundBf16(b[kk * rsb + j * csb] * c.scale);
        acc += p;
        mag += std::fabs(p);
      }
      const float want = static_cast<float>(acc), tol = 1e-5f * static_cast<float>(mag) + 1e-6f;
      const float g = got[i * ldc + j];
      if (!(std::fabs(g - want) <= tol) && bad++ < 5)
        ADD_FAILURE() << "C(" << i << ", " << j << ") = " << g << ", want " << want << " +- " << tol;
    }
    for (int64_t j = c.n; j < ldc; ++j)  // past N nothing is written
      if (!std::isnan(got[i * ldc + j]) && bad++ < 5) ADD_FAILURE() << "C(" << i << ", " << j << ") written";
  }
  EXPECT_EQ(bad, 0);
}

TEST(GemmBF16, MatchesTheDefinitionOnEdgeShapes) {
  SKIP_WITHOUT_BF16();
  uint32_t seed = 1;
  for (int64_t m : {1, 5, 12, 13, 30})
    for (int64_t n : {1, 17, 32, 33, 70})
      for (int64_t k : {1, 2, 7, 32, 64, 65, 130}) {
        checkCase({m, n, k}, seed += 3);
        checkCase({m, n, k, true, 0.125f}, seed += 3);
      }
}

TEST(GemmBF16, AttentionShapes) {
  SKIP_WITHOUT_BF16();
  checkCase({48, 197, 64, true, 0.125f}, 5);  // ViT's Q K^T block
  checkCase({48, 64, 197}, 6);                 // and P V
  checkCase({42, 128, 64, true, 0.125f}, 7);  // BERT's
  checkCase({7, 80, 1500, true, 0.5f}, 8);     // K past the transposed packer's column buffer
}

TEST(GemmBF16, EmptySumIsZero) {
  SKIP_WITHOUT_BF16();
  std::vector<float> c(6, NAN);
  bf::compute(2, 3, 0, nullptr, 0, nullptr, c.data(), 3);
  for (float x : c) EXPECT_EQ(x, 0.f);
}

}  // namespace
}  // namespace kiln::test
