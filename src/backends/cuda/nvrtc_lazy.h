// NVRTC is loaded on first use (nvrtc_lazy.cc says why).
#pragma once
#include <string>

namespace kiln::cuda {

//! Why NVRTC cannot be used on this machine (libnvrtc is missing or lacks what
//! Kiln calls), or "" when it loaded. Loads it on the first call.
std::string nvrtcLoadError();

}  // namespace kiln::cuda
