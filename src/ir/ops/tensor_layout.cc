// Schemas of the ops that rearrange or replicate elements: Transpose, Expand,
// Tile, Pad, DepthToSpace, SpaceToDepth, Trilu.
#include <algorithm>

#include "ir/ops/families.h"
#include "ir/ops/tensor_util.h"

namespace kiln::ir {
namespace {
using namespace tensor_ops;

void inferTranspose(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  std::vector<int64_t> perm = ctx.node().ints("perm");
  if (!ctx.node().has("perm"))
    for (int64_t k = rank - 1; k >= 0; --k) perm.push_back(k);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool valid = static_cast<int64_t>(perm.size()) == rank;
  for (int64_t k = 0; valid && k < rank; ++k) valid = sorted[k] == k;
  ctx.check(valid, "perm ", toString(perm), " is not a permutation of the ", rank, " axes of input ",
            toString(data.shape));
  Shape out;
  for (int64_t p : perm) out.push_back(data.shape[p]);
  ctx.setOutput(0, data.dtype, std::move(out));
}

void inferExpand(InferContext& ctx) {
  const Value& data = ctx.in(0);
  checkIndexType(ctx, 1, "shape input");
  auto shape = sizeValues(ctx, 1);
  if (!shape) {
    int64_t n = knownLength(ctx, 1, "shape input");
    ctx.check(n >= 0, "shape input is not a constant and its length is unknown");
    ctx.setOutput(0, data.dtype, Shape(static_cast<std::size_t>(std::max<int64_t>(n, ctx.rank(0)))));
    return;
  }
  ctx.setOutput(0, data.dtype, broadcastShapes(ctx, data.shape, shapeFromSizes(ctx, *shape, "shape")));
}

void inferTile(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  checkIndexType(ctx, 1, "repeats");
  auto repeats = constInts(ctx, 1, "repeats");
  if (!repeats) {
    int64_t n = knownLength(ctx, 1, "repeats");
    ctx.check(n < 0 || n == rank, "repeats has ", n, " values for an input of rank ", rank);
    ctx.setOutput(0, data.dtype, Shape(data.shape.size()));
    return;
  }
  ctx.check(static_cast<int64_t>(repeats->size()) == rank, "repeats ", toString(*repeats), " has ",
            repeats->size(), " values for an input of rank ", rank);
  Shape out = data.shape;
  for (int64_t k = 0; k < rank; ++k) {
    int64_t r = (*repeats)[k];
    ctx.check(r >= 0, "repeats ", toString(*repeats), " has a negative value");
    if (r != 1) out[k] = mulDims(out[k], Dim(r));  // 1 keeps a symbolic dim's name
  }
  ctx.setOutput(0, data.dtype, std::move(out));
}

void inferPad(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t rank = ctx.rank(0);
  std::string mode = ctx.node().s("mode", "constant");
  ctx.check(mode == "constant" || mode == "reflect" || mode == "edge" || mode == "wrap", "unknown mode '", mode,
            "' (expected constant, reflect, edge or wrap)");
  checkIndexType(ctx, 1, "pads");
  if (ctx.hasInput(2)) {
    ctx.check(ctx.in(2).dtype == data.dtype, "constant_value is ", dataTypeName(ctx.in(2).dtype), ", data is ",
              dataTypeName(data.dtype));
    if (const Tensor* v = ctx.constInput(2))
      ctx.check(v->numel() == 1, "constant_value must have one element, got ", v->numel());
  }
  std::vector<int64_t> axes;
  if (ctx.hasInput(3)) {
    checkIndexType(ctx, 3, "axes");
    auto a = constInts(ctx, 3, "axes");
    if (!a) {
      ctx.setOutput(0, data.dtype, Shape(data.shape.size()));
      return;
    }
    axes = normalizeAxes(ctx, *a, rank);
  } else {
    for (int64_t k = 0; k < rank; ++k) axes.push_back(k);
  }
  auto n = static_cast<int64_t>(axes.size());
  auto pads = constInts(ctx, 1, "pads");
  Shape out = data.shape;
  if (!pads) {
    int64_t len = knownLength(ctx, 1, "pads");
    ctx.check(len < 0 || len == 2 * n, "pads has ", len, " values for ", n, " axes (expected ", 2 * n, ")");
    for (int64_t a : axes) out[a] = Dim();
    ctx.setOutput(0, data.dtype, std::move(out));
    return;
  }
  ctx.check(static_cast<int64_t>(pads->size()) == 2 * n, "pads ", toString(*pads), " has ", pads->size(),
            " values for ", n, " axes (expected ", 2 * n, ")");
  for (int64_t j = 0; j < n; ++j) {
    int64_t begin = (*pads)[j], end = (*pads)[j + n];
    Dim& d = out[axes[j]];
    if (begin == 0 && end == 0) continue;
    if (!d.known()) {
      d = Dim();
      continue;
    }
    ctx.check(mode == "constant" || d.value > 0, "cannot ", mode, "-pad axis ", axes[j], " of size 0");
    int64_t size = d.value + begin + end;
    ctx.check(size >= 0, "pads ", toString(*pads), " remove more than axis ", axes[j], " of size ", d.value);
    d = Dim(size);
  }
  ctx.setOutput(0, data.dtype, std::move(out));
}

int64_t blockSize(const InferContext& ctx) {
  ctx.check(ctx.node().has("blocksize"), "attribute 'blocksize' is required");
  int64_t b = ctx.node().i("blocksize", 0);
  ctx.check(b > 0, "blocksize must be positive, got ", b);
  ctx.check(ctx.rank(0) == 4, "input must be 4-D (NCHW), got shape ", toString(ctx.in(0).shape));
  return b;
}

void inferDepthToSpace(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t b = blockSize(ctx);
  std::string mode = ctx.node().s("mode", "DCR");
  ctx.check(mode == "DCR" || mode == "CRD", "unknown mode '", mode, "' (expected DCR or CRD)");
  const Shape& s = data.shape;
  Dim c;
  if (s[1].known()) {
    ctx.check(s[1].value % (b * b) == 0, "channels ", s[1].value, " are not a multiple of blocksize^2 = ", b * b);
    c = Dim(s[1].value / (b * b));
  }
  ctx.setOutput(0, data.dtype, {s[0], c, mulDims(s[2], Dim(b)), mulDims(s[3], Dim(b))});
}

void inferSpaceToDepth(InferContext& ctx) {
  const Value& data = ctx.in(0);
  int64_t b = blockSize(ctx);
  const Shape& s = data.shape;
  Shape out{s[0], mulDims(s[1], Dim(b * b)), Dim(), Dim()};
  for (int k = 2; k < 4; ++k) {
    if (!s[k].known()) continue;
    ctx.check(s[k].value % b == 0, "spatial dim ", s[k].value, " is not a multiple of blocksize ", b);
    out[k] = Dim(s[k].value / b);
  }
  ctx.setOutput(0, data.dtype, std::move(out));
}

void inferTrilu(InferContext& ctx) {
  const Value& data = ctx.in(0);
  ctx.check(ctx.rank(0) >= 2, "input must have rank >= 2, got shape ", toString(data.shape));
  if (ctx.hasInput(1)) {
    checkIndexType(ctx, 1, "k");
    if (const Tensor* k = ctx.constInput(1)) ctx.check(k->numel() == 1, "k must be a scalar");
  }
  ctx.setOutput(0, data.dtype, data.shape);
}

}  // namespace

namespace tensor_ops {
void registerLayoutOpSchemas(SchemaRegistry& r) {
  r.add({"Transpose", 1, 1, 1, 1, inferTranspose});
  r.add({"Expand", 2, 2, 1, 1, inferExpand});
  r.add({"Tile", 2, 2, 1, 1, inferTile});
  r.add({"Pad", 2, 4, 1, 1, inferPad});
  r.add({"DepthToSpace", 1, 1, 1, 1, inferDepthToSpace});
  r.add({"SpaceToDepth", 1, 1, 1, 1, inferSpaceToDepth});
  r.add({"Trilu", 1, 2, 1, 1, inferTrilu});
}
}  // namespace tensor_ops
}  // namespace kiln::ir
