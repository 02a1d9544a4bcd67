// DFT, STFT and MelWeightMatrix: known transforms (impulse, constant, a pure
// tone), round trips through the inverse, dft_length padding/truncation,
// onesided output, the axis as input, framing with a window.
#include <cmath>
#include <complex>
#include <numbers>

#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Shape;
using C = std::complex<double>;

std::vector<float> floats(const ir::Tensor& t) { return t.toFloat(); }

//! The DFT of a complex line written with std::complex (the oracle).
std::vector<C> naiveDft(const std::vector<C>& x, int64_t N, bool inverse) {
  std::vector<C> out(static_cast<std::size_t>(N));
  for (int64_t k = 0; k < N; ++k)
    for (int64_t n = 0; n < std::min<int64_t>(N, static_cast<int64_t>(x.size())); ++n)
      out[k] += x[n] * std::polar(1.0, (inverse ? 2 : -2) * std::numbers::pi * k * n / N);
  if (inverse)
    for (C& c : out) c /= static_cast<double>(N);
  return out;
}

TEST(Dft, RealAndComplexLinesOnEitherAxis) {
  ir::Tensor x = makeTensor<float>({2, 5, 1}, {1, 2, -1, 0.5f, 3, 0, 1, 0, 0, 0});
  for (int64_t length : {5, 7, 3})
    for (int64_t onesided : {0, 1}) {
      OpTest t("DFT");
      t.input(x).constant(scalar<int64_t>(length)).constant(scalar<int64_t>(1)).attr("onesided", onesided);
      int64_t bins = onesided ? length / 2 + 1 : length;
      EXPECT_EQ(t.shape(), (Shape{2, bins, 2}));
      std::vector<float> got = floats(t.run1());
      for (int64_t b = 0; b < 2; ++b) {
        std::vector<C> line;
        for (int n = 0; n < 5; ++n) line.emplace_back(x.as<float>()[b * 5 + n], 0);
        std::vector<C> want = naiveDft(line, length, false);
        for (int64_t k = 0; k < bins; ++k) {
          EXPECT_NEAR(got[(b * bins + k) * 2], want[k].real(), 1e-5) << length << " " << b << " " << k;
          EXPECT_NEAR(got[(b * bins + k) * 2 + 1], want[k].imag(), 1e-5);
        }
      }
    }
  // Axis 0 of [3, 2, 2] (complex), then the inverse brings it back.
  ir::Tensor z = makeTensor<float>({3, 2, 2}, {1, 0, 0, 1, 2, -1, 3, 0, 0, 0, -1, 2});
  OpTest f("DFT");
  f.input(z).absent().constant(scalar<int64_t>(0));
  ir::Tensor spec = f.run1();
  OpTest inv("DFT");
  inv.input(spec).absent().constant(scalar<int64_t>(-3)).attr("inverse", int64_t{1});
  std::vector<float> back = floats(inv.run1()), orig = floats(z);
  for (std::size_t i = 0; i < orig.size(); ++i) EXPECT_NEAR(back[i], orig[i], 1e-5) << i;
  OpTest bad("DFT", "dft");
  bad.input(z).absent().constant(scalar<int64_t>(2));
  expectNodeError([&] { bad.infer(); }, "dft", "last (complex) dim");
}

TEST(Stft, FramesWithAndWithoutWindow) {
  std::vector<float> signal(20);
  for (int n = 0; n < 20; ++n) signal[n] = static_cast<float>(std::sin(0.7 * n) + 0.1 * n);
  ir::Tensor x = makeTensor<float>({1, 20, 1}, signal);
  std::vector<float> window = {0.5f, 1, 1, 0.25f, 0.75f, 1};
  OpTest t("STFT");
  t.input(x).constant(scalar<int64_t>(4)).input(makeTensor<float>({6}, window));
  EXPECT_EQ(t.shape(), (Shape{1, 4, 4, 2}));  // (20 - 6) / 4 + 1 frames, 6 / 2 + 1 bins
  std::vector<float> got = floats(t.run1());
  for (int f = 0; f < 4; ++f) {
    std::vector<C> frame;
    for (int n = 0; n < 6; ++n) frame.emplace_back(window[n] * signal[f * 4 + n], 0);
    std::vector<C> want = naiveDft(frame, 6, false);
    for (int k = 0; k < 4; ++k) {
      EXPECT_NEAR(got[(f * 4 + k) * 2], want[k].real(), 1e-5);
      EXPECT_NEAR(got[(f * 4 + k) * 2 + 1], want[k].imag(), 1e-5);
    }
  }
  OpTest nw("STFT");
  nw.input(x).constant(scalar<int64_t>(5)).absent().constant(scalar<int64_t>(8)).attr("onesided", int64_t{0});
  EXPECT_EQ(nw.shape(), (Shape{1, 3, 8, 2}));
}

TEST(MelWeightMatrix, TrianglesBetweenIntegerEdges) {
  OpTest t("MelWeightMatrix");
  t.constant(scalar<int32_t>(4)).constant(scalar<int32_t>(32)).constant(scalar<int32_t>(8000))
      .constant(scalar<float>(0)).constant(scalar<float>(4000));
  EXPECT_EQ(t.shape(), (Shape{17, 4}));
  std::vector<float> got = floats(t.run1());
  // Edges as ONNX computes them: mel-spaced, then floor((N + 1) * hz / rate).
  double lo = 0, hi = 2595 * std::log10(1 + 4000.0 / 700), step = (hi - lo) / 6;
  std::vector<int> edge;
  for (int i = 0; i < 6; ++i) edge.push_back(static_cast<int>(std::floor(33 * 700 * (std::pow(10, (i * step) / 2595) - 1) / 8000)));
  for (int m = 0; m < 4; ++m)
    for (int r = 0; r < 17; ++r) {
      double want = 0;
      if (r >= edge[m] && r <= edge[m + 1] && edge[m + 1] > edge[m]) want = double(r - edge[m]) / (edge[m + 1] - edge[m]);
      if (r >= edge[m + 1] && r < edge[m + 2]) want = double(edge[m + 2] - r) / (edge[m + 2] - edge[m + 1]);
      EXPECT_NEAR(got[r * 4 + m], want, 1e-6) << r << " " << m;
    }
}

}  // namespace
}  // namespace kiln::test
