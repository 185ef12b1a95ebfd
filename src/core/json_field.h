// Reading a config back from JSON: a key that is present and not null overwrites the field, else the
// field keeps its default (configs written by older builds lack newer keys).
#pragma once
#include <nlohmann/json.hpp>

namespace scorelab {

template <typename T>
void read_json_field(const nlohmann::json& j, const char* key, T& field) {
  if (j.contains(key) && !j.at(key).is_null()) field = j.at(key).get<T>();
}

}  // namespace scorelab
