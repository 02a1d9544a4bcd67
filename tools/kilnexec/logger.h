// kilnexec: trtexec-style log lines. Kiln's own messages are tagged [Kiln]
// where trtexec's read [TRT]; errors and warnings go to stderr, the rest to
// stdout, as in TensorRT's sample logger.
#pragma once
#include <atomic>
#include <mutex>
#include <string>

#include "kiln/types.h"
#include "options.h"

namespace kilnexec {

class Logger final : public kiln::ILogger {
 public:
  explicit Logger(Severity threshold) : threshold_(threshold) {}

  //! Messages from the library (builder, parser, runtime).
  void log(Severity severity, const char* msg) noexcept override;

  //! kilnexec's own messages.
  void info(const std::string& msg) { print(Severity::kINFO, msg, false); }
  void verbose(const std::string& msg) { print(Severity::kVERBOSE, msg, false); }
  void warning(const std::string& msg) { print(Severity::kWARNING, msg, false); }
  void error(const std::string& msg) { print(Severity::kERROR, msg, false); }

  //! Errors printed so far; a step that fails without having printed one
  //! prints its own reason.
  int errorCount() const { return errors_.load(); }
  bool verboseEnabled() const { return threshold_ >= Severity::kVERBOSE; }

 private:
  void print(Severity severity, const std::string& msg, bool fromLibrary) noexcept;

  Severity threshold_;
  std::mutex mutex_;
  std::atomic<int> errors_{0};
};

//! Ends a failed step: throws ToolError(reason), or an empty ToolError when the
//! library already logged an error since `errorsBefore` (one reason, one line).
[[noreturn]] inline void failStep(const Logger& logger, int errorsBefore, const std::string& reason) {
  throw ToolError(logger.errorCount() > errorsBefore ? "" : reason);
}

}  // namespace kilnexec
