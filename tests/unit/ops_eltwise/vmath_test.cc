// The vector math (ukernels/vmath.h) on every ISA this CPU has, against
// double precision: a sweep of the whole float range that matters, odd
// lengths (vector tails), infinities and NaN. The bounds here are the ones
// vmath.h documents.
#include "backends/cpu/ukernels/vmath.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace kiln::cpu {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<const vmath::Kernels*> isas() {
  std::vector<const vmath::Kernels*> out;
  for (const char* isa : {"generic", "avx2", "avx512"})
    if (const vmath::Kernels* k = vmath::kernelsForIsa(isa)) out.push_back(k);
  return out;
}

// Distance in units of the last place of the (float-rounded) exact value.
double ulps(float got, double want) {
  const float w = static_cast<float>(want);
  if (got == w) return 0;
  const double ulp = std::nextafter(std::fabs(w), kInf) - std::fabs(w);
  return std::fabs(got - want) / std::max(ulp, static_cast<double>(std::numeric_limits<float>::denorm_min()));
}

std::vector<float> sweep(float lo, float hi, int n) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * static_cast<float>(i) / static_cast<float>(n - 1));
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int i = 0; i < n; ++i) v.push_back(u(rng));
  for (float s : {0.f, -0.f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.5f, -0.5f, 0.625f, -0.625f})
    if (s >= lo && s <= hi) v.push_back(s);
  return v;
}

double sigmoidD(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double geluD(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double geluTanhD(double x) { return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

TEST(VMath, ExpWithinTwoUlp) {
  for (const vmath::Kernels* k : isas()) {
    SCOPED_TRACE(k->isa);
    std::vector<float> x = sweep(-87.3f, 88.7f, 20001), y(x.size());
    k->exp(x.data(), y.data(), static_cast<int64_t>(x.size()));
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, ulps(y[i], std::exp(static_cast<double>(x[i]))));
    EXPECT_LE(worst, 2.0);
    // Below FLT_MIN the result may lose precision (denormals) but stays within 1 ulp of FLT_MIN.
    std::vector<float> t = sweep(-110.f, -87.3f, 301), ty(t.size());
    k->exp(t.data(), ty.data(), static_cast<int64_t>(t.size()));
    for (std::size_t i = 0; i < t.size(); ++i)
      EXPECT_NEAR(ty[i], std::exp(static_cast<double>(t[i])), 1.2e-38) << t[i];
  }
}

TEST(VMath, ExpSpecialValuesAndTails) {
  for (const vmath::Kernels* k : isas()) {
    SCOPED_TRACE(k->isa);
    std::vector<float> x = {kInf, -kInf, kNaN, 89.f, 88.72284f, -200.f, 0.f, -0.f, 1.f};
    std::vector<float> y(x.size());
    k->exp(x.data(), y.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(y[0], kInf);
    EXPECT_EQ(y[1], 0.f);
    EXPECT_TRUE(std::isnan(y[2]));
    EXPECT_EQ(y[3], kInf);
    EXPECT_EQ(y[5], 0.f);
    EXPECT_EQ(y[6], 1.f);
    EXPECT_EQ(y[7], 1.f);
    EXPECT_LE(ulps(y[8], std::exp(1.0)), 2.0);
    // Every length 1..67 in place, and nothing past the end is written.
    for (int n = 1; n <= 67; ++n) {
      std::vector<float> v(n + 1, 0.25f);
      v[n] = -7.f;
      k->exp(v.data(), v.data(), n);
      for (int i = 0; i < n; ++i) ASSERT_LE(ulps(v[i], std::exp(0.25)), 2.0) << n;
      ASSERT_EQ(v[n], -7.f) << n;
    }
  }
}

TEST(VMath, ActivationsAgainstDouble) {
  struct Case {
    ActKind kind;
    double (*f)(double);
    double ulpBound;  // 0: use the relative + absolute bound instead
  };
  const Case cases[] = {{ActKind::kSigmoid, sigmoidD, 3}, {ActKind::kTanh, [](double x) { return std::tanh(x); }, 3},
                        {ActKind::kSilu, [](double x) { return x * sigmoidD(x); }, 3},
                        {ActKind::kGelu, geluD, 0}, {ActKind::kGeluTanh, geluTanhD, 0}};
  for (const vmath::Kernels* k : isas()) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(k->isa) + " kind " + std::to_string(static_cast<int>(c.kind)));
      std::vector<float> x = sweep(-30.f, 30.f, 20001);
      for (float big : {-1e30f, 1e30f, -100.f, 100.f}) x.push_back(big);
      std::vector<float> y = x;
      k->activate(c.kind, y.data(), static_cast<int64_t>(y.size()));
      double worst = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double want = c.f(x[i]);
        if (c.ulpBound > 0 && std::fabs(want) < std::numeric_limits<float>::min()) {
          ASSERT_LE(std::fabs(y[i]), std::numeric_limits<float>::min()) << x[i];  // may flush
        } else if (c.ulpBound > 0) {
          worst = std::max(worst, ulps(y[i], want));
        } else {  // 1 + erf(x) cancels for x < 0: float resolution near 1 times x / 2
          ASSERT_NEAR(y[i], want, 1e-6 * std::fabs(want) + 2e-7 * (1 + std::fabs(x[i]))) << x[i];
        }
      }
      if (c.ulpBound > 0) {
        EXPECT_LE(worst, c.ulpBound);
      }
    }
  }
}

TEST(VMath, ActivationsAtInfinityAndNaN) {
  for (const vmath::Kernels* k : isas()) {
    SCOPED_TRACE(k->isa);
    auto run = [&](ActKind kind, float v) {
      k->activate(kind, &v, 1);
      return v;
    };
    EXPECT_EQ(run(ActKind::kSigmoid, kInf), 1.f);
    EXPECT_EQ(run(ActKind::kSigmoid, -kInf), 0.f);
    EXPECT_EQ(run(ActKind::kTanh, kInf), 1.f);
    EXPECT_EQ(run(ActKind::kTanh, -kInf), -1.f);
    EXPECT_EQ(run(ActKind::kGelu, kInf), kInf);
    EXPECT_EQ(run(ActKind::kSilu, kInf), kInf);
    EXPECT_EQ(run(ActKind::kSilu, -100.f), -0.f);
    for (ActKind kind : {ActKind::kSigmoid, ActKind::kTanh, ActKind::kGelu, ActKind::kGeluTanh, ActKind::kSilu})
      EXPECT_TRUE(std::isnan(run(kind, kNaN))) << static_cast<int>(kind);
  }
}

TEST(VMath, ScalarFormIsTheArrayForm) {
  // activation.h's scalar applyActivation gives the bits of the array form.
  std::vector<float> x = sweep(-9.f, 9.f, 999);
  for (ActKind kind : {ActKind::kSigmoid, ActKind::kTanh, ActKind::kGelu, ActKind::kGeluTanh, ActKind::kSilu}) {
    std::vector<float> y = x;
    applyActivation(Activation{kind}, y.data(), static_cast<int64_t>(y.size()));
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float s = applyActivation(kind, x[i], 0.f, 0.f);
      ASSERT_EQ(std::memcmp(&y[i], &s, sizeof s), 0) << i << ": " << y[i] << " vs " << s;
    }
  }
}

TEST(VMath, SoftmaxRows) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-20.f, 20.f);
  for (const vmath::Kernels* k : isas()) {
    SCOPED_TRACE(k->isa);
    for (int n : {1, 2, 7, 15, 16, 17, 33, 128, 129, 1000}) {
      std::vector<float> x(n), y(n), ly(n);
      for (float& v : x) v = u(rng);
      k->softmaxRow(x.data(), y.data(), n);
      k->logSoftmaxRow(x.data(), ly.data(), n);
      // The float subtraction x - max rounds (as in any float softmax): the
      // reference starts from the same rounded differences.
      float mx = -kInf;
      for (float v : x) mx = std::max(mx, v);
      double sum = 0;
      for (float v : x) sum += std::exp(static_cast<double>(v - mx));
      for (int i = 0; i < n; ++i) {
        const double p = std::exp(static_cast<double>(x[i] - mx)) / sum;
        ASSERT_NEAR(y[i], p, 1e-6 * p + 1e-30) << n << " " << i;
        ASSERT_NEAR(ly[i], std::log(p), 2e-6 * std::max(1.0, std::fabs(std::log(p)))) << n << " " << i;
      }
      std::vector<float> inPlace = x;  // aliasing input and output
      k->softmaxRow(inPlace.data(), inPlace.data(), n);
      for (int i = 0; i < n; ++i) ASSERT_EQ(inPlace[i], y[i]);
      inPlace = x;
      k->logSoftmaxRow(inPlace.data(), inPlace.data(), n);
      for (int i = 0; i < n; ++i) ASSERT_EQ(inPlace[i], ly[i]);
      // Softmax without its division: exp(x - max) and their sum.
      inPlace = x;
      const float total = k->expShiftedRow(inPlace.data(), inPlace.data(), n);
      EXPECT_NEAR(total, sum, 2e-6 * sum) << n;
      for (int i = 0; i < n; ++i) {
        const double e = std::exp(static_cast<double>(x[i] - mx));
        ASSERT_NEAR(inPlace[i], e, 1e-6 * e + 1e-30) << n << " " << i;
      }
    }
    std::vector<float> withInf = {1.f, -kInf, 2.f};
    k->softmaxRow(withInf.data(), withInf.data(), 3);
    EXPECT_EQ(withInf[1], 0.f);
    EXPECT_NEAR(withInf[2], 1.0 / (1.0 + std::exp(-1.0)), 1e-7);
  }
}

TEST(VMath, LayerNormRows) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-3.f, 5.f);
  for (const vmath::Kernels* k : isas()) {
    SCOPED_TRACE(k->isa);
    for (int n : {1, 3, 8, 16, 17, 31, 64, 65, 768}) {
      std::vector<float> x(n), y(n), scale(n), bias(n);
      for (float& v : x) v = u(rng);
      for (float& v : scale) v = u(rng);
      for (float& v : bias) v = u(rng);
      for (bool withBias : {true, false}) {
        float mean = 0, inv = 0;
        k->layerNormRow(x.data(), y.data(), n, scale.data(), withBias ? bias.data() : nullptr, 1e-5f, &mean, &inv);
        double m = 0, q = 0;
        for (float v : x) m += v;
        m /= n;
        for (float v : x) q += (v - m) * (v - m);
        const double iv = 1.0 / std::sqrt(q / n + 1e-5);
        EXPECT_NEAR(mean, m, 1e-6 * std::max(1.0, std::fabs(m)));
        EXPECT_NEAR(inv, iv, 2e-6 * iv);
        for (int i = 0; i < n; ++i) {
          const double want = (x[i] - m) * iv * scale[i] + (withBias ? bias[i] : 0.0);
          ASSERT_NEAR(y[i], want, 2e-6 * (std::fabs(scale[i]) * 4 + 1)) << n << " " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kiln::cpu
