#include "apps/common/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/error.h"

namespace odegan::app::flags {

namespace {

// Strict base 10 (CLI11 itself reads "010" as octal and clamps out-of-range values).
bool parse_integer(const std::string& s, int64_t& out) {
  size_t i = s.size() > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size() || (s[i] == '0' && i + 1 < s.size())) return false;
  for (size_t k = i; k < s.size(); ++k)
    if (s[k] < '0' || s[k] > '9') return false;
  errno = 0;
  out = std::strtoll(s.c_str(), nullptr, 10);
  return errno == 0;
}

std::string range_text(int64_t lo, int64_t hi) {
  return "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

}  // namespace

CLI::Validator integer(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        int64_t v = 0;
        if (!parse_integer(s, v) || v < lo || v > hi)
          return "must be a base-10 integer in " + range_text(lo, hi) + ", got '" + s + "'";
        return "";
      },
      "INT in " + range_text(lo, hi));
}

CLI::Validator real(double lo, double hi, bool open_lo, bool open_hi) {
  std::ostringstream desc;
  desc << "a finite number in " << (open_lo ? "(" : "[") << lo << ", " << hi << (open_hi ? ")" : "]");
  const std::string d = desc.str();
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = s.empty() ? NAN : std::strtod(s.c_str(), &end);
        const bool ok = !s.empty() && *end == '\0' && std::isfinite(v) && (open_lo ? v > lo : v >= lo) &&
                        (open_hi ? v < hi : v <= hi);
        return ok ? "" : "must be " + d + ", got '" + s + "'";
      },
      d);
}

CLI::Validator positive() { return real(0, HUGE_VAL, true, true); }
CLI::Validator nonnegative() { return real(0, HUGE_VAL, false, true); }

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  if (!s.empty() && s.back() == ',') out.push_back("");
  return out;
}

CLI::Validator list() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const std::vector<std::string> items = split(s);
        if (items.empty()) return "must be a comma-separated list of at least one item, got ''";
        for (const std::string& item : items)
          if (item.empty()) return "must not contain an empty item, got '" + s + "'";
        return "";
      },
      "LIST");
}

CLI::Validator integer_list(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        std::string err = list()(s);
        if (!err.empty()) return err;
        for (const std::string& item : split(s)) {
          int64_t v = 0;
          if (!parse_integer(item, v) || v < lo || v > hi)
            return "items must be integers in " + range_text(lo, hi) + ", got '" + item + "'";
        }
        return "";
      },
      "INT,...");
}

std::vector<int64_t> parse_integers(const std::string& s, const std::string& flag, int64_t lo, int64_t hi) {
  check(integer_list(lo, hi), flag, s);
  std::vector<int64_t> out;
  for (const std::string& item : split(s)) {
    int64_t v = 0;
    parse_integer(item, v);
    out.push_back(v);
  }
  return out;
}

void check(const CLI::Validator& v, const std::string& name, std::string text) {
  const std::string err = v(text);
  ODEGAN_CHECK(err.empty(), name, ": ", err);
}

}  // namespace odegan::app::flags
