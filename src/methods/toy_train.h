// `train --dataset mog|...`: trains one toy model (the toy lab's defaults, overridden by the flags given)
// and writes metrics.json in the same shape as an image run (params, test_loss_initial, test_loss_final,
// loss_unit, params_sha256; images_per_s and train_s in timings.json), config.json, its checkpoint and model.pt.
#pragma once
#include <boost/program_options/variables_map.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "methods/image_train.h"
#include "methods/toy_method.h"

namespace scorelab {

nlohmann::json run_toy_train(const ImageTrainConfig& config, const boost::program_options::variables_map& vm,
                             const std::string& out, const std::string& command);

}  // namespace scorelab
