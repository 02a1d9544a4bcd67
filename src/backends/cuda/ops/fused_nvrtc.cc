// NVRTC compilation of the fused elementwise kernels (fused_codegen.h compileCubin).
#include <nvrtc.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "backends/cuda/nvrtc_lazy.h"
#include "backends/cuda/ops/fused_codegen.h"
#include "core/error.h"

namespace kiln::cuda::fused {
namespace {

std::atomic<int64_t> compilations{0};

//! Destroys the program however compilation ends.
struct Program {
  nvrtcProgram p = nullptr;
  ~Program() {
    if (p) nvrtcDestroyProgram(&p);
  }
};

std::string logOf(nvrtcProgram p) {
  std::size_t size = 0;
  if (nvrtcGetProgramLogSize(p, &size) != NVRTC_SUCCESS || size <= 1) return "";
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(p, log.data()) != NVRTC_SUCCESS) return "";
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

std::vector<uint8_t> compile(const std::string& source, const std::string& arch, const std::string& what) {
  std::string why = nvrtcLoadError();
  KILN_CHECK(why.empty(), what, ": compiling its fused kernel needs NVRTC: ", why);
  ++compilations;
  Program prog;
  nvrtcResult r = nvrtcCreateProgram(&prog.p, source.c_str(), "kiln_fused_elementwise.cu", 0, nullptr, nullptr);
  KILN_CHECK(r == NVRTC_SUCCESS, what, ": nvrtcCreateProgram failed (", nvrtcGetErrorString(r), ")");
  // A real arch (sm_XX, not compute_XX): NVRTC then emits a cubin, no PTX JIT at load time.
  const std::string archOption = "--gpu-architecture=" + arch;
  const char* options[] = {archOption.c_str(), "--std=c++17"};
  r = nvrtcCompileProgram(prog.p, 2, options);
  if (r != NVRTC_SUCCESS)
    fail(what, ": NVRTC could not compile its fused kernel for ", arch, " (", nvrtcGetErrorString(r), "):\n",
         logOf(prog.p));
  std::size_t size = 0;
  r = nvrtcGetCUBINSize(prog.p, &size);
  KILN_CHECK(r == NVRTC_SUCCESS && size > 0, what, ": NVRTC produced no cubin for ", arch, " (",
             nvrtcGetErrorString(r), ")");
  std::vector<uint8_t> cubin(size);
  r = nvrtcGetCUBIN(prog.p, reinterpret_cast<char*>(cubin.data()));
  KILN_CHECK(r == NVRTC_SUCCESS, what, ": nvrtcGetCUBIN failed (", nvrtcGetErrorString(r), ")");
  return cubin;
}

}  // namespace

int64_t nvrtcCompilations() { return compilations.load(); }

std::vector<uint8_t> compileCubin(const std::string& source, const std::string& arch, const std::string& what) {
  // Bounded: a build has a handful of distinct chains; a long-lived process
  // building many networks starts over rather than growing without end.
  constexpr std::size_t kMaxEntries = 256;
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const std::vector<uint8_t>>> cache;
  const std::string key = arch + '\n' + source;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return *it->second;
  }
  // Compiled outside the lock: NVRTC takes ~100 ms; two threads may both compile one key (same bytes).
  auto cubin = std::make_shared<const std::vector<uint8_t>>(compile(source, arch, what));
  std::lock_guard<std::mutex> lock(mutex);
  if (cache.size() >= kMaxEntries) cache.clear();
  cache.emplace(key, cubin);
  return *cubin;
}

}  // namespace kiln::cuda::fused
