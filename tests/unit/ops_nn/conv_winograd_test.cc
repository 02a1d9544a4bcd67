// Conv.winograd (F(4x4, 3x3)): which convolutions it takes, its tile
// transforms on every ISA this CPU has against the transform matrices in
// double, and whole convolutions against Conv.ref on edge shapes.
//
// Error bound: Winograd reassociates the sum and its transforms scale values
// by up to 8 (A) and 5 (B), so it is not bit-exact; it is held to
// max |winograd - ref| <= 5e-5 * max |ref| (measured over these shapes:
// median 1.6e-6, worst 2.5e-5, the latter where Clip shrinks the output's
// range below the pre-activation's), far inside the benchmark's 1e-3 of the
// output range.
#include <algorithm>
#include <cmath>

#include "backends/cpu/ukernels/winograd.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

constexpr double kBound = 5e-5;

struct WinoCfg {
  int64_t n = 1, c = 3, h = 8, w = 8, k = 4;
  std::vector<int64_t> pads;
  std::string autoPad;
  bool bias = true, residual = false;
  std::string act;
  float alpha = 0.f, beta = 0.f;
};

OpSpec winoSpec(const WinoCfg& c, uint32_t seed) {
  OpSpec s;
  s.op = "Conv";
  s.name = "conv3x3";
  if (!c.pads.empty()) s.attrs["pads"] = c.pads;
  if (!c.autoPad.empty()) s.attrs["auto_pad"] = c.autoPad;
  if (!c.act.empty()) {
    s.attrs["kiln_act"] = c.act;
    s.attrs["kiln_act_alpha"] = c.alpha;
    s.attrs["kiln_act_beta"] = c.beta;
  }
  s.inputs.push_back(dyn(randomTensor({c.n, c.c, c.h, c.w}, seed)));
  s.inputs.push_back(cst(randomTensor({c.k, c.c, 3, 3}, seed + 1)));
  if (c.bias || c.residual) s.inputs.push_back(c.bias ? cst(randomTensor({c.k}, seed + 2)) : none());
  if (c.residual) {
    BuiltGraph b = buildGraph(s);
    s.inputs.push_back(dyn(randomTensor(ir::staticDims(b.node->outputs[0]->shape), seed + 3)));
  }
  return s;
}

// max |got - want| / max |want|; fails on a shape mismatch or a NaN.
double relativeError(const ir::Tensor& got, const ir::Tensor& want) {
  EXPECT_EQ(got.dims(), want.dims());
  if (got.dims() != want.dims()) return 1.0;
  double err = 0, scale = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.as<float>()[i], w = want.as<float>()[i];
    if (!std::isfinite(g)) return 1.0;
    err = std::max(err, std::fabs(g - w));
    scale = std::max(scale, std::fabs(w));
  }
  return scale > 0 ? err / scale : err;
}

void expectMatchesRef(const WinoCfg& c, uint32_t seed) {
  const OpSpec s = winoSpec(c, seed);
  const auto want = runTactic(s, "Conv.ref");
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    const auto got = runTactic(s, "Conv.winograd", pool);
    const double e = relativeError(got[0], want[0]);
    EXPECT_LE(e, kBound) << threads << " thread(s)";
  }
}

TEST(ConvWinograd, MatchesRefOnEdgeShapes) {
  std::vector<WinoCfg> cfgs;
  auto add = [&](WinoCfg c) { cfgs.push_back(c); };
  add({.c = 3, .h = 11, .w = 13, .k = 7, .pads = {1, 1, 1, 1}});    // H, W not multiples of 4
  add({.c = 4, .h = 8, .w = 8, .k = 6, .pads = {1, 1, 1, 1}});      // exact tiles
  add({.c = 5, .h = 9, .w = 10, .k = 5});                           // pad 0: 7 x 8 out
  add({.c = 5, .h = 5, .w = 6, .k = 5, .pads = {2, 2, 2, 2}});      // pad 2: all border tiles
  add({.c = 2, .h = 1, .w = 1, .k = 3, .pads = {1, 1, 1, 1}});      // 1x1 spatial
  add({.c = 2, .h = 3, .w = 3, .k = 3});                            // 1x1 output
  add({.c = 4, .h = 9, .w = 10, .k = 5, .pads = {0, 1, 2, 0}});     // asymmetric pads
  add({.c = 4, .h = 10, .w = 7, .k = 5, .autoPad = "SAME_UPPER"});
  add({.c = 4, .h = 9, .w = 11, .k = 5, .autoPad = "VALID"});
  add({.c = 67, .h = 45, .w = 43, .k = 37, .pads = {1, 1, 1, 1}});  // odd C/K, > one tile block and K block
  add({.c = 300, .h = 21, .w = 19, .k = 13, .pads = {1, 1, 1, 1}}); // long K: GEMM K blocks, small tile blocks
  add({.c = 1, .h = 40, .w = 3, .k = 1, .pads = {1, 1, 1, 1}, .bias = false});  // one channel, tall
  add({.n = 3, .c = 7, .h = 13, .w = 14, .k = 9, .pads = {1, 1, 1, 1}, .residual = true, .act = "Relu"});
  add({.n = 5, .c = 9, .h = 6, .w = 6, .k = 7, .pads = {1, 1, 1, 1}, .residual = true});  // panels span 5 images
  int i = 0;
  for (const WinoCfg& c : cfgs) {
    SCOPED_TRACE(::testing::Message() << "config " << i);
    expectMatchesRef(c, 700 + 10 * i++);
  }
}

TEST(ConvWinograd, FusedBiasResidualActivations) {
  const std::vector<std::pair<std::string, std::pair<float, float>>> acts = {
      {"Relu", {0.f, 0.f}}, {"LeakyRelu", {0.1f, 0.f}}, {"Clip", {-0.5f, 0.7f}}, {"Sigmoid", {0.f, 0.f}},
      {"Silu", {0.f, 0.f}}, {"HardSwish", {0.f, 0.f}}};
  int i = 0;
  for (auto& [act, ab] : acts) {
    SCOPED_TRACE(act);
    WinoCfg c{.n = 2, .c = 6, .h = 9, .w = 10, .k = 11, .pads = {1, 1, 1, 1}, .residual = true, .act = act,
              .alpha = ab.first, .beta = ab.second};
    expectMatchesRef(c, 900 + i);
    c.bias = false;
    expectMatchesRef(c, 950 + i++);
  }
}

TEST(ConvWinograd, TakesOnlyStrideOneThreeByThreeGroupOne) {
  const cpu::Tactic* t = cpu::tactics().find("Conv.winograd");
  ASSERT_NE(t, nullptr);
  auto spec = [](std::vector<int64_t> w, std::map<std::string, ir::Attribute> attrs, int64_t c = 4) {
    OpSpec s;
    s.op = "Conv";
    s.attrs = std::move(attrs);
    s.inputs = {dyn(randomTensor({1, c, 9, 9}, 1)), cst(randomTensor(w, 2))};
    return s;
  };
  auto supported = [&](const OpSpec& s) { return t->supports(*buildGraph(s).node); };
  EXPECT_TRUE(supported(spec({8, 4, 3, 3}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}})));
  EXPECT_FALSE(supported(spec({8, 4, 3, 3}, {{"strides", std::vector<int64_t>{2, 2}}})));
  EXPECT_FALSE(supported(spec({8, 4, 3, 3}, {{"dilations", std::vector<int64_t>{2, 2}}})));
  EXPECT_FALSE(supported(spec({8, 2, 3, 3}, {{"group", int64_t{2}}})));
  EXPECT_FALSE(supported(spec({8, 4, 5, 5}, {})));
  EXPECT_FALSE(supported(spec({8, 4, 1, 1}, {})));
  EXPECT_FALSE(supported(spec({8, 4, 3, 1}, {})));
  // 1-D convolutions are not taken.
  OpSpec s1;
  s1.op = "Conv";
  s1.inputs = {dyn(randomTensor({1, 4, 9}, 1)), cst(randomTensor({8, 4, 3}, 2))};
  EXPECT_FALSE(supported(s1));
  // A dynamic (non-constant) weight cannot be transformed at build time.
  OpSpec sd = spec({8, 4, 3, 3}, {});
  sd.inputs[1] = dyn(randomTensor({8, 4, 3, 3}, 2));
  EXPECT_FALSE(supported(sd));
}

// B^T d B and A^T m A in double, from the matrices.
constexpr double kBT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                              {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
constexpr double kAT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

TEST(ConvWinograd, TileTransformsOnEveryIsa) {
  namespace wg = cpu::winograd;
  // Two 2-channel 7 x 10 images, pad 1: output 7 x 10, 2 x 3 tiles per image,
  // border tiles on every side; the panels take tiles 1..11, across both images.
  const int64_t images = 2, h = 7, w = 10, pad = 1, tilesW = 3, perImage = 6, ch = 2, count = images * perImage - 1;
  const ir::Tensor x = randomTensor({images, ch, h, w}, 42);
  for (const char* isa : {"generic", "avx2", "avx512"}) {
    const wg::Kernels* k = wg::kernelsForIsa(isa);
    if (!k) continue;
    SCOPED_TRACE(isa);
    for (int nr : {16, 32}) {
      std::vector<float> v(wg::kPoints * ch * nr, -7.f);
      wg::InputPanel ip;
      ip.x = x.as<float>();
      ip.planeStride = h * w;
      ip.imageStride = ch * h * w;
      ip.h = h;
      ip.w = w;
      ip.padTop = ip.padLeft = pad;
      ip.tilesW = tilesW;
      ip.tilesPerImage = perImage;
      ip.tile0 = 1;  // a panel that starts mid-row and crosses into image 1
      ip.count = count;
      ip.c0 = 0;
      ip.c1 = ch;
      ip.nr = nr;
      ip.v = v.data();
      ip.pointStride = ch * nr;
      k->input(ip);
      for (int64_t c = 0; c < ch; ++c)
        for (int l = 0; l < nr; ++l) {
          const int64_t t = 1 + l, img = t / perImage, ti = t % perImage;
          const int64_t r0 = (ti / tilesW) * 4 - pad, q0 = (ti % tilesW) * 4 - pad;
          auto d = [&](int r, int q) -> double {
            const int64_t ih = r0 + r, iw = q0 + q;
            return l < count && ih >= 0 && ih < h && iw >= 0 && iw < w
                       ? x.as<float>()[(img * ch + c) * h * w + ih * w + iw]
                       : 0.0;
          };
          for (int i = 0; i < 6; ++i)
            for (int j = 0; j < 6; ++j) {
              double want = 0;
              for (int r = 0; r < 6; ++r)
                for (int q = 0; q < 6; ++q) want += kBT[i][r] * d(r, q) * kBT[j][q];
              const float got = v[(i * 6 + j) * ch * nr + c * nr + l];
              ASSERT_NEAR(got, want, 1e-5 * (1 + std::fabs(want))) << "nr " << nr << " c " << c << " lane " << l;
            }
        }
    }
    // Output: M of 3 channels x 11 tiles (ldm 24), tiles 1..11 of the images above.
    const int64_t kc = 3, ldm = 24;
    const ir::Tensor mt = randomTensor({wg::kPoints, kc, ldm}, 43);
    const ir::Tensor bias = randomTensor({kc}, 44), res = randomTensor({images, kc, h, w}, 45);
    std::vector<float> y(images * kc * h * w, -99.f);
    wg::OutputPanel op;
    op.m = mt.as<float>();
    op.pointStride = kc * ldm;
    op.ldm = ldm;
    op.k0 = 0;
    op.k1 = kc;
    op.tile0 = 1;
    op.count = count;
    op.tilesW = tilesW;
    op.tilesPerImage = perImage;
    op.y = y.data();
    op.planeStride = h * w;
    op.imageStride = kc * h * w;
    op.oh = h;
    op.ow = w;
    op.bias = bias.as<float>();
    op.residual = res.as<float>();
    op.act.kind = cpu::ActKind::kRelu;
    k->output(op);
    for (int64_t img = 0; img < images; ++img)
      for (int64_t c = 0; c < kc; ++c)
        for (int64_t oy = 0; oy < h; ++oy)
          for (int64_t ox = 0; ox < w; ++ox) {
            const int64_t t = img * perImage + (oy / 4) * tilesW + ox / 4, idx = (img * kc + c) * h * w + oy * w + ox;
            if (t < 1) {
              EXPECT_EQ(y[idx], -99.f) << "tile 0 is not in the panel";
              continue;
            }
            const int i = static_cast<int>(oy % 4), j = static_cast<int>(ox % 4);
            double want = 0;
            for (int r = 0; r < 6; ++r)
              for (int q = 0; q < 6; ++q)
                want += kAT[i][r] * mt.as<float>()[(r * 6 + q) * kc * ldm + c * ldm + (t - 1)] * kAT[j][q];
            want = std::max(0.0, want + bias.as<float>()[c] + res.as<float>()[idx]);
            EXPECT_NEAR(y[idx], want, 1e-5 * (1 + std::fabs(want))) << "c " << c << " y " << oy << " x " << ox;
          }
  }
}

TEST(ConvWinograd, FilterTransformIsGgGt) {
  // U = G g G^T checked on one filter against the matrices.
  const double G[6][3] = {{0.25, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                          {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  const ir::Tensor g = randomTensor({2, 1, 3, 3}, 46);  // k = 2, c = 1
  std::vector<float> u(cpu::winograd::kPoints * 2);
  cpu::winograd::transformWeights(g.as<float>(), 2, 1, u.data());
  for (int ko = 0; ko < 2; ++ko)
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 6; ++j) {
        double want = 0;
        for (int r = 0; r < 3; ++r)
          for (int q = 0; q < 3; ++q) want += G[i][r] * g.as<float>()[ko * 9 + r * 3 + q] * G[j][q];
        EXPECT_NEAR(u[(i * 6 + j) * 2 + ko], want, 1e-6);
      }
}

}  // namespace
}  // namespace kiln::test
