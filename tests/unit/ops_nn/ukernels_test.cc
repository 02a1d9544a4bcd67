// The per-ISA builds of the depthwise plane kernel and the im2col panel
// writer, each ISA this CPU has, against naive loops written here.
#include "backends/cpu/ukernels/dwconv.h"
#include "backends/cpu/ukernels/im2col.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

const char* const kIsas[] = {"generic", "avx2", "avx512"};

TEST(DepthwiseUkernel, EveryIsaMatchesNaive) {
  struct Case {
    int64_t h, w, kh, kw, sh, sw, dh, dw, ph, pw;
  };
  const Case cases[] = {{14, 15, 3, 3, 1, 1, 1, 1, 1, 1}, {15, 33, 3, 3, 2, 2, 1, 1, 1, 1},
                        {19, 40, 5, 5, 1, 1, 1, 1, 2, 2}, {19, 23, 5, 5, 2, 2, 1, 1, 2, 2},
                        {12, 13, 3, 3, 1, 1, 2, 2, 2, 2}, {4, 4, 3, 3, 1, 1, 1, 1, 1, 1},
                        {9, 9, 7, 7, 1, 1, 1, 1, 3, 3},   {9, 10, 3, 3, 3, 3, 1, 1, 0, 1},
                        {1, 1, 3, 3, 1, 1, 1, 1, 1, 1},   {6, 50, 3, 5, 1, 2, 1, 1, 1, 0},
                        // Several strips of the phased path (narrow rows: s1, s2, 5x5 s2 with
                        // dilation, 7x7), and wide planes (the row paths).
                        {200, 30, 3, 3, 1, 1, 1, 1, 1, 1},  {151, 60, 3, 3, 2, 2, 1, 1, 1, 1},
                        {150, 60, 5, 5, 2, 2, 2, 2, 4, 3},  {90, 32, 7, 7, 1, 1, 1, 1, 3, 3},
                        {121, 113, 3, 3, 1, 1, 1, 1, 1, 1}, {111, 112, 3, 3, 2, 2, 1, 1, 1, 1}};
  int seed = 1;
  for (const Case& c : cases) {
    const int64_t oh = (c.h + 2 * c.ph - (c.kh - 1) * c.dh - 1) / c.sh + 1;
    const int64_t ow = (c.w + 2 * c.pw - (c.kw - 1) * c.dw - 1) / c.sw + 1;
    ir::Tensor x = randomTensor({c.h * c.w}, seed++), k = randomTensor({c.kh * c.kw}, seed++);
    ir::Tensor res = randomTensor({oh * ow}, seed++);
    std::vector<float> want(oh * ow);
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        double acc = 0.25;
        for (int64_t a = 0; a < c.kh; ++a)
          for (int64_t b = 0; b < c.kw; ++b) {
            const int64_t y = i * c.sh - c.ph + a * c.dh, z = j * c.sw - c.pw + b * c.dw;
            if (y >= 0 && y < c.h && z >= 0 && z < c.w) acc += double(x.as<float>()[y * c.w + z]) * k.as<float>()[a * c.kw + b];
          }
        acc += res.as<float>()[i * ow + j];
        want[i * ow + j] = std::max(0.f, static_cast<float>(acc));
      }
    for (const char* isa : kIsas) {
      cpu::dw::PlaneFn fn = cpu::dw::planeKernelForIsa(isa);
      if (!fn) continue;
      SCOPED_TRACE(::testing::Message() << isa << " case " << seed);
      std::vector<float> y(oh * ow + 1, 777.f);
      cpu::dw::Plane p;
      p.x = x.as<float>();
      p.h = c.h;
      p.w = c.w;
      p.k = k.as<float>();
      p.kh = c.kh;
      p.kw = c.kw;
      p.sh = c.sh;
      p.sw = c.sw;
      p.dh = c.dh;
      p.dw = c.dw;
      p.ph = c.ph;
      p.pw = c.pw;
      p.y = y.data();
      p.oh = oh;
      p.ow = ow;
      p.bias = 0.25f;
      p.residual = res.as<float>();
      p.act.kind = cpu::ActKind::kRelu;
      fn(p);
      EXPECT_EQ(y[oh * ow], 777.f) << "wrote past the plane";
      for (int64_t i = 0; i < oh * ow; ++i) ASSERT_NEAR(y[i], want[i], 1e-5f) << "element " << i;
    }
  }
}

TEST(Im2colUkernel, EveryIsaMatchesNaive) {
  struct Case {
    int64_t c, d, h, w, kd, kh, kw, s[3], dl[3], pd[3];
  };
  const Case cases[] = {{3, 1, 11, 13, 1, 3, 3, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}},
                        {2, 1, 23, 29, 1, 7, 7, {1, 2, 2}, {1, 1, 1}, {0, 3, 3}},
                        {4, 1, 12, 11, 1, 3, 3, {1, 1, 1}, {1, 2, 2}, {0, 2, 2}},
                        {2, 1, 1, 31, 1, 1, 3, {1, 1, 2}, {1, 1, 1}, {0, 0, 1}},
                        {2, 5, 6, 7, 3, 3, 3, {1, 2, 1}, {1, 1, 1}, {1, 1, 1}},
                        {1, 1, 3, 40, 1, 1, 20, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}},
                        {3, 1, 5, 5, 1, 2, 2, {1, 3, 3}, {1, 1, 1}, {0, 0, 0}}};
  int seed = 50;
  for (const Case& c : cases) {
    cpu::im2col::Geometry g;
    const int64_t in[3] = {c.d, c.h, c.w}, ker[3] = {c.kd, c.kh, c.kw};
    for (int i = 0; i < 3; ++i) {
      g.in[i] = in[i];
      g.kernel[i] = ker[i];
      g.stride[i] = c.s[i];
      g.dil[i] = c.dl[i];
      g.pad[i] = c.pd[i];
      g.out[i] = (in[i] + 2 * c.pd[i] - (ker[i] - 1) * c.dl[i] - 1) / c.s[i] + 1;
    }
    const int64_t P = g.out[0] * g.out[1] * g.out[2], rows = c.c * c.kd * c.kh * c.kw;
    ir::Tensor x = randomTensor({c.c * c.d * c.h * c.w}, seed++);
    auto naive = [&](int64_t r, int64_t p) -> float {  // im2col(x)[r][p]
      const int64_t kw = r % c.kw, kh = r / c.kw % c.kh, kd = r / (c.kw * c.kh) % c.kd, ch = r / (c.kw * c.kh * c.kd);
      const int64_t ow = p % g.out[2], oh = p / g.out[2] % g.out[1], od = p / (g.out[2] * g.out[1]);
      const int64_t z = od * c.s[0] - c.pd[0] + kd * c.dl[0], y = oh * c.s[1] - c.pd[1] + kh * c.dl[1],
                    xw = ow * c.s[2] - c.pd[2] + kw * c.dl[2];
      if (z < 0 || z >= c.d || y < 0 || y >= c.h || xw < 0 || xw >= c.w) return 0.f;
      return x.as<float>()[((ch * c.d + z) * c.h + y) * c.w + xw];
    };
    for (const char* isa : kIsas) {
      cpu::im2col::PanelFn fn = cpu::im2col::panelKernelForIsa(isa);
      if (!fn) continue;
      for (int64_t nr : {16, 32}) {
        SCOPED_TRACE(::testing::Message() << isa << " nr " << nr << " case " << seed);
        for (int64_t p0 = 0; p0 < P; p0 += nr) {
          const int64_t w = std::min(nr, P - p0);
          std::vector<float> panel(rows * nr + 1, 555.f);
          fn(x.as<float>(), g, c.c, p0, w, nr, panel.data());
          ASSERT_EQ(panel[rows * nr], 555.f) << "wrote past the panel";
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t t = 0; t < nr; ++t)
              ASSERT_EQ(panel[r * nr + t], t < w ? naive(r, p0 + t) : 0.f) << "row " << r << " column " << p0 + t;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kiln::test
