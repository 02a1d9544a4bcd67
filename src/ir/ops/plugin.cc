// Schema of KilnPlugin (see ir/plugin.h): output types and shapes come from
// the plugin's build capability. Its getOutputShapes sees each input dim as an
// expression that is a constant when the dim is known and unknown otherwise;
// operations on unknown expressions stay unknown, so a dynamic input gives a
// dynamic output dim and static inputs give static outputs.
#include <deque>
#include <vector>

#include "ir/ops/families.h"
#include "ir/plugin.h"

namespace kiln::ir {
namespace {

class Expr final : public IDimensionExpr {
 public:
  Expr(bool known, int64_t value, bool sizeTensor = false) : known_(known), value_(value), size_(sizeTensor) {}
  bool isConstant() const override { return known_; }
  int64_t getConstantValue() const override { return known_ ? value_ : -1; }
  bool isSizeTensor() const override { return size_; }

 private:
  bool known_;
  int64_t value_;
  bool size_;
};

//! Expressions over static dims. Never throws (plugin code calls it, maybe
//! from noexcept functions): what it cannot compute is an unknown dim.
class StaticExprBuilder final : public IExprBuilder {
 public:
  const IDimensionExpr* constant(int64_t value) override { return make(true, value); }
  const IDimensionExpr* unknown() { return make(false, -1); }
  const IDimensionExpr* operation(DimensionOperation op, const IDimensionExpr& first,
                                  const IDimensionExpr& second) override {
    bool ka = first.isConstant(), kb = second.isConstant();
    int64_t a = ka ? first.getConstantValue() : 0, b = kb ? second.getConstantValue() : 0;
    if (op == DimensionOperation::kPROD && ((ka && a == 0) || (kb && b == 0))) return constant(0);
    if (!ka || !kb) return unknown();
    switch (op) {
      case DimensionOperation::kSUM: return constant(a + b);
      case DimensionOperation::kPROD: return constant(a * b);
      case DimensionOperation::kMAX: return constant(a > b ? a : b);
      case DimensionOperation::kMIN: return constant(a < b ? a : b);
      case DimensionOperation::kSUB: return constant(a - b);
      case DimensionOperation::kEQUAL: return constant(a == b ? 1 : 0);
      case DimensionOperation::kLESS: return constant(a < b ? 1 : 0);
      case DimensionOperation::kFLOOR_DIV: {
        if (b == 0) return unknown();
        int64_t q = a / b;
        return constant((a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q);
      }
      case DimensionOperation::kCEIL_DIV: {
        if (b == 0) return unknown();
        int64_t q = a / b;
        return constant((a % b != 0 && ((a < 0) == (b < 0))) ? q + 1 : q);
      }
    }
    return unknown();
  }
  const IDimensionExpr* declareSizeTensor(int32_t, const IDimensionExpr&, const IDimensionExpr&) override {
    return make(false, -1, true);
  }

 private:
  const IDimensionExpr* make(bool known, int64_t v, bool size = false) {
    exprs_.emplace_back(known, v, size);
    return &exprs_.back();
  }
  std::deque<Expr> exprs_;  // stable addresses
};

DimsExprs exprsOf(const InferContext& ctx, StaticExprBuilder& eb, const Shape& shape, std::size_t input) {
  ctx.check(shape.size() <= static_cast<std::size_t>(Dims::MAX_DIMS), "input ", input, " has rank ", shape.size(),
            ", over the plugin interface's ", Dims::MAX_DIMS);
  DimsExprs e;
  e.nbDims = static_cast<int32_t>(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) e.d[i] = shape[i].known() ? eb.constant(shape[i].value) : eb.unknown();
  return e;
}

//! A shape input's values (not its dims) as expressions: constants when the
//! input is a constant, else unknowns of the input's length.
DimsExprs shapeInputExprs(const InferContext& ctx, StaticExprBuilder& eb, std::size_t input) {
  const Value& v = ctx.in(input);
  ctx.check(v.dtype == DType::kINT64 || v.dtype == DType::kINT32, "shape input ", input, " is ",
            dataTypeName(v.dtype), "; shape inputs are int32 or int64");
  ctx.check(v.shape.size() <= 1, "shape input ", input, " has rank ", v.shape.size(), "; shape inputs are 0-D or 1-D");
  DimsExprs e;
  if (const Tensor* t = ctx.constInput(input)) {
    std::vector<int64_t> values = t->toInt64();
    ctx.check(values.size() <= static_cast<std::size_t>(Dims::MAX_DIMS), "shape input ", input, " has ",
              values.size(), " values, over ", Dims::MAX_DIMS);
    e.nbDims = static_cast<int32_t>(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) e.d[i] = eb.constant(values[i]);
    return e;
  }
  int64_t n = v.shape.empty() ? 1 : v.shape[0].value;
  ctx.check(n >= 0 && n <= Dims::MAX_DIMS, "shape input ", input, " has an unknown or too large length");
  e.nbDims = static_cast<int32_t>(n);
  for (int64_t i = 0; i < n; ++i) e.d[i] = eb.unknown();
  return e;
}

void inferPlugin(InferContext& ctx) {
  const Node& node = ctx.node();
  ctx.check(node.has(plugin_attr::kName) && node.has(plugin_attr::kVersion),
            "needs the attributes 'plugin_name' and 'plugin_version'");
  const int64_t nIn = pluginDataInputs(node);
  const int64_t nShape = static_cast<int64_t>(ctx.numInputs()) - nIn;
  const int32_t nOut = static_cast<int32_t>(ctx.numOutputs());
  const std::string where = pluginWhere(node);
  PluginPtr plugin = createPlugin(node, TensorRTPhase::kBUILD);
  IPluginV3OneBuild& build = pluginBuild(where, *plugin);

  int32_t declared = callPlugin(where, "getNbOutputs", [&] { return build.getNbOutputs(); });
  ctx.check(declared == nOut, describePlugin(node), " has ", declared, " outputs, the node has ", nOut);

  std::vector<DataType> inTypes(static_cast<std::size_t>(nIn)), outTypes(static_cast<std::size_t>(nOut), DataType::kFLOAT);
  for (int64_t i = 0; i < nIn; ++i) inTypes[i] = ctx.in(i).dtype;
  checkPluginStatus(where, "getOutputDataTypes", callPlugin(where, "getOutputDataTypes", [&] {
                      return build.getOutputDataTypes(outTypes.data(), nOut, inTypes.data(), static_cast<int32_t>(nIn));
                    }));
  for (int32_t i = 0; i < nOut; ++i) {
    int t = static_cast<int>(outTypes[i]);
    ctx.check(t >= 0 && t <= static_cast<int>(DataType::kINT64), describePlugin(node), " gives output ", i,
              " unknown type ", t);
  }

  StaticExprBuilder eb;
  std::vector<DimsExprs> ins, shapeIns, outs(static_cast<std::size_t>(nOut));
  for (int64_t i = 0; i < nIn; ++i) ins.push_back(exprsOf(ctx, eb, ctx.in(i).shape, i));
  for (int64_t i = 0; i < nShape; ++i) shapeIns.push_back(shapeInputExprs(ctx, eb, nIn + i));
  checkPluginStatus(where, "getOutputShapes", callPlugin(where, "getOutputShapes", [&] {
                      return build.getOutputShapes(ins.data(), static_cast<int32_t>(nIn), shapeIns.data(),
                                                   static_cast<int32_t>(nShape), outs.data(), nOut, eb);
                    }));
  for (int32_t i = 0; i < nOut; ++i) {
    const DimsExprs& e = outs[i];
    ctx.check(e.nbDims >= 0 && e.nbDims <= Dims::MAX_DIMS, describePlugin(node), " gives output ", i, " rank ",
              e.nbDims);
    Shape shape;
    for (int32_t k = 0; k < e.nbDims; ++k) {
      ctx.check(e.d[k] != nullptr, describePlugin(node), " leaves dimension ", k, " of output ", i, " unset");
      if (!e.d[k]->isConstant()) {
        shape.emplace_back();
        continue;
      }
      int64_t v = e.d[k]->getConstantValue();
      ctx.check(v >= 0, describePlugin(node), " gives output ", i, " dimension ", k, " = ", v);
      shape.emplace_back(v);
    }
    ctx.setOutput(i, outTypes[i], std::move(shape));
  }
}

}  // namespace

void registerPluginSchemas(SchemaRegistry& r) {
  OpSchema s;
  s.op = kPluginOp;
  s.minInputs = 0;
  s.maxInputs = 1 << 20;
  s.minOutputs = 1;
  s.maxOutputs = 1 << 20;
  s.infer = inferPlugin;
  r.add(std::move(s));
}

}  // namespace kiln::ir
