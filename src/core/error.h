// Errors inside Kiln are exceptions of type kiln::Error; the public API
// catches them at its boundary and reports them through ILogger (no exception
// ever crosses the API). Messages say what and where.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
inline void appendAll(std::ostringstream&) {}
template <typename T, typename... Rest>
void appendAll(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  appendAll(os, rest...);
}
}  // namespace detail

//! Concatenates its arguments with operator<<.
template <typename... Args>
std::string strCat(const Args&... args) {
  std::ostringstream os;
  detail::appendAll(os, args...);
  return os.str();
}

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(strCat(args...));
}

#define KILN_CHECK(cond, ...)                 \
  do {                                        \
    if (!(cond)) ::kiln::fail(__VA_ARGS__);   \
  } while (0)

}  // namespace kiln
