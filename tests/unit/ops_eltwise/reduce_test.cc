// Reductions and ArgMax/ArgMin: every reduction over first / middle / last /
// several / all axes, negative axes, keepdims 0 and 1, against a naive
// double-precision oracle written here.
#include <cmath>
#include <limits>

#include "eltwise_test_util.h"

namespace kiln::test {
namespace {

//! Naive reduction in double; result laid out as with keepdims (same order either way).
std::vector<float> refReduce(const ir::Tensor& x, std::vector<int64_t> axes, const std::string& op) {
  std::vector<int64_t> dims = x.dims();
  int64_t rank = static_cast<int64_t>(dims.size());
  std::vector<bool> red(dims.size(), axes.empty());
  for (int64_t a : axes) red[a < 0 ? a + rank : a] = true;
  std::vector<int64_t> odims = dims;
  for (std::size_t d = 0; d < dims.size(); ++d)
    if (red[d]) odims[d] = 1;
  std::size_t n = static_cast<std::size_t>(ir::numElements(odims));
  std::vector<float> xv = values(x);
  auto outIndex = [&](const std::vector<int64_t>& c) { return broadcastIndex(c, odims); };
  std::vector<double> mx(n, -INFINITY), acc(n, op == "ReduceProd" ? 1.0 : 0.0), mn(n, INFINITY);
  std::vector<int64_t> cnt(n, 0);
  forEachIndex(dims, [&](const std::vector<int64_t>& c, int64_t i) {
    int64_t o = outIndex(c);
    mx[o] = std::max(mx[o], double(xv[i]));
    mn[o] = std::min(mn[o], double(xv[i]));
    ++cnt[o];
  });
  forEachIndex(dims, [&](const std::vector<int64_t>& c, int64_t i) {
    int64_t o = outIndex(c);
    double v = xv[i];
    if (op == "ReduceProd") acc[o] *= v;
    else if (op == "ReduceL1") acc[o] += std::fabs(v);
    else if (op == "ReduceL2" || op == "ReduceSumSquare") acc[o] += v * v;
    else if (op == "ReduceLogSumExp") acc[o] += std::exp(v - mx[o]);
    else acc[o] += v;
  });
  std::vector<float> out(n);
  for (std::size_t o = 0; o < n; ++o) {
    double r = acc[o];
    if (op == "ReduceMean") r /= cnt[o];
    else if (op == "ReduceMax") r = mx[o];
    else if (op == "ReduceMin") r = mn[o];
    else if (op == "ReduceL2") r = std::sqrt(r);
    else if (op == "ReduceLogSum") r = std::log(r);
    else if (op == "ReduceLogSumExp") r = mx[o] + std::log(r);
    out[o] = static_cast<float>(r);
  }
  return out;
}

std::vector<int64_t> reducedDims(const std::vector<int64_t>& dims, std::vector<int64_t> axes, bool keep) {
  int64_t rank = static_cast<int64_t>(dims.size());
  std::vector<bool> red(dims.size(), axes.empty());
  for (int64_t a : axes) red[a < 0 ? a + rank : a] = true;
  std::vector<int64_t> out;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (!red[d]) out.push_back(dims[d]);
    else if (keep) out.push_back(1);
  }
  return out;
}

const char* kFloatOps[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                           "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"};

TEST(Reduce, EveryOpOverEveryAxisPattern) {
  ir::Tensor x = randomF({3, 4, 5, 6}, 21, 0.5f, 1.5f);  // positive: LogSum and Prod stay finite
  const std::vector<std::vector<int64_t>> axesSets = {{0}, {1}, {3}, {-1}, {1, 2}, {0, 2}, {0, 3}, {1, 3},
                                                      {-3, -1}, {0, 1, 2}, {}, {0, 1, 2, 3}};
  for (const char* op : kFloatOps)
    for (const auto& axes : axesSets)
      for (int64_t keep : {0, 1}) {
        SCOPED_TRACE(std::string(op) + " axes " + ir::toString(axes) + " keepdims " + std::to_string(keep));
        std::vector<Arg> args = {in(x)};
        if (!axes.empty()) args.push_back(constant(I64(axes, {static_cast<int64_t>(axes.size())})));
        ir::Tensor out = run(op, args, {{"keepdims", keep}});
        EXPECT_EQ(out.dims(), reducedDims(x.dims(), axes, keep));
        expectClose(out, refReduce(x, axes, op), 2e-5f);
      }
}

TEST(Reduce, WideRowsAndThreads) {
  ThreadPool pool(4);
  struct Case {
    std::vector<int64_t> dims, axes;
  };
  for (const Case& c : {Case{{2, 7, 600}, {1}}, Case{{64, 1000}, {1}}, Case{{1000, 64}, {0}}, Case{{3, 5, 7, 11}, {0, 2}},
                        Case{{100003}, {0}}, Case{{1, 1, 9}, {0, 1}}, Case{{5, 1, 4}, {1}}}) {
    for (const char* op : {"ReduceSum", "ReduceMax", "ReduceLogSumExp", "ReduceMean"}) {
      SCOPED_TRACE(std::string(op) + " " + ir::toString(c.dims) + " axes " + ir::toString(c.axes));
      ir::Tensor x = randomF(c.dims, 5);
      ir::Tensor out = run(op, {in(x), constant(I64(c.axes, {static_cast<int64_t>(c.axes.size())}))}, {}, &pool);
      expectClose(out, refReduce(x, c.axes, op), 5e-5f);
    }
  }
}

TEST(Reduce, IntegerTypes) {
  ir::Tensor x = I64({1, -2, 3, 4, 5, -6, 7, 8, 9, 10, 11, 12}, {2, 3, 2});
  ir::Tensor axes = I64({1}, {1});
  EXPECT_EQ(ints(run("ReduceSum", {in(x), constant(axes)}, {{"keepdims", int64_t{0}}})),
            (std::vector<int64_t>{9, -4, 27, 30}));
  EXPECT_EQ(ints(run("ReduceMax", {in(x), constant(axes)})), (std::vector<int64_t>{5, 4, 11, 12}));
  EXPECT_EQ(ints(run("ReduceMin", {in(x), constant(axes)})), (std::vector<int64_t>{1, -6, 7, 8}));
  EXPECT_EQ(ints(run("ReduceProd", {in(x), constant(axes)})), (std::vector<int64_t>{15, 48, 693, 960}));
  EXPECT_EQ(ints(run("ReduceMean", {in(x), constant(axes)})), (std::vector<int64_t>{3, -1, 9, 10}));
  ir::Tensor i32 = run("ReduceSum", {in(I32({1, 2, 3, 4}, {2, 2}))}, {{"keepdims", int64_t{0}}});
  EXPECT_EQ(i32.dtype(), DType::kINT32);
  EXPECT_TRUE(i32.dims().empty());
  EXPECT_EQ(ints(i32), (std::vector<int64_t>{10}));
}

TEST(Reduce, EmptyAxes) {
  ir::Tensor x = randomF({2, 3}, 3);
  // noop_with_empty_axes: no axes means the identity; otherwise every axis.
  ir::Tensor same = run("ReduceSum", {in(x)}, {{"noop_with_empty_axes", int64_t{1}}});
  EXPECT_EQ(same.dims(), x.dims());
  expectClose(same, values(x), 0);
  ir::Tensor same2 = run("ReduceMax", {in(x), constant(I64({}, {0}))}, {{"noop_with_empty_axes", int64_t{1}}});
  expectClose(same2, values(x), 0);
  ir::Tensor all = run("ReduceSum", {in(x), constant(I64({}, {0}))});
  EXPECT_EQ(all.dims(), (std::vector<int64_t>{1, 1}));
  expectClose(all, refReduce(x, {}, "ReduceSum"), 1e-6f);
}

TEST(Reduce, LogSumExpIsStable) {
  float inf = std::numeric_limits<float>::infinity();
  ir::Tensor x = F({1000.f, 1000.f, -inf, -inf, -1000.f, -1001.f}, {3, 2});
  ir::Tensor out = run("ReduceLogSumExp", {in(x), constant(I64({1}, {1}))}, {{"keepdims", int64_t{0}}});
  expectClose(out, {1000.f + std::log(2.f), -inf, -1000.f + std::log1p(std::exp(-1.f))}, 1e-6f);
}

TEST(Reduce, EmptyReducedAxisGivesIdentity) {
  ir::Tensor x(DType::kFLOAT, {2, 0});
  expectClose(run("ReduceSum", {in(x), constant(I64({1}, {1}))}), {0.f, 0.f}, 0);
  expectClose(run("ReduceProd", {in(x), constant(I64({1}, {1}))}), {1.f, 1.f}, 0);
  float inf = std::numeric_limits<float>::infinity();
  expectClose(run("ReduceMax", {in(x), constant(I64({-1}, {1}))}), {-inf, -inf}, 0);
}

TEST(ArgMaxMin, AxesKeepdimsAndTies) {
  ir::Tensor x = randomF({3, 4, 5}, 8);
  std::vector<float> xv = values(x);
  for (const char* op : {"ArgMax", "ArgMin"})
    for (int64_t axis : {0, 1, 2, -1})
      for (int64_t keep : {0, 1}) {
        SCOPED_TRACE(std::string(op) + " axis " + std::to_string(axis) + " keepdims " + std::to_string(keep));
        ir::Tensor out = run(op, {in(x)}, {{"axis", axis}, {"keepdims", keep}});
        EXPECT_EQ(out.dtype(), DType::kINT64);
        EXPECT_EQ(out.dims(), reducedDims(x.dims(), {axis}, keep));
        int64_t a = axis < 0 ? axis + 3 : axis;
        std::vector<int64_t> odims = x.dims();
        odims[a] = 1;
        std::vector<int64_t> want(static_cast<std::size_t>(ir::numElements(odims)));
        std::vector<float> best(want.size(), std::string(op) == "ArgMax" ? -INFINITY : INFINITY);
        forEachIndex(x.dims(), [&](const std::vector<int64_t>& c, int64_t i) {
          int64_t o = broadcastIndex(c, odims);
          bool better = std::string(op) == "ArgMax" ? xv[i] > best[o] : xv[i] < best[o];
          if (better) {
            best[o] = xv[i];
            want[o] = c[a];
          }
        });
        EXPECT_EQ(ints(out), want);
      }
  // Ties: the first index, or the last with select_last_index.
  ir::Tensor t = I64({1, 3, 3, 0, 2, 2, 0, 0}, {2, 4});
  EXPECT_EQ(ints(run("ArgMax", {in(t)}, {{"axis", int64_t{1}}})), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(ints(run("ArgMax", {in(t)}, {{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}})),
            (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(ints(run("ArgMin", {in(t)}, {{"axis", int64_t{1}}})), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(ints(run("ArgMin", {in(t)}, {{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}})),
            (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(ints(run("ArgMin", {in(t)}, {{"axis", int64_t{0}}, {"keepdims", int64_t{0}}})),
            (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(ints(run("ArgMin", {in(t)}, {{"axis", int64_t{0}}, {"keepdims", int64_t{0}}, {"select_last_index", int64_t{1}}})),
            (std::vector<int64_t>{0, 1, 1, 1}));
  // Wide rows (more columns than one chunk), many threads.
  ThreadPool pool(3);
  ir::Tensor w = randomF({3, 9, 700}, 9);
  ir::Tensor wo = run("ArgMax", {in(w)}, {{"axis", int64_t{1}}}, &pool);
  std::vector<float> wv = values(w);
  for (int64_t m = 0; m < 3; ++m)
    for (int64_t n = 0; n < 700; n += 37) {
      int64_t bi = 0;
      for (int64_t k = 1; k < 9; ++k)
        if (wv[(m * 9 + k) * 700 + n] > wv[(m * 9 + bi) * 700 + n]) bi = k;
      ASSERT_EQ(wo.as<int64_t>()[m * 700 + n], bi);
    }
}

TEST(ReduceSchema, SymbolicDimsAndErrors) {
  ir::Value v = inferOut("ReduceMean", {typed(DType::kFLOAT, {ir::Dim("N"), 8, 4}), constant(I64({-1}, {1}))},
                         {{"keepdims", int64_t{0}}});
  EXPECT_EQ(ir::toString(v.shape), "[N,8]");
  ir::Value am = inferOut("ArgMax", {typed(DType::kFLOAT, {ir::Dim("N"), 8})}, {{"axis", int64_t{1}}});
  EXPECT_EQ(ir::toString(am.shape), "[N,1]");
  EXPECT_EQ(am.dtype, DType::kINT64);

  expectSchemaError("ReduceSum", {typed(DType::kFLOAT, {2, 3}), typed(DType::kINT64, {1})}, {}, "must be a constant");
  expectSchemaError("ReduceMean", {typed(DType::kFLOAT, {2, 3}), constant(I64({2}, {1}))}, {}, "out of range");
  expectSchemaError("ReduceMax", {typed(DType::kFLOAT, {2, 3}), constant(I64({-3}, {1}))}, {}, "out of range");
  expectSchemaError("ReduceMin", {typed(DType::kFLOAT, {2, 3}), constant(I64({1, -1}, {2}))}, {}, "twice");
  expectSchemaError("ReduceSum", {typed(DType::kFLOAT, {2, 3})}, {{"axes", std::vector<int64_t>{0}}},
                    "not an attribute");
  expectSchemaError("ArgMax", {typed(DType::kFLOAT, {2, 3})}, {{"axis", int64_t{2}}}, "out of range");
  expectSchemaError("ArgMin", {typed(DType::kFLOAT, {2, 3})}, {{"keepdims", int64_t{3}}}, "keepdims");
}

}  // namespace
}  // namespace kiln::test
