// Schemas of the pools and Resize (part of the nn family, see nn.cc).
#include <algorithm>
#include <cmath>
#include <set>

#include "ir/ops/nn_internal.h"
#include "ir/ops/spatial.h"

namespace kiln::ir {
namespace {

void inferPool(InferContext& ctx) {
  const Node& node = ctx.node();
  const DType t = ctx.in(0).dtype;
  if (node.op == "MaxPool")  // a max needs no arithmetic: int8 / uint8 data too
    ctx.check(t == DType::kFLOAT || t == DType::kHALF || t == DType::kBF16 || t == DType::kINT8 || t == DType::kUINT8,
              "input is ", dataTypeName(t), "; expected float32, float16, bfloat16, int8 or uint8");
  else
    requireFloating(ctx, 0, "input");
  const bool last = channelsLast(node);  // kiln_layout NHWC: x and y are [N, spatial, C]
  const Shape x = last ? toChannelsFirst(ctx.in(0).shape) : ctx.in(0).shape;
  ctx.check(x.size() >= 3, "input has rank ", x.size(), ", expected N x C x spatial dims");
  ctx.check(!last || ctx.numOutputs() < 2 || !node.outputs[1], "MaxPool's Indices output has no channels-last form");
  const std::size_t sp = x.size() - 2;
  WindowAttrs a = readWindowAttrs(node, sp);
  ctx.check(!a.kernel.empty(), "needs the attribute kernel_shape");
  if (node.op == "LpPool") {
    const int64_t p = node.i("p", 2);
    ctx.check(p >= 1, "attribute 'p' is ", p, "; expected >= 1");
  } else if (node.op == "MaxPool") {
    int64_t order = node.i("storage_order", 0);
    ctx.check(order == 0 || order == 1, "storage_order ", order, " must be 0 or 1");
  } else {
    int64_t cip = node.i("count_include_pad", 0);
    ctx.check(cip == 0 || cip == 1, "count_include_pad ", cip, " must be 0 or 1");
  }
  Shape out{x[0], x[1]};
  for (std::size_t i = 0; i < sp; ++i)
    out.push_back(x[2 + i].known() ? Dim(windowAxis(node, a, i, x[2 + i].value, a.kernel[i]).out) : Dim());
  ctx.setOutput(0, t, last ? toChannelsLast(out) : out);
  if (ctx.numOutputs() > 1 && node.outputs[1]) ctx.setOutput(1, DType::kINT64, out);
}

void inferGlobalPool(InferContext& ctx) {
  requireFloating(ctx, 0, "input");
  const bool last = channelsLast(ctx.node());  // kiln_layout NHWC: x is [N, spatial, C], y [N, 1.., C]
  const Shape x = last ? toChannelsFirst(ctx.in(0).shape) : ctx.in(0).shape;
  ctx.check(x.size() >= 3, "input has rank ", x.size(), ", expected N x C x spatial dims");
  Shape out{x[0], x[1]};
  out.resize(x.size(), Dim(int64_t{1}));
  ctx.setOutput(0, ctx.in(0).dtype, last ? toChannelsLast(out) : out);
}

// An optional input given as a tensor with no elements counts as absent
// (exporters pass an empty `scales` next to `sizes`).
bool present(const InferContext& ctx, std::size_t i) {
  if (!ctx.hasInput(i)) return false;
  const Shape& s = ctx.in(i).shape;
  return !(s.size() == 1 && s[0].known() && s[0].value == 0);
}

void inferResize(InferContext& ctx) {
  const Node& node = ctx.node();
  const Shape& x = ctx.in(0).shape;
  const int64_t rank = static_cast<int64_t>(x.size());
  std::string mode = node.s("mode", "nearest");
  ctx.check(mode == "nearest" || mode == "linear" || mode == "cubic", "unknown mode '", mode, "'");
  const int64_t antialias = node.i("antialias", 0), exclude = node.i("exclude_outside", 0);
  ctx.check(antialias == 0 || antialias == 1, "attribute 'antialias' is ", antialias, "; expected 0 or 1");
  ctx.check(exclude == 0 || exclude == 1, "attribute 'exclude_outside' is ", exclude, "; expected 0 or 1");
  if (mode != "nearest") requireFloat(ctx, 0, "input");
  static const std::set<std::string> coordModes = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                                   "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                                                   "tf_crop_and_resize"};
  std::string ctm = node.s("coordinate_transformation_mode", "half_pixel");
  ctx.check(coordModes.count(ctm), "unknown coordinate_transformation_mode '", ctm, "'");
  std::string nm = node.s("nearest_mode", "round_prefer_floor");
  ctx.check(nm == "round_prefer_floor" || nm == "round_prefer_ceil" || nm == "floor" || nm == "ceil",
            "unknown nearest_mode '", nm, "'");
  std::string policy = node.s("keep_aspect_ratio_policy", "stretch");
  ctx.check(policy == "stretch" || policy == "not_larger" || policy == "not_smaller",
            "unknown keep_aspect_ratio_policy '", policy, "'");

  std::vector<int64_t> axes = node.ints("axes");
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  std::set<int64_t> seen;
  for (int64_t& a : axes) {
    a = ctx.axis(a, rank, "axes value");
    ctx.check(seen.insert(a).second, "axes has axis ", a, " twice");
  }
  const bool hasScales = present(ctx, 2), hasSizes = present(ctx, 3);
  ctx.check(hasScales != hasSizes, hasScales ? "has both scales and sizes" : "needs scales or sizes");
  if (ctm == "tf_crop_and_resize") ctx.check(present(ctx, 1), "coordinate mode tf_crop_and_resize needs roi");

  Shape out = x;
  for (int64_t a : axes) out[a] = Dim();
  if (hasScales) {
    ctx.check(ctx.in(2).dtype == DType::kFLOAT, "scales must be float32");
    if (const Tensor* s = ctx.constInput(2)) {
      std::vector<float> sc = s->toFloat();
      ctx.check(sc.size() == axes.size(), "scales has ", sc.size(), " values for ", axes.size(), " axes");
      const Tensor* roi = ctx.constInput(1);
      std::vector<float> rv = roi ? roi->toFloat() : std::vector<float>();
      for (std::size_t j = 0; j < axes.size(); ++j) {
        ctx.check(sc[j] > 0.f, "scale ", sc[j], " must be positive");
        const Dim& d = x[axes[j]];
        if (sc[j] == 1.f && ctm != "tf_crop_and_resize") {
          out[axes[j]] = d;  // unchanged, symbol included
          continue;
        }
        if (!d.known()) continue;
        double len = 1.0;
        if (ctm == "tf_crop_and_resize") {
          if (rv.size() != 2 * axes.size()) continue;
          len = rv[axes.size() + j] - rv[j];
        }
        out[axes[j]] = Dim(static_cast<int64_t>(std::floor(static_cast<double>(d.value) * len * sc[j])));
      }
    }
  } else {
    ctx.check(ctx.in(3).dtype == DType::kINT64, "sizes must be int64");
    if (const Tensor* s = ctx.constInput(3)) {
      std::vector<int64_t> sz = s->toInt64();
      ctx.check(sz.size() == axes.size(), "sizes has ", sz.size(), " values for ", axes.size(), " axes");
      for (int64_t v : sz) ctx.check(v >= 0, "size ", v, " must not be negative");
      if (policy == "stretch") {
        for (std::size_t j = 0; j < axes.size(); ++j) out[axes[j]] = Dim(sz[j]);
      } else {
        bool allKnown = true;
        for (int64_t a : axes) allKnown = allKnown && x[a].known() && x[a].value > 0;
        if (allKnown) {
          // One scale for every axis, the largest (not_smaller) or smallest
          // (not_larger) of the per-axis ratios.
          double scale = policy == "not_larger" ? 1e300 : 0.0;
          for (std::size_t j = 0; j < axes.size(); ++j) {
            double r = static_cast<double>(sz[j]) / static_cast<double>(x[axes[j]].value);
            scale = policy == "not_larger" ? std::min(scale, r) : std::max(scale, r);
          }
          for (int64_t a : axes)
            out[a] = Dim(static_cast<int64_t>(std::round(scale * static_cast<double>(x[a].value))));
        }
      }
    }
  }
  ctx.setOutput(0, ctx.in(0).dtype, out);
}

void add(SchemaRegistry& r, const char* op, int minIn, int maxIn, int minOut, int maxOut, InferFn fn) {
  OpSchema s;
  s.op = op;
  s.minInputs = minIn;
  s.maxInputs = maxIn;
  s.minOutputs = minOut;
  s.maxOutputs = maxOut;
  s.infer = fn;
  r.add(std::move(s));
}

}  // namespace

void registerPoolResizeSchemas(SchemaRegistry& r) {
  add(r, "MaxPool", 1, 1, 1, 2, inferPool);  // Y, [Indices]
  add(r, "AveragePool", 1, 1, 1, 1, inferPool);
  add(r, "LpPool", 1, 1, 1, 1, inferPool);  // (sum over the window of |x|^p)^(1/p); pads add 0
  add(r, "GlobalAveragePool", 1, 1, 1, 1, inferGlobalPool);
  add(r, "GlobalMaxPool", 1, 1, 1, 1, inferGlobalPool);
  add(r, "Resize", 1, 4, 1, 1, inferResize);  // X, [roi], [scales], [sizes]
}

}  // namespace kiln::ir
