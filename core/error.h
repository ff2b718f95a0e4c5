// Errors: one exception type carrying the failing call and file:line, and checks that throw it.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace odegan {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] void throw_error(const std::string& msg, const char* file, int line);

template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace odegan

// ODEGAN_CHECK(cond, "message parts", ...): throws odegan::Error("message (file:line)").
#define ODEGAN_CHECK(cond, ...)                                                            \
  do {                                                                                     \
    if (!(cond))                                                                           \
      ::odegan::detail::throw_error(::odegan::detail::concat(__VA_ARGS__), __FILE__, __LINE__); \
  } while (0)

#define ODEGAN_FAIL(...) ::odegan::detail::throw_error(::odegan::detail::concat(__VA_ARGS__), __FILE__, __LINE__)
