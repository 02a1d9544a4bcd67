// The API boundary: public entry points never let an exception out; they log
// it through the user's ILogger and return null/false, as TensorRT does.
#pragma once
#include <exception>
#include <new>
#include <cstdint>
#include <string>
#include <vector>

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
//! Takes the builder's buffer without a copy: a plan holds the weights, hundreds of MB.
class HostMemory : public IHostMemory {
 public:
  explicit HostMemory(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  explicit HostMemory(const std::string& bytes) : bytes_(bytes.begin(), bytes.end()) {}
  HostMemory(const void* data, std::size_t size)
      : bytes_(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + size) {}
  void* data() const noexcept override { return const_cast<uint8_t*>(bytes_.data()); }
  std::size_t size() const noexcept override { return bytes_.size(); }
  DataType type() const noexcept override { return DataType::kUINT8; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace kiln::api
