// Schemas of the math ops that work along axes or over whole tensors:
// CumSum, TopK, Hardmax, Einsum, Det.
#include <algorithm>
#include <map>
#include <string>

#include "ir/ops/einsum.h"
#include "ir/ops/families.h"
#include "ir/ops/tensor_util.h"

namespace kiln::ir {
namespace {
using namespace tensor_ops;

bool isMathDtype(DType t) {
  return t == DType::kFLOAT || t == DType::kDOUBLE || t == DType::kINT32 || t == DType::kINT64 ||
         t == DType::kUINT32 || t == DType::kUINT64 || t == DType::kHALF || t == DType::kBF16;
}

// CumSum(x, axis): axis is a scalar int32/int64 (read at run time; checked here when constant).
void inferCumSum(InferContext& ctx) {
  const Value& x = ctx.in(0);
  ctx.check(isMathDtype(x.dtype), "does not accept a ", dataTypeName(x.dtype), " input");
  ctx.check(ctx.rank(0) >= 1, "input must have rank >= 1");
  checkIndexType(ctx, 1, "axis");
  for (const char* a : {"exclusive", "reverse"}) {
    int64_t v = ctx.node().i(a, 0);
    ctx.check(v == 0 || v == 1, "attribute '", a, "' must be 0 or 1, got ", v);
  }
  if (auto axis = constInts(ctx, 1, "axis")) {
    ctx.check(axis->size() == 1, "axis must hold one value");
    ctx.axis((*axis)[0], ctx.rank(0));
  }
  ctx.setOutput(0, x.dtype, x.shape);
}

// TopK(x, k) -> values, indices (int64); k must be a constant to size them.
void inferTopK(InferContext& ctx) {
  const Value& x = ctx.in(0);
  ctx.check(isMathDtype(x.dtype) || x.dtype == DType::kINT8 || x.dtype == DType::kUINT8 ||
                x.dtype == DType::kINT16 || x.dtype == DType::kUINT16,
            "does not accept a ", dataTypeName(x.dtype), " input");
  int64_t rank = ctx.rank(0);
  ctx.check(rank >= 1, "input must have rank >= 1");
  int64_t axis = ctx.axis(ctx.node().i("axis", -1), rank);
  ctx.check(ctx.in(1).dtype == DType::kINT64, "K must be int64, got ", dataTypeName(ctx.in(1).dtype));
  for (const char* a : {"largest", "sorted"}) {
    int64_t v = ctx.node().i(a, 1);
    ctx.check(v == 0 || v == 1, "attribute '", a, "' must be 0 or 1, got ", v);
  }
  Shape out = x.shape;
  out[axis] = Dim();
  if (auto k = constInts(ctx, 1, "K")) {
    ctx.check(k->size() == 1, "K must hold one value");
    int64_t kv = (*k)[0];
    ctx.check(kv >= 0, "K must not be negative, got ", kv);
    ctx.check(!x.shape[axis].known() || kv <= x.shape[axis].value, "K is ", kv, " but axis ", axis, " has size ",
              x.shape[axis].value);
    out[axis] = Dim(kv);
  }
  ctx.setOutput(0, x.dtype, out);
  if (ctx.numOutputs() > 1 && ctx.node().outputs[1]) ctx.setOutput(1, DType::kINT64, out);
}

// Hardmax (opset 13 form): 1 at the first maximum along `axis`.
void inferHardmax(InferContext& ctx) {
  const Value& x = ctx.in(0);
  ctx.check(x.dtype == DType::kFLOAT || x.dtype == DType::kDOUBLE || x.dtype == DType::kHALF ||
                x.dtype == DType::kBF16,
            "needs a floating-point input, got ", dataTypeName(x.dtype));
  ctx.check(ctx.rank(0) >= 1, "input must have rank >= 1");
  ctx.axis(ctx.node().i("axis", -1), ctx.rank(0));
  ctx.setOutput(0, x.dtype, x.shape);
}

void inferEinsum(InferContext& ctx) {
  ctx.check(ctx.node().has("equation"), "lacks the attribute 'equation'");
  std::string eq = ctx.node().s("equation", "");
  DType t = ctx.in(0).dtype;
  ctx.check(t == DType::kFLOAT || t == DType::kDOUBLE || t == DType::kINT32 || t == DType::kINT64,
            "does not accept ", dataTypeName(t), " inputs");
  std::vector<int64_t> ranks;
  for (std::size_t i = 0; i < ctx.numInputs(); ++i) {
    ctx.check(ctx.in(i).dtype == t, "input ", i, " is ", dataTypeName(ctx.in(i).dtype), ", input 0 is ",
              dataTypeName(t));
    ranks.push_back(ctx.rank(i));
  }
  EinsumSpec spec;
  std::string error;
  ctx.check(parseEinsum(eq, ranks, &spec, &error), "attribute 'equation': ", error);
  // Each label's size: equal wherever known, except 1s broadcast (ellipsis dims).
  std::map<int, Dim> size;
  for (std::size_t i = 0; i < spec.inputs.size(); ++i)
    for (std::size_t k = 0; k < spec.inputs[i].size(); ++k) {
      const Dim& d = ctx.in(i).shape[k];
      auto [it, fresh] = size.emplace(spec.inputs[i][k], d);
      if (fresh || !d.known()) continue;
      Dim& s = it->second;
      if (!s.known() || s.value == 1) s = d;
      else
        ctx.check(d.value == s.value || d.value == 1, "label '",
                  spec.inputs[i][k] < 128 ? std::string(1, static_cast<char>(spec.inputs[i][k])) : "...",
                  "' has sizes ", s.value, " and ", d.value);
    }
  Shape out;
  for (int l : spec.output) out.push_back(size[l]);
  ctx.setOutput(0, t, std::move(out));
}

void inferDet(InferContext& ctx) {
  const Value& x = ctx.in(0);
  ctx.check(x.dtype == DType::kFLOAT || x.dtype == DType::kDOUBLE || x.dtype == DType::kHALF ||
                x.dtype == DType::kBF16,
            "needs a floating-point input, got ", dataTypeName(x.dtype));
  int64_t r = ctx.rank(0);
  ctx.check(r >= 2, "input must have rank >= 2, got shape ", toString(x.shape));
  const Dim &m = x.shape[r - 2], &n = x.shape[r - 1];
  ctx.check(!m.known() || !n.known() || m.value == n.value, "the last two dims must be equal (square matrices), ",
            "got shape ", toString(x.shape));
  ctx.setOutput(0, x.dtype, Shape(x.shape.begin(), x.shape.end() - 2));
}

}  // namespace

void registerMathSchemas(SchemaRegistry& r) {
  r.add({"CumSum", 2, 2, 1, 1, inferCumSum});
  r.add({"TopK", 2, 2, 1, 2, inferTopK});
  r.add({"Hardmax", 1, 1, 1, 1, inferHardmax});
  r.add({"Einsum", 1, 1 << 10, 1, 1, inferEinsum});
  r.add({"Det", 1, 1, 1, 1, inferDet});
}

}  // namespace kiln::ir
