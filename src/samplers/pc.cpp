#include "samplers/pc.h"

#include <torch/torch.h>

#include <cmath>

namespace scorelab {

namespace {
double mean_norm(const at::Tensor& v) { return v.reshape({v.size(0), -1}).norm(2, 1).mean().item<double>(); }
}  // namespace

PredictorCorrectorSampler::PredictorCorrectorSampler(ScoreFn score, std::shared_ptr<const NoiseProcess> process,
                                                     const SamplerConfig& config)
    : score_(std::move(score)), process_(std::move(process)), snr_(config.snr), corrector_steps_(config.corrector_steps) {
  TORCH_CHECK(score_, "pc: the score function is empty");
  TORCH_CHECK(process_, "pc: no noise process");
  config.validate();
  for (const NoiseLevel& l :
       levels_for(*process_, geometric_sigmas(process_->sigma_max(), process_->sigma_min(), config.ddim_steps)))
    sigmas_.push_back(l.sigma);
}

at::Tensor PredictorCorrectorSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  return process_->prior_ve(n, sample_shape, gen);
}

std::map<std::string, double> PredictorCorrectorSampler::stats() const {
  return {{"nfe", static_cast<double>(num_steps() * (corrector_steps_ + 1))}};
}

StepOutput PredictorCorrectorSampler::step(const at::Tensor& x_in, int64_t i, at::Generator& gen) const {
  TORCH_CHECK(i >= 0 && i < num_steps(), "pc: step ", i, " outside [0, ", num_steps(), ")");
  const auto k = static_cast<size_t>(i);
  const double sigma = sigmas_[k];
  const double next = k + 1 < sigmas_.size() ? sigmas_[k + 1] : 0.0;
  at::Tensor x = x_in;
  for (int64_t j = 0; j < corrector_steps_; ++j) {
    at::Tensor g = score_(x, sigma);
    check_model_output(g, x, "pc", "score");
    at::Tensor z = torch::randn(x.sizes(), gen, x.options());
    const double ratio = snr_ * mean_norm(z) / std::max(mean_norm(g), 1e-30);
    const double h = 2.0 * ratio * ratio;
    x = x.add(g, h).add_(z, std::sqrt(2.0 * h));
  }
  at::Tensor s = score_(x, sigma);
  check_model_output(s, x, "pc", "score");
  const double var = sigma * sigma - next * next;
  at::Tensor denoised = x.add(s, sigma * sigma);
  at::Tensor mean = x.add(s, var);
  if (next == 0.0) return {mean, NoiseLevel::none(), denoised};
  return {mean.add_(torch::randn(x.sizes(), gen, x.options()), std::sqrt(var)), NoiseLevel::ve(next), denoised};
}

}  // namespace scorelab
