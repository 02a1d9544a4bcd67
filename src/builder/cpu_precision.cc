#include "builder/cpu_precision.h"

#include "backends/cpu/precision.h"
#include "core/error.h"

namespace kiln::builder {

namespace {

bool hasBF16Tactics(const std::string& op) { return op == "Conv" || op == "MatMul" || op == "Gemm"; }

}  // namespace

CpuPrecisionResult markCpuPrecision(ir::Graph& graph, const CpuPrecisionOptions& options, bool nativeBF16) {
  CpuPrecisionResult result;
  const bool constraints = options.obeyConstraints || options.preferConstraints;
  if (options.bf16 && !nativeBF16)
    result.warnings.push_back(
        "BF16 not supported natively on this platform (no AVX512_BF16 in oneDNN's ISA): building FP32");
  for (ir::Node* n : graph.nodeList()) {
    n->attrs.erase(cpu::kBF16Attr);
    const int64_t constraint = constraints ? n->i(kLayerPrecisionAttr, -1) : -1;
    if (constraint == static_cast<int64_t>(DType::kFLOAT)) continue;  // kept FP32
    if (constraint >= 0) {
      const bool bf16 = constraint == static_cast<int64_t>(DType::kBF16);
      std::string unmet;
      if (!bf16)
        unmet = strCat("precision ", dataTypeName(static_cast<DType>(constraint)),
                       " has no CPU kernels (the CPU backend runs FP32, and BF16 Conv / MatMul / Gemm)");
      else if (!hasBF16Tactics(n->op))
        unmet = strCat("the CPU backend has no BF16 kernel for ", n->op, " (only Conv, MatMul, Gemm)");
      else if (!nativeBF16)
        unmet = "BF16 not supported natively on this platform (no AVX512_BF16)";
      if (!unmet.empty()) {
        KILN_CHECK(!options.obeyConstraints, n->describe(), ": precision constraint not met: ", unmet,
                   " (kOBEY_PRECISION_CONSTRAINTS)");
        result.warnings.push_back(strCat(n->describe(), ": precision constraint not met, runs FP32: ", unmet));
        continue;
      }
      n->attrs[cpu::kBF16Attr] = int64_t{options.obeyConstraints ? 3 : 2};
      ++result.bf16Layers;
      continue;
    }
    if (options.bf16 && nativeBF16 && hasBF16Tactics(n->op)) {
      n->attrs[cpu::kBF16Attr] = int64_t{1};
      ++result.bf16Layers;
    }
  }
  return result;
}

CpuPrecisionResult markCpuPrecision(ir::Graph& graph, const CpuPrecisionOptions& options) {
  return markCpuPrecision(graph, options, cpu::hostSupportsBF16Tactics());
}

void keepRequiredCpuPrecision(const ir::Node& node, std::vector<const cpu::Tactic*>& candidates,
                              const std::function<void(ILogger::Severity, const std::string&)>& log) {
  const int64_t bf16 = node.i(cpu::kBF16Attr, 0);
  if (bf16 < 2) return;
  std::vector<const cpu::Tactic*> kept;
  for (const cpu::Tactic* t : candidates)
    if (cpu::isBF16Tactic(*t)) kept.push_back(t);
  if (!kept.empty()) {
    candidates = std::move(kept);
    return;
  }
  KILN_CHECK(bf16 < 3, node.describe(), ": precision constraint BF16 not met: no BF16 CPU kernel supports it",
             " (kOBEY_PRECISION_CONSTRAINTS)");
  if (log)
    log(ILogger::Severity::kWARNING,
        strCat(node.describe(), ": precision constraint BF16 not met, runs FP32: no BF16 CPU kernel supports it"));
}

}  // namespace kiln::builder
