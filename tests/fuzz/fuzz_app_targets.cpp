#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "apps/common/image_gan.h"
#include "core/error.h"
#include "tests/fuzz/fuzz_targets.h"

namespace odegan::fuzz {

namespace {

using json = nlohmann::json;

Outcome guarded_config(const uint8_t* d, size_t n) {
  try {
    json j;
    try {
      j = json::parse(d, d + n);
    } catch (const json::exception& e) {
      ODEGAN_FAIL("'", kInputName, "' is not valid JSON: ", e.what());
    }
    (void)app::ImageGanConfig::from_json(j);
    return Outcome::good;
  } catch (const Error& e) {
    if (std::strstr(e.what(), kInputName) == nullptr)
      throw std::logic_error(std::string("a refusal that does not name the input: ") + e.what());
    return Outcome::weak;
  }
}

}  // namespace

// config.json as odegan_sample and --resume read it: JSON text, then the config.
const std::vector<Target>& app_targets() {
  static const std::vector<Target> all = {{"config", guarded_config}};
  return all;
}

}  // namespace odegan::fuzz
