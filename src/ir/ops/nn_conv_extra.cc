// Schemas of the less common window ops (part of the nn family, see nn.cc):
// DeformConv (2-D), Col2Im (N-D) and MaxUnpool.
#include "ir/ops/nn_internal.h"
#include "ir/ops/spatial.h"

namespace kiln::ir {
namespace {

void requireInt64(const InferContext& ctx, std::size_t i, const char* what) {
  ctx.check(ctx.in(i).dtype == DType::kINT64, what, " is ", dataTypeName(ctx.in(i).dtype), "; expected int64");
}

void inferDeformConv(InferContext& ctx) {
  const Node& node = ctx.node();
  for (std::size_t i : {0, 1, 2}) requireFloat(ctx, i, i == 0 ? "X" : i == 1 ? "W" : "offset");
  const Shape& x = ctx.in(0).shape;
  const Shape& w = ctx.in(1).shape;
  const Shape& off = ctx.in(2).shape;
  ctx.check(x.size() == 4, "X has rank ", x.size(), "; Kiln's DeformConv is 2-D (N x C x H x W)");
  ctx.check(w.size() == 4, "W has rank ", w.size(), ", expected 4");
  ctx.check(off.size() == 4, "offset has rank ", off.size(), ", expected 4");
  WindowAttrs a = readWindowAttrs(node, 2);
  const int64_t group = node.i("group", 1), offsetGroup = node.i("offset_group", 1);
  ctx.check(group >= 1, "attribute 'group' is ", group, "; expected >= 1");
  ctx.check(offsetGroup >= 1, "attribute 'offset_group' is ", offsetGroup, "; expected >= 1");
  ctx.check(a.autoPad == AutoPad::kNotSet, "auto_pad is not supported for DeformConv (give pads)");
  if (x[1].known() && w[1].known())
    ctx.check(x[1].value == w[1].value * group, "W has ", w[1].value, " input channels per group, X has ", x[1].value,
              " (group ", group, ")");
  if (w[0].known()) ctx.check(w[0].value % group == 0, "W has ", w[0].value, " output channels, not a multiple of group ", group);
  if (x[1].known())
    ctx.check(x[1].value % offsetGroup == 0, "X has ", x[1].value, " channels, not a multiple of offset_group ",
              offsetGroup);
  Shape out{x[0], w[0]};
  int64_t taps = 1;
  bool tapsKnown = true;
  for (std::size_t i = 0; i < 2; ++i) {
    Dim k = a.kernel.empty() ? w[2 + i] : Dim(a.kernel[i]);
    ctx.check(a.kernel.empty() || !w[2 + i].known() || w[2 + i].value == a.kernel[i], "kernel_shape ",
              toString(a.kernel), " disagrees with W ", toString(w));
    tapsKnown = tapsKnown && k.known();
    if (k.known()) taps *= k.value;
    out.push_back(x[2 + i].known() && k.known() ? Dim(windowAxis(node, a, i, x[2 + i].value, k.value).out) : Dim());
  }
  if (tapsKnown && off[1].known())
    ctx.check(off[1].value == offsetGroup * taps * 2, "offset has ", off[1].value, " channels, expected offset_group x kH x kW x 2 = ",
              offsetGroup * taps * 2);
  for (std::size_t i = 0; i < 2; ++i)
    ctx.check(!off[2 + i].known() || !out[2 + i].known() || off[2 + i].value == out[2 + i].value, "offset ",
              toString(off), " does not match the output ", toString(out));
  if (ctx.hasInput(3)) {
    requireFloat(ctx, 3, "B");
    const Shape& b = ctx.in(3).shape;
    ctx.check(b.size() == 1 && (!b[0].known() || !w[0].known() || b[0].value == w[0].value), "B has shape ",
              toString(b), ", expected [", w[0].known() ? std::to_string(w[0].value) : std::string("oC"), "]");
  }
  if (ctx.hasInput(4)) {
    requireFloat(ctx, 4, "mask");
    const Shape& m = ctx.in(4).shape;
    ctx.check(m.size() == 4, "mask has rank ", m.size(), ", expected 4");
    if (tapsKnown && m[1].known())
      ctx.check(m[1].value == offsetGroup * taps, "mask has ", m[1].value, " channels, expected offset_group x kH x kW = ",
                offsetGroup * taps);
  }
  ctx.setOutput(0, DType::kFLOAT, out);
}

// Col2Im: input N x (C * prod(block_shape)) x L -> N x C x image_shape.
void inferCol2Im(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloat(ctx, 0, "input");
  requireInt64(ctx, 1, "image_shape");
  requireInt64(ctx, 2, "block_shape");
  const Shape& x = ctx.in(0).shape;
  ctx.check(x.size() == 3, "input has rank ", x.size(), ", expected 3 (N x C*prod(block_shape) x L)");
  const Tensor* image = ctx.constInput(1);
  const Tensor* block = ctx.constInput(2);
  ctx.check(image && block, "image_shape and block_shape must be a constant each (they decide the output shape)");
  const std::vector<int64_t> img = image->toInt64(), blk = block->toInt64();
  ctx.check(!img.empty() && img.size() == blk.size(), "image_shape ", toString(img), " and block_shape ",
            toString(blk), " must have the same, non-zero length");
  const std::size_t sp = img.size();
  for (std::size_t i = 0; i < sp; ++i)
    ctx.check(img[i] > 0 && blk[i] > 0, "image_shape ", toString(img), " and block_shape ", toString(blk),
              " must be positive");
  std::vector<int64_t> dil = node.ints("dilations", std::vector<int64_t>(sp, 1));
  std::vector<int64_t> str = node.ints("strides", std::vector<int64_t>(sp, 1));
  std::vector<int64_t> pads = node.ints("pads", std::vector<int64_t>(2 * sp, 0));
  ctx.check(dil.size() == sp && str.size() == sp && pads.size() == 2 * sp, "dilations / strides / pads do not fit ",
            sp, " spatial dims");
  int64_t blocks = 1, kernel = 1;
  for (std::size_t i = 0; i < sp; ++i) {
    ctx.check(dil[i] >= 1 && str[i] >= 1 && pads[i] >= 0 && pads[sp + i] >= 0, "dilations / strides must be >= 1 and pads >= 0");
    const int64_t n = (img[i] + pads[i] + pads[sp + i] - dil[i] * (blk[i] - 1) - 1) / str[i] + 1;
    ctx.check(n >= 1, "no block fits image_shape ", toString(img), " on axis ", i);
    blocks *= n;
    kernel *= blk[i];
  }
  if (x[1].known()) ctx.check(x[1].value % kernel == 0, "input has ", x[1].value, " columns, not a multiple of prod(block_shape) = ", kernel);
  if (x[2].known())
    ctx.check(x[2].value == blocks, "input has ", x[2].value, " blocks, the geometry gives ", blocks);
  Shape out{x[0], x[1].known() ? Dim(x[1].value / kernel) : Dim()};
  for (int64_t v : img) out.push_back(Dim(v));
  ctx.setOutput(0, DType::kFLOAT, out);
}

void inferMaxUnpool(InferContext& ctx) {
  const Node& node = ctx.node();
  requireFloat(ctx, 0, "X");
  requireInt64(ctx, 1, "I");
  const Shape& x = ctx.in(0).shape;
  ctx.check(x.size() >= 3 && x.size() <= 5, "X has rank ", x.size(), ", expected N x C x 1..3 spatial dims");
  const Shape& idx = ctx.in(1).shape;
  ctx.check(idx.size() == x.size(), "I has rank ", idx.size(), ", X has ", x.size());
  const std::size_t sp = x.size() - 2;
  const std::vector<int64_t> k = node.ints("kernel_shape");
  ctx.check(k.size() == sp, "needs kernel_shape with ", sp, " values");
  const std::vector<int64_t> str = node.ints("strides", std::vector<int64_t>(sp, 1));
  const std::vector<int64_t> pads = node.ints("pads", std::vector<int64_t>(2 * sp, 0));
  ctx.check(str.size() == sp && pads.size() == 2 * sp, "strides / pads do not fit ", sp, " spatial dims");
  Shape out{x[0], x[1]};
  if (ctx.hasInput(2)) {
    requireInt64(ctx, 2, "output_shape");
    const Tensor* os = ctx.constInput(2);
    if (!os) {
      out.resize(x.size(), Dim());
    } else {
      std::vector<int64_t> v = os->toInt64();
      ctx.check(v.size() == x.size(), "output_shape has ", v.size(), " values, X has rank ", x.size());
      for (std::size_t i = 2; i < v.size(); ++i) out.push_back(Dim(v[i]));
    }
  } else {
    for (std::size_t i = 0; i < sp; ++i)
      out.push_back(x[2 + i].known() ? Dim((x[2 + i].value - 1) * str[i] - pads[i] - pads[sp + i] + k[i]) : Dim());
  }
  ctx.setOutput(0, DType::kFLOAT, out);
}

void add(SchemaRegistry& r, const char* op, int minIn, int maxIn, InferFn fn) {
  OpSchema s;
  s.op = op;
  s.minInputs = minIn;
  s.maxInputs = maxIn;
  s.minOutputs = 1;
  s.maxOutputs = 1;
  s.infer = fn;
  r.add(std::move(s));
}

}  // namespace

void registerConvExtraSchemas(SchemaRegistry& r) {
  add(r, "DeformConv", 3, 5, inferDeformConv);  // X, W, offset, [B], [mask]
  add(r, "Col2Im", 3, 3, inferCol2Im);          // input, image_shape, block_shape
  add(r, "MaxUnpool", 2, 3, inferMaxUnpool);    // X, I, [output_shape]
}

}  // namespace kiln::ir
