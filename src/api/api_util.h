// The API boundary: public entry points never let an exception out; they log
// it through the user's ILogger and return null/false, as TensorRT does.
#pragma once
#include <exception>
#include <new>
#include <string>

#include "core/error.h"
#include "kiln/types.h"

namespace kiln::api {

inline void logMessage(ILogger* logger, ILogger::Severity s, const std::string& msg) {
  if (logger) logger->log(s, msg.c_str());
}

//! Runs fn(); on an exception logs "<where>: <reason>" at kERROR and returns `onError`.
template <typename R, typename Fn>
R guarded(ILogger* logger, const char* where, R onError, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    logMessage(logger, ILogger::Severity::kERROR, strCat(where, ": out of memory"));
  } catch (const std::exception& e) {
    logMessage(logger, ILogger::Severity::kERROR, strCat(where, ": ", e.what()));
  } catch (...) {
    logMessage(logger, ILogger::Severity::kINTERNAL_ERROR, strCat(where, ": unknown internal error"));
  }
  return onError;
}

//! A block of bytes owned by Kiln, handed to the user as IHostMemory.
class HostMemory : public IHostMemory {
 public:
  explicit HostMemory(std::string bytes) : bytes_(std::move(bytes)) {}
  void* data() const noexcept override { return const_cast<char*>(bytes_.data()); }
  std::size_t size() const noexcept override { return bytes_.size(); }
  DataType type() const noexcept override { return DataType::kUINT8; }

 private:
  std::string bytes_;
};

}  // namespace kiln::api
