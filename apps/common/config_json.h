// Config structs and config.json. Each struct lists its JSON fields once, with
// nlohmann-json's macro after the struct:
//   NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MyConfig, steps, h, method, quality)
// which gives to_json and from_json (a missing key keeps the struct's default). Before
// from_json, check_config_json checks the object against the defaults, so that a bad
// config.json is an odegan::Error naming the file and the key, never a JSON exception.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace odegan::app {

// Called for every number present, with its key ("steps", "quality.every"): throws if
// the value is out of range (the flags' validators, apps/common/flags.h).
using ConfigRangeCheck = std::function<void(const std::string& key, const nlohmann::json& value)>;

// Every key of `defaults` present in `j` must have its JSON kind: true/false, a string,
// an integer (for integer fields), a number, or an object (checked likewise, keys
// "outer.inner"). Other keys are ignored. `source` names the file in errors.
void check_config_json(const nlohmann::json& j, const nlohmann::json& defaults, const std::string& source,
                       const ConfigRangeCheck& range = {});

// The checked read: check_config_json against C{}'s fields, then nlohmann's from_json.
template <class C>
C config_from_json(const nlohmann::json& j, const std::string& source, const ConfigRangeCheck& range = {}) {
  check_config_json(j, nlohmann::json(C{}), source, range);
  return j.get<C>();
}

}  // namespace odegan::app
