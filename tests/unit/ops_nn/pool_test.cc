// MaxPool / AveragePool / global pools (their NCHW and NHWC forms): reference kernels against hand
// values (1-D, 2-D, 3-D, pads, ceil_mode, dilation, Indices) and schemas.
#include "unit/ops_nn/op_test_util.h"

#include <cstring>
#include <limits>

#include "backends/cpu/kernel.h"
#include "backends/cpu/ukernels/pool.h"

namespace kiln::test {
namespace {

using V = std::vector<int64_t>;

ir::Tensor ramp(std::vector<int64_t> dims) {
  ir::Tensor t(DType::kFLOAT, dims);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutableAs<float>()[i] = static_cast<float>(i);
  return t;
}

OpSpec pool(const std::string& op, ir::Tensor x, std::map<std::string, ir::Attribute> attrs, int outputs = 1) {
  OpSpec s;
  s.op = op;
  s.attrs = std::move(attrs);
  s.inputs = {dyn(std::move(x))};
  s.numOutputs = outputs;
  return s;
}

TEST(MaxPoolRef, HandValuesAndIndices) {
  auto y = runTactic(pool("MaxPool", ramp({1, 1, 4, 4}), {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}}, 2),
                     "MaxPool.ref");
  EXPECT_TRUE(equals(y[0], {1, 1, 2, 2}, {5, 7, 13, 15}));
  ASSERT_EQ(y[1].dtype(), DType::kINT64);
  EXPECT_EQ(y[1].toInt64(), (V{5, 7, 13, 15}));  // on a ramp, the value is its flat index
  // Column-major indices: h + w * H.
  y = runTactic(pool("MaxPool", ramp({1, 1, 4, 4}),
                     {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}, {"storage_order", int64_t{1}}}, 2),
                "MaxPool.ref");
  EXPECT_EQ(y[1].toInt64(), (V{5, 13, 7, 15}));
  // Indices count from the start of the tensor, batch and channel included.
  y = runTactic(pool("MaxPool", ramp({2, 1, 2, 2}), {{"kernel_shape", V{2, 2}}}, 2), "MaxPool.ref");
  EXPECT_EQ(y[1].toInt64(), (V{3, 7}));
}

TEST(MaxPoolRef, PadsCeilModeDilation) {
  auto y = runTactic(pool("MaxPool", ramp({1, 1, 4, 4}),
                          {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}, {"pads", V{1, 1, 1, 1}}}),
                     "MaxPool.ref");
  EXPECT_TRUE(equals(y[0], {1, 1, 2, 2}, {5, 7, 13, 15}));
  // ceil_mode keeps a last, partial window: 5 -> 3 outputs; (2, 2) sees only x[4][4].
  y = runTactic(pool("MaxPool", ramp({1, 1, 5, 5}), {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}},
                                                    {"ceil_mode", int64_t{1}}}),
                "MaxPool.ref");
  EXPECT_TRUE(equals(y[0], {1, 1, 3, 3}, {6, 8, 9, 16, 18, 19, 21, 23, 24}));
  // 1-D with dilation 3: windows (i, i + 3).
  y = runTactic(pool("MaxPool", floats({1, 1, 7}, {1, 3, 2, 5, 4, 0, 7}),
                     {{"kernel_shape", V{2}}, {"dilations", V{3}}}),
                "MaxPool.ref");
  EXPECT_TRUE(equals(y[0], {1, 1, 4}, {5, 4, 2, 7}));
  // auto_pad SAME_UPPER, stride 2 on 5: 3 outputs, the extra pad at the end.
  y = runTactic(pool("MaxPool", floats({1, 1, 5}, {1, 9, 2, 8, 3}),
                     {{"kernel_shape", V{2}}, {"strides", V{2}}, {"auto_pad", std::string("SAME_UPPER")}}),
                "MaxPool.ref");
  EXPECT_TRUE(equals(y[0], {1, 1, 3}, {9, 8, 3}));
}

TEST(AveragePoolRef, CountIncludePad) {
  std::map<std::string, ir::Attribute> a = {{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}};
  auto y = runTactic(pool("AveragePool", ramp({1, 1, 4, 4}), a), "AveragePool.ref");
  // Corners average 4 values, edges 6, the middle 9.
  EXPECT_TRUE(equals(y[0], {1, 1, 4, 4},
                     {2.5f, 3, 4, 4.5f, 4.5f, 5, 6, 6.5f, 8.5f, 9, 10, 10.5f, 10.5f, 11, 12, 12.5f}));
  a["count_include_pad"] = int64_t{1};
  y = runTactic(pool("AveragePool", ramp({1, 1, 4, 4}), a), "AveragePool.ref");
  EXPECT_TRUE(near(y[0], floats({1, 1, 4, 4}, {10.f / 9, 18.f / 9, 24.f / 9, 18.f / 9, 27.f / 9, 5, 6, 39.f / 9,
                                               51.f / 9, 9, 10, 63.f / 9, 42.f / 9, 66.f / 9, 72.f / 9, 50.f / 9})));
  // ceil_mode's partial window counts only what lies inside the input (+ pads).
  y = runTactic(pool("AveragePool", ramp({1, 1, 5, 5}),
                     {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}, {"ceil_mode", int64_t{1}},
                      {"count_include_pad", int64_t{1}}}),
                "AveragePool.ref");
  EXPECT_TRUE(equals(y[0], {1, 1, 3, 3}, {3, 5, 6.5f, 13, 15, 16.5f, 20.5f, 22.5f, 24}));
}

TEST(AveragePoolRef, ThreeD) {
  auto y = runTactic(pool("AveragePool", ramp({1, 2, 2, 2, 2}), {{"kernel_shape", V{2, 2, 2}}}), "AveragePool.ref");
  EXPECT_TRUE(equals(y[0], {1, 2, 1, 1, 1}, {3.5f, 11.5f}));
}

TEST(Pool2dRows, AgreesExactlyWithTheReference) {
  // Odd sizes, pads (incl. windows wholly in the padding with ceil_mode),
  // strides 1..3, dilation, non-square kernels, batch > 1, both count modes;
  // the row kernel visits taps in the reference's order, so results match bit for bit.
  struct Case {
    V dims, kernel, strides, pads, dil;
    int64_t ceil = 0;
  };
  const Case cases[] = {
      {{1, 16, 32, 448}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}},  // the CRNN pools
      {{1, 16, 8, 224}, {2, 1}, {2, 1}, {0, 0, 0, 0}, {1, 1}},
      {{2, 3, 7, 33}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}},     // 2 wide at stride 2: odd W, batch > 1
      {{1, 2, 5, 35}, {2, 2}, {2, 2}, {1, 1, 1, 1}, {1, 1}},     // ... padded at both ends
      {{1, 2, 6, 19}, {3, 2}, {1, 2}, {0, 1, 0, 0}, {1, 1}, 1},  // ... begin pad, ceil_mode's partial window
      {{1, 1, 4, 2}, {2, 2}, {2, 2}, {0, 1, 0, 1}, {1, 1}, 1},   // ... a row of 2
      {{2, 3, 7, 9}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}},
      {{1, 2, 11, 13}, {3, 2}, {2, 3}, {1, 0, 2, 1}, {1, 1}, 1},
      {{1, 1, 9, 17}, {2, 3}, {1, 2}, {0, 1, 0, 1}, {2, 2}},
      {{3, 1, 5, 5}, {5, 5}, {2, 2}, {2, 2, 2, 2}, {1, 1}, 1},
      {{1, 1, 1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}},
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    for (const char* op : {"MaxPool", "AveragePool"}) {
      for (int64_t includePad : {0, 1}) {
        if (std::string(op) == "MaxPool" && includePad) continue;  // an AveragePool attribute
        if (std::string(op) == "AveragePool" && c.dil != V{1, 1}) continue;  // AveragePool dilations: opset 19
        std::map<std::string, ir::Attribute> attrs = {{"kernel_shape", c.kernel}, {"strides", c.strides},
                                                      {"pads", c.pads}, {"ceil_mode", c.ceil}};
        if (std::string(op) == "MaxPool") attrs["dilations"] = c.dil;
        else attrs["count_include_pad"] = includePad;
        OpSpec spec = pool(op, randomTensor(c.dims, seed++, -3.f, 3.f), attrs);
        SCOPED_TRACE(std::string(op) + " " + ir::toString(c.dims) + " k" + ir::toString(c.kernel));
        ThreadPool threads(3);
        auto want = runTactic(spec, std::string(op) + ".ref", threads);
        auto got = runTactic(spec, std::string(op) + ".rows", threads);
        ASSERT_EQ(got[0].dims(), want[0].dims());
        EXPECT_EQ(std::memcmp(got[0].data(), want[0].data(), got[0].bytes()), 0);
      }
    }
  }
  // NaN is skipped as the reference skips it (a later tap replaces it).
  {
    ir::Tensor x = randomTensor({1, 2, 6, 37}, 99, -3.f, 3.f);
    float* d = x.mutableAs<float>();
    for (int64_t i = 0; i < x.numel(); i += 7) d[i] = std::numeric_limits<float>::quiet_NaN();
    OpSpec spec = pool("MaxPool", std::move(x), {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}});
    auto want = runTactic(spec, "MaxPool.ref");
    auto got = runTactic(spec, "MaxPool.rows");
    EXPECT_EQ(std::memcmp(got[0].data(), want[0].data(), got[0].bytes()), 0);
  }
  // Declines what it does not do: Indices, 1-D, 3-D.
  OpSpec withIndices = pool("MaxPool", ramp({1, 1, 4, 4}), {{"kernel_shape", V{2, 2}}}, 2);
  EXPECT_THROW(runTactic(withIndices, "MaxPool.rows"), Error);
  EXPECT_THROW(runTactic(pool("MaxPool", ramp({1, 1, 8}), {{"kernel_shape", V{2}}}), "MaxPool.rows"), Error);
  EXPECT_THROW(runTactic(pool("AveragePool", ramp({1, 1, 2, 4, 4}), {{"kernel_shape", V{2, 2, 2}}}), "AveragePool.rows"),
               Error);
}

TEST(GlobalPoolRef, HandValues) {
  OpSpec s = pool("GlobalAveragePool", ramp({1, 2, 2, 2}), {});
  EXPECT_TRUE(equals(runTactic(s, "GlobalAveragePool.ref")[0], {1, 2, 1, 1}, {1.5f, 5.5f}));
  s.op = "GlobalMaxPool";
  EXPECT_TRUE(equals(runTactic(s, "GlobalMaxPool.ref")[0], {1, 2, 1, 1}, {3, 7}));
  s.inputs = {dyn(ramp({2, 1, 3}))};
  EXPECT_TRUE(equals(runTactic(s, "GlobalMaxPool.ref")[0], {2, 1, 1}, {2, 5}));
}

TEST(GlobalPoolLanes, AgreesWithTheReference) {
  // Planes shorter than, equal to and longer than the 16 lanes with a tail;
  // 3-D, 4-D (batch > 1, an EfficientNet SE plane) and 5-D inputs.
  const V shapes[] = {{1, 1, 1, 1}, {2, 3, 7, 9}, {1, 5, 4, 4}, {1, 144, 56, 56}, {3, 2, 17}, {1, 2, 3, 5, 7}};
  uint32_t seed = 40;
  for (const V& dims : shapes) {
    SCOPED_TRACE(ir::toString(dims));
    // Shifted so the mean is far from 0: a sum that dropped or doubled a lane shows.
    OpSpec s = pool("GlobalAveragePool", randomTensor(dims, seed++, 1.f, 3.f), {});
    ThreadPool threads(3);
    EXPECT_TRUE(near(runTactic(s, "GlobalAveragePool.lanes", threads)[0],
                     runTactic(s, "GlobalAveragePool.ref", threads)[0], 0.f, 1e-5f));
    s.op = "GlobalMaxPool";
    auto got = runTactic(s, "GlobalMaxPool.lanes", threads);
    auto want = runTactic(s, "GlobalMaxPool.ref", threads);
    EXPECT_EQ(std::memcmp(got[0].data(), want[0].data(), got[0].bytes()), 0);  // max is order-free
  }
}

TEST(PoolSchema, ShapesAndErrors) {
  auto out = [](const std::string& op, ir::Shape x, std::map<std::string, ir::Attribute> a) {
    return ir::toString(inferShapes({op, a, {x}}, "pool1")[0]);
  };
  EXPECT_EQ(out("MaxPool", {1, 64, 112, 112}, {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}, {"pads", V{1, 1, 1, 1}}}),
            "[1,64,56,56]");
  EXPECT_EQ(out("AveragePool", {ir::Dim(std::string("n")), 3, 7, ir::Dim()},
                {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}, {"ceil_mode", int64_t{1}}}),
            "[n,3,4,?]");
  EXPECT_EQ(out("MaxPool", {1, 3, 7, 8}, {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}},
                                         {"auto_pad", std::string("SAME_LOWER")}}),
            "[1,3,4,4]");
  EXPECT_EQ(out("GlobalAveragePool", {ir::Dim(std::string("n")), 2048, 7, 7}, {}), "[n,2048,1,1]");
  EXPECT_TRUE(throwsWith([&] { out("MaxPool", {1, 3, 8, 8}, {}); },
                         "MaxPool node \"pool1\": needs the attribute kernel_shape"));
  EXPECT_TRUE(throwsWith([&] { out("MaxPool", {1, 3, 8, 8}, {{"kernel_shape", V{3}}}); },
                         "'kernel_shape' has 1 values, expected 2"));
  EXPECT_TRUE(throwsWith([&] { out("AveragePool", {1, 3, 2, 2}, {{"kernel_shape", V{3, 3}}}); }, "does not fit"));
  EXPECT_TRUE(throwsWith([&] { out("MaxPool", {3, 8}, {{"kernel_shape", V{3}}}); }, "input has rank 2"));
}

// NCHW data re-laid as NHWC (same dims, channels innermost in memory).
ir::Tensor toNhwc(const ir::Tensor& t) {
  const std::vector<int64_t>& d = t.dims();
  ir::Tensor r(DType::kFLOAT, d);
  const float* s = t.as<float>();
  float* o = r.mutableAs<float>();
  for (int64_t n = 0; n < d[0]; ++n)
    for (int64_t c = 0; c < d[1]; ++c)
      for (int64_t h = 0; h < d[2]; ++h)
        for (int64_t w = 0; w < d[3]; ++w) o[((n * d[2] + h) * d[3] + w) * d[1] + c] = s[((n * d[1] + c) * d[2] + h) * d[3] + w];
  return r;
}

TEST(Pool2dRows, NhwcFormAgreesExactlyWithTheReference) {
  // kiln_nhwc (a oneDNN chain through the pool): same dims, channels innermost;
  // batch > 1, odd sizes, pads, ceil_mode, dilation, NaN.
  struct Case {
    V dims, kernel, strides, pads, dil;
    int64_t ceil = 0;
  };
  const Case cases[] = {
      {{1, 16, 32, 448}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}},
      {{2, 48, 8, 112}, {2, 1}, {2, 1}, {0, 0, 0, 0}, {1, 1}},
      {{2, 5, 13, 11}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}},  // ResNet's stem pool, odd
      {{1, 3, 9, 17}, {2, 3}, {1, 2}, {0, 1, 0, 1}, {2, 2}, 1},
  };
  uint32_t seed = 40;
  for (const Case& c : cases) {
    ir::Tensor x = randomTensor(c.dims, seed++, -3.f, 3.f);
    float* d = x.mutableAs<float>();
    for (int64_t i = 0; i < x.numel(); i += 11) d[i] = std::numeric_limits<float>::quiet_NaN();
    std::map<std::string, ir::Attribute> attrs = {{"kernel_shape", c.kernel}, {"strides", c.strides},
                                                  {"pads", c.pads}, {"dilations", c.dil}, {"ceil_mode", c.ceil}};
    SCOPED_TRACE(ir::toString(c.dims) + " k" + ir::toString(c.kernel));
    ThreadPool threads(2);
    auto want = runTactic(pool("MaxPool", x, attrs), "MaxPool.ref", threads);
    attrs["kiln_nhwc"] = int64_t{1};
    auto got = runTactic(pool("MaxPool", toNhwc(x), attrs), "MaxPool.rows", threads);
    const ir::Tensor wantNhwc = toNhwc(want[0]);
    ASSERT_EQ(got[0].dims(), wantNhwc.dims());
    EXPECT_EQ(std::memcmp(got[0].data(), wantNhwc.data(), wantNhwc.bytes()), 0);
  }
}

TEST(GlobalPoolLanes, NhwcFormAgreesWithTheReference) {
  // kiln_nhwc (a oneDNN chain ends in a squeeze-excitation pool): channels
  // innermost; fewer than, exactly and more than one 64-channel run, batch > 1.
  const V shapes[] = {{1, 1, 1, 1}, {2, 3, 7, 9}, {1, 64, 5, 5}, {3, 144, 13, 11}, {1, 200, 1, 1}};
  uint32_t seed = 60;
  for (const V& dims : shapes) {
    SCOPED_TRACE(ir::toString(dims));
    const ir::Tensor x = randomTensor(dims, seed++, 1.f, 3.f);
    ThreadPool threads(3);
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
      auto want = runTactic(pool(op, x, {}), std::string(op) + ".ref", threads);
      auto got = runTactic(pool(op, toNhwc(x), {{"kiln_nhwc", int64_t{1}}}), std::string(op) + ".lanes", threads);
      EXPECT_TRUE(near(got[0], want[0], 0.f, 1e-5f)) << op;  // [N, C, 1, 1]: the same in either layout
    }
  }
}

TEST(PoolRowKernels, EveryIsaAgreesWithTheReference) {
  // Each ISA's build of ukernels/pool_impl.inc (the host runs only one of
  // them through MaxPool.rows), on MaxPool shapes with and without the
  // 2-wide stride-2 path, padded, odd widths; the NHWC max row too.
  struct Case {
    V dims, kernel, strides, pads;
  };
  const Case cases[] = {
      {{1, 3, 8, 45}, {2, 2}, {2, 2}, {0, 0, 0, 0}},
      {{1, 2, 7, 35}, {2, 2}, {2, 2}, {1, 1, 1, 1}},
      {{1, 2, 9, 40}, {3, 3}, {1, 1}, {1, 1, 1, 1}},
      {{1, 2, 9, 41}, {2, 3}, {2, 3}, {0, 1, 0, 1}},
  };
  std::vector<std::pair<const char*, const cpu::pool::Kernels*>> isas = {{"generic", &cpu::pool::genericKernels()}};
  const std::string host = cpu::hostIsa();
  if (host == "avx2" || host == "avx512") isas.push_back({"avx2", &cpu::pool::avx2Kernels()});
  if (host == "avx512") isas.push_back({"avx512", &cpu::pool::avx512Kernels()});
  uint32_t seed = 7;
  for (const Case& c : cases) {
    ir::Tensor x = randomTensor(c.dims, seed++, -3.f, 3.f);
    auto want = runTactic(pool("MaxPool", x, {{"kernel_shape", c.kernel}, {"strides", c.strides}, {"pads", c.pads}}),
                          "MaxPool.ref");
    const V& od = want[0].dims();
    cpu::pool::Rows g;
    g.h = c.dims[2], g.w = c.dims[3], g.ow = od[3];
    g.kh = c.kernel[0], g.kw = c.kernel[1], g.sh = c.strides[0], g.sw = c.strides[1];
    g.ph = c.pads[0], g.pw = c.pads[1], g.padEndH = c.pads[2], g.padEndW = c.pads[3];
    const ir::Tensor xNhwc = toNhwc(x), wantNhwc = toNhwc(want[0]);
    for (auto [name, k] : isas) {
      SCOPED_TRACE(std::string(name) + " " + ir::toString(c.dims) + " k" + ir::toString(c.kernel));
      std::vector<float> got(static_cast<std::size_t>(want[0].numel()));
      const int64_t planes = c.dims[0] * c.dims[1];
      for (int64_t p = 0; p < planes; ++p)
        for (int64_t oh = 0; oh < od[2]; ++oh)
          k->row(g, x.as<float>() + p * g.h * g.w, oh, got.data() + (p * od[2] + oh) * od[3]);
      EXPECT_EQ(std::memcmp(got.data(), want[0].data(), want[0].bytes()), 0);
      // The NHWC form, image by image.
      std::fill(got.begin(), got.end(), 0.f);
      const int64_t ch = c.dims[1];
      for (int64_t n = 0; n < c.dims[0]; ++n)
        for (int64_t oh = 0; oh < od[2]; ++oh)
          k->nhwcMaxRow(g, ch, xNhwc.as<float>() + n * g.h * g.w * ch, oh, got.data() + (n * od[2] + oh) * od[3] * ch);
      EXPECT_EQ(std::memcmp(got.data(), wantNhwc.data(), wantNhwc.bytes()), 0);
    }
  }
}

}  // namespace
}  // namespace kiln::test
