// Schemas of the sampling ops (part of the nn family, see nn.cc): GridSample
// (opset 20 form, N-D: modes linear / nearest / cubic) and AffineGrid.
#include "ir/ops/nn_internal.h"

namespace kiln::ir {
namespace {

void inferGridSample(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloat(ctx, 0, "X");
  requireFloat(ctx, 1, "grid");
  const Shape& x = ctx.in(0).shape;
  const Shape& g = ctx.in(1).shape;
  ctx.check(x.size() >= 3, "X has rank ", x.size(), ", expected N x C x spatial dims");
  ctx.check(g.size() == x.size(), "grid has rank ", g.size(), ", expected ", x.size(), " (N x spatial dims x ",
            x.size() - 2, ")");
  const int64_t spatial = static_cast<int64_t>(x.size()) - 2;
  ctx.check(!g.back().known() || g.back().value == spatial, "grid's last dim is ", g.back().value, ", expected ",
            spatial, " (one coordinate per spatial axis)");
  ctx.check(!x[0].known() || !g[0].known() || x[0].value == g[0].value, "grid has batch ", g[0].value, ", X has ",
            x[0].value);
  const std::string mode = node.s("mode", "linear");
  ctx.check(mode == "linear" || mode == "nearest" || mode == "cubic", "attribute 'mode' is '", mode,
            "'; expected 'linear', 'nearest' or 'cubic'");
  const std::string pad = node.s("padding_mode", "zeros");
  ctx.check(pad == "zeros" || pad == "border" || pad == "reflection", "attribute 'padding_mode' is '", pad,
            "'; expected 'zeros', 'border' or 'reflection'");
  const int64_t ac = node.i("align_corners", 0);
  ctx.check(ac == 0 || ac == 1, "attribute 'align_corners' is ", ac, "; expected 0 or 1");
  Shape out{x[0].known() ? x[0] : g[0], x[1]};
  for (int64_t i = 0; i < spatial; ++i) out.push_back(g[1 + i]);
  ctx.setOutput(0, DType::kFLOAT, out);
}

void inferAffineGrid(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloat(ctx, 0, "theta");
  const Shape& theta = ctx.in(0).shape;
  ctx.check(theta.size() == 3, "theta has rank ", theta.size(), ", expected 3 (N x 2 x 3 or N x 3 x 4)");
  ctx.check(ctx.in(1).dtype == DType::kINT64, "size is ", dataTypeName(ctx.in(1).dtype), "; expected int64");
  const Shape& sizeShape = ctx.in(1).shape;
  ctx.check(sizeShape.size() == 1, "size has rank ", sizeShape.size(), ", expected 1");
  const int64_t ac = node.i("align_corners", 0);
  ctx.check(ac == 0 || ac == 1, "attribute 'align_corners' is ", ac, "; expected 0 or 1");
  int64_t spatial = 0;
  if (sizeShape[0].known()) {
    spatial = sizeShape[0].value - 2;
    ctx.check(spatial == 2 || spatial == 3, "size has ", sizeShape[0].value,
              " values; expected 4 (N, C, H, W) or 5 (N, C, D, H, W)");
  } else if (theta[1].known()) {
    spatial = theta[1].value;
  }
  ctx.check(spatial == 0 || !theta[1].known() || theta[1].value == spatial, "theta ", toString(theta),
            " does not fit a ", spatial, "-D grid (expected N x ", spatial, " x ", spatial + 1, ")");
  ctx.check(spatial == 0 || !theta[2].known() || theta[2].value == spatial + 1, "theta ", toString(theta),
            " does not fit a ", spatial, "-D grid (expected N x ", spatial, " x ", spatial + 1, ")");
  ctx.check(spatial != 0, "cannot tell the grid's rank: size has an unknown length and theta ", toString(theta),
            " an unknown second dim");
  Shape out(static_cast<std::size_t>(spatial + 2), Dim());
  out[0] = theta[0];
  out.back() = Dim(spatial);
  if (const Tensor* size = ctx.constInput(1)) {
    std::vector<int64_t> s = size->toInt64();
    for (int64_t v : s) ctx.check(v > 0, "size ", toString(s), " has a non-positive value");
    ctx.check(!theta[0].known() || theta[0].value == s[0], "size says batch ", s[0], ", theta has ",
              theta[0].value);
    out[0] = Dim(s[0]);
    for (int64_t i = 0; i < spatial; ++i) out[1 + i] = Dim(s[2 + i]);
  }
  ctx.setOutput(0, DType::kFLOAT, out);
}

void add(SchemaRegistry& r, const char* op, InferFn fn) {
  OpSchema s;
  s.op = op;
  s.minInputs = 2;
  s.maxInputs = 2;
  s.minOutputs = 1;
  s.maxOutputs = 1;
  s.infer = fn;
  r.add(std::move(s));
}

}  // namespace

void registerSampleSchemas(SchemaRegistry& r) {
  add(r, "GridSample", inferGridSample);  // X, grid
  add(r, "AffineGrid", inferAffineGrid);  // theta, size
}

}  // namespace kiln::ir
