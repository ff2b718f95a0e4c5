// libFuzzer entry point of one target (ODEGAN_FUZZ_TARGET, set by CMake); at exit it
// prints how many inputs were accepted and how many refused with a clear error.
#include <cstdio>

#include "tests/fuzz/fuzz_targets.h"

#ifndef ODEGAN_FUZZ_TARGET
#error "ODEGAN_FUZZ_TARGET must name the target"
#endif

namespace {
struct Counts {
  size_t good = 0, weak = 0;
  ~Counts() {
    std::fprintf(stderr, "odegan-fuzz %s: good %zu weak %zu\n", ODEGAN_FUZZ_TARGET, good, weak);
  }
} counts;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
#ifdef ODEGAN_FUZZ_APP_TARGET
  static const odegan::fuzz::Target& t = odegan::fuzz::find_target(odegan::fuzz::app_targets(), ODEGAN_FUZZ_TARGET);
#else
  static const odegan::fuzz::Target& t = odegan::fuzz::find_target(odegan::fuzz::parser_targets(), ODEGAN_FUZZ_TARGET);
#endif
  if (t.run(data, size) == odegan::fuzz::Outcome::good)
    ++counts.good;
  else
    ++counts.weak;
  return 0;
}
