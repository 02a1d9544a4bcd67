#include "ir/ops/spatial.h"

#include <algorithm>

#include "core/error.h"

namespace kiln::ir {

static std::vector<int64_t> listAttr(const Node& node, const char* name, std::size_t n, int64_t dflt) {
  std::vector<int64_t> v = node.ints(name, std::vector<int64_t>(n, dflt));
  KILN_CHECK(v.size() == n, node.describe(), ": '", name, "' has ", v.size(), " values, expected ", n);
  return v;
}

WindowAttrs readWindowAttrs(const Node& node, std::size_t spatial) {
  KILN_CHECK(spatial >= 1 && spatial <= 3, node.describe(), ": ", spatial,
             " spatial dimensions; Kiln supports 1 to 3");
  WindowAttrs a;
  if (node.has("kernel_shape")) {
    a.kernel = listAttr(node, "kernel_shape", spatial, 1);
    for (int64_t k : a.kernel) KILN_CHECK(k >= 1, node.describe(), ": kernel_shape value ", k, " must be >= 1");
  }
  a.strides = listAttr(node, "strides", spatial, 1);
  a.dilations = listAttr(node, "dilations", spatial, 1);
  a.pads = listAttr(node, "pads", 2 * spatial, 0);
  for (int64_t s : a.strides) KILN_CHECK(s >= 1, node.describe(), ": stride ", s, " must be >= 1");
  for (int64_t d : a.dilations) KILN_CHECK(d >= 1, node.describe(), ": dilation ", d, " must be >= 1");
  for (int64_t p : a.pads) KILN_CHECK(p >= 0, node.describe(), ": pad ", p, " must be >= 0");
  std::string ap = node.s("auto_pad", "NOTSET");
  if (ap == "NOTSET" || ap.empty()) {
    a.autoPad = AutoPad::kNotSet;
  } else if (ap == "SAME_UPPER") {
    a.autoPad = AutoPad::kSameUpper;
  } else if (ap == "SAME_LOWER") {
    a.autoPad = AutoPad::kSameLower;
  } else if (ap == "VALID") {
    a.autoPad = AutoPad::kValid;
  } else {
    fail(node.describe(), ": unknown auto_pad '", ap, "'");
  }
  a.ceilMode = node.i("ceil_mode", 0) != 0;
  a.outputPadding = listAttr(node, "output_padding", spatial, 0);
  for (int64_t p : a.outputPadding) KILN_CHECK(p >= 0, node.describe(), ": output_padding ", p, " must be >= 0");
  a.outputShape = node.ints("output_shape");
  if (a.outputShape.size() == spatial + 2) a.outputShape.erase(a.outputShape.begin(), a.outputShape.begin() + 2);
  KILN_CHECK(a.outputShape.empty() || a.outputShape.size() == spatial, node.describe(), ": 'output_shape' has ",
             a.outputShape.size(), " values, expected ", spatial);
  return a;
}

AxisGeometry windowAxis(const Node& node, const WindowAttrs& a, std::size_t i, int64_t in, int64_t kernel) {
  const std::size_t n = a.strides.size();
  const int64_t s = a.strides[i], dk = (kernel - 1) * a.dilations[i] + 1;
  AxisGeometry g;
  switch (a.autoPad) {
    case AutoPad::kSameUpper:
    case AutoPad::kSameLower: {
      g.out = (in + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (g.out - 1) * s + dk - in);
      // SAME_UPPER puts the odd pad at the end, SAME_LOWER at the beginning.
      g.padBegin = a.autoPad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      g.padEnd = total - g.padBegin;
      return g;
    }
    case AutoPad::kValid:
      KILN_CHECK(in >= dk, node.describe(), ": window of ", dk, " (kernel ", kernel, ", dilation ",
                 a.dilations[i], ") does not fit input size ", in, " of spatial axis ", i);
      g.out = (in - dk) / s + 1;
      return g;
    case AutoPad::kNotSet:
      break;
  }
  g.padBegin = a.pads[i];
  g.padEnd = a.pads[i + n];
  int64_t span = in + g.padBegin + g.padEnd - dk;
  KILN_CHECK(span >= 0, node.describe(), ": window of ", dk, " (kernel ", kernel, ", dilation ", a.dilations[i],
             ") does not fit input size ", in, " with pads ", g.padBegin, "+", g.padEnd, " on spatial axis ", i);
  if (a.ceilMode) {
    g.out = (span + s - 1) / s + 1;
    // A last window that would start inside the end padding is dropped (as
    // PyTorch and ONNX Runtime do).
    if ((g.out - 1) * s >= in + g.padBegin) --g.out;
  } else {
    g.out = span / s + 1;
  }
  return g;
}

AxisGeometry transposedAxis(const Node& node, const WindowAttrs& a, std::size_t i, int64_t in, int64_t kernel) {
  const std::size_t n = a.strides.size();
  const int64_t s = a.strides[i], dk = (kernel - 1) * a.dilations[i] + 1;
  const std::vector<int64_t>& outPad = a.outputPadding;
  const std::vector<int64_t>& outShape = a.outputShape;
  const int64_t full = s * (in - 1) + outPad[i] + dk;
  AxisGeometry g;
  if (!outShape.empty() || a.autoPad == AutoPad::kSameUpper || a.autoPad == AutoPad::kSameLower) {
    g.out = !outShape.empty() ? outShape[i] : in * s;
    int64_t total = full - g.out;
    KILN_CHECK(total >= 0 || !outShape.empty(), node.describe(), ": cannot reach output size ", g.out);
    // total is negative when output_shape asks for more than the full
    // output: ONNX then halves it rounding down (Python's //), which puts the
    // extra (zero) output at the end.
    const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
    if (a.autoPad == AutoPad::kSameUpper) {
      g.padBegin = half;
      g.padEnd = total - half;
    } else {
      g.padEnd = half;
      g.padBegin = total - half;
    }
  } else if (a.autoPad == AutoPad::kValid) {
    g.out = full;
  } else {
    g.padBegin = a.pads[i];
    g.padEnd = a.pads[i + n];
    g.out = full - g.padBegin - g.padEnd;
  }
  KILN_CHECK(g.out >= 1, node.describe(), ": output size ", g.out, " on spatial axis ", i,
             " (input ", in, ", pads ", g.padBegin, "+", g.padEnd, ") is not positive");
  return g;
}

bool channelsLast(const Node& node) {
  const std::string layout = node.s(kLayoutAttr, "NCHW");
  KILN_CHECK(layout == "NCHW" || layout == "NHWC", node.describe(), ": ", kLayoutAttr, " is '", layout,
             "'; expected NCHW or NHWC");
  return layout == "NHWC";
}

Shape toChannelsLast(const Shape& s) {
  if (s.size() < 2) return s;
  Shape out{s[0]};
  out.insert(out.end(), s.begin() + 2, s.end());
  out.push_back(s[1]);
  return out;
}

Shape toChannelsFirst(const Shape& s) {
  if (s.size() < 2) return s;
  Shape out{s[0], s.back()};
  out.insert(out.end(), s.begin() + 1, s.end() - 1);
  return out;
}

std::vector<int64_t> channelsLastPerm(std::size_t rank) {
  std::vector<int64_t> p{0};
  for (std::size_t i = 2; i < rank; ++i) p.push_back(static_cast<int64_t>(i));
  p.push_back(1);
  return p;
}

std::vector<int64_t> channelsFirstPerm(std::size_t rank) {
  std::vector<int64_t> p{0, static_cast<int64_t>(rank) - 1};
  for (std::size_t i = 1; i + 1 < rank; ++i) p.push_back(static_cast<int64_t>(i));
  return p;
}

}  // namespace kiln::ir
