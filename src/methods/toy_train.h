// `train --dataset mog|...`: trains one toy model (the toy lab's defaults, overridden by the flags given)
// and writes metrics.json in the same shape as an image run (params, test_loss_initial, test_loss_final,
// loss_unit, params_sha256; images_per_s and train_s in timings.json), config.json, its checkpoint and model.pt.
#pragma once
#include <boost/program_options/variables_map.hpp>
#include <nlohmann/json.hpp>
#include <memory>
#include <string>

#include "methods/image_sampling.h"
#include "methods/image_train.h"
#include "methods/toy_method.h"

namespace scorelab {

// A trained toy model folder (`train --dataset mog|...`) rebuilt: its method session with the checkpoints
// loaded (copied into work_dir: the model folder is never written), and the data it was trained on with
// `test_size` held-out draws from its seed. The sampler and its knobs come from `sampling`; everything else
// is the folder's config.json. DataError when the folder is not a finished toy training run.
struct LoadedToyModel {
  nlohmann::json config;  // the folder's config.json
  std::string method_name;
  ToyMethodConfig method_config;
  ToyData data;
  std::unique_ptr<ToyMethod> method;  // trained (its checkpoints loaded)
};
// `likelihood` (when given) replaces the folder's likelihood settings (evaluate's flags).
LoadedToyModel load_toy_model(const std::string& model_dir, const std::string& work_dir, const SamplingConfig& sampling,
                              int64_t test_size, const LikelihoodConfig* likelihood = nullptr);

nlohmann::json run_toy_train(const ImageTrainConfig& config, const boost::program_options::variables_map& vm,
                             const std::string& out, const std::string& command);

}  // namespace scorelab
