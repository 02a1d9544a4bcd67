// Device binding: a GPU plan is bound to the hardware and libraries it was
// built for (TensorRT engines are too). The plan records a DeviceTarget; the
// runtime compares it with the machine's (HostDevice) before loading anything.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::backends {

//! What a GPU plan was built for, or what this machine's GPU offers (same fields).
struct DeviceTarget {
  std::string device;    //!< "cuda"
  std::string arch;      //!< SM architecture, "sm_90"
  std::string name;      //!< the GPU's name ("NVIDIA H100 80GB HBM3"); informational
  int cudaRuntime = 0;   //!< cudaRuntimeGetVersion(): 13000 is 13.0
  int64_t cudnn = 0;     //!< cudnnGetVersion(): 92600 is 9.26.0
  int64_t cublasLt = 0;  //!< cublasLtGetVersion(): 130100 is 13.1.0
};

//! This machine's GPU as the CUDA backend sees it.
struct HostDevice {
  bool available = false;
  std::string unavailable;  //!< one line: why there is no usable GPU
  DeviceTarget target;      //!< meaningful when available
};

//! "sm_90" from compute capability 9.0 (inline: the CUDA backend, below kiln_backends, uses it).
inline std::string archName(int major, int minor) { return "sm_" + std::to_string(major) + std::to_string(minor); }
//! "13.0" from 13000 (CUDA runtime versions).
std::string cudaVersionName(int version);
//! "9.26.0" from 92600 (cuDNN 9 / cuBLASLt versions: major*10000 + minor*100 + patch).
std::string libraryVersionName(int64_t version);
//! One line naming the arch, GPU and library versions of `t`.
std::string describe(const DeviceTarget& t);

//! Throws kiln::Error naming both sides when a plan bound to `plan` cannot run
//! on `host`: no usable GPU, another SM arch, another CUDA runtime, cuDNN or
//! cuBLASLt major version, or a plan that records no versions. Returns warnings
//! (one line each) for differences that still run: library minor versions.
std::vector<std::string> checkBinding(const DeviceTarget& plan, const HostDevice& host);

}  // namespace kiln::backends
