#include "logger.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace kilnexec {

namespace {

const char* tag(kiln::ILogger::Severity s) {
  switch (s) {
    case kiln::ILogger::Severity::kINTERNAL_ERROR: return "[F]";
    case kiln::ILogger::Severity::kERROR: return "[E]";
    case kiln::ILogger::Severity::kWARNING: return "[W]";
    case kiln::ILogger::Severity::kINFO: return "[I]";
    case kiln::ILogger::Severity::kVERBOSE: return "[V]";
  }
  return "[?]";
}

//! trtexec's timestamp: [MM/DD/YYYY-HH:MM:SS].
std::string timestamp() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "[%m/%d/%Y-%H:%M:%S]", &tm);
  return buf;
}

}  // namespace

void Logger::log(Severity severity, const char* msg) noexcept { print(severity, msg ? msg : "", true); }

void Logger::print(Severity severity, const std::string& msg, bool fromLibrary) noexcept {
  if (severity <= Severity::kERROR) ++errors_;
  if (severity > threshold_) return;
  try {
    std::string line = timestamp() + " " + tag(severity) + (fromLibrary ? " [Kiln] " : " ") + msg + "\n";
    std::lock_guard<std::mutex> lock(mutex_);
    std::ostream& os = severity <= Severity::kWARNING ? std::cerr : std::cout;
    os << line << std::flush;
  } catch (...) {
    // Logging must never throw into the library (log() is noexcept).
  }
}

}  // namespace kilnexec
