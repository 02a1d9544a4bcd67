// KilnFusedElementwise.nvrtc: a chain of elementwise steps (ir/ops/kiln.cc) as
// one kernel generated for the chain (fused_codegen.cc) and compiled by NVRTC
// at build time (fused_nvrtc.cc) for the build GPU's arch.
//
// The cubin travels in the plan as node attributes (`kiln_cubin`, a UINT8
// tensor in the weights blob, CRC-checked and verified as every tensor
// attribute; `kiln_cubin_arch`, "sm_90"), set by the tactic's prepare() once
// the builder has chosen it. At load, create() loads it once per engine with
// the runtime's library API (cudaLibraryLoadData / cudaLibraryGetKernel; the
// driver's cuLibrary* under the runtime's own driver binding, so kiln_cuda
// needs no libcuda link) and enqueue() launches it with cudaLaunchKernel on the
// context's stream: no allocation, nothing waits, so a stream capture takes it.
#include <cuda_runtime.h>

#include <algorithm>

#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/fused_codegen.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"

namespace kiln::cuda {
namespace {

constexpr const char* kCubinAttr = "kiln_cubin";
constexpr const char* kArchAttr = "kiln_cubin_arch";

//! This process's current GPU's arch ("sm_90"), or "" without a usable GPU.
std::string currentArch() {
  int count = 0, device = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0 || cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();  // clear the error so later calls report their own
    return "";
  }
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return backends::archName(major, minor);
}

void checkCuda(cudaError_t status, const std::string& what, const char* call) {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  fail(what, ": ", call, " failed (", cudaGetErrorName(status), ": ", cudaGetErrorString(status), ")");
}

class FusedKernel final : public backends::DeviceKernel {
 public:
  //! Loads `cubin` now when there is a GPU; without one (a build behind a
  //! stand-in GPU, which never runs) enqueue() reports that it was not loaded.
  FusedKernel(std::string what, std::vector<uint8_t> cubin, int numInputs, DType dtype, bool load)
      : what_(std::move(what)), cubin_(std::move(cubin)), numInputs_(numInputs), elemBytes_(dtypeSize(dtype)) {
    if (!load) return;
    checkCuda(cudaLibraryLoadData(&library_, cubin_.data(), nullptr, nullptr, 0, nullptr, nullptr, 0), what_,
              "cudaLibraryLoadData of its NVRTC cubin");
    try {
      findKernels();
    } catch (...) {  // the destructor does not run for a throwing constructor
      cudaLibraryUnload(library_);
      throw;
    }
  }
  ~FusedKernel() override {
    if (library_) cudaLibraryUnload(library_);
  }
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override;

 private:
  void findKernels() {
    checkCuda(cudaLibraryGetKernel(&k32_, library_, fused::kKernel32), what_, "cudaLibraryGetKernel");
    checkCuda(cudaLibraryGetKernel(&k64_, library_, fused::kKernel64), what_, "cudaLibraryGetKernel");
    checkCuda(cudaLibraryGetKernel(&kVec_, library_, fused::kKernelVec), what_, "cudaLibraryGetKernel");
    // Loads all three into this context now (lazy module loading would at the first
    // launch, maybe inside a stream capture), and checks they suit this GPU.
    cudaFuncAttributes attrs{};
    checkCuda(cudaFuncGetAttributes(&attrs, reinterpret_cast<const void*>(k32_)), what_, "cudaFuncGetAttributes");
    checkCuda(cudaFuncGetAttributes(&attrs, reinterpret_cast<const void*>(k64_)), what_, "cudaFuncGetAttributes");
    checkCuda(cudaFuncGetAttributes(&attrs, reinterpret_cast<const void*>(kVec_)), what_, "cudaFuncGetAttributes");
    int device = 0;
    checkCuda(cudaGetDevice(&device), what_, "cudaGetDevice");
    checkCuda(cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, device), what_, "cudaDeviceGetAttribute");
  }

  std::string what_;
  std::vector<uint8_t> cubin_;  // kept while the library lives
  int numInputs_;
  int elemBytes_;
  cudaLibrary_t library_ = nullptr;
  cudaKernel_t k32_ = nullptr, k64_ = nullptr, kVec_ = nullptr;
  int sms_ = 1;
};

void FusedKernel::enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const {
  KILN_CHECK(library_, what_, ": its NVRTC kernel was never loaded (no GPU when the engine was made)");
  fused::Args a;
  fused::Dims dims[fused::kMaxInputs];
  auto dimsOfView = [](const TensorView& v) {
    fused::Dims d;
    d.rank = v.rank;
    for (int i = 0; i < v.rank; ++i) d.d[i] = v.dims[i];
    return d;
  };
  for (int k = 0; k < numInputs_; ++k) {
    dims[k] = dimsOfView(in[k]);
    a.in[k] = in[k].data;
  }
  fused::planArgs(dimsOfView(out[0]), dims, numInputs_, &a);
  if (a.n == 0) return;
  a.y = out[0].data;
  cudaKernel_t kernel = nullptr;
  int64_t blocks = 0;
  if (fused::vectorizable(a, numInputs_)) {
    blocks = fused::blocksFor(std::max<int64_t>(a.n / (16 / elemBytes_), 1), sms_);
    kernel = kVec_;
  } else {
    blocks = fused::blocksFor(a.n, sms_);
    // 32-bit indices where i + the grid stride cannot overflow.
    kernel = a.n + blocks * fused::kBlock < (int64_t{1} << 31) ? k32_ : k64_;
  }
  void* args[] = {&a};
  checkCuda(cudaLaunchKernel(reinterpret_cast<const void*>(kernel), dim3(static_cast<unsigned>(blocks)),
                             dim3(fused::kBlock), args, 0, streamOf(launch)),
            what_, "cudaLaunchKernel");
}

fused::Chain chainOrFail(const ir::Node& node) {
  fused::Chain c;
  std::string why;
  KILN_CHECK(fused::chainOf(node, &c, &why), node.describe(), ": ", why);
  return c;
}

bool supportsFused(const ir::Node& node) {
  fused::Chain c;
  std::string why;
  return fused::chainOf(node, &c, &why);
}

//! Build time, once the builder chose this tactic: the cubin for the build's GPU into the node.
void prepareFused(ir::Node& node, const backends::DeviceTarget& target) {
  KILN_CHECK(!target.arch.empty(), node.describe(), ": the build GPU's arch is unknown");
  std::vector<uint8_t> cubin = fused::compileCubin(fused::kernelSource(chainOrFail(node)), target.arch, node.describe());
  node.attrs[kCubinAttr] = ir::Tensor(DType::kUINT8, {static_cast<int64_t>(cubin.size())}, cubin.data());
  node.attrs[kArchAttr] = target.arch;
}

std::unique_ptr<backends::DeviceKernel> createFused(const ir::Node& node) {
  fused::Chain chain = chainOrFail(node);
  const std::string here = currentArch();
  std::vector<uint8_t> cubin;
  auto it = node.attrs.find(kCubinAttr);
  if (it == node.attrs.end()) {  // not prepared yet (a timing run at build time): for this GPU
    KILN_CHECK(!here.empty(), node.describe(), ": has no compiled kernel ('", kCubinAttr, "') and no GPU to compile for");
    cubin = fused::compileCubin(fused::kernelSource(chain), here, node.describe());
  } else {
    const ir::Tensor* t = std::get_if<ir::Tensor>(&it->second);
    KILN_CHECK(t && t->dtype() == DType::kUINT8 && t->numel() > 0, node.describe(), ": attribute '", kCubinAttr,
               "' must be a non-empty UINT8 tensor (the NVRTC cubin)");
    const std::string built = node.s(kArchAttr, "");
    KILN_CHECK(here.empty() || built == here, node.describe(), ": its fused kernel was compiled for ",
               built.empty() ? "an unknown arch" : built, ", but this GPU is ", here, "; rebuild the plan on this GPU");
    const uint8_t* bytes = t->as<uint8_t>();
    cubin.assign(bytes, bytes + t->numel());
  }
  return std::make_unique<FusedKernel>(node.describe(), std::move(cubin), chain.numInputs, chain.dtype, !here.empty());
}

}  // namespace

void registerFusedElementwiseTactics(TacticList& out) {
  backends::DeviceTactic t{"KilnFusedElementwise.nvrtc", "KilnFusedElementwise", 0, supportsFused, createFused};
  t.prepare = prepareFused;
  out.push_back(t);
}

}  // namespace kiln::cuda
