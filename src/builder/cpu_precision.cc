#include "builder/cpu_precision.h"

#include <algorithm>

#include "backends/cpu/precision.h"
#include "core/error.h"

namespace kiln::builder {

namespace {

bool hasBF16Tactics(const std::string& op) {
  return op == "Conv" || op == "MatMul" || op == "Gemm" || op == "KilnAttention";
}
bool hasFP16Tactics(const std::string& op) { return op == "Conv" || op == "MatMul" || op == "Gemm"; }

}  // namespace

CpuPrecisionResult markCpuPrecision(ir::Graph& graph, const CpuPrecisionOptions& options, bool nativeBF16,
                                     bool nativeFP16) {
  CpuPrecisionResult result;
  const bool constraints = options.obeyConstraints || options.preferConstraints;
  if (options.bf16 && !nativeBF16)
    result.warnings.push_back(
        "BF16 not supported natively on this platform (no AVX512_BF16 in oneDNN's ISA): building FP32");
  if (options.fp16 && !nativeFP16)
    result.warnings.push_back("FP16 not supported natively on this platform (no AVX512-FP16): building FP32");
  for (ir::Node* n : graph.nodeList()) {
    n->attrs.erase(cpu::kBF16Attr);
    n->attrs.erase(cpu::kFP16Attr);
    const int64_t constraint = constraints ? n->i(kLayerPrecisionAttr, -1) : -1;
    if (constraint == static_cast<int64_t>(DType::kFLOAT)) continue;  // kept FP32
    if (constraint >= 0) {
      const bool bf16 = constraint == static_cast<int64_t>(DType::kBF16);
      const bool fp16 = constraint == static_cast<int64_t>(DType::kHALF);
      std::string unmet;
      if (!bf16 && !fp16)
        unmet = strCat("precision ", dataTypeName(static_cast<DType>(constraint)),
                       " has no CPU kernels (the CPU backend runs FP32, and BF16 / FP16 Conv / MatMul / Gemm)");
      else if (bf16 && !hasBF16Tactics(n->op))
        unmet = strCat("the CPU backend has no BF16 kernel for ", n->op, " (only Conv, MatMul, Gemm, KilnAttention)");
      else if (fp16 && !hasFP16Tactics(n->op))
        unmet = strCat("the CPU backend has no FP16 kernel for ", n->op, " (only Conv, MatMul, Gemm)");
      else if (bf16 && !nativeBF16)
        unmet = "BF16 not supported natively on this platform (no AVX512_BF16)";
      else if (fp16 && !nativeFP16)
        unmet = "FP16 not supported natively on this platform (no AVX512-FP16)";
      if (!unmet.empty()) {
        KILN_CHECK(!options.obeyConstraints, n->describe(), ": precision constraint not met: ", unmet,
                   " (kOBEY_PRECISION_CONSTRAINTS)");
        result.warnings.push_back(strCat(n->describe(), ": precision constraint not met, runs FP32: ", unmet));
        continue;
      }
      n->attrs[bf16 ? cpu::kBF16Attr : cpu::kFP16Attr] = int64_t{options.obeyConstraints ? 3 : 2};
      ++(bf16 ? result.bf16Layers : result.fp16Layers);
      continue;
    }
    if (options.bf16 && nativeBF16 && hasBF16Tactics(n->op)) {
      n->attrs[cpu::kBF16Attr] = int64_t{1};
      ++result.bf16Layers;
    }
    if (options.fp16 && nativeFP16 && hasFP16Tactics(n->op)) {
      n->attrs[cpu::kFP16Attr] = int64_t{1};
      ++result.fp16Layers;
    }
  }
  return result;
}

CpuPrecisionResult markCpuPrecision(ir::Graph& graph, const CpuPrecisionOptions& options) {
  return markCpuPrecision(graph, options, cpu::hostSupportsBF16Tactics(), cpu::hostSupportsFP16Tactics());
}

void keepRequiredCpuPrecision(const ir::Node& node, std::vector<const cpu::Tactic*>& candidates,
                              const std::function<void(ILogger::Severity, const std::string&)>& log) {
  const int64_t bf16 = node.i(cpu::kBF16Attr, 0), fp16 = node.i(cpu::kFP16Attr, 0);
  const int64_t level = std::max(bf16, fp16);
  if (level < 2) return;
  const char* type = bf16 >= 2 ? "BF16" : "FP16";
  std::vector<const cpu::Tactic*> kept;
  for (const cpu::Tactic* t : candidates)
    if (bf16 >= 2 ? cpu::isBF16Tactic(*t) : cpu::isFP16Tactic(*t)) kept.push_back(t);
  if (!kept.empty()) {
    candidates = std::move(kept);
    return;
  }
  KILN_CHECK(level < 3, node.describe(), ": precision constraint ", type, " not met: no ", type,
             " CPU kernel supports it (kOBEY_PRECISION_CONSTRAINTS)");
  if (log)
    log(ILogger::Severity::kWARNING, strCat(node.describe(), ": precision constraint ", type, " not met, runs FP32: no ",
                                            type, " CPU kernel supports it"));
}

}  // namespace kiln::builder
