// A squeeze-excitation (MBConv) block between oneDNN convolutions: the
// channel-scale helper in every layout it walks, the NHWC forms of the gate's
// Mul and of the global pool, KilnScaledConv.onednn against the reference,
// and the chain marking through the block (conv_onednn_chains.cc). Skipped
// where Kiln was built without oneDNN.
#include "backends/cpu/ops/elementwise.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

bool haveOnednn() { return cpu::tactics().find("Conv.onednn") != nullptr; }

#define SKIP_WITHOUT_ONEDNN() \
  if (!haveOnednn()) GTEST_SKIP() << "built without oneDNN"

using V = std::vector<int64_t>;

// [n][ceil(c / block)][pixels][block] -> the channel of each stored lane (-1: padding).
int64_t channelAt(int64_t i, int64_t c, int64_t pixels, int64_t block) {
  const int64_t lane = i % block, blk = i / block / pixels % ((c + block - 1) / block), ch = blk * block + lane;
  return ch < c ? ch : -1;
}

TEST(ChannelScale, EveryLayoutAndGateStride) {
  ThreadPool pool(2);
  const int64_t n = 2, c = 20, pixels = 7;
  for (int64_t block : {int64_t{1}, int64_t{8}, int64_t{16}, c}) {
    for (int64_t gateStride : {int64_t{0}, c}) {
      SCOPED_TRACE("block " + std::to_string(block) + " gate stride " + std::to_string(gateStride));
      const int64_t blocks = (c + block - 1) / block, size = n * blocks * pixels * block;
      const ir::Tensor x = randomTensor({size}, 1), s = randomTensor({n * c}, 2);
      std::vector<float> y(static_cast<std::size_t>(size), 0.f), want(y.size());
      for (int64_t i = 0; i < size; ++i) {
        const int64_t img = i / (blocks * pixels * block), ch = channelAt(i, c, pixels, block);
        want[i] = x.as<float>()[i] * (ch < 0 ? 1.f : s.as<float>()[img * gateStride + ch]);
      }
      cpu::scaleChannelBlocks(&pool, x.as<float>(), s.as<float>(), y.data(), n, c, pixels, block, gateStride);
      EXPECT_EQ(y, want);
      std::vector<float> inPlace(x.as<float>(), x.as<float>() + size);
      cpu::scaleChannelBlocks(nullptr, inPlace.data(), s.as<float>(), inPlace.data(), n, c, pixels, block, gateStride);
      EXPECT_EQ(inPlace, want);
    }
  }
}

// x [N, C, H, W] as NCHW -> the same dims, channels innermost.
ir::Tensor toNhwc(const ir::Tensor& t) {
  const std::vector<int64_t>& d = t.dims();
  ir::Tensor r(DType::kFLOAT, d);
  for (int64_t n = 0; n < d[0]; ++n)
    for (int64_t c = 0; c < d[1]; ++c)
      for (int64_t p = 0; p < d[2] * d[3]; ++p)
        r.mutableAs<float>()[(n * d[2] * d[3] + p) * d[1] + c] = t.as<float>()[(n * d[1] + c) * d[2] * d[3] + p];
  return r;
}

TEST(ChannelScale, NhwcMulMatchesTheBroadcastMul) {
  // Mul.ref with kiln_nhwc (a chain through the gate): either operand order, a [1, C] and an [N, C] gate.
  uint32_t seed = 70;
  for (const V& xd : {V{1, 24, 7, 5}, V{3, 40, 4, 9}}) {
    for (const int64_t gateImages : {int64_t{1}, xd[0]}) {
      for (const bool gateFirst : {false, true}) {
        SCOPED_TRACE(ir::toString(xd) + " gate images " + std::to_string(gateImages) + (gateFirst ? " gate first" : ""));
        const ir::Tensor x = randomTensor(xd, seed++), g = randomTensor({gateImages, xd[1], 1, 1}, seed++);
        OpSpec s;
        s.op = "Mul";
        s.inputs = gateFirst ? std::vector<OpInput>{dyn(g), dyn(x)} : std::vector<OpInput>{dyn(x), dyn(g)};
        const ir::Tensor want = toNhwc(runTactic(s, "Mul.ref")[0]);
        s.inputs[gateFirst ? 1 : 0] = dyn(toNhwc(x));
        s.attrs["kiln_nhwc"] = int64_t{1};
        EXPECT_TRUE(near(runTactic(s, "Mul.ref")[0], want, 0.f, 0.f));
      }
    }
  }
}

// KilnScaledConv (x * s, then a pointwise conv) on oneDNN's primitive against the reference:
// a [1, C] and an [N, C] gate, bias / residual / activation, channel counts that leave oneDNN's
// blocks partly filled.
TEST(ScaledConvOnednn, MatchesTheReference) {
  SKIP_WITHOUT_ONEDNN();
  struct Case {
    V x;
    int64_t k;
    bool perImage, residual;
    std::string act;
  };
  const std::vector<Case> cases = {
      {{1, 7, 9, 13}, 5, false, false, ""},
      {{2, 24, 5, 11}, 40, true, true, "Relu"},
      {{1, 96, 14, 14}, 24, false, true, "Silu"},
      {{3, 32, 8, 8}, 16, true, false, "Sigmoid"},
  };
  uint32_t seed = 40;
  for (const Case& c : cases) {
    SCOPED_TRACE("x " + ir::toString(c.x) + " k " + std::to_string(c.k));
    OpSpec s;
    s.op = "KilnScaledConv";
    s.name = "scaled";
    if (!c.act.empty()) s.attrs["kiln_act"] = c.act;
    const V y = {c.x[0], c.k, c.x[2], c.x[3]};
    s.inputs = {dyn(randomTensor(c.x, seed)), cst(randomTensor({c.k, c.x[1], 1, 1}, seed + 1)),
                cst(randomTensor({c.k}, seed + 2)), c.residual ? dyn(randomTensor(y, seed + 3)) : none(),
                dyn(randomTensor({c.perImage ? c.x[0] : 1, c.x[1], 1, 1}, seed + 4, 0.f, 2.f))};
    seed += 10;
    BuiltGraph b = buildGraph(s);
    ASSERT_TRUE(cpu::tactics().find("KilnScaledConv.onednn")->supports(*b.node));
    EXPECT_TRUE(near(runTactic(s, "KilnScaledConv.onednn")[0], runTactic(s, "KilnScaledConv.ref")[0], 1e-4f, 1e-4f));
  }
  EXPECT_TRUE(cpu::followsProposedLayouts(*cpu::tactics().find("KilnScaledConv.onednn")));
  EXPECT_FALSE(cpu::followsProposedLayouts(*cpu::tactics().find("KilnScaledConv.im2col_gemm")));
}

// An MBConv block as EfficientNet-B0 exports it, conv weights at 1x1 / 3x3:
// x -> expand (1x1) -> e -> depthwise (3x3) -> d; GlobalAveragePool(d) -> p;
// fc1(p) -> q; fc2(q, Sigmoid) -> s; the gate, Mul(d, s) -> m, then the 1x1
// projection (m) -> y — or, as fuse_channel_scale makes it, the projection
// KilnScaledConv(d, ..., s) -> y.
struct SeBlock {
  ir::Graph g;
  std::vector<ir::Node*> nodes;
  ir::Node *expand = nullptr, *depthwise = nullptr, *pool = nullptr, *mul = nullptr, *project = nullptr;
  ir::Tensor x = randomTensor({2, 16, 13, 13}, 7);
};

void makeSeBlock(SeBlock& b, bool fused) {
  const int64_t c = 48;  // (a multiple of neither 16 nor 32: only the NHWC chain has no padding)
  ir::Value* x = b.g.addValue("x", DType::kFLOAT, ir::shapeOf(b.x.dims()));
  b.g.inputs.push_back(x);
  auto value = [&](const char* name) { return b.g.addValue(name); };
  ir::Value *e = value("e"), *d = value("d"), *p = value("p"), *q = value("q"), *s = value("s"), *m = value("m"),
            *y = value("y");
  uint32_t seed = 20;
  auto conv = [&](const char* op, const char* name, std::vector<ir::Value*> in, ir::Value* out, V w, const char* act) {
    in.insert(in.begin() + 1, b.g.addConstant(std::string(name) + "_w", randomTensor(w, ++seed)));
    in.insert(in.begin() + 2, b.g.addConstant(std::string(name) + "_b", randomTensor({w[0]}, ++seed)));
    ir::Node* n = b.g.addNode(op, name, in, {out});
    if (act) n->attrs["kiln_act"] = std::string(act);
    return n;
  };
  b.expand = conv("Conv", "expand", {x}, e, {c, 16, 1, 1}, "Relu");
  b.depthwise = conv("Conv", "depthwise", {e}, d, {c, 1, 3, 3}, "Relu");
  b.depthwise->attrs["group"] = c;
  b.depthwise->attrs["pads"] = V{1, 1, 1, 1};
  b.pool = b.g.addNode("GlobalAveragePool", "pool", {d}, {p});
  ir::Node* fc1 = conv("Conv", "fc1", {p}, q, {12, c, 1, 1}, "Relu");
  ir::Node* fc2 = conv("Conv", "fc2", {q}, s, {c, 12, 1, 1}, "Sigmoid");
  b.nodes = {b.expand, b.depthwise, b.pool, fc1, fc2};
  if (fused) {
    b.project = conv("KilnScaledConv", "project", {d, nullptr, s}, y, {24, c, 1, 1}, nullptr);
  } else {
    b.mul = b.g.addNode("Mul", "gate", {s, d}, {m});  // the gate first, as torchvision's export has it
    b.nodes.push_back(b.mul);
    b.project = conv("Conv", "project", {m}, y, {24, c, 1, 1}, nullptr);
  }
  b.nodes.push_back(b.project);
  for (ir::Node* n : b.nodes) ir::inferNode(*n);
  b.g.outputs.push_back(y);
}

// The tactics a fast build would pick: oneDNN for the block's convolutions, the
// plain ones for the [N, C, 1, 1] excitation; `pool` / `project` as given.
void pickTactics(SeBlock& b, const std::string& pool, const std::string& project) {
  for (ir::Node* n : b.nodes) {
    const bool big = n == b.expand || n == b.depthwise;
    n->tactic = n == b.pool ? pool : n == b.project ? project : big ? "Conv.onednn" : n->op + ".ref";
    if (const cpu::Tactic* t = cpu::tactics().find(n->tactic); t->prepack) t->prepack(*n, b.g);
  }
}

ir::Tensor runBlock(SeBlock& b) { return runNodes(b.nodes, b.g.inputs[0], b.x, b.g.outputs[0]); }

TEST(OnednnLayouts, ChainsPassThroughTheSqueezeExcitationGate) {
  SKIP_WITHOUT_ONEDNN();
  SeBlock ref;
  makeSeBlock(ref, false);
  for (ir::Node* n : ref.nodes) n->tactic = n->op + ".ref";
  const ir::Tensor want = runBlock(ref);
  struct Case {
    bool fused;
    const char *pool, *project;
    bool chained;  // whether d stays NHWC from the depthwise conv to the projection
  };
  for (const Case& c : {Case{false, "GlobalAveragePool.lanes", "Conv.onednn", true},
                        Case{false, "GlobalAveragePool.ref", "Conv.onednn", false},
                        Case{true, "GlobalAveragePool.lanes", "KilnScaledConv.onednn", true},
                        Case{true, "GlobalAveragePool.lanes", "KilnScaledConv.im2col_gemm", false}}) {
    SCOPED_TRACE(std::string(c.pool) + " " + c.project);
    SeBlock b;
    makeSeBlock(b, c.fused);
    cpu::proposeLayouts(b.g);  // as if every convolution chose oneDNN
    if (!b.pool->has("kiln_nhwc"))
      GTEST_SKIP() << "oneDNN runs this depthwise convolution in another layout than NHWC here";
    const int64_t nhwc = b.depthwise->i("kiln_onednn_dst_tag", -1);
    ASSERT_NE(nhwc, -1);
    pickTactics(b, c.pool, c.project);
    cpu::chooseLayouts(b.g);
    EXPECT_EQ(b.depthwise->i("kiln_onednn_dst_tag", -1), c.chained ? nhwc : -1);
    EXPECT_EQ(b.pool->has("kiln_nhwc"), c.chained);
    if (b.mul) {
      EXPECT_EQ(b.mul->has("kiln_nhwc"), c.chained);
    }
    EXPECT_EQ(b.project->i("kiln_onednn_src_tag", -1), c.chained ? nhwc : -1);
    EXPECT_FALSE(b.project->has("kiln_onednn_dst_tag"));  // y is the graph's output
    EXPECT_TRUE(near(runBlock(b), want, 1e-4f, 1e-4f));
  }
}

// The proposal puts d in NHWC for the projection too, so a plain KilnScaledConv tactic
// there is charged the reorder it would force (and timing weighs it against the oneDNN one).
TEST(OnednnLayouts, PlainTacticsPayForBreakingTheGateChain) {
  SKIP_WITHOUT_ONEDNN();
  SeBlock b;
  makeSeBlock(b, true);
  cpu::proposeLayouts(b.g);
  if (!b.project->has("kiln_onednn_src_tag")) GTEST_SKIP() << "oneDNN keeps this block in a padded layout here";
  EXPECT_GT(cpu::plainLayoutPenaltyMs(*b.project, 2, 3), 0.0);
}

}  // namespace
}  // namespace kiln::test
