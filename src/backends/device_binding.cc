#include <string>

#include "backends/device.h"
#include "core/error.h"

namespace kiln::backends {

std::string cudaVersionName(int version) { return strCat(version / 1000, ".", version % 1000 / 10); }

std::string libraryVersionName(int64_t version) {
  return strCat(version / 10000, ".", version % 10000 / 100, ".", version % 100);
}

std::string describe(const DeviceTarget& t) {
  std::string out = strCat(t.arch.empty() ? "(no arch)" : t.arch);
  if (!t.name.empty()) out += strCat(" (", t.name, ")");
  out += strCat(", CUDA runtime ", cudaVersionName(t.cudaRuntime), ", cuDNN ", libraryVersionName(t.cudnn),
                ", cuBLASLt ", libraryVersionName(t.cublasLt));
  return out;
}

std::vector<std::string> checkBinding(const DeviceTarget& plan, const HostDevice& host) {
  KILN_CHECK(plan.device == "cuda", "checkBinding: the plan targets '", plan.device, "', not 'cuda'");
  KILN_CHECK(!plan.arch.empty() && plan.cudaRuntime > 0 && plan.cudnn > 0 && plan.cublasLt > 0,
             "malformed CUDA plan: it records no complete target (", describe(plan), ")");
  if (!host.available)
    fail("the plan was built for CUDA ", describe(plan), ", but this machine cannot run it: ", host.unavailable);
  const DeviceTarget& h = host.target;
  if (plan.arch != h.arch)
    fail("the plan was built for CUDA ", plan.arch, " but this GPU is ", h.arch, " (plan: ", describe(plan),
         "; this machine: ", describe(h), "); CUDA plans run only on the SM architecture they were built for: "
         "rebuild the engine on this GPU");
  struct Library {
    const char* what;
    int64_t planVersion, hostVersion, perMajor;
    std::string (*name)(int64_t);
  };
  const Library libs[] = {
      {"CUDA runtime", plan.cudaRuntime, h.cudaRuntime, 1000, [](int64_t v) { return cudaVersionName(int(v)); }},
      {"cuDNN", plan.cudnn, h.cudnn, 10000, libraryVersionName},
      {"cuBLASLt", plan.cublasLt, h.cublasLt, 10000, libraryVersionName},
  };
  std::vector<std::string> warnings;
  for (const Library& l : libs) {
    if (l.planVersion / l.perMajor != l.hostVersion / l.perMajor)
      fail("the plan was built with ", l.what, " ", l.name(l.planVersion), " but this machine has ", l.what, " ",
           l.name(l.hostVersion), " (plan: ", describe(plan), "; this machine: ", describe(h),
           "): rebuild the engine here");
    if (l.planVersion != l.hostVersion)
      warnings.push_back(strCat("the plan was built with ", l.what, " ", l.name(l.planVersion), ", this machine has ",
                                l.name(l.hostVersion), ": tactics were chosen for the other version"));
  }
  return warnings;
}

}  // namespace kiln::backends
