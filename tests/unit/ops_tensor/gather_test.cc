// Gather and GatherElements: negative indices, axis != 0, int32/int64
// indices, scalar indices, out-of-range errors.
#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Dim;
using ir::Shape;

// out[pre, idx..., post] = data[pre, indices[idx...], post]
template <typename T>
ir::Tensor refGather(const ir::Tensor& data, const std::vector<int64_t>& idxDims, const std::vector<int64_t>& idx,
                     int64_t axis) {
  const auto& d = data.dims();
  std::vector<int64_t> dims(d.begin(), d.begin() + axis);
  dims.insert(dims.end(), idxDims.begin(), idxDims.end());
  dims.insert(dims.end(), d.begin() + axis + 1, d.end());
  ir::Tensor out(data.dtype(), dims);
  auto r = static_cast<std::size_t>(idxDims.size());
  for (int64_t i = 0; i < out.numel(); ++i) {
    auto o = unravel(i, dims);
    std::vector<int64_t> src(o.begin(), o.begin() + axis);
    std::vector<int64_t> ii(o.begin() + axis, o.begin() + axis + r);
    int64_t v = idx[ravel(ii, idxDims)];
    src.push_back(v < 0 ? v + d[axis] : v);
    src.insert(src.end(), o.begin() + axis + r, o.end());
    out.mutableAs<T>()[i] = data.as<T>()[ravel(src, d)];
  }
  return out;
}

TEST(Gather, Axis0NegativeIndices) {
  ir::Tensor data = iota<float>({5, 3});
  OpTest t("Gather");
  t.input(data).constant(ints({-1, 0, 3, -5}));
  EXPECT_EQ(t.shape(), (Shape{4, 3}));
  expectSameTensor(t.run1(), refGather<float>(data, {4}, {-1, 0, 3, -5}, 0));
}

TEST(Gather, EveryAxisWith2DIndicesAndDtypes) {
  ir::Tensor data = iota<int64_t>({3, 4, 5, 2});
  std::vector<int64_t> idx = {1, -1, 0, 1, -2, 1};
  for (int64_t axis = -4; axis < 4; ++axis) {
    int64_t ax = axis < 0 ? axis + 4 : axis;
    OpTest t("Gather");
    t.input(data).input(makeTensor<int32_t>({2, 3}, {1, -1, 0, 1, -2, 1})).attr("axis", axis);
    expectSameTensor(t.run1(), refGather<int64_t>(data, {2, 3}, idx, ax));
  }
  ir::Tensor bytes = iota<uint8_t>({4, 6});
  OpTest u("Gather");
  u.input(bytes).input(ints({5, -6, 2})).attr("axis", int64_t{1});
  expectSameTensor(u.run1(), refGather<uint8_t>(bytes, {3}, {5, -6, 2}, 1));
}

TEST(Gather, ScalarIndexDropsTheAxis) {
  OpTest t("Gather");
  t.input(iota<float>({2, 3, 4})).constant(scalar<int64_t>(-2)).attr("axis", int64_t{1});
  EXPECT_EQ(t.shape(), (Shape{2, 4}));
  expectSameTensor(t.run1(), refGather<float>(iota<float>({2, 3, 4}), {}, {-2}, 1));
}

TEST(Gather, SymbolicDimsAndLargeWithThreads) {
  OpTest s("Gather");
  s.symbolic(DType::kFLOAT, sym({named("N"), 10, 4})).symbolic(DType::kINT64, sym({named("K")})).attr("axis",
                                                                                                      int64_t{1});
  Shape shape = s.shape();
  EXPECT_EQ(shape[0].symbol, "N");
  EXPECT_EQ(shape[1].symbol, "K");
  EXPECT_EQ(shape[2], Dim(4));

  ThreadPool pool(4);
  ir::Tensor data = iota<float>({1000, 64});  // an embedding table
  std::vector<int64_t> idx;
  for (int i = 0; i < 777; ++i) idx.push_back((i * 37) % 1000 - (i % 2 ? 1000 : 0));
  OpTest t("Gather");
  t.input(data).input(ints(idx));
  expectSameTensor(t.run1(&pool), refGather<float>(data, {777}, idx, 0));
  OpTest cols("Gather");  // inner size 1: element by element
  std::vector<int64_t> few = {63, 0, -1, 5};
  cols.input(data).input(ints(few)).attr("axis", int64_t{1});
  expectSameTensor(cols.run1(&pool), refGather<float>(data, {4}, few, 1));
}

TEST(Gather, OutOfRangeIndices) {
  expectNodeError([] { OpTest("Gather", "g").input(iota<float>({3, 2})).constant(ints({3})).infer(); }, "g",
                  "index 3 is out of range");
  // Indices known only at run time: the kernel checks them before copying.
  expectNodeError([] { OpTest("Gather", "g2").input(iota<float>({3, 2})).input(ints({0, -4})).run(); }, "g2",
                  "index -4 is out of range");
  expectNodeError(
      [] { OpTest("Gather", "g3").input(iota<float>({3, 2})).input(ints({0})).attr("axis", int64_t{2}).infer(); },
      "g3", "out of range");
  expectNodeError([] { OpTest("Gather", "g4").input(iota<float>({3})).input(iota<float>({1})).infer(); }, "g4",
                  "int64 or int32");
}

template <typename T>
ir::Tensor refGatherElements(const ir::Tensor& data, const ir::Tensor& indices, int64_t axis) {
  ir::Tensor out(data.dtype(), indices.dims());
  std::vector<int64_t> idx = indices.toInt64();
  for (int64_t i = 0; i < out.numel(); ++i) {
    auto o = unravel(i, indices.dims());
    int64_t v = idx[i];
    o[axis] = v < 0 ? v + data.dims()[axis] : v;
    out.mutableAs<T>()[i] = data.as<T>()[ravel(o, data.dims())];
  }
  return out;
}

TEST(GatherElements, EveryAxisSmallerIndicesNegative) {
  ir::Tensor data = iota<float>({3, 4, 5});
  std::mt19937 rng(3);
  for (int64_t axis = 0; axis < 3; ++axis) {
    std::vector<int64_t> idxDims = {2, 3, 4};
    idxDims[axis] = 6;  // the gathered axis may be longer than the data's
    ir::Tensor idx(DType::kINT64, idxDims);
    int64_t d = data.dims()[axis];
    for (int64_t i = 0; i < idx.numel(); ++i)
      idx.mutableAs<int64_t>()[i] = static_cast<int64_t>(rng() % (2 * d)) - d;
    OpTest t("GatherElements");
    t.input(data).input(idx).attr("axis", axis - 3);
    EXPECT_EQ(t.shape(), ir::shapeOf(idxDims));
    expectSameTensor(t.run1(), refGatherElements<float>(data, idx, axis));
  }
}

TEST(GatherElements, Int32IndicesUint16DataAndErrors) {
  ir::Tensor data = iota<uint16_t>({2, 3});
  ir::Tensor idx = makeTensor<int32_t>({2, 2}, {2, -3, 0, 1});
  OpTest t("GatherElements");
  t.input(data).input(idx).attr("axis", int64_t{1});
  expectSameTensor(t.run1(), makeTensor<uint16_t>({2, 2}, {2, 0, 3, 4}));
  expectNodeError(
      [] { OpTest("GatherElements", "ge").input(iota<float>({2, 3})).input(ints({0, 1})).infer(); }, "ge", "rank");
  expectNodeError(
      [&] {
        OpTest("GatherElements", "ge2").input(data).input(makeTensor<int64_t>({1, 1}, {3})).attr("axis", int64_t{1})
            .run();
      },
      "ge2", "index 3 is out of range");
}

}  // namespace
}  // namespace kiln::test
