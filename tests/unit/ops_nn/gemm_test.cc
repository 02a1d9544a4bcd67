// The SGEMM micro-kernels of every ISA this CPU has, Gemm / MatMul reference
// kernels against hand values, the packed tactics against the reference,
// and the schemas.
#include "backends/cpu/ukernels/gemm.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

std::vector<const cpu::gemm::Ukernels*> allUkernels() {
  std::vector<const cpu::gemm::Ukernels*> out = {&cpu::gemm::genericUkernels16(), &cpu::gemm::genericUkernels32()};
  for (const char* isa : {"avx2", "avx512"})
    if (const cpu::gemm::Ukernels* u = cpu::gemm::ukernelsForIsa(isa)) out.push_back(u);
  return out;
}

// C = epilogue(A * B) by the definition, in double.
std::vector<float> naive(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b,
                         const cpu::gemm::Epilogue& ep) {
  std::vector<float> c(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t kk = 0; kk < k; ++kk) acc += double(a[i * rsa + kk * csa]) * b[kk * n + j];
      float v = ep.scale * static_cast<float>(acc);
      float bias = ep.scalarBias + (ep.rowBias ? ep.rowBias[i] : 0.f);
      v += ep.biasScale * bias;
      if (ep.colBias) v += ep.biasScale * ep.colBias[j];
      if (ep.matrix) v += ep.biasScale * ep.matrix[i * ep.ldm + j];
      c[i * n + j] = cpu::applyActivation(ep.act, v);
    }
  return c;
}

TEST(GemmUkernels, EveryIsaMatchesTheDefinition) {
  struct Case {
    int64_t m, n, k;
  };
  const Case cases[] = {{1, 1, 1}, {7, 13, 5}, {6, 16, 256}, {6, 32, 257}, {64, 129, 67}, {1, 1000, 512},
                        {13, 40, 600}, {100, 3, 1}, {5, 7, 0},
                        // K in equal blocks (300 = 150 + 150), one M block of 33 tiles
                        // with an edge tile of 5 rows, several M blocks (K 600: 54 tiles a block).
                        {197, 33, 300}, {33, 197, 7}, {400, 70, 600},
                        // rows 4 KiB apart collide in L1: A is copied into panels per K block.
                        {62, 300, 1024},
                        // M tails of 7..11 rows (one wide tile where the ISA has it): alone, after
                        // 12-row tiles (M 128 = 10 x 12 + 8, the BERT rows), with K = 1, odd K, N
                        // not a multiple of 32, and with A copied into panels (K 1024).
                        {8, 45, 1}, {9, 64, 3}, {10, 33, 257}, {11, 95, 300}, {128, 70, 77}, {128, 40, 1024},
                        {31, 50, 17}, {12, 17, 9}, {14, 33, 2}};
  ThreadPool pool(2);
  for (const cpu::gemm::Ukernels* uk : allUkernels()) {
    for (const Case& cs : cases) {
      for (int variant = 0; variant < 4; ++variant) {
        SCOPED_TRACE(::testing::Message() << uk->isa << "/nr" << uk->nr << " m" << cs.m << " n" << cs.n << " k"
                                          << cs.k << " variant " << variant);
        const int64_t m = cs.m, n = cs.n, k = cs.k;
        ir::Tensor a = randomTensor({std::max<int64_t>(m * k, 1)}, 1), b = randomTensor({std::max<int64_t>(k * n, 1)}, 2);
        ir::Tensor rb = randomTensor({m}, 3), cb = randomTensor({n}, 4), mx = randomTensor({m * n}, 5);
        cpu::gemm::Epilogue ep;
        // variant 0: plain; 1: transposed A + row bias + relu; 2: packed A +
        // matrix + clip + scale; 3: col bias + scalar + sigmoid (not vectorized).
        cpu::gemm::AOperand A{a.as<float>(), k, 1, false};
        if (variant == 1) {
          A = {a.as<float>(), 1, m, false};
          ep.rowBias = rb.as<float>();
          ep.act.kind = cpu::ActKind::kRelu;
        }
        std::vector<float> packedA;
        if (variant == 2) {
          packedA.resize(cpu::gemm::packedASize(m, k) + 1);
          cpu::gemm::packA(a.as<float>(), k, 1, m, k, packedA.data());
          A = {packedA.data(), 0, 0, true};
          ep.matrix = mx.as<float>();
          ep.ldm = n;
          ep.act = {cpu::ActKind::kClip, -0.3f, 0.4f};
          ep.scale = 0.5f;
          ep.biasScale = 2.f;
        }
        if (variant == 3) {
          ep.colBias = cb.as<float>();
          ep.scalarBias = 0.25f;
          ep.act.kind = cpu::ActKind::kSigmoid;
        }
        std::vector<float> pb(cpu::gemm::packedBSize(k, n, uk->nr) + 1);
        cpu::gemm::packBParallel(pool, b.as<float>(), n, 1, k, n, uk->nr, 1.f, pb.data());
        std::vector<float> c(m * n + 1, 12345.f);
        cpu::gemm::Problem p;
        p.m = m;
        p.n = n;
        p.k = k;
        p.a = A;
        p.b = pb.data();
        p.c = c.data();
        p.ldc = n;
        p.ep = ep;
        cpu::gemm::run(*uk, pool, p);
        const std::vector<float> want =
            naive(m, n, k, a.as<float>(), variant == 1 ? 1 : k, variant == 1 ? m : 1, b.as<float>(), ep);
        EXPECT_EQ(c[m * n], 12345.f) << "wrote past C";
        for (int64_t i = 0; i < m * n; ++i)
          if (std::fabs(c[i] - want[i]) > 1e-4f + 1e-4f * std::fabs(want[i])) {
            ADD_FAILURE() << "element " << i << ": " << c[i] << " vs " << want[i];
            break;
          }
      }
    }
  }
}

TEST(GemmBlocking, CoversEveryTileAndSplitsNFirst) {
  const cpu::gemm::Ukernels& uk = cpu::gemm::hostUkernels();
  EXPECT_EQ(cpu::gemm::kBlock(uk, 0), 1);
  EXPECT_EQ(cpu::gemm::kBlock(uk, 100), std::min<int64_t>(100, uk.kc));
  EXPECT_LE(cpu::gemm::kBlock(uk, 3 * uk.kc + 1), uk.kc);
  EXPECT_EQ(cpu::gemm::kBlock(uk, 2 * uk.kc + 2), (2 * uk.kc + 2 + 2) / 3);  // 3 equal blocks, not kc + kc + 2
  struct Case {
    int64_t m, n, k;
    int threads;
  };
  const Case cases[] = {{197, 2304, 768, 1}, {197, 2304, 768, 2}, {128, 768, 768, 2}, {197, 768, 3072, 2},
                        {1576, 3072, 768, 2}, {1, 1, 1, 2},           {7, 33, 5, 4},     {64, 3136, 576, 2}};
  for (const Case& cs : cases) {
    SCOPED_TRACE(::testing::Message() << cs.m << "x" << cs.n << "x" << cs.k << " threads " << cs.threads);
    const cpu::gemm::Blocking bl = cpu::gemm::chooseBlocking(uk, cs.m, cs.n, cs.k, cs.threads);
    EXPECT_EQ(bl.mb % cpu::gemm::kMR, 0);
    EXPECT_EQ(bl.nb % uk.nr, 0);
    // Every row and column in exactly one block, no empty block.
    EXPECT_GE(bl.mBlocks * bl.mb, cs.m);
    EXPECT_LT((bl.mBlocks - 1) * bl.mb, cs.m);
    EXPECT_GE(bl.nBlocks * bl.nb, cs.n);
    EXPECT_LT((bl.nBlocks - 1) * bl.nb, cs.n);
    const int64_t tiles = (cs.m + 5) / 6 * ((cs.n + uk.nr - 1) / uk.nr);
    if (cs.threads > 1 && tiles >= 4 * cs.threads) {
      EXPECT_GE(bl.tasks(), 4 * cs.threads);
    }
  }
  // A transformer's rows are one block (B is read once) and the threads split N.
  const cpu::gemm::Blocking vit = cpu::gemm::chooseBlocking(uk, 197, 2304, 768, 2);
  EXPECT_EQ(vit.mBlocks, 1);
  EXPECT_EQ(vit.tasks() % 2, 0);
  // Blocks are even: 197 rows (33 tiles) over two blocks would be 17 + 16 tiles, never 32 + 1.
  const cpu::gemm::Blocking big = cpu::gemm::chooseBlocking(uk, 1576, 3072, 768, 1);
  EXPECT_GT(big.mBlocks, 1);
  EXPECT_LE(big.mBlocks * big.mb - 1576, 6 * (big.mBlocks));
}

TEST(GemmUkernels, PackBTransposedAndScaled) {
  // B given transposed (N x K) packs to the same panels as B, times scale.
  const int64_t k = 5, n = 19, nr = 16;
  ir::Tensor b = randomTensor({k * n}, 9);
  std::vector<float> bt(k * n);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j) bt[j * k + i] = b.as<float>()[i * n + j];
  std::vector<float> p1(cpu::gemm::packedBSize(k, n, nr)), p2(p1.size());
  cpu::gemm::packB(b.as<float>(), n, 1, k, 0, n, nr, 2.f, p1.data());
  cpu::gemm::packB(bt.data(), 1, k, k, 0, n, nr, 2.f, p2.data());
  EXPECT_EQ(p1, p2);
  EXPECT_FLOAT_EQ(p1[16 * k + 2], 2.f * b.as<float>()[16 + 2]);  // panel 1, row 0, column 18
  EXPECT_EQ(p1[16 * k + 3], 0.f);                                  // column 19: padding
}

TEST(MatMulRef, HandValues) {
  OpSpec s;
  s.op = "MatMul";
  s.inputs = {dyn(floats({2, 3}, {1, 2, 3, 4, 5, 6})), cst(floats({3, 2}, {1, 0, 0, 1, 1, 1}))};
  EXPECT_TRUE(equals(runTactic(s, "MatMul.ref")[0], {2, 2}, {4, 5, 10, 11}));
  // 1-D A: a row vector, result drops M.
  s.inputs = {dyn(floats({3}, {1, 2, 3})), cst(floats({3, 2}, {1, 0, 0, 1, 1, 1}))};
  EXPECT_TRUE(equals(runTactic(s, "MatMul.ref")[0], {2}, {4, 5}));
  // 1-D B: a column vector, result drops N; fused bias needs 2-D B, so none here.
  s.inputs = {dyn(floats({2, 3}, {1, 2, 3, 4, 5, 6})), cst(floats({3}, {1, 1, 1}))};
  EXPECT_TRUE(equals(runTactic(s, "MatMul.ref")[0], {2}, {6, 15}));
  // Fused bias and activation.
  s.attrs["kiln_act"] = std::string("Relu");
  s.inputs = {dyn(floats({2, 3}, {1, 2, 3, 4, 5, 6})), cst(floats({3, 2}, {1, 0, 0, 1, 1, 1})),
              cst(floats({2}, {-5, -20}))};
  EXPECT_TRUE(equals(runTactic(s, "MatMul.ref")[0], {2, 2}, {0, 0, 5, 0}));
}

TEST(GemmRef, HandValues) {
  OpSpec s;
  s.op = "Gemm";
  s.attrs = {{"transA", int64_t{1}}, {"alpha", 2.f}, {"beta", 0.5f}};
  // A^T = [[1,2,3],[4,5,6]] given as A (3 x 2).
  s.inputs = {dyn(floats({3, 2}, {1, 4, 2, 5, 3, 6})), cst(floats({3, 2}, {1, 0, 0, 1, 1, 1})),
              cst(floats({2, 1}, {10, 20}))};
  EXPECT_TRUE(equals(runTactic(s, "Gemm.ref")[0], {2, 2}, {13, 15, 30, 32}));
}

// 1 where Kiln was built with oneDNN (MatMul.onednn / Gemm.onednn).
int onednn(const std::string& op) { return cpu::tactics().find(op + ".onednn") ? 1 : 0; }

OpSpec matmul(std::vector<int64_t> a, std::vector<int64_t> b, bool constB, uint32_t seed, bool bias = false,
              std::string act = "") {
  OpSpec s;
  s.op = "MatMul";
  s.inputs = {dyn(randomTensor(a, seed)), constB ? cst(randomTensor(b, seed + 1)) : dyn(randomTensor(b, seed + 1))};
  if (bias) s.inputs.push_back(cst(randomTensor({b.back()}, seed + 2)));
  if (!act.empty()) s.attrs["kiln_act"] = act;
  return s;
}

TEST(MatMulTactics, Shapes) {
  struct Case {
    std::vector<int64_t> a, b;
  };
  const Case cases[] = {
      {{1, 1}, {1, 1}},          {{7, 5}, {5, 13}},          {{64, 67}, {67, 129}},      {{1, 512}, {512, 1000}},
      {{2, 3, 5, 7}, {7, 4}},    {{2, 1, 5, 7}, {3, 7, 4}},  {{4, 6, 33}, {4, 33, 17}},  {{12, 128, 64}, {12, 64, 128}},
      {{5, 7}, {2, 3, 7, 9}},    {{9}, {9, 20}},             {{3, 4, 9}, {9}},           {{1, 128, 768}, {768, 300}},
  };
  int seed = 10;
  for (const Case& c : cases)
    for (bool constB : {true, false}) {
      SCOPED_TRACE(::testing::Message() << ir::toString(c.a) << " x " << ir::toString(c.b) << (constB ? " const" : ""));
      EXPECT_EQ(compareWithRef(matmul(c.a, c.b, constB, seed++)), 1 + onednn("MatMul"));
    }
}

TEST(MatMulTactics, FusedBiasAndActivation) {
  EXPECT_EQ(compareWithRef(matmul({3, 17, 40}, {40, 33}, true, 1, true, "Gelu")), 1 + onednn("MatMul"));
  EXPECT_EQ(compareWithRef(matmul({3, 17, 40}, {40, 33}, false, 2, true, "Relu")), 1 + onednn("MatMul"));
  EXPECT_EQ(compareWithRef(matmul({2, 4, 9, 40}, {4, 40, 33}, false, 3, true, "GeluTanh")), 1 + onednn("MatMul"));
  // Batches whose M tails are wide tiles (128 = 10 x 12 + 8, 10 rows alone) under the fused epilogue.
  EXPECT_EQ(compareWithRef(matmul({2, 128, 40}, {40, 45}, true, 4, true, "Gelu")), 1 + onednn("MatMul"));
  EXPECT_EQ(compareWithRef(matmul({3, 10, 33}, {3, 33, 70}, false, 5, true, "Relu")), 1 + onednn("MatMul"));
  // torch MHA's [S, 1, E] in-projection with its bias (oneDNN folds A's rows into one GEMM).
  EXPECT_EQ(compareWithRef(matmul({37, 1, 64}, {64, 192}, true, 6, true)), 1 + onednn("MatMul"));
  EXPECT_EQ(compareWithRef(matmul({37, 1, 64}, {64, 192}, false, 7, true)), 1 + onednn("MatMul"));
}

TEST(MatMulTactics, PanelsOfAnotherWidthStillRun) {
  // A plan packed on a CPU with another panel width (16 vs 32 columns) runs
  // through the kernels for that width.
  for (int nr : {16, 32}) {
    OpSpec s = matmul({9, 37}, {37, 45}, true, 40, true, "Relu");
    const auto want = runTactic(s, "MatMul.ref");
    BuiltGraph b = buildGraph(s);
    const ir::Tensor& w = *b.node->inputs[1]->constant;
    ir::Tensor packed(DType::kFLOAT, {cpu::gemm::packedBSize(37, 45, nr)});
    cpu::gemm::packB(w.as<float>(), 45, 1, 37, 0, 45, nr, 1.f, packed.mutableAs<float>());
    b.node->inputs[1] = b.graph->addConstant("packed", std::move(packed));
    b.node->attrs["kiln_packed"] = "gemm_b_nr" + std::to_string(nr);
    b.node->attrs["kiln_weight_shape"] = std::vector<int64_t>{37, 45};
    ir::inferNode(*b.node);
    auto kernel = cpu::tactics().find("MatMul.packed_gemm")->create(*b.node);
    ThreadPool pool(2);
    EXPECT_TRUE(near(runKernel(*kernel, *b.node, s.inputs, pool)[0], want[0], 1e-4f, 1e-4f)) << nr;
  }
}

TEST(MatMulTactics, ShapesUnknownAtCreateStillRun) {
  // A kernel made while B's shape was unknown has no workspace for packing B;
  // it must still compute the right answer (through its fallback).
  for (const char* op : {"MatMul", "Gemm"}) {
    OpSpec s;
    s.op = op;
    s.inputs = {dyn(randomTensor({5, 33}, 1)), dyn(randomTensor({33, 21}, 2)), cst(randomTensor({21}, 3))};
    if (std::string(op) == "MatMul") s.attrs["kiln_act"] = std::string("Relu");
    const auto want = runTactic(s, std::string(op) + ".ref");
    BuiltGraph b = buildGraph(s);
    const ir::Shape known = b.node->inputs[1]->shape;
    b.node->inputs[1]->shape = {ir::Dim(std::string("k")), ir::Dim(std::string("n"))};
    auto kernel = cpu::tactics().find(std::string(op) + ".packed_gemm")->create(*b.node);
    b.node->inputs[1]->shape = known;
    EXPECT_EQ(kernel->workspaceBytes(), 0u) << op;
    ThreadPool pool(2);
    EXPECT_TRUE(near(runKernel(*kernel, *b.node, s.inputs, pool)[0], want[0], 1e-4f, 1e-4f)) << op;
  }
}

TEST(GemmTactics, TransposesScalesAndBiasShapes) {
  int seed = 70;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool constB : {true, false})
        for (int cshape = 0; cshape < 5; ++cshape) {
          const int64_t M = 13, K = 37, N = 21;
          OpSpec s;
          s.op = "Gemm";
          s.attrs = {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}, {"alpha", 0.7f}, {"beta", 1.3f},
                     {"kiln_act", std::string("LeakyRelu")}, {"kiln_act_alpha", 0.2f}};
          ir::Tensor a = randomTensor(ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K}, seed++);
          ir::Tensor b = randomTensor(tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N}, seed++);
          s.inputs = {dyn(a), constB ? cst(b) : dyn(b)};
          const std::vector<int64_t> cdims[] = {{}, {1}, {N}, {M, 1}, {M, N}};
          s.inputs.push_back(cst(randomTensor(cdims[cshape], seed++)));
          SCOPED_TRACE(::testing::Message() << "transA " << ta << " transB " << tb << " const " << constB << " C "
                                            << ir::toString(cdims[cshape]));
          EXPECT_EQ(compareWithRef(s), 1);  // Gemm.onednn declines alpha, beta != 1
        }
  // Without C, and the 1 x 1000 x 512 classifier shape.
  OpSpec s;
  s.op = "Gemm";
  s.attrs = {{"transB", int64_t{1}}};
  s.inputs = {dyn(randomTensor({1, 512}, 1)), cst(randomTensor({1000, 512}, 2))};
  EXPECT_EQ(compareWithRef(s), 1 + onednn("Gemm"));
  s.inputs.push_back(cst(randomTensor({1000}, 3)));
  EXPECT_EQ(compareWithRef(s), 1 + onednn("Gemm"));
}

TEST(GemmSchema, ShapesAndErrors) {
  using V = std::vector<int64_t>;
  EXPECT_EQ(ir::toString(inferShapes({"Gemm", {{"transB", int64_t{1}}}, {{ir::Dim(std::string("n")), 512}, {1000, 512}}})[0]),
            "[n,1000]");
  EXPECT_EQ(ir::toString(inferShapes({"Gemm", {{"transA", int64_t{1}}}, {{7, 3}, {7, 5}, {5}}})[0]), "[3,5]");
  EXPECT_TRUE(throwsWith([] { inferShapes({"Gemm", {}, {{3, 7}, {6, 5}}}, "fc"); },
                         "Gemm node \"fc\": A [3,7] and B [6,5] disagree on K"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"Gemm", {}, {{3, 7}, {7, 5}, {4, 5}}}, "fc"); }, "does not broadcast"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"Gemm", {}, {{3, 7, 1}, {7, 5}}}, "fc"); }, "A has rank 3"));
  (void)V{};
}

TEST(MatMulSchema, ShapesAndErrors) {
  auto out = [](ir::Shape a, ir::Shape b) { return ir::toString(inferShapes({"MatMul", {}, {a, b}})[0]); };
  EXPECT_EQ(out({2, 3, 5, 7}, {7, 4}), "[2,3,5,4]");
  EXPECT_EQ(out({2, 1, 5, 7}, {3, 7, 4}), "[2,3,5,4]");
  EXPECT_EQ(out({7}, {7, 4}), "[4]");
  EXPECT_EQ(out({3, 7}, {7}), "[3]");
  EXPECT_EQ(out({7}, {7}), "[]");
  EXPECT_EQ(out({ir::Dim(std::string("b")), ir::Dim(std::string("s")), 768}, {768, 3072}), "[b,s,3072]");
  EXPECT_TRUE(throwsWith([&] { out({2, 3}, {4, 5}); }, "disagree on K"));
  EXPECT_TRUE(throwsWith([&] { out({2, 3, 4}, {5, 4, 6}); }, "cannot broadcast"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"MatMul", {}, {{2, 3}, {3, 5}, {4}}}, "mm"); },
                         "MatMul node \"mm\": bias has [4] elements, expected 5"));
}

}  // namespace
}  // namespace kiln::test
