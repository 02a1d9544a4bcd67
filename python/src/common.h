// Shared pieces of the Python bindings (module kiln._kiln). The bindings sit on
// the public C++ API (include/kiln) only: they add Python lifetimes, buffer
// checks and exceptions, never a second implementation.
//
// Lifetimes: every C++ object the API hands out is held by a shared_ptr; a
// Python wrapper holds one reference, and whatever depends on the object
// (tensors on their network, contexts on their engine, profiles on their
// builder) holds another. Leaving a `with` block drops only the wrapper's own
// reference, so later calls on that wrapper raise instead of touching freed
// memory, while dependents keep working.
#pragma once
#include <nanobind/nanobind.h>

#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/kiln.h"

namespace nb = nanobind;

namespace kiln::py {

//! Base Python exception of the package (kiln.KilnError, a RuntimeError).
struct KilnError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

//! Collects the kERROR/kINTERNAL_ERROR messages logged on this thread while it
//! lives, so that a failing call can raise with the logger's message.
class ErrorScope {
 public:
  ErrorScope();
  ~ErrorScope();
  ErrorScope(const ErrorScope&) = delete;
  ErrorScope& operator=(const ErrorScope&) = delete;
  //! The messages, one a line; `fallback` when none was logged.
  std::string message(const std::string& fallback) const;
  bool empty() const { return messages_.empty(); }
  static void record(const char* msg);

 private:
  std::vector<std::string> messages_;
  ErrorScope* outer_;
};

//! Sits between the C++ API and the user's logger (a kiln.Logger or a Python
//! subclass of kiln.ILogger, kept alive here): records errors for ErrorScope,
//! then forwards.
class LoggerBridge final : public ILogger {
 public:
  LoggerBridge(nb::object owner, ILogger* target) : owner_(std::move(owner)), target_(target) {}
  ~LoggerBridge() override;
  void log(Severity severity, const char* msg) noexcept override;
  nb::object owner() const { return owner_; }

 private:
  nb::object owner_;
  ILogger* target_;
};
using LoggerPtr = std::shared_ptr<LoggerBridge>;
LoggerPtr makeBridge(nb::handle logger);

//! Raises KilnError("<what>: <logged errors>") — for calls that failed.
[[noreturn]] void raise(const ErrorScope& scope, const std::string& what);

//! A C string from the API as std::string ("" for null).
inline std::string str(const char* s) { return s ? s : ""; }

//! Throws nb::value_error / type_error with a message.
[[noreturn]] void valueError(const std::string& msg);
[[noreturn]] void typeError(const std::string& msg);

//! Runs f(); raises KilnError("<what>: <message>") when it logged an error.
template <class F>
auto checked(const char* what, F&& f) {
  ErrorScope scope;
  if constexpr (std::is_void_v<decltype(f())>) {
    f();
    if (!scope.empty()) raise(scope, what);
  } else {
    auto r = f();
    if (!scope.empty()) raise(scope, what);
    return r;
  }
}

//! A wrapper's hold on its object; `get` raises once the object was freed.
template <class T>
struct Held {
  std::shared_ptr<T> ptr;
  const char* kind = "object";
  T* get() const {
    if (!ptr) throw KilnError(std::string(kind) + " has been freed (its `with` block ended); create a new one");
    return ptr.get();
  }
  void free() { ptr.reset(); }
};

//! A read-only contiguous view of any object with the buffer protocol
//! (bytes, bytearray, memoryview, numpy arrays, kiln.IHostMemory).
class BufferView {
 public:
  BufferView(nb::handle obj, const char* what);
  ~BufferView();
  BufferView(const BufferView&) = delete;
  BufferView& operator=(const BufferView&) = delete;
  const void* data() const { return view_.buf; }
  std::size_t size() const { return static_cast<std::size_t>(view_.len); }

 private:
  Py_buffer view_{};
};

//! A layer-API weights argument (kiln.Weights, a numpy array, or None = empty).
//! The values stay valid while `obj` is alive.
Weights toWeights(nb::handle obj, const char* what);
//! Wraps an IHostMemory the caller owns (None for null).
nb::object hostMemoryObject(IHostMemory* mem);

//! Python sequence of ints <-> Dims (kiln.Dims converts implicitly from tuples and lists).
Dims dimsFrom(const std::vector<int64_t>& v, const char* what);
std::vector<int64_t> dimsToVector(const Dims& d);

// Registration, one function per file.
void bindTypes(nb::module_& m);
void bindNetwork(nb::module_& m);
void bindBuilder(nb::module_& m);
void bindParser(nb::module_& m);
void bindRuntime(nb::module_& m);
void bindPlugins(nb::module_& m);

}  // namespace kiln::py
