// cuBLASLt is loaded on first use (cublaslt_lazy.cc says why).
#pragma once
#include <string>

namespace kiln::cuda {

//! Why cuBLASLt cannot be used on this machine (the library is missing or
//! lacks what Kiln calls), or "" when it loaded. Loads it on the first call.
std::string cublasLtLoadError();

}  // namespace kiln::cuda
