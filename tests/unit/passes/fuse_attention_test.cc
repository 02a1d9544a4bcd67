// The attention fusion (src/passes/fuse_attention.cc): each export form is
// fused into one KilnAttention whose outputs match the unfused graph's (both
// run through the CPU kernels), and near misses are left alone.
#include <gtest/gtest.h>

// The variants below are designated initializers that leave most fields at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::opList;
using testing::randomTensor;

using Feeds = std::map<std::string, ir::Tensor>;

bool fuse(ir::Graph& g, bool enabled = true) {
  PassContext ctx;
  ctx.attentionFusion = enabled;
  bool changed = fuseAttention(g, ctx);
  if (changed) {
    g.topoSort();
    ir::inferGraph(g);
    eliminateDeadCode(g, ctx);
  }
  return changed;
}

template <typename Build>
std::unique_ptr<ir::Graph> fuseAndCompare(Build&& build, const Feeds& feeds, bool expectChange = true) {
  return testing::checkSameOutputs(
      build, [&](ir::Graph& g) { EXPECT_EQ(fuse(g), expectChange); }, feeds, 2e-5f);
}

const ir::Node* attentionNode(const ir::Graph& g) {
  for (auto& n : g.nodes())
    if (n->op == "KilnAttention") return n.get();
  return nullptr;
}

// A BERT-style mask [B, 1, 1, Sk]: 0 for kept keys, -10000 for padded ones.
ir::Tensor paddingMask(int64_t b, int64_t sk) {
  ir::Tensor m(DType::kFLOAT, {b, 1, 1, sk});
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < sk; ++j) m.mutableAs<float>()[i * sk + j] = j >= sk - 2 * i - 1 ? -10000.f : 0.f;
  return m;
}

TEST(FuseAttention, BertExportForm) {
  // make_bert.py: Q/V Transpose(0,2,1,3) of [B,S,H,D], K Transpose(0,2,3,1),
  // scores / sqrt(D), + mask, Softmax(-1), * V.
  const int64_t B = 2, S = 11, H = 3, D = 8;
  auto build = [&] {
    Net n;
    ir::Value* q = n.node("Transpose", {n.input("q", {B, S, H, D})}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
    ir::Value* kt = n.node("Transpose", {n.input("k", {B, S, H, D})}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}});
    ir::Value* v = n.node("Transpose", {n.input("v", {B, S, H, D})}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
    ir::Value* scores = n.node("Div", {n.node("MatMul", {q, kt}, {}, "qk"), n.scalar("sqrt_d", 2.828427f)});
    ir::Value* p = n.node("Softmax", {n.node("Add", {scores, n.input("mask", {B, 1, 1, S})})}, {{"axis", int64_t{-1}}});
    n.output(n.node("MatMul", {p, v}));
    return std::move(n.g);
  };
  Feeds feeds = {{"q", randomTensor({B, S, H, D}, 1)},
                 {"k", randomTensor({B, S, H, D}, 2)},
                 {"v", randomTensor({B, S, H, D}, 3)},
                 {"mask", paddingMask(B, S)}};
  auto g = fuseAndCompare(build, feeds);
  EXPECT_EQ(testing::countOps(*g, "KilnAttention"), 1);
  EXPECT_EQ(testing::countOps(*g, "Transpose"), 3);  // Q's, V's and K's new (0,2,1,3); the (0,2,3,1) is gone
  for (auto& n : g->nodes()) {
    if (n->op == "Transpose") {
      EXPECT_EQ(n->ints("perm"), (std::vector<int64_t>{0, 2, 1, 3}));
    }
  }
  const ir::Node* a = attentionNode(*g);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "qk/attention");
  EXPECT_NEAR(a->f("scale", 0.f), 1.f / 2.828427f, 1e-6f);
  EXPECT_EQ(a->inputs.size(), 4u);
}

TEST(FuseAttention, SdpaFormWithQAndKtEachScaled) {
  // torchvision's ViT: Q * sqrt(s) and (K^T) * sqrt(s), the factor on either side.
  const int64_t B = 1, H = 2, S = 13, D = 16;
  for (bool factorFirst : {false, true}) {
    auto build = [&] {
      Net n;
      ir::Value* c = n.scalar("root", 0.5f);
      ir::Value* q = n.input("q", {B, H, S, D});
      ir::Value* kt = n.node("Transpose", {n.input("k", {B, H, S, D})}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
      ir::Value* qs = factorFirst ? n.node("Mul", {c, q}) : n.node("Mul", {q, c});
      ir::Value* ks = factorFirst ? n.node("Mul", {c, kt}) : n.node("Mul", {kt, c});
      ir::Value* p = n.node("Softmax", {n.node("MatMul", {qs, ks})}, {{"axis", int64_t{3}}});
      n.output(n.node("MatMul", {p, n.input("v", {B, H, S, D})}));
      return std::move(n.g);
    };
    Feeds feeds = {{"q", randomTensor({B, H, S, D}, 4, -2.f, 2.f)},
                   {"k", randomTensor({B, H, S, D}, 5, -2.f, 2.f)},
                   {"v", randomTensor({B, H, S, D}, 6)}};
    auto g = fuseAndCompare(build, feeds);
    ASSERT_EQ(opList(*g), std::vector<std::string>{"KilnAttention"}) << factorFirst;
    const ir::Node* a = attentionNode(*g);
    EXPECT_FLOAT_EQ(a->f("scale", 0.f), 0.25f);
    EXPECT_EQ(a->inputs.size(), 3u);
    EXPECT_EQ(a->inputs[1]->name, "k");  // the Transpose's input, not a copy
  }
}

TEST(FuseAttention, Rank3BmmWithKtFromElsewhere) {
  // nn.MultiheadAttention's bmm form [B*H, S, D]; Kt is no Transpose here,
  // so one is inserted. Sq != Sk, the factor as Mul(c, scores), a rank-2 mask first in the Add.
  const int64_t BH = 4, Sq = 5, Sk = 9, D = 7, Dv = 3;
  auto build = [&] {
    Net n;
    ir::Value* s = n.node("Mul", {n.scalar("c", 0.3f), n.node("MatMul", {n.input("q", {BH, Sq, D}), n.input("kt", {BH, D, Sk})})});
    ir::Value* p = n.node("Softmax", {n.node("Add", {n.input("mask", {Sq, Sk}), s})}, {{"axis", int64_t{-1}}});
    n.output(n.node("MatMul", {p, n.input("v", {BH, Sk, Dv})}));
    return std::move(n.g);
  };
  Feeds feeds = {{"q", randomTensor({BH, Sq, D}, 7)},
                 {"kt", randomTensor({BH, D, Sk}, 8)},
                 {"mask", randomTensor({Sq, Sk}, 9, -3.f, 0.f)},
                 {"v", randomTensor({BH, Sk, Dv}, 10)}};
  auto g = fuseAndCompare(build, feeds);
  EXPECT_EQ(opList(*g), (std::vector<std::string>{"Transpose", "KilnAttention"}));
  EXPECT_EQ(g->nodeList()[0]->ints("perm"), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_FLOAT_EQ(attentionNode(*g)->f("scale", 0.f), 0.3f);
}

TEST(FuseAttention, NoScaleNoMask) {
  auto build = [] {
    Net n;
    ir::Value* kt = n.node("Transpose", {n.input("k", {2, 6, 5})}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
    ir::Value* p = n.node("Softmax", {n.node("MatMul", {n.input("q", {2, 3, 5}), kt})}, {{"axis", int64_t{-1}}});
    n.output(n.node("MatMul", {p, n.input("v", {2, 6, 4})}));
    return std::move(n.g);
  };
  Feeds feeds = {{"q", randomTensor({2, 3, 5}, 11)}, {"k", randomTensor({2, 6, 5}, 12)}, {"v", randomTensor({2, 6, 4}, 13)}};
  auto g = fuseAndCompare(build, feeds);
  EXPECT_EQ(opList(*g), std::vector<std::string>{"KilnAttention"});
  EXPECT_FLOAT_EQ(attentionNode(*g)->f("scale", 0.f), 1.f);
}

TEST(FuseAttention, ComputedFullMaskFirstInTheAdd) {
  // A mask of the scores' full shape made by a Mul (as the scale is), first in
  // the Add: the other side is the scores.
  const int64_t B = 2, H = 2, S = 7, D = 4;
  auto build = [&] {
    Net n;
    ir::Value* mask = n.node("Mul", {n.input("keep", {B, H, S, S}), n.scalar("big", -10000.f)});
    ir::Value* kt = n.node("Transpose", {n.input("k", {B, H, S, D})}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
    ir::Value* s = n.node("Mul", {n.node("MatMul", {n.input("q", {B, H, S, D}), kt}), n.scalar("c", 0.5f)});
    ir::Value* p = n.node("Softmax", {n.node("Add", {mask, s})}, {{"axis", int64_t{-1}}});
    n.output(n.node("MatMul", {p, n.input("v", {B, H, S, D})}));
    return std::move(n.g);
  };
  ir::Tensor keep = randomTensor({B, H, S, S}, 40, 0.f, 1.f);
  for (int64_t i = 0; i < keep.numel(); ++i) keep.mutableAs<float>()[i] = keep.as<float>()[i] < 0.3f ? 1.f : 0.f;
  Feeds feeds = {{"keep", keep}, {"q", randomTensor({B, H, S, D}, 41)}, {"k", randomTensor({B, H, S, D}, 42)},
                 {"v", randomTensor({B, H, S, D}, 43)}};
  auto g = fuseAndCompare(build, feeds);
  EXPECT_EQ(opList(*g), (std::vector<std::string>{"Mul", "KilnAttention"}));
  EXPECT_FLOAT_EQ(attentionNode(*g)->f("scale", 0.f), 0.5f);
}

// The base of the near misses: rank 4, Div by a scalar, a mask.
struct Variant {
  int64_t softmaxAxis = -1;
  bool scoresAlsoOutput = false;   //!< an intermediate with a second reader
  bool probsAlsoOutput = false;
  bool vectorScale = false;        //!< Div by a [Sk] vector: not a scalar scale
  bool growingMask = false;        //!< a rank-5 mask broadcasts the scores up
  bool batchBroadcast = false;     //!< Q with batch 1 against K's batch 2 (MatMul broadcasting)
};

std::unique_ptr<ir::Graph> variantGraph(const Variant& o) {
  Net n;
  const int64_t S = 6, D = 4;
  ir::Value* q = n.input("q", {o.batchBroadcast ? 1 : 2, 2, S, D});
  ir::Value* kt = n.node("Transpose", {n.input("k", {2, 2, S, D})}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  ir::Value* scores = n.node("MatMul", {q, kt});
  ir::Value* d = o.vectorScale ? n.constant("d", randomTensor({S}, 20, 1.f, 2.f)) : n.scalar("d", 2.f);
  ir::Value* scaled = n.node("Div", {scores, d});
  ir::Value* mask = o.growingMask ? n.input("mask5", {3, 1, 1, 1, S}) : n.input("mask", {2, 1, 1, S});
  ir::Value* p = n.node("Softmax", {n.node("Add", {scaled, mask})}, {{"axis", o.softmaxAxis}});
  n.output(n.node("MatMul", {p, n.input("v", {2, 2, S, D})}));
  if (o.scoresAlsoOutput) n.output(scores);
  if (o.probsAlsoOutput) n.output(p);
  return std::move(n.g);
}

TEST(FuseAttention, LeavesNearMissesAlone) {
  const Variant misses[] = {
      {.softmaxAxis = 2},       {.softmaxAxis = 1},          {.scoresAlsoOutput = true}, {.probsAlsoOutput = true},
      {.vectorScale = true},    {.growingMask = true},       {.batchBroadcast = true},
  };
  int i = 0;
  for (const Variant& o : misses) {
    SCOPED_TRACE(i++);
    Feeds feeds = {{"q", randomTensor({o.batchBroadcast ? 1 : 2, 2, 6, 4}, 21)},
                   {"k", randomTensor({2, 2, 6, 4}, 22)},
                   {"v", randomTensor({2, 2, 6, 4}, 23)},
                   {"mask", randomTensor({2, 1, 1, 6}, 24)},
                   {"mask5", randomTensor({3, 1, 1, 1, 6}, 25)}};
    if (o.growingMask) feeds.erase("mask");
    else feeds.erase("mask5");
    auto g = fuseAndCompare([&] { return variantGraph(o); }, feeds, false);
    EXPECT_EQ(testing::countOps(*g, "KilnAttention"), 0);
  }
  // The base graph itself fuses (the misses above each change one thing).
  Feeds feeds = {{"q", randomTensor({2, 2, 6, 4}, 21)}, {"k", randomTensor({2, 2, 6, 4}, 22)},
                 {"v", randomTensor({2, 2, 6, 4}, 23)}, {"mask", randomTensor({2, 1, 1, 6}, 24)}};
  auto g = fuseAndCompare([] { return variantGraph({}); }, feeds);
  EXPECT_EQ(opList(*g), std::vector<std::string>{"KilnAttention"});
}

TEST(FuseAttention, LayersWithAPrecisionConstraintStayUnfused) {
  // ILayer::setPrecision / setOutputType on any layer of the pattern: the layer keeps its node.
  for (const char* attr : {"kiln_precision", "kiln_output_types"}) {
    Net n;
    ir::Value* kt = n.node("Transpose", {n.input("k", {2, 6, 5})}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
    ir::Value* p = n.node("Softmax", {n.node("MatMul", {n.input("q", {2, 3, 5}), kt})}, {{"axis", int64_t{-1}}});
    n.output(n.node("MatMul", {p, n.input("v", {2, 6, 4})}));
    for (auto& node : n.g->nodes())
      if (node->op == "Softmax") {
        if (std::string(attr) == "kiln_precision") node->attrs[attr] = static_cast<int64_t>(DType::kFLOAT);
        else node->attrs[attr] = std::vector<int64_t>{static_cast<int64_t>(DType::kFLOAT)};
      }
    n.g->topoSort();
    ir::inferGraph(*n.g);
    EXPECT_FALSE(fuse(*n.g)) << attr;
    EXPECT_EQ(testing::countOps(*n.g, "Softmax"), 1) << attr;
  }
}

TEST(FuseAttention, OffWhenTheBackendHasNoKernel) {
  auto g = variantGraph({});
  g->topoSort();
  ir::inferGraph(*g);
  EXPECT_FALSE(fuse(*g, /*enabled=*/false));
  EXPECT_EQ(testing::countOps(*g, "KilnAttention"), 0);
}

TEST(FuseAttention, PipelineFusesAfterTheScaleFolds) {
  // ViT's factor is Sqrt(Cast(Div(1, Sqrt(head size)))): computed from
  // constants, it folds before the fusion runs.
  auto build = [] {
    Net n;
    ir::Value* root = n.node("Sqrt", {n.node("Div", {n.scalar("one", 1.f), n.node("Sqrt", {n.scalar("d", 16.f)})})});
    ir::Value* kt = n.node("Transpose", {n.input("k", {1, 2, 5, 16})}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
    ir::Value* s = n.node("MatMul", {n.node("Mul", {n.input("q", {1, 2, 5, 16}), root}), n.node("Mul", {kt, root})});
    n.output(n.node("MatMul", {n.node("Softmax", {s}, {{"axis", int64_t{-1}}}), n.input("v", {1, 2, 5, 16})}));
    return std::move(n.g);
  };
  PassContext ctx = testing::cpuContext();
  Feeds feeds = {{"q", randomTensor({1, 2, 5, 16}, 31)},
                 {"k", randomTensor({1, 2, 5, 16}, 32)},
                 {"v", randomTensor({1, 2, 5, 16}, 33)}};
  auto g = testing::checkSameOutputs(build, [&](ir::Graph& gr) { runPipeline(gr, ctx); }, feeds, 2e-5f);
  ASSERT_EQ(opList(*g), std::vector<std::string>{"KilnAttention"});
  EXPECT_NEAR(attentionNode(*g)->f("scale", 0.f), 0.25f, 1e-6f);
}

}  // namespace
}  // namespace kiln::passes
