// A shared library opened on first use (dlopen) rather than linked: what
// cublaslt_lazy.cc and nvrtc_lazy.cc build their forwarders on (each file says
// why its library is not linked).
#pragma once
#include <dlfcn.h>

#include <string>

namespace kiln::cuda {

class LazyLibrary {
 public:
  //! Opens `soname` now (once per object: make it a function-local static).
  explicit LazyLibrary(std::string soname) : soname_(std::move(soname)) {
    handle_ = dlopen(soname_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      const char* why = dlerror();
      error_ = "cannot load " + soname_ + ": " + (why ? why : "unknown dlopen error");
    }
  }
  //! The function `name` of the library, or null when the library or the name is missing.
  template <typename F>
  F resolve(const char* name) const {
    return handle_ ? reinterpret_cast<F>(dlsym(handle_, name)) : nullptr;
  }
  //! "" when the library loaded and has every function of `names`, else what is missing.
  template <typename Names>
  std::string check(const Names& names) const {
    if (!handle_) return error_;
    for (const char* name : names)
      if (!resolve<void*>(name)) return soname_ + " has no " + name;
    return "";
  }

 private:
  std::string soname_;
  void* handle_ = nullptr;
  std::string error_;
};

}  // namespace kiln::cuda
