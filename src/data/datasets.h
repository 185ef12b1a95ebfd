// The registry of image data sets (STYLE 5): every per-dataset default lives in its entry, so a new data
// set is one entry in register_image_datasets() (datasets.cpp). An unknown name is a ConfigError listing the
// known ones, never another data set's settings.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/image_data.h"
#include "models/discretized_logistic.h"

namespace scorelab {

struct ImageDatasetInfo {
  std::string name;
  std::string help;
  int64_t channels = 0, size = 0;      // images are channels x size x size
  double smoothing_sigma = 0.0;        // smoothed-ar's default sigma (Meng et al.: 0.5 MNIST-like, 0.3 CIFAR-10)
  double ncsn_paper_sigma_max = 1.0;   // NCSNv2's noise set at --preset paper (CIFAR-10: 50, L = 232)
  int64_t ncsn_paper_levels = 10;
  BisectionOptions bisection;          // the bisection pixel sampler's bounds (the authors' per-dataset values)
  std::string classifier_arch;         // evaluation classifier: lenet | resnet
  int64_t classifier_epochs = 10;      // its default training epochs (measured accuracy in reports/)
  // Loads a split ("train" | "test") from the data root (see image_data.h for the file layouts).
  std::function<ImageDataset(const std::string& split, const std::string& root)> load;
};

// All entries, in a stable order (mnist, fashion-mnist, cifar10).
const std::vector<ImageDatasetInfo>& image_datasets();
bool is_image_dataset(const std::string& name);
// The entry of `name`; ConfigError "flag --dataset: got 'NAME'; expected one of mnist, fashion-mnist, cifar10".
const ImageDatasetInfo& image_dataset(const std::string& name);

}  // namespace scorelab
