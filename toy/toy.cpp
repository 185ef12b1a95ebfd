#include "toy/toy.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"

namespace scorelab {

const ToyDatasetRegistry& toy_dataset_registry() {
  static const ToyDatasetRegistry reg = [] {
    ToyDatasetRegistry r("dataset");
    r.add("mog", {[] {
      // 25 equal modes on a 5x5 grid with spacing 2 and std 0.1: sharp, well separated modes (a
      // high-Lipschitz density) of the kind where plain autoregressive fits struggle.
      std::vector<double> w, s;
      std::vector<std::vector<double>> m;
      for (int i = -2; i <= 2; ++i)
        for (int j = -2; j <= 2; ++j) {
          w.push_back(1.0);
          m.push_back({2.0 * i, 2.0 * j});
          s.push_back(0.1);
        }
      return GaussianMixture(w, m, s);
    }}, "25 modes on a 5x5 grid (spacing 2, std 0.1)");
    r.add("mog-ring", {[] {
      std::vector<double> w, s;
      std::vector<std::vector<double>> m;
      const double kPi = 3.14159265358979323846;
      for (int k = 0; k < 8; ++k) {
        w.push_back(1.0);
        m.push_back({4.0 * std::cos(2 * kPi * k / 8), 4.0 * std::sin(2 * kPi * k / 8)});
        s.push_back(0.15);
      }
      return GaussianMixture(w, m, s);
    }}, "8 modes on a circle of radius 4 (std 0.15)");
    r.add("mog-weights", {[] {
      return GaussianMixture({0.2, 0.8}, {{-5.0, -5.0}, {5.0, 5.0}}, {1.0, 1.0});
    }}, "NCSN's 0.2 N((-5,-5), I) + 0.8 N((5,5), I)");
    r.add("mog-1d", {[] {
      // Two sharp modes and a broad one: the 1-D illustration of distribution smoothing.
      return GaussianMixture({0.4, 0.4, 0.2}, {{-2.0}, {2.0}, {0.0}}, {0.05, 0.05, 0.5});
    }}, "1-D: 0.4 N(-2, 0.05^2) + 0.4 N(2, 0.05^2) + 0.2 N(0, 0.5^2)");
    r.add("file", {[] { return GaussianMixture({1.0}, {{0.0}}, {1.0}); }, /*from_file=*/true},
          "a mixture from --mixture FILE (JSON)");
    return r;
  }();
  return reg;
}

GaussianMixture load_mixture_file(const std::string& path) {
  nlohmann::json j = read_json(path);
  auto need = [&](const char* key) -> const nlohmann::json& {
    if (!j.is_object() || !j.contains(key))
      throw DataError("mixture file '" + path + "': missing key \"" + key +
                      "\"; expected {\"weights\": [...], \"means\": [[...]], \"stds\": [...]}");
    return j.at(key);
  };
  try {
    auto w = need("weights").get<std::vector<double>>();
    auto m = need("means").get<std::vector<std::vector<double>>>();
    auto s = need("stds").get<std::vector<double>>();
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "weights" && it.key() != "means" && it.key() != "stds")
        throw DataError("mixture file '" + path + "': unknown key \"" + it.key() + "\"; allowed: weights, means, stds");
    return GaussianMixture(w, m, s);
  } catch (const nlohmann::json::exception& e) {
    throw DataError("mixture file '" + path + "': wrong type (" + e.what() + "); weights and stds are number lists, means a list of number lists");
  } catch (const ConfigError& e) {
    throw DataError("mixture file '" + path + "': " + e.what());
  }
}

GaussianMixture make_toy_dataset(const std::string& name, const std::string& mixture_file) {
  if ((!name.empty() && toy_dataset_registry().get(name).from_file) || (!mixture_file.empty() && name.empty())) {
    if (mixture_file.empty()) throw ConfigError("flag --dataset: '" + name + "' needs --mixture FILE (a JSON mixture)");
    return load_mixture_file(mixture_file);
  }
  return toy_dataset_registry().get(name)();
}

}  // namespace scorelab
