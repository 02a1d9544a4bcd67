// Reduced precision on the CPU backend: the BF16 and FP16 tactics and how
// the builder offers them (builder/cpu_precision.h marks the layers).
//
// A BF16 tactic is named "<Op>.<how>_bf16" (Conv.onednn_bf16,
// MatMul.onednn_bf16, Gemm.onednn_bf16): bf16 weights (converted at build
// time, stored so in the plan) and inputs (converted at the layer's input),
// f32 accumulation and f32 output, so the activations between layers stay
// FP32. KilnAttention.fused_bf16 converts Q, K, V and the probabilities per
// run (ukernels/gemm_bf16.h). A BF16 tactic supports only layers carrying kBF16Attr.
#pragma once
#include <string>

#include "backends/cpu/kernel.h"

namespace kiln::cpu {

//! Node attribute the builder sets on a Conv / MatMul / Gemm / KilnAttention that may run in
//! BF16: 1 = BF16 tactics are timed against the FP32 ones (BuilderFlag::kBF16);
//! 2 = preferred (a BF16 layer constraint under kPREFER_PRECISION_CONSTRAINTS:
//! FP32 only when no BF16 tactic supports it); 3 = required (kOBEY_...).
inline constexpr const char* kBF16Attr = "kiln_cpu_bf16";

//! Whether `tactic` computes in BF16 (its name ends in "_bf16").
inline bool isBF16Tactic(const Tactic& tactic) { return tactic.name.ends_with("_bf16"); }

//! The same for FP16 (BuilderFlag::kFP16, kHALF layer constraints): a Conv /
//! MatMul / Gemm that may run in FP16 (1 timed, 2 preferred, 3 required). The FP16
//! tactics ("<Op>.<how>_fp16": Conv.im2col_gemm_fp16, MatMul.packed_gemm_fp16, Gemm.packed_gemm_fp16)
//! run on AVX512-FP16 (ukernels/gemm_fp16.h): fp16 weights and inputs, fp16
//! products summed in chunks that are added in f32, f32 output.
inline constexpr const char* kFP16Attr = "kiln_cpu_fp16";
inline bool isFP16Tactic(const Tactic& tactic) { return tactic.name.ends_with("_fp16"); }
//! Whether this CPU runs the FP16 tactics (AVX512-FP16).
bool hostSupportsFP16Tactics();

//! Whether this machine runs the BF16 tactics natively: oneDNN is compiled in
//! and its effective ISA has AVX512_BF16 (vdpbf16ps). False otherwise: oneDNN
//! would emulate BF16 (slower than FP32), or the tactics are absent.
bool hostSupportsBF16Tactics();

}  // namespace kiln::cpu
