// Reference kernels of the broadcasting binary and variadic ops: arithmetic
// (Add, Sub, Mul, Div, Mod, PRelu; variadic Sum, Mean, Max, Min) on
// float32/64 and every integer type, and on float16/bfloat16 through float32
// (one rounding per op); Pow with a float32/64, int32 or int64 base and any
// numeric exponent; comparisons (bool out); logic (bool in and out); the
// bitwise ops and BitShift on the integer types.
// Variadic ops accumulate pairwise into the output: out = in0 op in1, then
// out = out op in2, ... (every input broadcast to the output shape).
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "backends/cpu/activation.h"
#include "backends/cpu/ops/broadcast.h"
#include "backends/cpu/ops/elementwise.h"
#include "backends/cpu/ops/nn_util.h"

namespace kiln::cpu {
namespace {

enum class BinOp { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kSum, kMean, kMod, kPRelu,
                   kEqual, kLess, kLessEq, kGreater, kGreaterEq, kAnd, kOr, kXor,
                   kBitAnd, kBitOr, kBitXor, kBitShift };
enum class Kind { kArith, kVariadic, kPow, kCompare, kLogic, kBitwise };

struct OpInfo {
  const char* name;
  BinOp op;
  Kind kind;
};

constexpr OpInfo kOps[] = {
    {"Add", BinOp::kAdd, Kind::kArith},         {"Sub", BinOp::kSub, Kind::kArith},
    {"Mul", BinOp::kMul, Kind::kArith},         {"Div", BinOp::kDiv, Kind::kArith},
    {"Mod", BinOp::kMod, Kind::kArith},         {"PRelu", BinOp::kPRelu, Kind::kArith},
    {"Pow", BinOp::kPow, Kind::kPow},           {"Max", BinOp::kMax, Kind::kVariadic},
    {"Min", BinOp::kMin, Kind::kVariadic},      {"Sum", BinOp::kSum, Kind::kVariadic},
    {"Mean", BinOp::kMean, Kind::kVariadic},    {"Equal", BinOp::kEqual, Kind::kCompare},
    {"Less", BinOp::kLess, Kind::kCompare},     {"LessOrEqual", BinOp::kLessEq, Kind::kCompare},
    {"Greater", BinOp::kGreater, Kind::kCompare}, {"GreaterOrEqual", BinOp::kGreaterEq, Kind::kCompare},
    {"And", BinOp::kAnd, Kind::kLogic},         {"Or", BinOp::kOr, Kind::kLogic},
    {"Xor", BinOp::kXor, Kind::kLogic},
    {"BitwiseAnd", BinOp::kBitAnd, Kind::kBitwise}, {"BitwiseOr", BinOp::kBitOr, Kind::kBitwise},
    {"BitwiseXor", BinOp::kBitXor, Kind::kBitwise}, {"BitShift", BinOp::kBitShift, Kind::kBitwise},
};

const OpInfo* findOp(const std::string& name) {
  for (const OpInfo& o : kOps)
    if (name == o.name) return &o;
  return nullptr;
}

//! float16 / bfloat16 bits <-> float, for the ops computed through float32.
struct HalfBits {
  static float to(uint16_t v) { return halfToFloat(v); }
  static uint16_t from(float v) { return floatToHalf(v); }
};
struct Bf16Bits {
  static float to(uint16_t v) { return bf16ToFloat(v); }
  static uint16_t from(float v) { return floatToBf16(v); }
};
bool isHalfType(DType t) { return t == DType::kHALF || t == DType::kBF16; }

//! One run: po[i] = f(pa[i], pb[i]) where an operand that is not contiguous
//! repeats its first value. flatten inlines f (and applyActivation for PRelu)
//! so that the loops vectorize; `po` may alias `pa` exactly.
template <typename TA, typename TB, typename TO, typename F>
[[gnu::flatten]] void binaryRun(const TA* pa, const TB* pb, TO* po, int64_t len, bool va, bool vb, const F& f) {
  if (va && vb) {
    for (int64_t i = 0; i < len; ++i) po[i] = f(pa[i], pb[i]);
  } else if (va) {
    const TB s = *pb;
    for (int64_t i = 0; i < len; ++i) po[i] = f(pa[i], s);
  } else if (vb) {
    const TA s = *pa;
    for (int64_t i = 0; i < len; ++i) po[i] = f(s, pb[i]);
  } else {
    std::fill(po, po + len, f(*pa, *pb));
  }
}

//! out = f(a, b) over a broadcast plan of two inputs.
template <typename TA, typename TB, typename TO, typename F>
void runBinary(const ExecContext& ctx, const Broadcast& p, const TA* a, const TB* b, TO* out, int64_t grain, F f) {
  const bool va = p.innerContiguous(0), vb = p.innerContiguous(1);
  parallelRuns(ctx, p, grain, [&](const int64_t* off, int64_t o, int64_t len) {
    binaryRun(a + off[0], b + off[1], out + o, len, va, vb, f);
  });
}

template <typename T>
void arith(const ExecContext& ctx, BinOp op, int64_t fmod, const Broadcast& p, const T* a, const T* b, T* out) {
  switch (op) {
    case BinOp::kAdd: case BinOp::kSum: case BinOp::kMean:
      return runBinary(ctx, p, a, b, out, kGrainCheap, [](T x, T y) { return ew::wrapAdd(x, y); });
    case BinOp::kSub: return runBinary(ctx, p, a, b, out, kGrainCheap, [](T x, T y) { return ew::wrapSub(x, y); });
    case BinOp::kMul: return runBinary(ctx, p, a, b, out, kGrainCheap, [](T x, T y) { return ew::wrapMul(x, y); });
    case BinOp::kDiv: return runBinary(ctx, p, a, b, out, kGrainCheap, [](T x, T y) { return ew::div(x, y); });
    case BinOp::kMax: return runBinary(ctx, p, a, b, out, kGrainCheap, [](T x, T y) { return ew::max(x, y); });
    case BinOp::kMin: return runBinary(ctx, p, a, b, out, kGrainCheap, [](T x, T y) { return ew::min(x, y); });
    case BinOp::kMod:
      if (fmod) return runBinary(ctx, p, a, b, out, kGrainCostly, [](T x, T y) { return ew::fmod(x, y); });
      return runBinary(ctx, p, a, b, out, kGrainCostly, [](T x, T y) { return ew::mod(x, y); });
    case BinOp::kPRelu:
      if constexpr (std::is_same_v<T, float>)  // the same function as a fused LeakyRelu
        return runBinary(ctx, p, a, b, out, kGrainCheap,
                         [](float x, float s) { return applyActivation(ActKind::kLeakyRelu, x, s, 0.f); });
      else if constexpr (std::is_unsigned_v<T>)
        return runBinary(ctx, p, a, b, out, kGrainCheap, [](T x, T) { return x; });
      else
        return runBinary(ctx, p, a, b, out, kGrainCheap, [](T x, T s) { return x >= 0 ? x : ew::wrapMul(s, x); });
    default: fail("internal: ", static_cast<int>(op), " is not an arithmetic op");
  }
}

//! arith on float16/bfloat16: each op in float32, rounded once to the type.
template <typename C>
void arith16(const ExecContext& ctx, BinOp op, int64_t fmod, const Broadcast& p, const uint16_t* a, const uint16_t* b,
             uint16_t* out) {
  auto run = [&](auto f) {
    runBinary(ctx, p, a, b, out, kGrainCostly, [f](uint16_t x, uint16_t y) { return C::from(f(C::to(x), C::to(y))); });
  };
  switch (op) {
    case BinOp::kAdd: case BinOp::kSum: case BinOp::kMean: return run([](float x, float y) { return x + y; });
    case BinOp::kSub: return run([](float x, float y) { return x - y; });
    case BinOp::kMul: return run([](float x, float y) { return x * y; });
    case BinOp::kDiv: return run([](float x, float y) { return x / y; });
    case BinOp::kMax: return run([](float x, float y) { return ew::max(x, y); });
    case BinOp::kMin: return run([](float x, float y) { return ew::min(x, y); });
    case BinOp::kMod:
      if (fmod) return run([](float x, float y) { return ew::fmod(x, y); });
      return run([](float x, float y) { return ew::mod(x, y); });
    case BinOp::kPRelu:
      return run([](float x, float s) { return applyActivation(ActKind::kLeakyRelu, x, s, 0.f); });
    default: fail("internal: ", static_cast<int>(op), " is not an arithmetic op");
  }
}

template <typename T>
void bitwise(const ExecContext& ctx, BinOp op, bool left, const Broadcast& p, const T* a, const T* b, T* out) {
  using U = std::make_unsigned_t<T>;
  auto run = [&](auto f) { runBinary(ctx, p, a, b, out, kGrainCheap, f); };
  switch (op) {
    case BinOp::kBitAnd: return run([](T x, T y) { return static_cast<T>(x & y); });
    case BinOp::kBitOr: return run([](T x, T y) { return static_cast<T>(x | y); });
    case BinOp::kBitXor: return run([](T x, T y) { return static_cast<T>(x ^ y); });
    case BinOp::kBitShift: {
      // Shifts of the type's width or more give 0 (ONNX Runtime; C++ leaves them undefined).
      constexpr U kBits = sizeof(T) * 8;
      if (left)
        return run([](T x, T y) { return static_cast<U>(y) >= kBits ? T{0} : static_cast<T>(static_cast<U>(x) << y); });
      return run([](T x, T y) { return static_cast<U>(y) >= kBits ? T{0} : static_cast<T>(static_cast<U>(x) >> y); });
    }
    default: fail("internal: ", static_cast<int>(op), " is not a bitwise op");
  }
}

template <typename TB, typename TE>
void power(const ExecContext& ctx, const Broadcast& p, const TB* a, const TE* b, TB* out) {
  // x ^ 2 (variance, L2 norms) is common enough for a vectorized loop; ew::pow
  // computes it the same way, so the result does not depend on the path.
  if constexpr (std::is_same_v<TB, float>) {
    if (!p.innerContiguous(1)) {
      bool scalar = true;
      for (int d = 0; d < p.rank; ++d) scalar = scalar && p.strides[1][d] == 0;
      if (scalar && static_cast<float>(b[0]) == 2.f)
        return runBinary(ctx, p, a, b, out, kGrainCheap, [](float x, TE) { return x * x; });
    }
  }
  runBinary(ctx, p, a, b, out, kGrainCostly, [](TB x, TE e) { return ew::pow(x, e); });
}

template <typename T>
void compare(const ExecContext& ctx, BinOp op, const Broadcast& p, const T* a, const T* b, uint8_t* out) {
  auto run = [&](auto f) { runBinary(ctx, p, a, b, out, kGrainCheap, f); };
  switch (op) {
    case BinOp::kEqual: return run([](T x, T y) -> uint8_t { return x == y; });
    case BinOp::kLess: return run([](T x, T y) -> uint8_t { return x < y; });
    case BinOp::kLessEq: return run([](T x, T y) -> uint8_t { return x <= y; });
    case BinOp::kGreater: return run([](T x, T y) -> uint8_t { return x > y; });
    case BinOp::kGreaterEq: return run([](T x, T y) -> uint8_t { return x >= y; });
    default: fail("internal: ", static_cast<int>(op), " is not a comparison");
  }
}

void logic(const ExecContext& ctx, BinOp op, const Broadcast& p, const uint8_t* a, const uint8_t* b, uint8_t* out) {
  // Bools are read as "non-zero" so that a stray 0xff still means true.
  auto run = [&](auto f) { runBinary(ctx, p, a, b, out, kGrainCheap, f); };
  switch (op) {
    case BinOp::kAnd: return run([](uint8_t x, uint8_t y) -> uint8_t { return (x != 0) & (y != 0); });
    case BinOp::kOr: return run([](uint8_t x, uint8_t y) -> uint8_t { return (x != 0) | (y != 0); });
    case BinOp::kXor: return run([](uint8_t x, uint8_t y) -> uint8_t { return (x != 0) ^ (y != 0); });
    default: fail("internal: ", static_cast<int>(op), " is not a logic op");
  }
}

class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(const OpInfo& info, int64_t fmod, int numInputs) : info_(info), fmod_(fmod), numInputs_(numInputs) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& o = out[0];
    if (info_.kind == Kind::kVariadic) return runVariadic(ctx, in, o);
    Broadcast p = planBroadcast(o, in, 2);
    switch (info_.kind) {
      case Kind::kArith:
        if (o.dtype == DType::kHALF)
          return arith16<HalfBits>(ctx, info_.op, fmod_, p, in[0].as<uint16_t>(), in[1].as<uint16_t>(), o.as<uint16_t>());
        if (o.dtype == DType::kBF16)
          return arith16<Bf16Bits>(ctx, info_.op, fmod_, p, in[0].as<uint16_t>(), in[1].as<uint16_t>(), o.as<uint16_t>());
        dispatchArith(o.dtype, [&](auto t) {
          using T = decltype(t);
          arith<T>(ctx, info_.op, fmod_, p, in[0].as<T>(), in[1].as<T>(), o.as<T>());
        });
        return;
      case Kind::kPow:
        dispatchNumeric(in[0].dtype, [&](auto tb) {
          dispatchArith(in[1].dtype, [&](auto te) {
            using TB = decltype(tb);
            using TE = decltype(te);
            power<TB, TE>(ctx, p, in[0].as<TB>(), in[1].as<TE>(), o.as<TB>());
          });
        });
        return;
      case Kind::kCompare:
        if (in[0].dtype == DType::kBOOL)
          compare<uint8_t>(ctx, info_.op, p, in[0].as<uint8_t>(), in[1].as<uint8_t>(), o.as<uint8_t>());
        else
          dispatchArith(in[0].dtype, [&](auto t) {
            using T = decltype(t);
            compare<T>(ctx, info_.op, p, in[0].as<T>(), in[1].as<T>(), o.as<uint8_t>());
          });
        return;
      case Kind::kLogic:
        logic(ctx, info_.op, p, in[0].as<uint8_t>(), in[1].as<uint8_t>(), o.as<uint8_t>());
        return;
      case Kind::kBitwise:
        dispatchInteger(o.dtype, [&](auto t) {
          using T = decltype(t);
          bitwise<T>(ctx, info_.op, shiftLeft_, p, in[0].as<T>(), in[1].as<T>(), o.as<T>());
        });
        return;
      case Kind::kVariadic: break;
    }
  }

 private:
  void runVariadic(const ExecContext& ctx, const TensorView* in, const TensorView& o) const {
    if (o.dtype == DType::kHALF) return runVariadic16<HalfBits>(ctx, in, o);
    if (o.dtype == DType::kBF16) return runVariadic16<Bf16Bits>(ctx, in, o);
    int n = numInputs_;
    dispatchArith(o.dtype, [&](auto t) {
      using T = decltype(t);
      if (n == 1) {  // the input broadcast to the output (identity when the shapes agree)
        Broadcast p = planBroadcast(o, in, 1);
        const T* src = in[0].as<T>();
        T* dst = o.as<T>();
        bool contiguous = p.innerContiguous(0);
        parallelRuns(ctx, p, kGrainCheap, [&](const int64_t* off, int64_t pos, int64_t len) {
          if (contiguous) std::memmove(dst + pos, src + off[0], static_cast<std::size_t>(len) * sizeof(T));
          else std::fill(dst + pos, dst + pos + len, src[off[0]]);
        });
      } else {
        TensorView pair[2] = {in[0], in[1]};
        arith<T>(ctx, info_.op, 0, planBroadcast(o, pair, 2), in[0].as<T>(), in[1].as<T>(), o.as<T>());
        for (int k = 2; k < n; ++k) {
          pair[0] = o;
          pair[1] = in[k];
          arith<T>(ctx, info_.op, 0, planBroadcast(o, pair, 2), o.as<T>(), in[k].as<T>(), o.as<T>());
        }
      }
      if (info_.op == BinOp::kMean && n > 1) {
        T* data = o.as<T>();
        const T count = static_cast<T>(n);
        parallelFlat(ctx, o.numel(), kGrainCheap, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) data[i] = ew::div(data[i], count);
        });
      }
    });
  }

  //! Pairwise through float32 as runVariadic; a single input is copied (broadcast) as is.
  template <typename C>
  void runVariadic16(const ExecContext& ctx, const TensorView* in, const TensorView& o) const {
    int n = numInputs_;
    uint16_t* dst = o.as<uint16_t>();
    if (n == 1) {
      Broadcast p = planBroadcast(o, in, 1);
      const uint16_t* src = in[0].as<uint16_t>();
      parallelRuns(ctx, p, kGrainCheap, [&](const int64_t* off, int64_t pos, int64_t len) {
        for (int64_t i = 0; i < len; ++i) dst[pos + i] = src[off[0] + (p.innerContiguous(0) ? i : 0)];
      });
      return;
    }
    TensorView pair[2] = {in[0], in[1]};
    arith16<C>(ctx, info_.op, 0, planBroadcast(o, pair, 2), in[0].as<uint16_t>(), in[1].as<uint16_t>(), dst);
    for (int k = 2; k < n; ++k) {
      pair[0] = o;
      pair[1] = in[k];
      arith16<C>(ctx, info_.op, 0, planBroadcast(o, pair, 2), dst, in[k].as<uint16_t>(), dst);
    }
    if (info_.op == BinOp::kMean) {
      const float count = static_cast<float>(n);
      parallelFlat(ctx, o.numel(), kGrainCheap, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) dst[i] = C::from(C::to(dst[i]) / count);
      });
    }
  }

  OpInfo info_;
  int64_t fmod_;
  int numInputs_;
  bool shiftLeft_ = false;

 public:
  void setShiftLeft(bool left) { shiftLeft_ = left; }
};

// Mul with kNhwcAttr: x [N, C, H, W] stored channels-last times a gate s
// [N or 1, C, 1, 1] (either operand order), set where a oneDNN convolution
// chain passes through a squeeze-excitation Mul (conv_onednn_chains.cc). The
// broadcast kernel would index x as NCHW; here each pixel's run of C values
// is scaled by its image's gate.
class ChannelScaleNhwc final : public Kernel {
 public:
  explicit ChannelScaleNhwc(const ir::Node& node) : who_(node.describe()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& o = out[0];
    const int d = in[0].numel() == o.numel() ? 0 : 1;
    const TensorView &x = in[d], &s = in[1 - d];
    KILN_CHECK(o.dtype == DType::kFLOAT && x.rank == 4 && s.rank == 4 && x.numel() == o.numel() &&
                   (s.dims[0] == 1 || s.dims[0] == x.dims[0]) && s.dims[1] == x.dims[1] && s.dims[2] == 1 &&
                   s.dims[3] == 1,
               who_, ": the channels-last form needs an FP32 x [N, C, H, W] and a gate [N or 1, C, 1, 1]");
    const int64_t c = x.dims[1];
    scaleChannelBlocks(ctx.pool, x.as<const float>(), s.as<const float>(), o.as<float>(), x.dims[0], c,
                       x.dims[2] * x.dims[3], c, s.dims[0] == 1 ? 0 : c);
  }

 private:
  std::string who_;
};

}  // namespace

void scaleChannelBlocks(ThreadPool* pool, const float* x, const float* s, float* y, int64_t n, int64_t c,
                        int64_t pixels, int64_t block, int64_t gateStride) {
  const int64_t blocks = (c + block - 1) / block, rows = n * blocks;  // a row: one block's pixels x block values
  // Pixels per task: enough bytes that a split pays (ThreadPool::kMinSplitBytes; read and write).
  const int64_t grain = std::max<int64_t>(1, ThreadPool::kMinSplitBytes / (8 * block));
  const int64_t chunks = (pixels + grain - 1) / grain, tasks = rows * chunks;
  auto scale = [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t row = t / chunks, p0 = t % chunks * grain, p1 = std::min(pixels, p0 + grain);
      const int64_t c0 = row % blocks * block, lanes = std::min(block, c - c0);
      const float* g = s + row / blocks * gateStride + c0;
      const float* xr = x + row * pixels * block;
      float* yr = y + row * pixels * block;
      if (block == 1) {  // a plane: one gate for the run
        for (int64_t p = p0; p < p1; ++p) yr[p] = xr[p] * g[0];
        continue;
      }
      for (int64_t p = p0; p < p1; ++p) {
        for (int64_t l = 0; l < lanes; ++l) yr[p * block + l] = xr[p * block + l] * g[l];
        for (int64_t l = lanes; l < block; ++l) yr[p * block + l] = xr[p * block + l];
      }
    }
  };
  if (tasks == 1 || !pool) return scale(0, tasks);
  pool->parallelFor(tasks, scale);
}

namespace {

bool supportsBinary(const ir::Node& node) {
  const OpInfo* info = findOp(node.op);
  if (!info || node.outputs.size() != 1) return false;
  for (const ir::Value* v : node.inputs)
    if (!v) return false;
  DType t = node.inputs[0]->dtype;
  switch (info->kind) {
    case Kind::kArith: return (isArithType(t) || isHalfType(t)) && node.inputs[1]->dtype == t;
    case Kind::kVariadic:
      for (const ir::Value* v : node.inputs)
        if (v->dtype != t) return false;
      return isArithType(t) || isHalfType(t);
    case Kind::kPow: return isNumericType(t) && isArithType(node.inputs[1]->dtype);
    case Kind::kBitwise: return isIntegerType(t) && node.inputs[1]->dtype == t;
    case Kind::kCompare:
      return node.inputs[1]->dtype == t && (isArithType(t) || (t == DType::kBOOL && info->op == BinOp::kEqual));
    case Kind::kLogic: return t == DType::kBOOL && node.inputs[1]->dtype == DType::kBOOL;
  }
  return false;
}

std::unique_ptr<Kernel> createBinary(const ir::Node& node) {
  const OpInfo* info = findOp(node.op);
  KILN_CHECK(info, node.describe(), ": not a binary elementwise op");
  if (node.i(kNhwcAttr, 0) != 0) {
    KILN_CHECK(info->op == BinOp::kMul, node.describe(), ": only Mul has a channels-last form");
    return std::make_unique<ChannelScaleNhwc>(node);
  }
  auto k = std::make_unique<BinaryKernel>(*info, node.i("fmod", 0), static_cast<int>(node.inputs.size()));
  if (info->op == BinOp::kBitShift) {
    std::string dir = node.s("direction", "");
    KILN_CHECK(dir == "LEFT" || dir == "RIGHT", node.describe(), ": attribute 'direction' must be \"LEFT\" or ",
               "\"RIGHT\", got \"", dir, "\"");
    k->setShiftLeft(dir == "LEFT");
  }
  return k;
}

}  // namespace

void registerBinaryKernels(TacticRegistry& r) {
  for (const OpInfo& o : kOps) {
    Tactic t;
    t.name = std::string(o.name) + ".ref";
    t.op = o.name;
    t.supports = supportsBinary;
    t.create = createBinary;
    r.add(std::move(t));
  }
}

}  // namespace kiln::cpu
