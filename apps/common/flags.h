// Range and finiteness checks for the programs' numeric and list flags, in one place:
// attach one to a CLI11 option (->check(flags::integer(1, 1000))) and a bad value is
// refused with a message naming the flag; check() applies the same test to a value read
// from elsewhere (a config.json key).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace odegan::app::flags {

// Upper bound of step counts and "every N steps" flags (beyond it a typo, not a plan).
constexpr int64_t kMaxSteps = 1'000'000'000'000;

CLI::Validator integer(int64_t lo, int64_t hi);  // a base-10 integer in [lo, hi]
// A finite number in [lo, hi]; open_lo / open_hi exclude the bound.
CLI::Validator real(double lo, double hi, bool open_lo = false, bool open_hi = false);
CLI::Validator positive();     // finite and > 0
CLI::Validator nonnegative();  // finite and >= 0
CLI::Validator list();         // comma-separated, at least one item, no empty item
CLI::Validator integer_list(int64_t lo, int64_t hi);

// Splits a comma-separated list (validated by list()).
std::vector<std::string> split(const std::string& s);
// Parses a comma-separated list of integers, naming `flag` in errors.
std::vector<int64_t> parse_integers(const std::string& s, const std::string& flag, int64_t lo, int64_t hi);
// Applies a validator to `text`; throws odegan::Error "<name>: <what is wrong>".
void check(const CLI::Validator& v, const std::string& name, std::string text);

}  // namespace odegan::app::flags
