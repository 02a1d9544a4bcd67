// Reference kernels of the unary elementwise ops: math and activations on
// float32 and float64 (float64 activations through float32; Relu, Abs, Neg,
// Sign also on the integer types), Not on bool, BitwiseNot on the integers,
// IsNaN/IsInf (bool out, float16/bfloat16/float32/float64), Shrink and Clip. Every activation that
// backends/cpu/activation.h knows is computed through applyActivation, so a
// standalone op and the same op fused into Conv/Gemm/KilnFusedElementwise
// give bit-identical results.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/broadcast.h"
#include "backends/cpu/ops/elementwise.h"

namespace kiln::cpu {
namespace {

enum class UnOp { kAct, kExp, kLog, kSqrt, kErf, kAbs, kNeg, kReciprocal, kFloor, kCeil, kRound, kSign,
                  kSin, kCos, kTan, kAsin, kAcos, kAtan, kSinh, kCosh, kAsinh, kAcosh, kAtanh,
                  kSoftsign, kElu, kSelu, kCelu, kThresholdedRelu, kMish, kNot, kIsNaN, kIsInf, kClip,
                  kBitNot, kShrink };

struct OpInfo {
  const char* name;
  UnOp op;
  ActKind act;  //!< for kAct (and kClip): the shared activation
};

constexpr OpInfo kOps[] = {
    {"Relu", UnOp::kAct, ActKind::kRelu},           {"LeakyRelu", UnOp::kAct, ActKind::kLeakyRelu},
    {"Sigmoid", UnOp::kAct, ActKind::kSigmoid},     {"Tanh", UnOp::kAct, ActKind::kTanh},
    {"HardSigmoid", UnOp::kAct, ActKind::kHardSigmoid}, {"HardSwish", UnOp::kAct, ActKind::kHardSwish},
    {"Gelu", UnOp::kAct, ActKind::kGelu},           {"Softplus", UnOp::kAct, ActKind::kSoftplus},
    {"Clip", UnOp::kClip, ActKind::kClip},          {"Exp", UnOp::kExp, ActKind::kNone},
    {"Log", UnOp::kLog, ActKind::kNone},            {"Sqrt", UnOp::kSqrt, ActKind::kNone},
    {"Erf", UnOp::kErf, ActKind::kNone},            {"Abs", UnOp::kAbs, ActKind::kNone},
    {"Neg", UnOp::kNeg, ActKind::kNone},            {"Reciprocal", UnOp::kReciprocal, ActKind::kNone},
    {"Floor", UnOp::kFloor, ActKind::kNone},        {"Ceil", UnOp::kCeil, ActKind::kNone},
    {"Round", UnOp::kRound, ActKind::kNone},        {"Sign", UnOp::kSign, ActKind::kNone},
    {"Sin", UnOp::kSin, ActKind::kNone},            {"Cos", UnOp::kCos, ActKind::kNone},
    {"Tan", UnOp::kTan, ActKind::kNone},            {"Asin", UnOp::kAsin, ActKind::kNone},
    {"Acos", UnOp::kAcos, ActKind::kNone},          {"Atan", UnOp::kAtan, ActKind::kNone},
    {"Sinh", UnOp::kSinh, ActKind::kNone},          {"Cosh", UnOp::kCosh, ActKind::kNone},
    {"Asinh", UnOp::kAsinh, ActKind::kNone},        {"Acosh", UnOp::kAcosh, ActKind::kNone},
    {"Atanh", UnOp::kAtanh, ActKind::kNone},        {"Softsign", UnOp::kSoftsign, ActKind::kNone},
    {"Elu", UnOp::kElu, ActKind::kNone},            {"Selu", UnOp::kSelu, ActKind::kNone},
    {"Celu", UnOp::kCelu, ActKind::kNone},          {"ThresholdedRelu", UnOp::kThresholdedRelu, ActKind::kNone},
    {"Mish", UnOp::kMish, ActKind::kNone},          {"Not", UnOp::kNot, ActKind::kNone},
    {"IsNaN", UnOp::kIsNaN, ActKind::kNone},        {"IsInf", UnOp::kIsInf, ActKind::kNone},
    {"BitwiseNot", UnOp::kBitNot, ActKind::kNone},  {"Shrink", UnOp::kShrink, ActKind::kNone},
};

const OpInfo* findOp(const std::string& name) {
  for (const OpInfo& o : kOps)
    if (name == o.name) return &o;
  return nullptr;
}

//! y[b, e) = f(x[b, e)). flatten inlines f and what it calls (applyActivation is
//! too big for the inliner's taste), so the per-element switch folds away and
//! simple loops vectorize.
template <typename TI, typename TO, typename F>
[[gnu::flatten]] void mapRange(const TI* x, TO* y, int64_t b, int64_t e, const F& f) {
  for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
}

//! y = f(x) over n elements, split over the pool.
template <typename TI, typename TO, typename F>
void map(const ExecContext& ctx, const TI* x, TO* y, int64_t n, int64_t grain, F f) {
  parallelFlat(ctx, n, grain, [&](int64_t b, int64_t e) { mapRange(x, y, b, e, f); });
}

//! The activation as a compile-time constant, so that applyActivation's switch folds away.
template <ActKind K>
void mapAct(const ExecContext& ctx, const float* x, float* y, int64_t n, float alpha, float beta) {
  if constexpr (isCostlyActivation(K)) {
    // The vector math works in place: copy a block, then transform it while it is in cache.
    const Activation act{K, alpha, beta};
    parallelFlat(ctx, n, kGrainCostly, [&](int64_t b, int64_t e) {
      if (x != y) std::copy(x + b, x + e, y + b);
      applyActivation(act, y + b, e - b);
    });
    return;
  }
  constexpr int64_t grain = K == ActKind::kRelu || K == ActKind::kClip || K == ActKind::kLeakyRelu ? kGrainCheap
                                                                                                   : kGrainCostly;
  map(ctx, x, y, n, grain, [alpha, beta](float v) { return applyActivation(K, v, alpha, beta); });
}

void runActivation(const ExecContext& ctx, ActKind kind, const float* x, float* y, int64_t n, float a, float b) {
  switch (kind) {
    case ActKind::kRelu: return mapAct<ActKind::kRelu>(ctx, x, y, n, a, b);
    case ActKind::kLeakyRelu: return mapAct<ActKind::kLeakyRelu>(ctx, x, y, n, a, b);
    case ActKind::kSigmoid: return mapAct<ActKind::kSigmoid>(ctx, x, y, n, a, b);
    case ActKind::kTanh: return mapAct<ActKind::kTanh>(ctx, x, y, n, a, b);
    case ActKind::kClip: return mapAct<ActKind::kClip>(ctx, x, y, n, a, b);
    case ActKind::kHardSigmoid: return mapAct<ActKind::kHardSigmoid>(ctx, x, y, n, a, b);
    case ActKind::kHardSwish: return mapAct<ActKind::kHardSwish>(ctx, x, y, n, a, b);
    case ActKind::kGelu: return mapAct<ActKind::kGelu>(ctx, x, y, n, a, b);
    case ActKind::kGeluTanh: return mapAct<ActKind::kGeluTanh>(ctx, x, y, n, a, b);
    case ActKind::kSilu: return mapAct<ActKind::kSilu>(ctx, x, y, n, a, b);
    case ActKind::kSoftplus: return mapAct<ActKind::kSoftplus>(ctx, x, y, n, a, b);
    case ActKind::kNone: return map(ctx, x, y, n, kGrainCheap, [](float v) { return v; });
  }
}

//! The float math ops on float32 or float64 (T); alpha and beta are the op's attributes.
template <typename T>
void runFloat(const ExecContext& ctx, UnOp op, const T* x, T* y, int64_t n, float alphaF, float betaF) {
  const T alpha = alphaF, beta = betaF, one = 1, zero = 0;
  auto cheap = [&](auto f) { map(ctx, x, y, n, kGrainCheap, f); };
  auto costly = [&](auto f) { map(ctx, x, y, n, kGrainCostly, f); };
  switch (op) {
    case UnOp::kExp: return costly([=](T v) { return std::exp(v); });
    case UnOp::kLog: return costly([=](T v) { return std::log(v); });
    case UnOp::kSqrt: return cheap([=](T v) { return std::sqrt(v); });
    case UnOp::kErf: return costly([=](T v) { return std::erf(v); });
    case UnOp::kAbs: return cheap([=](T v) { return std::fabs(v); });
    case UnOp::kNeg: return cheap([=](T v) { return -v; });
    case UnOp::kReciprocal: return cheap([=](T v) { return one / v; });
    case UnOp::kFloor: return cheap([=](T v) { return std::floor(v); });
    case UnOp::kCeil: return cheap([=](T v) { return std::ceil(v); });
    case UnOp::kRound: return cheap([=](T v) { return std::nearbyint(v); });  // halves to even
    case UnOp::kSign: return cheap([=](T v) { return v > zero ? one : (v < zero ? -one : v); });
    case UnOp::kSin: return costly([=](T v) { return std::sin(v); });
    case UnOp::kCos: return costly([=](T v) { return std::cos(v); });
    case UnOp::kTan: return costly([=](T v) { return std::tan(v); });
    case UnOp::kAsin: return costly([=](T v) { return std::asin(v); });
    case UnOp::kAcos: return costly([=](T v) { return std::acos(v); });
    case UnOp::kAtan: return costly([=](T v) { return std::atan(v); });
    case UnOp::kSinh: return costly([=](T v) { return std::sinh(v); });
    case UnOp::kCosh: return costly([=](T v) { return std::cosh(v); });
    case UnOp::kAsinh: return costly([=](T v) { return std::asinh(v); });
    case UnOp::kAcosh: return costly([=](T v) { return std::acosh(v); });
    case UnOp::kAtanh: return costly([=](T v) { return std::atanh(v); });
    case UnOp::kSoftsign: return cheap([=](T v) { return v / (one + std::fabs(v)); });
    case UnOp::kElu: return costly([=](T v) { return v >= zero ? v : alpha * std::expm1(v); });
    case UnOp::kSelu:  // alpha, gamma
      return costly([=](T v) { return v > zero ? beta * v : beta * (alpha * std::exp(v) - alpha); });
    case UnOp::kCelu:
      return costly([=](T v) { return std::max(zero, v) + std::min(zero, alpha * std::expm1(v / alpha)); });
    case UnOp::kThresholdedRelu: return cheap([=](T v) { return v > alpha ? v : zero; });
    case UnOp::kMish:
      return costly([=](T v) {
        return v * std::tanh(static_cast<T>(applyActivation(ActKind::kSoftplus, static_cast<float>(v), 0.f, 0.f)));
      });
    case UnOp::kShrink:  // lambda (alpha), bias (beta)
      return cheap([=](T v) { return v < -alpha ? v + beta : (v > alpha ? v - beta : zero); });
    default: fail("internal: unary op ", static_cast<int>(op), " has no float form");
  }
}

template <typename T>
void runInt(const ExecContext& ctx, UnOp op, ActKind act, const T* x, T* y, int64_t n, double lambda, double bias) {
  auto cheap = [&](auto f) { map(ctx, x, y, n, kGrainCheap, f); };
  if (op == UnOp::kAct && act == ActKind::kRelu) return cheap([](T v) { return v > 0 ? v : T{0}; });
  switch (op) {
    case UnOp::kAbs:
      if constexpr (std::is_unsigned_v<T>) return cheap([](T v) { return v; });
      else return cheap([](T v) { return v < 0 ? ew::wrapSub(T{0}, v) : v; });
    case UnOp::kNeg: return cheap([](T v) { return ew::wrapSub(T{0}, v); });
    case UnOp::kSign: return cheap([](T v) { return static_cast<T>((v > 0) - (v < 0)); });
    case UnOp::kBitNot: return cheap([](T v) { return static_cast<T>(~v); });
    default: fail("internal: unary op ", static_cast<int>(op), " has no integer form");
  }
}

class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(const OpInfo& info, ActKind act, float alpha, float beta, bool detectNeg, bool detectPos, int numInputs)
      : info_(info), act_(act), alpha_(alpha), beta_(beta), detectNeg_(detectNeg), detectPos_(detectPos),
        numInputs_(numInputs) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& y = out[0];
    int64_t n = y.numel();
    switch (info_.op) {
      case UnOp::kNot:
        return map(ctx, x.as<uint8_t>(), y.as<uint8_t>(), n, kGrainCheap, [](uint8_t v) -> uint8_t { return v == 0; });
      case UnOp::kIsNaN:
      case UnOp::kIsInf: return runPredicate(ctx, x, y);
      case UnOp::kClip: return runClip(ctx, in, y);
      default: break;
    }
    if (x.dtype == DType::kFLOAT) {
      if (info_.op == UnOp::kAct) return runActivation(ctx, act_, x.as<float>(), y.as<float>(), n, alpha_, beta_);
      return runFloat(ctx, info_.op, x.as<float>(), y.as<float>(), n, alpha_, beta_);
    }
    if (x.dtype == DType::kDOUBLE) {
      if (info_.op == UnOp::kAct) {  // the shared activations are float32 functions
        float a = alpha_, b = beta_;
        ActKind act = act_;
        return map(ctx, x.as<double>(), y.as<double>(), n, kGrainCostly, [=](double v) {
          return static_cast<double>(applyActivation(act, static_cast<float>(v), a, b));
        });
      }
      return runFloat(ctx, info_.op, x.as<double>(), y.as<double>(), n, alpha_, beta_);
    }
    dispatchInteger(x.dtype, [&](auto t) {
      using T = decltype(t);
      runInt(ctx, info_.op, act_, x.as<T>(), y.as<T>(), n, alpha_, beta_);
    });
  }

 private:
  template <typename T, typename F>
  void predicate(const ExecContext& ctx, const TensorView& x, const TensorView& y, F toFloat) const {
    bool neg = detectNeg_, pos = detectPos_, nan = info_.op == UnOp::kIsNaN;
    map(ctx, x.as<T>(), y.as<uint8_t>(), y.numel(), kGrainCheap, [=](T raw) -> uint8_t {
      double v = toFloat(raw);
      return nan ? v != v : std::isinf(v) && (v > 0 ? pos : neg);
    });
  }
  void runPredicate(const ExecContext& ctx, const TensorView& x, const TensorView& y) const {
    switch (x.dtype) {
      case DType::kFLOAT: return predicate<float>(ctx, x, y, [](float v) { return static_cast<double>(v); });
      case DType::kDOUBLE: return predicate<double>(ctx, x, y, [](double v) { return v; });
      case DType::kHALF: return predicate<uint16_t>(ctx, x, y, [](uint16_t v) { return double{halfToFloat(v)}; });
      case DType::kBF16: return predicate<uint16_t>(ctx, x, y, [](uint16_t v) { return double{bf16ToFloat(v)}; });
      default: fail("internal: IsNaN/IsInf on ", dataTypeName(x.dtype));
    }
  }

  // min and max are optional scalar inputs read at run time (they may be computed tensors).
  void runClip(const ExecContext& ctx, const TensorView* in, const TensorView& y) const {
    const TensorView* lo = numInputs_ > 1 && in[1].data ? &in[1] : nullptr;
    const TensorView* hi = numInputs_ > 2 && in[2].data ? &in[2] : nullptr;
    int64_t n = y.numel();
    if (y.dtype == DType::kFLOAT) {
      float a = lo ? *lo->as<float>() : -std::numeric_limits<float>::infinity();
      float b = hi ? *hi->as<float>() : std::numeric_limits<float>::infinity();
      return mapAct<ActKind::kClip>(ctx, in[0].as<float>(), y.as<float>(), n, a, b);
    }
    dispatchArith(y.dtype, [&](auto t) {
      using T = decltype(t);
      T a = lo ? *lo->as<T>() : std::numeric_limits<T>::lowest();
      T b = hi ? *hi->as<T>() : std::numeric_limits<T>::max();
      map(ctx, in[0].as<T>(), y.as<T>(), n, kGrainCheap, [a, b](T v) { return std::min(std::max(v, a), b); });
    });
  }

  OpInfo info_;
  ActKind act_;
  float alpha_, beta_;
  bool detectNeg_, detectPos_;
  int numInputs_;
};

bool isSignedType(DType t) {
  return t == DType::kINT8 || t == DType::kINT16 || t == DType::kINT32 || t == DType::kINT64;
}

bool supportsUnary(const ir::Node& node) {
  const OpInfo* info = findOp(node.op);
  if (!info || node.inputs.empty() || !node.inputs[0] || node.outputs.size() != 1) return false;
  DType t = node.inputs[0]->dtype;
  switch (info->op) {
    case UnOp::kNot: return t == DType::kBOOL;
    case UnOp::kIsNaN: case UnOp::kIsInf:
      return t == DType::kFLOAT || t == DType::kDOUBLE || t == DType::kHALF || t == DType::kBF16;
    case UnOp::kBitNot: return isIntegerType(t);
    case UnOp::kShrink: return isArithType(t);
    case UnOp::kClip:
      for (std::size_t i = 1; i < node.inputs.size(); ++i)
        if (node.inputs[i] && node.inputs[i]->dtype != t) return false;
      return isArithType(t);
    case UnOp::kAbs: case UnOp::kSign: return isArithType(t);
    case UnOp::kNeg: return isArithType(t) && !(isIntegerType(t) && !isSignedType(t));
    case UnOp::kAct:
      if (info->act == ActKind::kRelu) return isArithType(t) && !(isIntegerType(t) && !isSignedType(t));
      return t == DType::kFLOAT || t == DType::kDOUBLE;
    default: return t == DType::kFLOAT || t == DType::kDOUBLE;
  }
}

std::unique_ptr<Kernel> createUnary(const ir::Node& node) {
  const OpInfo* info = findOp(node.op);
  KILN_CHECK(info, node.describe(), ": not a unary elementwise op");
  ActKind act = info->act;
  float alpha = 0.f, beta = 0.f;
  // ONNX attribute defaults of each op.
  switch (info->op) {
    case UnOp::kElu: case UnOp::kCelu: case UnOp::kThresholdedRelu: alpha = node.f("alpha", 1.f); break;
    case UnOp::kShrink:
      alpha = node.f("lambd", 0.5f);
      beta = node.f("bias", 0.f);
      break;
    case UnOp::kSelu:
      alpha = node.f("alpha", 1.67326319217681884765625f);
      beta = node.f("gamma", 1.05070102214813232421875f);
      break;
    default: break;
  }
  if (act == ActKind::kLeakyRelu) alpha = node.f("alpha", 0.01f);
  if (act == ActKind::kHardSigmoid) {
    alpha = node.f("alpha", 0.2f);
    beta = node.f("beta", 0.5f);
  }
  if (act == ActKind::kGelu) {
    std::string approx = node.s("approximate", "none");
    KILN_CHECK(approx == "none" || approx == "tanh", node.describe(), ": unknown approximate \"", approx, "\"");
    if (approx == "tanh") act = ActKind::kGeluTanh;
  }
  return std::make_unique<UnaryKernel>(*info, act, alpha, beta, node.i("detect_negative", 1) != 0,
                                       node.i("detect_positive", 1) != 0, static_cast<int>(node.inputs.size()));
}

}  // namespace

void registerUnaryKernels(TacticRegistry& r) {
  for (const OpInfo& o : kOps) {
    Tactic t;
    t.name = std::string(o.name) + ".ref";
    t.op = o.name;
    t.supports = supportsUnary;
    t.create = createUnary;
    r.add(std::move(t));
  }
}

}  // namespace kiln::cpu
