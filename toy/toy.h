// The toy data sets of the 2-D / 1-D lab: named Gaussian mixtures and user mixtures from JSON files.
#pragma once
#include <functional>
#include <string>

#include "core/registry.h"
#include "data/mixture.h"

namespace scorelab {

// A toy data set: its mixture, or (from_file) a placeholder whose mixture comes from --mixture FILE.
struct ToyDatasetSpec {
  std::function<GaussianMixture()> make;
  bool from_file = false;
  GaussianMixture operator()() const { return make(); }
};
using ToyDatasetRegistry = Registry<ToyDatasetSpec>;

// mog (5x5 grid of sharp modes), mog-ring, mog-weights (NCSN's 0.2/0.8 pair), mog-1d.
const ToyDatasetRegistry& toy_dataset_registry();

// A mixture from a JSON file {"weights": [...], "means": [[...], ...], "stds": [...]}; DataError or
// ConfigError naming the file and the offending key.
GaussianMixture load_mixture_file(const std::string& path);

// `name` from the registry, or the mixture in `mixture_file` for the from_file entry ("file").
GaussianMixture make_toy_dataset(const std::string& name, const std::string& mixture_file = "");

}  // namespace scorelab
