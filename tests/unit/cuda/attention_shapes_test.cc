// Host arithmetic of the CUDA KilnAttention tactic (attention_kernels.h), checked
// without a GPU: the mask walk (attentionMaskOffset) against numpy broadcasting
// done by hand, the shape errors, the path and grid choice, and supports(); and
// the unfused tactic's (KilnAttention.gemm: attention_gemm_kernels.h) workspace
// layout, strided-batch plan, pointer alignments and supports().
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "backends/cuda/backend.h"
#include "backends/cuda/ops/attention_gemm_kernels.h"
#include "backends/cuda/ops/attention_kernels.h"
#include "backends/cuda/ops/attention_tactic.h"
#include "unit/ops_nn/attention_views_util.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using Dims = std::vector<int64_t>;
using cuda::kernels::AttentionLaunch;
using cuda::kernels::AttentionPath;
using cuda::kernels::AttentionShape;
using cuda::kernels::Elem;

//! The flat index in a row-major `mask` (numpy-broadcast to `scores`) of score coordinates `c`.
int64_t broadcastIndex(const Dims& mask, const Dims& scores, const Dims& c) {
  const std::size_t lead = scores.size() - mask.size();
  int64_t index = 0;
  for (std::size_t i = 0; i < mask.size(); ++i) index = index * mask[i] + (mask[i] == 1 ? 0 : c[lead + i]);
  return index;
}

TEST(CudaAttentionShapes, MaskOffsetsFollowBroadcasting) {
  struct Case {
    Dims q, k, mask;
  };
  for (const Case& t : std::vector<Case>{
           {{2, 3, 5, 8}, {2, 3, 7, 8}, {2, 1, 1, 7}},  // BERT's [B, 1, 1, Sk]
           {{2, 3, 5, 8}, {2, 3, 7, 8}, {5, 7}},        // one [Sq, Sk] for every batch and head
           {{2, 3, 5, 8}, {2, 3, 7, 8}, {1, 3, 5, 7}},  // per head
           {{2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 5, 7}},  // full
           {{2, 3, 5, 8}, {2, 3, 7, 8}, {2, 1, 5, 1}},  // per batch and query row
           {{2, 3, 5, 8}, {2, 3, 7, 8}, {7}},
           {{4, 5, 8}, {4, 6, 8}, {4, 1, 6}},  // rank 3
           {{4, 5, 8}, {4, 6, 8}, {1, 5, 6}},
       }) {
    Dims v = t.k;
    v.back() = 3;
    const AttentionShape s = cuda::kernels::attentionShape(t.q, t.k, v, &t.mask);
    const std::size_t rank = t.q.size();
    Dims scores = t.q;
    scores.back() = t.k[rank - 2];
    EXPECT_EQ(s.sq, t.q[rank - 2]);
    EXPECT_EQ(s.sk, t.k[rank - 2]);
    EXPECT_EQ(s.d, 8);
    EXPECT_EQ(s.dv, 3);
    EXPECT_TRUE(s.hasMask);
    int64_t batch = 1;
    for (std::size_t i = 0; i + 2 < rank; ++i) batch *= t.q[i];
    ASSERT_EQ(s.batch, batch);
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t row = 0; row < s.sq; ++row)
        for (int64_t col = 0; col < s.sk; ++col) {
          Dims c = rank == 4 ? Dims{b / t.q[1], b % t.q[1], row, col} : Dims{b, row, col};
          ASSERT_EQ(cuda::kernels::attentionMaskOffset(s, b, row, col), broadcastIndex(t.mask, scores, c))
              << "mask " << ir::toString(t.mask) << " at " << ir::toString(c);
        }
  }
}

void expectShapeError(const Dims& q, const Dims& k, const Dims& v, const Dims* mask, const std::string& needle) {
  try {
    cuda::kernels::attentionShape(q, k, v, mask);
    ADD_FAILURE() << "no error for Q " << ir::toString(q) << ", K " << ir::toString(k) << ", V " << ir::toString(v);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(CudaAttentionShapes, MismatchedShapesNameTheField) {
  expectShapeError({2, 3, 5, 8, 1}, {2, 3, 5, 8, 1}, {2, 3, 5, 8, 1}, nullptr, "rank 5");
  expectShapeError({5, 8}, {5, 8}, {5, 8}, nullptr, "rank 2");
  expectShapeError({2, 5, 8}, {2, 3, 5, 8}, {2, 5, 8}, nullptr, "ranks differ");
  expectShapeError({2, 5, 8}, {3, 5, 8}, {2, 5, 8}, nullptr, "leading dims");
  expectShapeError({2, 3, 5, 8}, {2, 3, 5, 8}, {2, 4, 5, 8}, nullptr, "leading dims");
  expectShapeError({2, 5, 8}, {2, 5, 16}, {2, 5, 8}, nullptr, "head sizes");
  expectShapeError({2, 5, 8}, {2, 7, 8}, {2, 6, 8}, nullptr, "key lengths");
  const Dims wrongRows{2, 1, 3, 7}, wrongKeys{6}, tooHigh{1, 2, 1, 5, 7};
  expectShapeError({2, 4, 5, 8}, {2, 4, 7, 8}, {2, 4, 7, 8}, &wrongRows, "does not broadcast");
  expectShapeError({2, 4, 5, 8}, {2, 4, 7, 8}, {2, 4, 7, 8}, &wrongKeys, "does not broadcast");
  expectShapeError({2, 4, 5, 8}, {2, 4, 7, 8}, {2, 4, 7, 8}, &tooHigh, "higher rank");
}

TEST(CudaAttentionShapes, PathAndGrid) {
  AttentionShape vit = cuda::kernels::attentionShape({64, 12, 197, 64}, {64, 12, 197, 64}, {64, 12, 197, 64}, nullptr);
  AttentionLaunch l = cuda::kernels::attentionLaunch(vit, Elem::kHalf, true);
  EXPECT_EQ(l.path, AttentionPath::kTensorCore);
  EXPECT_EQ(l.rowTiles, 4);  // 197 rows in tiles of 64: the last one has 5
  EXPECT_EQ(l.blocks, 64 * 12 * 4);
  EXPECT_EQ(l.threads, 128);
  EXPECT_FALSE(l.prefetch);
  EXPECT_EQ(cuda::kernels::attentionLaunch(vit, Elem::kBF16, true).path, AttentionPath::kTensorCore);
  EXPECT_TRUE(cuda::kernels::attentionLaunch(vit, Elem::kHalf, true, true).prefetch);
  // The pipelined kernel: head sizes 32 and 64 (same grid); others keep the staged kernel.
  l = cuda::kernels::attentionLaunch(vit, Elem::kHalf, true, false, true);
  EXPECT_TRUE(l.pipelined);
  EXPECT_FALSE(l.prefetch);
  EXPECT_EQ(l.blocks, 64 * 12 * 4);
  AttentionShape wide = cuda::kernels::attentionShape({2, 4, 9, 128}, {2, 4, 9, 128}, {2, 4, 9, 128}, nullptr);
  EXPECT_FALSE(cuda::kernels::attentionLaunch(wide, Elem::kHalf, true, false, true).pipelined);
  EXPECT_FALSE(cuda::kernels::attentionLaunch(vit, Elem::kFloat, true, false, true).pipelined);
  // The wide kernel: 128-row tiles of 8 warps (197 rows: 2 tiles, the last with 69), static shared memory only;
  // it takes precedence over the other variants' flags, and head sizes other than 32 and 64 keep the staged kernel.
  l = cuda::kernels::attentionLaunch(vit, Elem::kHalf, true, true, true, true);
  EXPECT_EQ(l.path, AttentionPath::kTensorCore);
  EXPECT_TRUE(l.wide);
  EXPECT_FALSE(l.pipelined);
  EXPECT_FALSE(l.prefetch);
  EXPECT_EQ(l.threads, 256);
  EXPECT_EQ(l.rowTiles, 2);
  EXPECT_EQ(l.blocks, 64 * 12 * 2);
  EXPECT_EQ(l.sharedBytes, 0);
  for (auto [sq, tiles] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {127, 1}, {128, 1}, {129, 2}, {255, 2},
                                                                    {256, 2}, {257, 3}}) {
    AttentionShape s = cuda::kernels::attentionShape({3, 5, sq, 32}, {3, 5, 70, 32}, {3, 5, 70, 32}, nullptr);
    AttentionLaunch w = cuda::kernels::attentionLaunch(s, Elem::kBF16, true, false, false, true);
    EXPECT_TRUE(w.wide) << sq;
    EXPECT_EQ(w.rowTiles, tiles) << sq;
    EXPECT_EQ(w.blocks, 3 * 5 * tiles) << sq;
    EXPECT_EQ(w.threads, 256) << sq;
  }
  l = cuda::kernels::attentionLaunch(wide, Elem::kHalf, true, false, false, true);  // D = 128
  EXPECT_FALSE(l.wide);
  EXPECT_EQ(l.threads, 128);
  EXPECT_EQ(l.rowTiles, 1);
  EXPECT_FALSE(cuda::kernels::attentionLaunch(vit, Elem::kFloat, true, false, false, true).wide);
  EXPECT_FALSE(cuda::kernels::attentionLaunch(vit, Elem::kHalf, false, false, false, true).wide);  // misaligned
  // The resident kernel: the entry's whole K/V in dynamic shared memory (Sk rounded up to 16 rows of D + 8, K and
  // V), 4 warps walking 16-row slices, at most 16 slices per block in balanced blocks; over the other flags; a K/V
  // past kResidentMaxShared takes the pipelined kernel; head sizes other than 32 and 64 keep the staged kernel.
  l = cuda::kernels::attentionLaunch(vit, Elem::kHalf, true, true, true, true, true);
  EXPECT_TRUE(l.resident);
  EXPECT_FALSE(l.wide || l.pipelined || l.prefetch);
  EXPECT_EQ(l.threads, 128);
  EXPECT_EQ(l.rowTiles, 1);  // 197 rows: 13 slices, one block
  EXPECT_EQ(l.residentSlices, 13);
  EXPECT_EQ(l.blocks, 64 * 12);
  const int qRows = cuda::kernels::kResidentPrefetchQ ? 4 * 16 : 0;  // each warp's Q buffer
  EXPECT_EQ(l.sharedBytes, (208 * 2 + qRows) * 72 * 2);
  for (auto [sq, tiles, slices] : std::vector<std::tuple<int64_t, int64_t, int32_t>>{
           {1, 1, 1}, {16, 1, 1}, {17, 1, 2}, {256, 1, 16}, {257, 2, 9}, {512, 2, 16}, {513, 3, 11}}) {
    AttentionShape s = cuda::kernels::attentionShape({3, 5, sq, 32}, {3, 5, 70, 32}, {3, 5, 70, 32}, nullptr);
    AttentionLaunch r = cuda::kernels::attentionLaunch(s, Elem::kBF16, true, false, false, false, true);
    EXPECT_TRUE(r.resident) << sq;
    EXPECT_EQ(r.rowTiles, tiles) << sq;
    EXPECT_EQ(r.residentSlices, slices) << sq;
    EXPECT_EQ(r.blocks, 3 * 5 * tiles) << sq;
    EXPECT_EQ(r.sharedBytes, (80 * 2 + qRows) * 40 * 2) << sq;
  }
  AttentionShape longKv = cuda::kernels::attentionShape({2, 4, 9, 64}, {2, 4, 400, 64}, {2, 4, 400, 64}, nullptr);
  l = cuda::kernels::attentionLaunch(longKv, Elem::kHalf, true, false, false, false, true);
  EXPECT_FALSE(l.resident);  // 400 x 2 x 72 x 2 bytes > 100 KiB
  EXPECT_TRUE(l.pipelined);
  EXPECT_FALSE(cuda::kernels::attentionLaunch(wide, Elem::kHalf, true, false, false, false, true).resident);  // D 128
  EXPECT_FALSE(cuda::kernels::attentionLaunch(vit, Elem::kHalf, false, false, false, false, true).resident);

  l = cuda::kernels::attentionLaunch(vit, Elem::kFloat, true);  // FP32: the rows path
  EXPECT_EQ(l.path, AttentionPath::kRows);
  EXPECT_EQ(l.threads, 256);
  EXPECT_EQ(l.rowTiles, 25);  // 197 rows, 8 per block
  EXPECT_EQ(l.blocks, 64 * 12 * 25);
  EXPECT_EQ(l.keysPerStep, 32);
  EXPECT_EQ(l.sharedBytes, (8 * 64 + 32 * 65 + 32 * 64) * 4);  // query rows, K tile (padded), V tile
  // Wide heads stage fewer keys per step, to stay within 48 KiB of shared memory.
  for (auto [d, dv, keys] : std::vector<std::tuple<int64_t, int64_t, int>>{{128, 128, 32}, {256, 256, 16}, {512, 256, 8}}) {
    AttentionShape s = cuda::kernels::attentionShape({2, 9, d}, {2, 70, d}, {2, 70, dv}, nullptr);
    AttentionLaunch w = cuda::kernels::attentionLaunch(s, Elem::kFloat, true);
    EXPECT_EQ(w.keysPerStep, keys) << d << " " << dv;
    EXPECT_EQ(w.sharedBytes, (8 * d + keys * (d + 1) + keys * dv) * 4) << d << " " << dv;
    EXPECT_LE(w.sharedBytes, 48 * 1024) << d << " " << dv;
  }
  EXPECT_EQ(cuda::kernels::attentionLaunch(vit, Elem::kHalf, false).path, AttentionPath::kRows);  // misaligned

  for (int64_t d : {32, 64, 80, 96, 128}) {
    AttentionShape s = cuda::kernels::attentionShape({3, 17, d}, {3, 9, d}, {3, 9, d}, nullptr);
    EXPECT_EQ(cuda::kernels::attentionLaunch(s, Elem::kHalf, true).path, AttentionPath::kTensorCore) << d;
  }
  for (auto [d, dv] : std::vector<std::pair<int64_t, int64_t>>{{72, 72}, {33, 33}, {64, 32}, {256, 256}, {1, 1}}) {
    AttentionShape s = cuda::kernels::attentionShape({3, 17, d}, {3, 9, d}, {3, 9, dv}, nullptr);
    EXPECT_EQ(cuda::kernels::attentionLaunch(s, Elem::kHalf, true).path, AttentionPath::kRows) << d << " " << dv;
  }
  for (auto [d, dv] : std::vector<std::pair<int64_t, int64_t>>{{513, 64}, {64, 257}}) {
    AttentionShape s = cuda::kernels::attentionShape({1, 4, d}, {1, 4, d}, {1, 4, dv}, nullptr);
    try {
      cuda::kernels::attentionLaunch(s, Elem::kFloat, true);
      ADD_FAILURE() << "no error for head sizes " << d << ", " << dv;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("head sizes"), std::string::npos) << e.what();
    }
  }
}

OpSpec attentionSpec(Dims q, Dims k, Dims v, const Dims* mask, DType type) {
  OpSpec s;
  s.op = "KilnAttention";
  s.inputs = {dyn(randomTensor(std::move(q), 1).castTo(type)), dyn(randomTensor(std::move(k), 2).castTo(type)),
              dyn(randomTensor(std::move(v), 3).castTo(type))};
  if (mask) s.inputs.push_back(dyn(randomTensor(*mask, 4).castTo(type)));
  return s;
}

TEST(CudaAttentionShapes, TacticSupportsFloatTypesRanksAndHeadSizes) {
  const backends::DeviceTactic* t = cuda::backend().findTactic("KilnAttention.flash");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->op, "KilnAttention");
  const Dims mask{2, 1, 1, 7};
  for (DType type : {DType::kFLOAT, DType::kHALF, DType::kBF16}) {
    EXPECT_TRUE(t->supports(*buildGraph(attentionSpec({2, 3, 5, 64}, {2, 3, 7, 64}, {2, 3, 7, 64}, &mask, type)).node))
        << dataTypeName(type);
    EXPECT_TRUE(t->supports(*buildGraph(attentionSpec({6, 5, 33}, {6, 7, 33}, {6, 7, 40}, nullptr, type)).node))
        << dataTypeName(type);
  }
  // The staged tensor-core kernel's two variants (with and without the K/V prefetch) and, at head size 64, the
  // pipelined and wide kernels are timed; other nodes have one.
  for (DType type : {DType::kHALF, DType::kBF16}) {
    BuiltGraph g = buildGraph(attentionSpec({2, 3, 5, 64}, {2, 3, 7, 64}, {2, 3, 7, 64}, &mask, type));
    ASSERT_NE(t->variants, nullptr);
    std::vector<backends::TacticVariant> v = t->variants(*g.node, nullptr);
    ASSERT_EQ(v.size(), 5u) << dataTypeName(type);
    EXPECT_EQ(std::get<int64_t>(v[0].at("kiln_attention_prefetch")), 0);
    EXPECT_EQ(std::get<int64_t>(v[1].at("kiln_attention_prefetch")), 1);
    EXPECT_EQ(std::get<int64_t>(v[2].at("kiln_attention_pipelined")), 1);
    EXPECT_EQ(std::get<int64_t>(v[3].at("kiln_attention_prefetch")), 0);
    EXPECT_EQ(std::get<int64_t>(v[3].at("kiln_attention_wide")), 1);
    EXPECT_EQ(std::get<int64_t>(v[4].at("kiln_attention_prefetch")), 0);
    EXPECT_EQ(std::get<int64_t>(v[4].at("kiln_attention_resident")), 1);
    for (const auto& attrs : v) {  // create() reads the attribute and makes no CUDA call
      for (const auto& [name, value] : attrs) g.node->attrs[name] = value;
      EXPECT_NE(t->create(*g.node), nullptr);
    }
  }
  EXPECT_TRUE(t->variants(*buildGraph(attentionSpec({2, 5, 64}, {2, 7, 64}, {2, 7, 64}, nullptr, DType::kFLOAT)).node,
                          nullptr)
                  .empty());
  EXPECT_TRUE(t->variants(*buildGraph(attentionSpec({2, 5, 72}, {2, 7, 72}, {2, 7, 72}, nullptr, DType::kHALF)).node,
                          nullptr)
                  .empty());
  EXPECT_EQ(t->variants(*buildGraph(attentionSpec({2, 5, 128}, {2, 7, 128}, {2, 7, 128}, nullptr, DType::kHALF)).node,
                        nullptr)
                .size(),
            2u);  // tensor cores, no pipelined or wide kernel at 128
  EXPECT_EQ(t->variants(*buildGraph(attentionSpec({2, 5, 32}, {2, 7, 32}, {2, 7, 32}, nullptr, DType::kBF16)).node,
                        nullptr)
                .size(),
            5u);  // head size 32: the pipelined, wide and resident kernels too
  // Head sizes beyond the rows kernel's registers: the graph keeps the unfused ops.
  EXPECT_FALSE(t->supports(*buildGraph(attentionSpec({1, 5, 520}, {1, 7, 520}, {1, 7, 8}, nullptr, DType::kHALF)).node));
  EXPECT_FALSE(t->supports(*buildGraph(attentionSpec({1, 5, 8}, {1, 7, 8}, {1, 7, 300}, nullptr, DType::kHALF)).node));
  // A dynamic head size cannot pick a kernel.
  BuiltGraph dynamicHead = buildGraph(attentionSpec({1, 5, 8}, {1, 7, 8}, {1, 7, 8}, nullptr, DType::kFLOAT));
  dynamicHead.node->inputs[0]->shape.back() = ir::Dim("d");
  EXPECT_FALSE(t->supports(*dynamicHead.node));
  // An output retyped apart from the inputs (what the precision pass may try).
  BuiltGraph mixed = buildGraph(attentionSpec({1, 5, 8}, {1, 7, 8}, {1, 7, 8}, nullptr, DType::kHALF));
  mixed.node->outputs[0]->dtype = DType::kFLOAT;
  EXPECT_FALSE(t->supports(*mixed.node));
}

TEST(CudaAttentionShapes, OperandLayoutsContiguousAndViewed) {
  // attentionShape's own layouts: contiguous [B, H, S, D] (rank 4) and [BH, S, D] (rank 3).
  const AttentionShape s4 = cuda::kernels::attentionShape({2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 16}, nullptr);
  EXPECT_EQ(s4.q.rowStride, 8);
  EXPECT_EQ(s4.q.innerStride, 5 * 8);
  EXPECT_EQ(s4.q.outerStride, 3 * 5 * 8);
  EXPECT_EQ(s4.v.rowStride, 16);
  EXPECT_EQ(s4.y.innerStride, 5 * 16);
  // Batch entry b = 4 (outer 1, head 1) of K: 1 * 3*7*8 + 1 * 7*8.
  EXPECT_EQ(cuda::kernels::attentionOperandOffset(s4, s4.k, 4), 3 * 7 * 8 + 7 * 8);
  const AttentionShape s3 = cuda::kernels::attentionShape({6, 5, 8}, {6, 7, 8}, {6, 7, 8}, nullptr);
  EXPECT_EQ(s3.k.outerStride, 0);
  EXPECT_EQ(cuda::kernels::attentionOperandOffset(s3, s3.k, 5), 5 * 7 * 8);
  // A packed view [S=7, B=2, 3, H=3, D=8], q_select {2, 1}, perm 1,2,0,3: logical [B, H, S, D] strides.
  const int64_t strides[4] = {3 * 3 * 8, 8, 2 * 3 * 3 * 8, 1};
  AttentionShape v = s4;
  v.k = cuda::kernels::attentionOperand(4, strides, 1 * 3 * 8);
  EXPECT_EQ(v.k.outerStride, 72);
  EXPECT_EQ(v.k.innerStride, 8);
  EXPECT_EQ(v.k.rowStride, 144);
  EXPECT_EQ(cuda::kernels::attentionOperandOffset(v, v.k, 5), 24 + 1 * 72 + 2 * 8);  // b = 5: batch 1, head 2
  EXPECT_TRUE(cuda::kernels::attentionStridesMultipleOf(v, 8));
  v.k.offset = 4;  // one operand's rows off by half of 16 bytes (FP16): no tensor cores
  EXPECT_FALSE(cuda::kernels::attentionStridesMultipleOf(v, 8));
  v.k.offset = 8;
  v.y.rowStride = 36;
  EXPECT_FALSE(cuda::kernels::attentionStridesMultipleOf(v, 8));
}

TEST(CudaAttentionShapes, TacticSupportsViewedOperands) {
  const backends::DeviceTactic* t = cuda::backend().findTactic("KilnAttention.flash");
  ASSERT_NE(t, nullptr);
  using attention_views::Layout;
  for (const attention_views::Case& c :
       {attention_views::Case{Layout::kPacked, {2, 3}, 7, 7, 64, 64, {}},
        attention_views::Case{Layout::kBert, {2, 3}, 7, 9, 64, 32, {2, 1, 1, 9}},
        attention_views::Case{Layout::kSeqFirst3, {4}, 5, 5, 16, 16, {}}}) {
    const attention_views::Specs s = attention_views::makeSpecs(c, 1, DType::kHALF);
    BuiltGraph g = buildGraph(s.viewed);
    EXPECT_TRUE(t->supports(*g.node)) << static_cast<int>(c.layout);
    EXPECT_NE(t->create(*g.node), nullptr);
  }
}


// ---- KilnAttention.gemm (attention_gemm_kernels.h): workspace, strided plan, alignment, supports() ----

using cuda::kernels::AttentionGemmStrided;
using cuda::kernels::AttentionGemmWorkspace;
using cuda::kernels::AttentionOperand;

TEST(CudaAttentionGemmShapes, WorkspacePartsAreAlignedAndDisjoint) {
  for (auto [batch, sq, sk] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {64 * 12, 197, 197}, {1, 1, 1}, {3, 7, 5}, {2, 130, 1100}, {5, 3, 8}}) {
    const std::size_t cublas = 1000;  // not a multiple of 256: the next part still starts aligned
    const AttentionGemmWorkspace w = cuda::kernels::attentionGemmWorkspace(batch, sq, sk, cublas);
    EXPECT_EQ(w.ldS % 4, 0) << sk;  // 16-byte rows
    EXPECT_GE(w.ldS, sk);
    EXPECT_LT(w.ldS, sk + 4);
    EXPECT_EQ(w.cublasOffset, 0u);
    EXPECT_EQ(w.cublasBytes, cublas);
    EXPECT_EQ(w.pointersBytes, static_cast<std::size_t>(5 * batch) * sizeof(void*));
    EXPECT_EQ(w.scoresBytes, static_cast<std::size_t>(batch * sq * w.ldS) * sizeof(float));
    for (std::size_t offset : {w.cublasOffset, w.pointersOffset, w.scoresOffset, w.total}) EXPECT_EQ(offset % 256, 0u);
    EXPECT_GE(w.pointersOffset, w.cublasOffset + w.cublasBytes);
    EXPECT_GE(w.scoresOffset, w.pointersOffset + w.pointersBytes);
    EXPECT_GE(w.total, w.scoresOffset + w.scoresBytes);
    EXPECT_LT(w.total, w.scoresOffset + w.scoresBytes + 256);
  }
  // The pointer arrays: one slot per operand and batch entry, all within pointersBytes.
  for (int64_t batch : {1, 7, 768}) {
    const AttentionGemmWorkspace w = cuda::kernels::attentionGemmWorkspace(batch, 3, 5, 0);
    std::vector<int> used(w.pointersBytes / sizeof(void*), 0);
    for (int o = 0; o < cuda::kernels::kGemmOperands; ++o)
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t slot = cuda::kernels::attentionGemmPointerSlot(o, b, batch);
        ASSERT_GE(slot, 0);
        ASSERT_LT(static_cast<std::size_t>(slot), used.size());
        ++used[static_cast<std::size_t>(slot)];
      }
    for (int n : used) EXPECT_EQ(n, 1) << batch;
  }
  // ViT-B/16 at batch 64: 768 x 197 rows of 200 floats.
  EXPECT_EQ(cuda::kernels::attentionGemmWorkspace(768, 197, 197, 0).scoresBytes, std::size_t{768} * 197 * 200 * 4);
}

//! The shape of Q, K, V and y viewed as `c` says (the views' strides, as the tactic's enqueue makes them).
AttentionShape viewedShape(const attention_views::Case& c) {
  const attention_views::Specs s = attention_views::makeSpecs(c, 1);
  BuiltGraph g = buildGraph(s.viewed);
  std::vector<int64_t> dims[4];
  for (int i = 0; i < 4; ++i)
    dims[i] = ir::staticDims((i < 3 ? g.node->inputs[static_cast<std::size_t>(i)] : g.node->outputs[0])->shape);
  AttentionShape out = cuda::kernels::attentionShape(attention_views::logicalDims(c, c.sq, c.d),
                                                     attention_views::logicalDims(c, c.sk, c.d),
                                                     attention_views::logicalDims(c, c.sk, c.dv), nullptr);
  // Each operand's layout from the hand-written index map: offset of (b0, b1, 0, 0), steps of b0 and b1, rows.
  AttentionOperand* ops[4] = {&out.q, &out.k, &out.v, &out.y};
  for (int i = 0; i < 4; ++i) {
    const int64_t o = attention_views::viewOffset(c, i, 0, 0, 0, 0);
    const bool rank4 = c.lead.size() == 2;
    ops[i]->offset = o;
    ops[i]->outerStride = rank4 ? attention_views::viewOffset(c, i, 1, 0, 0, 0) - o : 0;
    ops[i]->innerStride = rank4 ? attention_views::viewOffset(c, i, 0, 1, 0, 0) - o
                                : attention_views::viewOffset(c, i, 1, 0, 0, 0) - o;
    ops[i]->rowStride = attention_views::viewOffset(c, i, 0, 0, 1, 0) - o;
  }
  // What both tactics' enqueue makes of the node's views (attention_tactic.h) agrees.
  const AttentionShape fromViews = cuda::viewedAttentionShape("test", cuda::AttentionViews(*g.node), dims, nullptr);
  const AttentionOperand* got[4] = {&fromViews.q, &fromViews.k, &fromViews.v, &fromViews.y};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(got[i]->offset, ops[i]->offset) << i;
    EXPECT_EQ(got[i]->outerStride, ops[i]->outerStride) << i;
    EXPECT_EQ(got[i]->innerStride, ops[i]->innerStride) << i;
    EXPECT_EQ(got[i]->rowStride, ops[i]->rowStride) << i;
  }
  EXPECT_EQ(fromViews.batch, out.batch);
  EXPECT_EQ(fromViews.inner, out.inner);
  return out;
}

//! Every (call, matrix) of the strided plan addresses batch entry b = outer * inner + i of every operand
//! at the offset the views give it (per outer index: call = outer; per inner index: call = i).
void expectStridedPlanCoversTheBatch(const AttentionShape& s, int64_t wantCalls, const std::string& what) {
  const AttentionGemmStrided p = cuda::kernels::attentionGemmStrided(s);
  EXPECT_EQ(p.calls, wantCalls) << what;
  ASSERT_EQ(p.calls * p.perCall, s.batch) << what;
  const AttentionOperand scores = cuda::kernels::attentionScoresOperand(s);
  const AttentionOperand* ops[5] = {&s.q, &s.k, &s.v, &s.y, &scores};
  const int64_t outer = s.batch / s.inner;
  std::vector<int> seen(static_cast<std::size_t>(s.batch), 0);
  for (int64_t c = 0; c < p.calls; ++c)
    for (int64_t j = 0; j < p.perCall; ++j) {
      int64_t b = c * p.perCall + j;  // one call over the whole batch, or per outer index
      if (p.calls > 1 && p.calls == s.inner && p.calls != outer) b = j * s.inner + c;  // per inner index
      ASSERT_LT(b, s.batch) << what;
      ++seen[static_cast<std::size_t>(b)];
      for (int o = 0; o < 5; ++o)
        EXPECT_EQ(ops[o]->offset + c * p.callStep[o] + j * p.batchStride[o],
                  cuda::kernels::attentionOperandOffset(s, *ops[o], b))
            << what << ": operand " << o << " call " << c << " matrix " << j;
    }
  for (int n : seen) EXPECT_EQ(n, 1) << what;
}

TEST(CudaAttentionGemmShapes, StridedPlanAddressesEveryBatchEntry) {
  // Contiguous operands: one stride reaches every entry, one product.
  expectStridedPlanCoversTheBatch(cuda::kernels::attentionShape({2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 4}, nullptr), 1,
                                  "contiguous rank 4");
  expectStridedPlanCoversTheBatch(cuda::kernels::attentionShape({6, 5, 8}, {6, 7, 8}, {6, 7, 8}, nullptr), 1,
                                  "contiguous rank 3");
  using attention_views::Case;
  using attention_views::Layout;
  // Views: two strides per entry; a product per index of the smaller of batch and heads.
  expectStridedPlanCoversTheBatch(viewedShape(Case{Layout::kBert, {2, 3}, 7, 9, 16, 8, {}}), 2, "BERT, B 2 < H 3");
  expectStridedPlanCoversTheBatch(viewedShape(Case{Layout::kBert, {5, 3}, 7, 9, 16, 16, {}}), 3, "BERT, H 3 < B 5");
  expectStridedPlanCoversTheBatch(viewedShape(Case{Layout::kPacked, {4, 3}, 7, 7, 8, 8, {}}), 3, "torch MHA packed");
  expectStridedPlanCoversTheBatch(viewedShape(Case{Layout::kPackedBatchFirst, {2, 5}, 7, 7, 8, 8, {}}), 2,
                                  "ViT packed");
  // One head, or batch 1: a single stride again.
  expectStridedPlanCoversTheBatch(viewedShape(Case{Layout::kBert, {4, 1}, 3, 3, 8, 8, {}}), 1, "BERT, one head");
  expectStridedPlanCoversTheBatch(viewedShape(Case{Layout::kPackedBatchFirst, {1, 4}, 3, 3, 8, 8, {}}), 1,
                                  "ViT, batch 1");
  expectStridedPlanCoversTheBatch(viewedShape(Case{Layout::kSeqFirst3, {5}, 3, 3, 8, 8, {}}), 1, "rank 3 packed");
}

TEST(CudaAttentionGemmShapes, EntryAlignmentIsTheWorstEntrys) {
  AttentionShape s = cuda::kernels::attentionShape({2, 3, 5, 8}, {2, 3, 5, 8}, {2, 3, 5, 8}, nullptr);
  AttentionOperand o;
  o.offset = 0, o.outerStride = 3 * 64, o.innerStride = 64, o.rowStride = 8;
  EXPECT_EQ(cuda::kernels::attentionEntryAlignment(s, o, 256, 4), 256u);  // 256-byte steps
  EXPECT_EQ(cuda::kernels::attentionEntryAlignment(s, o, 64, 4), 64u);    // the base's
  o.innerStride = 8;                                                       // 32-byte steps between heads
  EXPECT_EQ(cuda::kernels::attentionEntryAlignment(s, o, 256, 4), 32u);
  o.offset = 1;  // one float in: 4 bytes
  EXPECT_EQ(cuda::kernels::attentionEntryAlignment(s, o, 256, 4), 4u);
  // A stride that never steps (one head, or one outer index) does not count.
  AttentionShape oneHead = cuda::kernels::attentionShape({2, 1, 5, 8}, {2, 1, 5, 8}, {2, 1, 5, 8}, nullptr);
  o.offset = 0, o.outerStride = 64, o.innerStride = 3;
  EXPECT_EQ(cuda::kernels::attentionEntryAlignment(oneHead, o, 256, 4), 256u);
  o.outerStride = 6;
  EXPECT_EQ(cuda::kernels::attentionEntryAlignment(oneHead, o, 256, 4), 8u);
}

TEST(CudaAttentionGemmShapes, TacticSupportsFp32WithBoundedScores) {
  const backends::DeviceTactic* t = cuda::backend().findTactic("KilnAttention.gemm");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->op, "KilnAttention");
  // Untimed builds keep the flash tactic: it comes first.
  const std::vector<const backends::DeviceTactic*> all = cuda::backend().tacticsFor("KilnAttention");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->name, "KilnAttention.flash");
  EXPECT_EQ(all[1]->name, "KilnAttention.gemm");
  const Dims mask{2, 1, 1, 7};
  EXPECT_TRUE(t->supports(*buildGraph(attentionSpec({2, 3, 5, 64}, {2, 3, 7, 64}, {2, 3, 7, 64}, &mask, DType::kFLOAT)).node));
  EXPECT_TRUE(t->supports(*buildGraph(attentionSpec({6, 5, 33}, {6, 7, 33}, {6, 7, 40}, nullptr, DType::kFLOAT)).node));
  for (DType type : {DType::kHALF, DType::kBF16})  // the flash kernels' tensor cores serve these
    EXPECT_FALSE(t->supports(*buildGraph(attentionSpec({2, 3, 5, 64}, {2, 3, 7, 64}, {2, 3, 7, 64}, &mask, type)).node))
        << dataTypeName(type);
  // The flash tactic's head sizes (the fusion's reach stays the same).
  EXPECT_FALSE(t->supports(*buildGraph(attentionSpec({1, 5, 520}, {1, 7, 520}, {1, 7, 8}, nullptr, DType::kFLOAT)).node));
  // No queries or no keys: nothing to multiply (the kernel returns, or writes zeros), no scores.
  struct Empty {
    Dims q, k;
    int64_t batch, sq, sk;
  };
  for (const Empty& e : {Empty{{2, 3, 0, 64}, {2, 3, 4, 64}, 6, 0, 4}, Empty{{2, 5, 64}, {2, 0, 64}, 2, 5, 0}}) {
    BuiltGraph empty = buildGraph(attentionSpec(e.q, e.k, e.k, nullptr, DType::kFLOAT));
    EXPECT_TRUE(t->supports(*empty.node)) << ir::toString(e.q) << " " << ir::toString(e.k);
    EXPECT_EQ(t->create(*empty.node)->workspaceBytes(),
              cuda::kernels::attentionGemmWorkspace(e.batch, e.sq, e.sk, 32u << 20).total);
  }
  // A dynamic shape cannot size S.
  BuiltGraph dynamicSeq = buildGraph(attentionSpec({1, 5, 8}, {1, 7, 8}, {1, 7, 8}, nullptr, DType::kFLOAT));
  dynamicSeq.node->inputs[1]->shape[1] = ir::Dim("s");
  EXPECT_FALSE(t->supports(*dynamicSeq.node));
  // S of exactly 1 GiB is taken, more is not. (Shapes only: nothing is allocated.)
  auto bigNode = [&](int64_t sk) {
    OpSpec s;
    s.op = "KilnAttention";
    s.inputs = {dyn(ir::Tensor(DType::kFLOAT, {16, 16, 1024, 1})), dyn(ir::Tensor(DType::kFLOAT, {16, 16, sk, 1})),
                dyn(ir::Tensor(DType::kFLOAT, {16, 16, sk, 1}))};
    return buildGraph(s);
  };
  EXPECT_TRUE(t->supports(*bigNode(1024).node));  // 256 x 1024 x 1024 floats
  EXPECT_FALSE(t->supports(*bigNode(1028).node));
  // create() makes no CUDA call; its workspace holds cuBLASLt's scratch, the pointer arrays and S.
  BuiltGraph g = buildGraph(attentionSpec({2, 3, 5, 64}, {2, 3, 7, 64}, {2, 3, 7, 64}, &mask, DType::kFLOAT));
  auto kernel = t->create(*g.node);
  ASSERT_NE(kernel, nullptr);
  const AttentionGemmWorkspace w = cuda::kernels::attentionGemmWorkspace(6, 5, 7, 32u << 20);
  EXPECT_EQ(kernel->workspaceBytes(), w.total);
  EXPECT_GE(kernel->workspaceBytes(), w.scoresOffset + 6 * 5 * 8 * 4);
  // Contiguous operands take one strided product: no variants. Views that need two strides: pointer arrays and
  // strided products per index, both timed.
  ASSERT_NE(t->variants, nullptr);
  EXPECT_TRUE(t->variants(*g.node, nullptr).empty());
  const attention_views::Specs viewed =
      attention_views::makeSpecs({attention_views::Layout::kPackedBatchFirst, {2, 3}, 7, 7, 64, 64, {}}, 1);
  BuiltGraph vg = buildGraph(viewed.viewed);
  EXPECT_TRUE(t->supports(*vg.node));
  const std::vector<backends::TacticVariant> v = t->variants(*vg.node, nullptr);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(std::get<int64_t>(v[0].at("kiln_attention_gemm_batch")), 1);
  EXPECT_EQ(std::get<int64_t>(v[1].at("kiln_attention_gemm_batch")), 2);
  for (const auto& attrs : v) {
    for (const auto& [name, value] : attrs) vg.node->attrs[name] = value;
    EXPECT_NE(t->create(*vg.node), nullptr);
  }
}

}  // namespace
}  // namespace kiln::test
