// Name registries (STYLE 5): datasets, models, objectives, samplers and methods are looked up by name.
// Duplicates are refused; an unknown name fails with the list of known names.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/error.h"

namespace scorelab {

template <typename Factory>
class Registry {
 public:
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  void add(const std::string& name, Factory factory, std::string help = "") {
    if (entries_.count(name)) throw std::logic_error(kind_ + " '" + name + "' is registered twice");
    entries_.emplace(name, Entry{std::move(factory), std::move(help)});
  }

  bool contains(const std::string& name) const { return entries_.count(name) > 0; }

  const Factory& get(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end())
      throw ConfigError("unknown " + kind_ + " '" + name + "'; known: " + known_list());
    return it->second.factory;
  }

  const std::string& help(const std::string& name) const {
    get(name);
    return entries_.at(name).help;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }

  std::string known_list() const {
    std::string out;
    for (const auto& kv : entries_) out += (out.empty() ? "" : ", ") + kv.first;
    return out;
  }

  const std::string& kind() const { return kind_; }

 private:
  struct Entry {
    Factory factory;
    std::string help;
  };
  std::string kind_;
  std::map<std::string, Entry> entries_;
};

// Splits "a,b,c" into names; "all" expands to every registered name.
template <typename Factory>
std::vector<std::string> expand_names(const Registry<Factory>& reg, const std::string& list) {
  std::vector<std::string> out;
  if (list == "all") return reg.names();
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(start, end - start);
    if (!name.empty()) {
      reg.get(name);  // validates
      out.push_back(name);
    }
    start = end + 1;
  }
  if (out.empty()) throw ConfigError("empty " + reg.kind() + " list; known: " + reg.known_list());
  return out;
}

}  // namespace scorelab
