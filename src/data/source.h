// What a method sees of a data source before it builds its networks: the one place that says whether a
// --dataset name is a Gaussian mixture (toy/toy.h: exact density and score) or an image set
// (data/datasets.h), with its per-example shape and value range. compare, train and sample dispatch on
// `kind`, never on a data set's name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace scorelab {

struct ImageDatasetInfo;

enum class DataKind { Mixture, Images };

struct DataSource {
  std::string name;
  DataKind kind = DataKind::Mixture;
  std::string help;
  bool from_file = false;              // a mixture read from --mixture FILE (shape known once it is read)
  std::vector<int64_t> shape;          // per example: {D} for a mixture, {C, H, W} for images
  double low = -1.0, high = 1.0;       // value range: images on the model scale [-1, 1]; a mixture's 3-std box
  const ImageDatasetInfo* image = nullptr;  // the image set's per-dataset defaults (null for a mixture)

  bool images() const { return kind == DataKind::Images; }
  bool mixture() const { return kind == DataKind::Mixture; }
};

// The source called `name` ("" : the toy default, mog); `mixture_file` is read for the from_file entry.
// ConfigError "flag --dataset: got 'NAME'; expected one of mog, ..., mnist, fashion-mnist, cifar10".
DataSource data_source(const std::string& name, const std::string& mixture_file = "");
bool is_data_source(const std::string& name);
// Every data-source name, mixtures first, then image sets.
std::vector<std::string> data_source_names();

}  // namespace scorelab
