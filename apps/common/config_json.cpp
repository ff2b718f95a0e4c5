#include "apps/common/config_json.h"

#include "core/error.h"

namespace odegan::app {
namespace {

void check_object(const nlohmann::json& j, const nlohmann::json& defaults, const std::string& source,
                  const std::string& prefix, const ConfigRangeCheck& range) {
  ODEGAN_CHECK(j.is_object(), source, prefix.empty() ? std::string() : ": key '" + prefix.substr(0, prefix.size() - 1) + "'",
               ": expected a JSON object, got ", j.type_name());
  for (const auto& [key, def] : defaults.items()) {
    if (!j.contains(key)) continue;
    const nlohmann::json& v = j.at(key);
    const std::string name = prefix + key;
    auto bad = [&](const char* expected) {
      ODEGAN_FAIL(source, ": key '", name, "' must be ", expected, ", got ", v.dump());
    };
    if (def.is_boolean()) {
      if (!v.is_boolean()) bad("true or false");
    } else if (def.is_string()) {
      if (!v.is_string()) bad("a string");
    } else if (def.is_number_integer()) {  // signed or unsigned
      if (!v.is_number_integer()) bad("an integer");
      if (range) range(name, v);
    } else if (def.is_number()) {
      if (!v.is_number()) bad("a number");
      if (range) range(name, v);
    } else if (def.is_object()) {
      check_object(v, def, source, name + ".", range);
    }
  }
}

}  // namespace

void check_config_json(const nlohmann::json& j, const nlohmann::json& defaults, const std::string& source,
                       const ConfigRangeCheck& range) {
  check_object(j, defaults, source, "", range);
}

}  // namespace odegan::app
