// CPU precision marking (CPU builds, after the graph passes, before tactic
// choice): which Conv / MatMul / Gemm / KilnAttention layers may take a BF16 tactic.
//
//  - BuilderFlag::kBF16 on a CPU whose oneDNN runs BF16 natively
//    (AVX512_BF16, cpu::hostSupportsBF16Tactics): every Conv, MatMul, Gemm and
//    KilnAttention gets cpu::kBF16Attr = 1, and the builder times the BF16 tactics against
//    the FP32 ones. The attribute is part of the node, so the timing cache key
//    tells a BF16-allowed layer from an FP32 one. On a CPU without native BF16
//    the flag builds FP32 with a warning, as TensorRT does for FP16.
//  - Layer precision constraints (node attribute `kiln_precision`, a DType
//    value, as ILayer::setPrecision sets it) count only under
//    kOBEY_PRECISION_CONSTRAINTS (a constraint the CPU cannot meet fails the
//    build naming the layer) or kPREFER_PRECISION_CONSTRAINTS (a warning):
//    kFLOAT keeps a layer FP32 even under kBF16; kBF16 on a Conv / MatMul /
//    Gemm makes BF16 required (3, obey) or preferred (2, prefer) for it,
//    with or without the flag; the selector then takes only BF16 tactics for
//    it (prefer: FP32 when none supports it). The CPU has no other reduced-
//    precision kernels, so any other constraint is not met.
//  - BuilderFlag::kFP16 the same way for Conv, MatMul and Gemm on a CPU with
//    AVX512-FP16 (cpu::hostSupportsFP16Tactics): cpu::kFP16Attr = 1, the
//    FP16 tactics timed against the others; a kHALF constraint on a Conv /
//    MatMul / Gemm makes FP16 required or preferred (3 / 2). Without AVX512-FP16 the
//    flag builds FP32 with a warning.
//  - Only node attributes change; the graph keeps FP32 activations (the BF16
//    and FP16 tactics convert at their inputs and output FP32).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/types.h"

namespace kiln::cpu {
struct Tactic;
}

namespace kiln::builder {

struct CpuPrecisionOptions {
  bool bf16 = false;               //!< BuilderFlag::kBF16
  bool fp16 = false;               //!< BuilderFlag::kFP16
  bool obeyConstraints = false;    //!< kOBEY_PRECISION_CONSTRAINTS
  bool preferConstraints = false;  //!< kPREFER_PRECISION_CONSTRAINTS
};

//! The attribute a layer's precision constraint is stored in (a DType value).
inline constexpr const char* kLayerPrecisionAttr = "kiln_precision";

struct CpuPrecisionResult {
  int bf16Layers = 0;                 //!< layers marked with cpu::kBF16Attr
  int fp16Layers = 0;                 //!< layers marked with cpu::kFP16Attr
  std::vector<std::string> warnings;  //!< flag without native BF16, preferred constraints not met
};

//! Marks `graph`'s layers (see above). `nativeBF16`: whether this CPU runs
//! the BF16 tactics natively (tests pass false to see the fallback). Throws kiln::Error for an obeyed
//! constraint the CPU cannot meet.
CpuPrecisionResult markCpuPrecision(ir::Graph& graph, const CpuPrecisionOptions& options, bool nativeBF16,
                                     bool nativeFP16 = false);
//! The same for this machine (cpu::hostSupportsBF16Tactics(), hostSupportsFP16Tactics()): what the builder runs.
CpuPrecisionResult markCpuPrecision(ir::Graph& graph, const CpuPrecisionOptions& options);

//! Tactic choice for a marked layer: one whose BF16 is preferred or required
//! (cpu::kBF16Attr 2 or 3) keeps only its BF16 `candidates`; without any, a
//! required one fails naming the layer and a preferred one keeps its FP32
//! candidates with a warning through `log` (may be empty).
void keepRequiredCpuPrecision(const ir::Node& node, std::vector<const cpu::Tactic*>& candidates,
                              const std::function<void(ILogger::Severity, const std::string&)>& log);

}  // namespace kiln::builder
