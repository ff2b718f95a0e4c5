// Fuzz targets: each feeds bytes to one parser the way the apps do and says whether the
// input was accepted (good) or refused with an odegan::Error naming the input (weak).
// Anything else is a bug: another exception escaping (e.g. a raw JSON or bad_alloc
// error), a refusal that does not name the input, a crash or a sanitizer report. The
// libFuzzer programs (fuzz_<target>, -DODEGAN_FUZZ=ON with clang) and the replay test
// over the committed corpora and crash files (test_fuzz, always built) share them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"

namespace odegan::fuzz {

enum class Outcome { good, weak };

struct Target {
  const char* name;
  Outcome (*run)(const uint8_t* data, size_t size);
};

// The parsers' targets (safetensors, idx, idx_gzip, cifar10, image): they need only
// core/, kernels/ and data/ (fuzz_targets.cpp).
const std::vector<Target>& parser_targets();
// The apps' targets (config, checkpoint): they need the whole library (fuzz_app_targets.cpp).
const std::vector<Target>& app_targets();
// The target called `name` in `targets`; throws std::invalid_argument when there is none.
const Target& find_target(const std::vector<Target>& targets, const std::string& name);

// What inputs are called in messages; a refusal must contain it.
constexpr const char* kInputName = "fuzz-input";

// Runs f: good when it returns, weak when it throws an odegan::Error naming the input;
// any other exception (or a refusal that does not name the input) propagates: a finding.
template <class F>
Outcome guarded(F&& f) {
  try {
    f();
    return Outcome::good;
  } catch (const Error& e) {
    if (std::strstr(e.what(), kInputName) == nullptr)
      throw std::logic_error(std::string("a refusal that does not name the input: ") + e.what());
    return Outcome::weak;
  }
}

}  // namespace odegan::fuzz
