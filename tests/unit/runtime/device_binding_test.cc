// A CUDA plan is bound to its SM arch and library versions: checkBinding's
// verdicts on crafted targets, and Engine::load's error for a CUDA plan on
// this machine (one without a usable GPU here, or with another arch: both
// errors name the plan's target). No GPU is needed for any of these.
#include <gtest/gtest.h>

#include "backends/backend.h"
#include "backends/device.h"
#include "core/error.h"
#include "plan/plan.h"
#include "runtime/engine.h"

namespace kiln {
namespace {

using backends::DeviceTarget;
using backends::HostDevice;

DeviceTarget h100() { return {"cuda", "sm_90", "NVIDIA H100 80GB HBM3", 13000, 92600, 130100}; }

HostDevice hostWith(DeviceTarget t) {
  HostDevice h;
  h.available = true;
  h.target = std::move(t);
  return h;
}

std::string bindingError(const DeviceTarget& plan, const HostDevice& host) {
  try {
    backends::checkBinding(plan, host);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expectContains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "\"" << part << "\" not in: " << text;
}

TEST(DeviceBinding, SameTargetLoadsWithoutWarnings) {
  EXPECT_TRUE(backends::checkBinding(h100(), hostWith(h100())).empty());
}

TEST(DeviceBinding, NoGpuNamesThePlanTargetAndTheReason) {
  HostDevice none;
  none.unavailable = "no CUDA device is present (cudaGetDeviceCount returned 0)";
  std::string e = bindingError(h100(), none);
  expectContains(e, "built for CUDA sm_90 (NVIDIA H100 80GB HBM3), CUDA runtime 13.0, cuDNN 9.26.0, cuBLASLt 13.1.0");
  expectContains(e, "cudaGetDeviceCount returned 0");
}

TEST(DeviceBinding, OtherArchNamesBoth) {
  DeviceTarget a100 = h100();
  a100.arch = "sm_80";
  a100.name = "NVIDIA A100-SXM4-80GB";
  std::string e = bindingError(h100(), hostWith(a100));
  expectContains(e, "built for CUDA sm_90 but this GPU is sm_80");
  expectContains(e, "NVIDIA H100 80GB HBM3");
  expectContains(e, "NVIDIA A100-SXM4-80GB");
  expectContains(e, "rebuild the engine");
}

TEST(DeviceBinding, LibraryMajorVersionsMustMatch) {
  DeviceTarget host = h100();
  host.cudaRuntime = 12080;
  expectContains(bindingError(h100(), hostWith(host)), "CUDA runtime 13.0 but this machine has CUDA runtime 12.8");
  host = h100();
  host.cudnn = 80907;
  expectContains(bindingError(h100(), hostWith(host)), "cuDNN 9.26.0 but this machine has cuDNN 8.9.7");
  host = h100();
  host.cublasLt = 120902;
  expectContains(bindingError(h100(), hostWith(host)), "cuBLASLt 13.1.0 but this machine has cuBLASLt 12.9.2");
}

TEST(DeviceBinding, MinorVersionDifferencesWarn) {
  DeviceTarget host = h100();
  host.cudnn = 92700;
  host.cudaRuntime = 13010;
  std::vector<std::string> w = backends::checkBinding(h100(), hostWith(host));
  ASSERT_EQ(w.size(), 2u);
  expectContains(w[0], "CUDA runtime 13.0, this machine has 13.1");
  expectContains(w[1], "cuDNN 9.26.0, this machine has 9.27.0");
}

TEST(DeviceBinding, IncompleteTargetIsMalformed) {
  DeviceTarget t = h100();
  t.cudnn = 0;
  expectContains(bindingError(t, hostWith(h100())), "malformed CUDA plan");
  t = h100();
  t.arch.clear();
  expectContains(bindingError(t, hostWith(h100())), "malformed CUDA plan");
}

TEST(DeviceBinding, VersionNames) {
  EXPECT_EQ(backends::archName(8, 9), "sm_89");
  EXPECT_EQ(backends::cudaVersionName(12040), "12.4");
  EXPECT_EQ(backends::libraryVersionName(90100), "9.1.0");
}

//! A one-layer plan (y = Relu(x)) for `device` / `arch`, with a CUDA target.
std::vector<uint8_t> reluPlan(const std::string& device, const std::string& arch) {
  plan::PlanContents p;
  p.meta.kilnVersion = "0.1.0";
  p.meta.device = device;
  p.meta.isa = arch;
  p.meta.deviceName = "Imaginary GPU";
  p.meta.cudaRuntimeVersion = 13000;
  p.meta.cudnnVersion = 92600;
  p.meta.cublasLtVersion = 130100;
  p.graph = std::make_unique<ir::Graph>();
  ir::Value* x = p.graph->addValue("x", DType::kFLOAT, {4});
  ir::Value* y = p.graph->addValue("y", DType::kFLOAT, {4});
  p.graph->inputs.push_back(x);
  p.graph->outputs.push_back(y);
  p.graph->addNode("Relu", "relu", {x}, {y})->tactic = "Relu.cuda";
  return plan::writePlan(p);
}

std::string loadError(const std::vector<uint8_t>& bytes) {
  try {
    runtime::Engine::load(bytes.data(), bytes.size());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DeviceBinding, CudaPlanForAnotherMachineIsRefusedOnLoad) {
  // sm_1 exists nowhere: with a GPU this is the arch error, without one the no-GPU error.
  std::string e = loadError(reluPlan("cuda", "sm_1"));
  expectContains(e, "sm_1");
  HostDevice host = backends::cudaHost();
  if (host.available) {
    expectContains(e, "but this GPU is " + host.target.arch);
  } else {
    expectContains(e, "this machine cannot run it: " + host.unavailable);
  }
}

TEST(DeviceBinding, UnknownDeviceIsRefused) {
  expectContains(loadError(reluPlan("tpu", "v5")), "plan was built for device 'tpu'");
}

}  // namespace
}  // namespace kiln
