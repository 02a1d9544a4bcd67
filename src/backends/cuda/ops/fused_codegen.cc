// Codegen and launch arithmetic of the NVRTC fused elementwise kernel (fused_codegen.h).
//
// Each step's formula is the CPU reference's (cpu/activation.h, cpu/ops/elementwise.h:
// Max/Min propagate NaN, Pow by 2 is x * x, Clip/HardSigmoid clamp as std::min/std::max
// do), in FP32 whatever the storage type. FP16/BF16 are converted with PTX cvt / bit
// arithmetic, so the source needs no header (NVRTC compiles it as it stands).
#include "backends/cuda/ops/fused_codegen.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <map>
#include <sstream>

#include "core/error.h"

namespace kiln::cuda::fused {
namespace {

// The generated KilnFusedArgs must lay out as Args: no padding anywhere.
static_assert(sizeof(Args) == 8 * (1 + kMaxInputs + 1 + 1 + kMaxRank + kMaxInputs * kMaxRank),
              "Args must match the generated KilnFusedArgs");

// Unary steps: `a` is the accumulator, A / B the step's alpha / beta.
const std::map<std::string, const char*>& unaryFormulas() {
  static const std::map<std::string, const char*> f = {
      {"Relu", "a > 0.f ? a : 0.f"},
      {"LeakyRelu", "a >= 0.f ? a : A * a"},
      {"Sigmoid", "1.f / (1.f + expf(-a))"},
      {"Tanh", "tanhf(a)"},
      {"Exp", "expf(a)"},
      {"Log", "logf(a)"},
      {"Sqrt", "sqrtf(a)"},
      {"Abs", "fabsf(a)"},
      {"Neg", "-a"},
      {"Reciprocal", "1.f / a"},
      {"Erf", "erff(a)"},
      {"HardSigmoid", "kiln_hard_sigmoid(A * a + B)"},  // the CPU's order: NaN gives 1
      {"HardSwish", "a * kiln_max(0.f, kiln_min(1.f, a / 6.f + 0.5f))"},
      {"Gelu", "0.5f * a * (1.f + erff(a * 0.70710678118654752f))"},
      {"GeluTanh", "0.5f * a * (1.f + tanhf(0.7978845608028654f * (a + 0.044715f * a * a * a)))"},
      {"Softplus", "a > 20.f ? a : log1pf(expf(a))"},
      {"Silu", "a / (1.f + expf(-a))"},
      {"Clip", "kiln_min(kiln_max(a, A), B)"},
  };
  return f;
}

// Binary steps f(x, y): x is the accumulator and y the side operand, or the other way round when swapped.
const std::map<std::string, const char*>& binaryFormulas() {
  static const std::map<std::string, const char*> f = {
      {"Add", "x + y"},
      {"Sub", "x - y"},
      {"Mul", "x * y"},
      {"Div", "x / y"},
      {"Pow", "y == 2.f ? x * x : powf(x, y)"},
      {"Max", "(x > y || x != x) ? x : y"},
      {"Min", "(x < y || x != x) ? x : y"},
  };
  return f;
}

//! `v` exactly, as the kernel source spells it (inf and NaN included).
std::string floatLiteral(float v) {
  std::ostringstream s;
  s << "__int_as_float(0x" << std::hex << std::bit_cast<uint32_t>(v) << std::dec << ") /* " << v << " */";
  return s.str();
}

//! `formula` with the whole identifiers A and B replaced by `alpha` and `beta`.
std::string withParams(const std::string& formula, const std::string& alpha, const std::string& beta) {
  std::string out;
  for (std::size_t i = 0; i < formula.size(); ++i) {
    char c = formula[i];
    auto word = [&](std::size_t j) { return std::isalnum(static_cast<unsigned char>(formula[j])) || formula[j] == '_'; };
    bool alone = (i == 0 || !word(i - 1)) && (i + 1 == formula.size() || !word(i + 1));
    if (alone && c == 'A') out += alpha;
    else if (alone && c == 'B') out += beta;
    else out += c;
  }
  return out;
}

//! `pattern` with every K that ends a token (vK, [K]; not KilnVec) replaced by `k`.
std::string replaceK(const std::string& pattern, int k) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const bool ends = i + 1 == pattern.size() ||
                      !(std::isalnum(static_cast<unsigned char>(pattern[i + 1])) || pattern[i + 1] == '_');
    out += pattern[i] == 'K' && ends ? std::to_string(k) : std::string(1, pattern[i]);
  }
  return out;
}

const char* storageOf(DType t) {
  switch (t) {
    case DType::kFLOAT: return "float";
    case DType::kHALF: return "unsigned short /* fp16 */";
    case DType::kBF16: return "unsigned short /* bf16 */";
    default: return nullptr;
  }
}

// The storage type's load and store (FP32 math inside).
const char* conversionsOf(DType t) {
  switch (t) {
    case DType::kFLOAT:
      return "__device__ __forceinline__ float kiln_load(const T* p, long long o) { return p[o]; }\n"
             "__device__ __forceinline__ void kiln_store(T* p, long long o, float v) { p[o] = v; }\n";
    case DType::kHALF:
      return "__device__ __forceinline__ float kiln_load(const T* p, long long o) {\n"
             "  float f; asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(p[o])); return f;\n}\n"
             "__device__ __forceinline__ void kiln_store(T* p, long long o, float v) {\n"
             "  unsigned short h; asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(v)); p[o] = h;\n}\n";
    case DType::kBF16:  // round to nearest even, NaN stays NaN (as core/dtype's floatToBf16)
      return "__device__ __forceinline__ float kiln_load(const T* p, long long o) {\n"
             "  return __uint_as_float(((unsigned)p[o]) << 16);\n}\n"
             "__device__ __forceinline__ void kiln_store(T* p, long long o, float v) {\n"
             "  unsigned u = __float_as_uint(v);\n"
             "  if ((u & 0x7fffffffu) > 0x7f800000u) { p[o] = (unsigned short)((u >> 16) | 0x40u); return; }\n"
             "  u += 0x7fffu + ((u >> 16) & 1u);\n"
             "  p[o] = (unsigned short)(u >> 16);\n}\n";
    default: return nullptr;
  }
}

}  // namespace

bool chainOf(const ir::Node& node, Chain* out, std::string* why) {
  auto no = [&](std::string reason) {
    *why = std::move(reason);
    return false;
  };
  if (node.outputs.size() != 1 || !node.outputs[0]) return no("needs exactly one output");
  std::vector<std::string> ops;
  if (auto it = node.attrs.find("ops"); it != node.attrs.end())
    if (auto* v = std::get_if<std::vector<std::string>>(&it->second)) ops = *v;
  std::size_t n = ops.size();
  std::vector<int64_t> operands = node.ints("operands", {});
  std::vector<int64_t> swapped = node.ints("swapped", std::vector<int64_t>(n, 0));
  std::vector<float> alphas = node.floats("alphas", std::vector<float>(n, 0.f));
  std::vector<float> betas = node.floats("betas", std::vector<float>(n, 0.f));
  if (n == 0 || operands.size() != n || swapped.size() != n || alphas.size() != n || betas.size() != n)
    return no("'ops', 'operands', 'swapped', 'alphas' and 'betas' need one entry per step");
  Chain c;
  c.numInputs = static_cast<int>(node.inputs.size());
  if (c.numInputs < 1 || c.numInputs > kMaxInputs)
    return no(strCat("has ", c.numInputs, " inputs; the GPU kernel takes 1 to ", kMaxInputs));
  c.dtype = node.outputs[0]->dtype;
  if (!storageOf(c.dtype)) return no(strCat("output is ", dataTypeName(c.dtype), "; FP32, FP16 or BF16 are fused"));
  for (const ir::Value* v : node.inputs)
    if (!v || v->dtype != c.dtype) return no("inputs and output must share one type");
  if (node.outputs[0]->shape.size() > static_cast<std::size_t>(kMaxRank))
    return no(strCat("output has rank ", node.outputs[0]->shape.size(), "; the GPU kernel takes up to ", kMaxRank));
  for (std::size_t k = 0; k < n; ++k) {
    Step s{ops[k], static_cast<int>(operands[k]), swapped[k] != 0, alphas[k], betas[k]};
    bool unary = unaryFormulas().count(s.op) > 0, binary = binaryFormulas().count(s.op) > 0;
    if (!unary && !binary) return no(strCat("step ", k, " has op '", s.op, "', which the GPU kernel lacks"));
    if (unary ? s.operand != -1 : (s.operand < 0 || s.operand >= c.numInputs))
      return no(strCat("step ", k, " (", s.op, ") has operand ", operands[k]));
    c.steps.push_back(s);
  }
  *out = std::move(c);
  return true;
}

std::string kernelSource(const Chain& c) {
  KILN_CHECK(c.numInputs >= 1 && c.numInputs <= kMaxInputs && storageOf(c.dtype),
             "fused elementwise codegen: bad chain (", c.numInputs, " inputs, ", dataTypeName(c.dtype), ")");
  const int n = c.numInputs;
  auto each = [&](const std::string& pattern, const char* sep) {  // pattern with K for 0..n-1
    std::string out;
    for (int k = 0; k < n; ++k) {
      if (k) out += sep;
      out += replaceK(pattern, k);
    }
    return out;
  };
  std::ostringstream s;
  s << "// Kiln KilnFusedElementwise, generated (backends/cuda/ops/fused_codegen.cc):";
  for (const Step& st : c.steps) s << ' ' << st.op;
  s << "\n"
    << "typedef " << storageOf(c.dtype) << " T;\n"
    << "struct KilnFusedArgs {\n  void* y;\n  const void* in[" << kMaxInputs << "];\n  long long n;\n  int rank;\n"
    << "  int pad;\n  long long dims[" << kMaxRank << "];\n  long long strides[" << kMaxInputs << "][" << kMaxRank
    << "];\n};\n"
    << conversionsOf(c.dtype)
    << "// std::max / std::min's choices (a NaN first operand is kept), as the CPU's Clip and HardSigmoid.\n"
    << "__device__ __forceinline__ float kiln_max(float a, float b) { return a < b ? b : a; }\n"
    << "__device__ __forceinline__ float kiln_min(float a, float b) { return b < a ? b : a; }\n"
    << "// NaN first: nvcc makes max(0, min(1, v)) a saturating instruction, which turns NaN into 0\n"
    << "// (measured on the H200), where the CPU's std::min(1.f, NaN) gives 1.\n"
    << "__device__ __forceinline__ float kiln_hard_sigmoid(float v) {\n"
    << "  return v != v ? 1.f : kiln_max(0.f, kiln_min(1.f, v));\n}\n";

  // The steps, once, for both kernels.
  s << "__device__ __forceinline__ float kiln_chain(" << each("const float vK", ", ") << ") {\n  float a = v0;\n";
  for (std::size_t k = 0; k < c.steps.size(); ++k) {
    const Step& st = c.steps[k];
    s << "  {  // step " << k << ": " << st.op << "\n";
    if (st.operand < 0) {
      s << "    a = " << withParams(unaryFormulas().at(st.op), floatLiteral(st.alpha), floatLiteral(st.beta)) << ";\n";
    } else {
      std::string side = strCat("v", st.operand);
      s << "    const float x = " << (st.swapped ? side : "a") << ", y = " << (st.swapped ? "a" : side) << ";\n"
        << "    a = " << binaryFormulas().at(st.op) << ";\n";
    }
    s << "  }\n";
  }
  s << "  return a;\n}\n";

  // Any broadcast: per output element, each input's offset from the collapsed dims and strides.
  s << "template <typename I>\n__device__ __forceinline__ void kiln_body(const KilnFusedArgs& p) {\n"
    << "  const I n = (I)p.n;\n"
    << "  for (I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; i < n; i += (I)gridDim.x * (I)blockDim.x) {\n"
    << each("    I oK = 0;\n", "")
    << "    if (p.rank == 1) {\n" << each("      oK = i * (I)p.strides[K][0];\n", "")
    << "    } else {\n      I r = i;\n#pragma unroll\n      for (int d = " << kMaxRank - 1 << "; d >= 0; --d) {\n"
    << "        if (d >= p.rank) continue;\n        const I dim = (I)p.dims[d];\n"
    << "        const I q = r / dim, idx = r - q * dim;\n        r = q;\n"
    << each("        oK += idx * (I)p.strides[K][d];\n", "") << "      }\n    }\n"
    << "    kiln_store((T*)p.y, (long long)i, kiln_chain("
    << each("kiln_load((const T*)p.in[K], oK)", ", ") << "));\n  }\n}\n"
    << "extern \"C\" __global__ void __launch_bounds__(" << kBlock << ") " << kKernel32
    << "(const KilnFusedArgs p) { kiln_body<int>(p); }\n"
    << "extern \"C\" __global__ void __launch_bounds__(" << kBlock << ") " << kKernel64
    << "(const KilnFusedArgs p) { kiln_body<long long>(p); }\n";

  // Rank 1, every input whole (stride 1) or one value (stride 0), 16-byte aligned
  // (vectorizable()): 16 bytes per access, a scalar tail.
  s << "#define KILN_VEC (16 / (int)sizeof(T))\n"
    << "union KilnVec { uint4 u; T e[KILN_VEC]; };\n"
    << "extern \"C\" __global__ void __launch_bounds__(" << kBlock << ") " << kKernelVec
    << "(const KilnFusedArgs p) {\n"
    << "  const long long n = p.n, nv = n / KILN_VEC;\n"
    << each("  const bool wK = p.strides[K][0] != 0;\n  const float sK = wK ? 0.f : kiln_load((const T*)p.in[K], 0);\n",
            "")
    << "  const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n"
    << "  const long long stride = (long long)gridDim.x * blockDim.x;\n"
    << "  for (long long j = first; j < nv; j += stride) {\n"
    << each("    KilnVec xK;\n    if (wK) xK.u = ((const uint4*)p.in[K])[j];\n", "")
    << "    KilnVec out;\n#pragma unroll\n    for (int l = 0; l < KILN_VEC; ++l)\n"
    << "      kiln_store(out.e, l, kiln_chain(" << each("wK ? kiln_load(xK.e, l) : sK", ", ") << "));\n"
    << "    ((uint4*)p.y)[j] = out.u;\n  }\n"
    << "  for (long long i = nv * KILN_VEC + first; i < n; i += stride)\n"
    << "    kiln_store((T*)p.y, i, kiln_chain(" << each("wK ? kiln_load((const T*)p.in[K], i) : sK", ", ") << "));\n"
    << "}\n";
  return s.str();
}

bool vectorizable(const Args& a, int numInputs) {
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (a.rank != 1 || !aligned(a.y)) return false;
  for (int k = 0; k < numInputs; ++k) {
    if (a.strides[k][0] == 0) continue;
    if (a.strides[k][0] != 1 || !aligned(a.in[k])) return false;
  }
  return true;
}

Dims dimsOf(const std::vector<int64_t>& d) {
  KILN_CHECK(d.size() <= static_cast<std::size_t>(kMaxRank), "fused elementwise: rank ", d.size(), " above ", kMaxRank);
  Dims out;
  out.rank = static_cast<int>(d.size());
  std::copy(d.begin(), d.end(), out.d);
  return out;
}

void planArgs(const Dims& out, const Dims* ins, int numIn, Args* a) {
  KILN_CHECK(numIn >= 1 && numIn <= kMaxInputs, "fused elementwise: ", numIn, " inputs (1 to ", kMaxInputs, ")");
  KILN_CHECK(out.rank >= 0 && out.rank <= kMaxRank, "fused elementwise: output rank ", out.rank);
  const int rank = out.rank;
  // Per input, element strides over the output dims (0 where it broadcasts or lacks the dim).
  int64_t full[kMaxInputs][kMaxRank] = {};
  for (int k = 0; k < numIn; ++k) {
    const Dims& d = ins[k];
    KILN_CHECK(d.rank <= rank, "fused elementwise: input ", k, " has rank ", d.rank, ", above the output's ", rank);
    int64_t stride = 1;
    for (int j = d.rank - 1; j >= 0; --j) {
      int o = rank - d.rank + j;
      KILN_CHECK(d.d[j] == out.d[o] || d.d[j] == 1, "fused elementwise: input ", k, " dim ", j, " is ", d.d[j],
                 ", which does not broadcast to ", out.d[o]);
      full[k][o] = d.d[j] == 1 ? 0 : stride;
      stride *= d.d[j];
    }
  }
  std::fill(std::begin(a->dims), std::end(a->dims), 0);
  for (auto& row : a->strides) std::fill(std::begin(row), std::end(row), 0);
  a->n = 1;
  int m = 0;  // collapsed dims so far
  for (int o = 0; o < rank; ++o) {
    a->n *= out.d[o];
    if (out.d[o] == 1) continue;  // size-1 dims never move an offset
    // Merge into the group outside it where every input steps over both as one.
    bool merge = m > 0;
    for (int k = 0; k < numIn && merge; ++k) merge = a->strides[k][m - 1] == full[k][o] * out.d[o];
    if (merge) {
      a->dims[m - 1] *= out.d[o];
    } else {
      a->dims[m++] = out.d[o];
    }
    for (int k = 0; k < numIn; ++k) a->strides[k][m - 1] = full[k][o];
  }
  if (m == 0) a->dims[m++] = 1;  // a single element (strides 0)
  a->rank = m;
}

int64_t inputOffset(const Args& a, int k, int64_t i) {
  if (a.rank == 1) return i * a.strides[k][0];
  int64_t off = 0, r = i;
  for (int d = a.rank - 1; d >= 0; --d) {
    int64_t q = r / a.dims[d];
    off += (r - q * a.dims[d]) * a.strides[k][d];
    r = q;
  }
  return off;
}

int64_t blocksFor(int64_t n, int sms) {
  int64_t need = (n + kBlock - 1) / kBlock;
  return std::max<int64_t>(1, std::min<int64_t>(need, int64_t{std::max(sms, 1)} * 8));
}

}  // namespace kiln::cuda::fused
