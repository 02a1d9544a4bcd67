// KilnFusedElementwise on the GPU, host half: the node's chain of steps as
// CUDA C++ source (compiled by NVRTC at build time, fused_nvrtc.cc), and the
// launch arguments for one run (shapes collapsed, broadcast by strides).
// No CUDA headers here: the codegen and the shape arithmetic are unit-tested
// on machines without a GPU (tests/unit/cuda/fused_codegen_test.cc).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "ir/graph.h"

namespace kiln::cuda::fused {

constexpr int kMaxInputs = 16;  //!< as the CPU kernel (cpu/ops/broadcast.h kMaxBroadcastInputs)
constexpr int kMaxRank = 8;     //!< backends::kMaxRank
constexpr int kBlock = 256;     //!< threads per block (the kernels' __launch_bounds__)
//! The generated kernels: 32-bit and 64-bit element indices.
constexpr const char* kKernel32 = "kiln_fused_i32";
constexpr const char* kKernel64 = "kiln_fused_i64";
//! Rank 1, every input whole or a single value, 16-byte aligned: 16-byte accesses (vectorizable()).
constexpr const char* kKernelVec = "kiln_fused_vec";

//! One step as ir/ops/kiln.cc defines it: acc = op(acc) or op(acc, in[operand]) (op(in[operand], acc) when swapped).
struct Step {
  std::string op;
  int operand = -1;
  bool swapped = false;
  float alpha = 0.f, beta = 0.f;
};

struct Chain {
  std::vector<Step> steps;
  int numInputs = 0;
  DType dtype = DType::kFLOAT;  //!< every input's and the output's (FP32, FP16 or BF16)
};

//! The chain of a KilnFusedElementwise node; false with the reason in `why`
//! when the GPU kernel cannot run it (a step it lacks, too many inputs, mixed
//! or non-float types, rank above kMaxRank).
bool chainOf(const ir::Node& node, Chain* out, std::string* why);

//! The kernel's CUDA C++ source: the kernels kKernel32, kKernel64, kKernelVec, taking
//! one `Args` by value. Depends on the steps, their parameters and the dtype,
//! never on shapes, so one cubin serves every shape of a profile.
std::string kernelSource(const Chain& chain);

//! The kernels' one parameter (the generated source declares the same struct).
struct Args {
  void* y = nullptr;
  const void* in[kMaxInputs] = {};
  int64_t n = 0;
  int32_t rank = 1;
  int32_t pad = 0;
  int64_t dims[kMaxRank] = {};
  //! Element strides of input k over the collapsed output dims (0 where it broadcasts).
  int64_t strides[kMaxInputs][kMaxRank] = {};
};

//! A shape without allocation (the run-time path allocates nothing).
struct Dims {
  int rank = 0;
  int64_t d[kMaxRank] = {};
};
Dims dimsOf(const std::vector<int64_t>& d);

//! Fills a's n, rank, dims and strides for output dims `out` and input dims
//! `ins[0..numIn)` (each broadcasting to `out`, numpy rules): size-1 output
//! dims are dropped and adjacent dims merged where every input walks them as
//! one (contiguously, or broadcast in both), so a same-shape chain walks rank 1.
void planArgs(const Dims& out, const Dims* ins, int numIn, Args* a);

//! Whether planned `a` (pointers set) may take kKernelVec: rank 1, each input's
//! stride 1 or 0, the output and every stride-1 input 16-byte aligned.
bool vectorizable(const Args& a, int numInputs);

//! Element offset of input k at output element i, as the kernel computes it (tests replay it).
int64_t inputOffset(const Args& a, int k, int64_t i);

//! A cubin of `source` for `arch` ("sm_90"), compiled by NVRTC; the same
//! source and arch compile once per process (a cache keyed by both). Throws,
//! naming `what` (the node) and carrying NVRTC's log, when it does not compile.
std::vector<uint8_t> compileCubin(const std::string& source, const std::string& arch, const std::string& what);
//! How many times compileCubin ran NVRTC in this process (cache misses).
int64_t nvrtcCompilations();

//! Blocks for n elements on `sms` multiprocessors (grid-stride loop beyond that).
int64_t blocksFor(int64_t n, int sms);

}  // namespace kiln::cuda::fused
