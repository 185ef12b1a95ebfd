#include "data/source.h"

#include <algorithm>

#include "core/cli.h"
#include "core/error.h"
#include "data/datasets.h"
#include "toy/toy.h"

namespace scorelab {

std::vector<std::string> data_source_names() {
  std::vector<std::string> out = toy_dataset_registry().names();
  for (const auto& d : image_datasets()) out.push_back(d.name);
  return out;
}

bool is_data_source(const std::string& name) {
  const auto names = data_source_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

DataSource data_source(const std::string& given, const std::string& mixture_file) {
  const std::string name = given.empty() ? "mog" : given;
  DataSource s;
  s.name = name;
  if (toy_dataset_registry().contains(name)) {
    const ToyDatasetSpec& spec = toy_dataset_registry().get(name);
    s.kind = DataKind::Mixture;
    s.help = toy_dataset_registry().help(name);
    s.from_file = spec.from_file;
    if (!spec.from_file || !mixture_file.empty()) {
      const GaussianMixture g = make_toy_dataset(name, mixture_file);
      s.shape = {g.dim()};
      s.low = 1e300;
      s.high = -1e300;
      for (auto [a, b] : g.bounding_box(3.0)) s.low = std::min(s.low, a), s.high = std::max(s.high, b);
    }
    return s;
  }
  if (is_image_dataset(name)) {
    const ImageDatasetInfo& info = image_dataset(name);
    s.kind = DataKind::Images;
    s.help = info.help;
    s.shape = {info.channels, info.size, info.size};
    s.image = &info;
    return s;
  }
  std::string known;
  for (const auto& n : data_source_names()) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError(flag_error("--dataset", name, "one of " + known));
}

}  // namespace scorelab
